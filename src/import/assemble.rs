//! From API Gateway's model ([`Api`]) to a policy file, with the report of every difference.
//!
//! The rules, the same for every source format (docs/import.md has the table):
//! - a Cognito method becomes a route requiring one of its scopes (none: any access token,
//!   reported, because API Gateway wanted an ID token there);
//! - a method API Gateway does not authorize becomes an `auth: none` route, reported;
//! - a method this service cannot enforce (IAM, Lambda authorizer, API key alone) or whose
//!   path, method, scopes or authorization are unknown is left out, reported, so the
//!   default action (deny) answers it; if another, broader route would catch its requests
//!   instead, that is reported too;
//! - the user pools of the authorizers in use are trusted; a pool id that only deployment
//!   knows becomes a placeholder pool (see [`PLACEHOLDER_SUFFIX`]), never a guess.

use std::collections::{BTreeSet, HashMap};

use super::api::{Access, Api, Method, PoolArn, pool_arn};
use super::report::{Note, NoteKind};
use crate::policy::Policy;
use crate::policy::model::{AuthMode, PolicyFile, Route, TokenSource, UserPool};
use crate::policy::template::{PathTemplate, Segment};

/// Methods a route may name (the policy's set).
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Placeholder pool ids look like `zz-replaceme-1_UNRESOLVED`: a well-formed id (so the
/// policy validates and the rest of it can be reviewed and tested) in a region that does not
/// exist, so its key set can never be fetched: `serve` never reports SERVING with it, and a
/// reload that brings it in trusts no token from it. `import` also exits 3 when it wrote one.
pub const PLACEHOLDER_SUFFIX: &str = "_UNRESOLVED";

/// A placeholder pool written in place of a pool id the source does not state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The placeholder id in the policy.
    pub id: String,
    /// What the real id depends on (`parameter UserPoolArn`, `!GetAtt UserPool.Arn`, ...).
    pub stands_for: String,
    /// The authorizer (and its place) that names it.
    pub at: String,
}

/// The assembled policy and everything to report about it.
#[derive(Debug)]
pub(crate) struct Assembled {
    pub policy: PolicyFile,
    pub notes: Vec<Note>,
    pub placeholders: Vec<Placeholder>,
}

/// A route ready to be written, with where it came from.
struct Candidate {
    route: Route,
    /// Upper-case method, or `ANY`.
    method: String,
    shape: String,
    source: Method,
}

/// A method left out of the policy: its requests get the default action, unless a broader
/// route matches them; that is checked once the policy compiles.
struct LeftOut {
    at: String,
    path: PathTemplate,
    method: String,
}

pub(crate) fn assemble(api: Api) -> Result<Assembled, String> {
    let Api {
        authorizers,
        methods,
        mut notes,
    } = api;
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut left_out: Vec<LeftOut> = Vec::new();
    let mut used: Vec<usize> = Vec::new();

    for m in methods {
        let Some(path_text) = m.path.as_known() else {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &m.at,
                format!(
                    "path {} depends on {}; method left out (default deny applies)",
                    m.path,
                    m.path.unknowns().join(", ")
                ),
            ));
            continue;
        };
        let path = match PathTemplate::parse(&path_text) {
            Ok(p) => p,
            Err(e) => {
                notes.push(Note::new(
                    NoteKind::NotTranslated,
                    &m.at,
                    format!("{e}; method left out (default deny applies)"),
                ));
                continue;
            }
        };
        let Some(method) = m.method.as_known().map(|s| s.trim().to_ascii_uppercase()) else {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &m.at,
                format!(
                    "HTTP method depends on {}; method left out (default deny applies)",
                    m.method.unknowns().join(", ")
                ),
            ));
            continue;
        };
        let method = if method == "*" {
            "ANY".to_owned()
        } else {
            method
        };
        if method != "ANY" && !METHODS.contains(&method.as_str()) {
            notes.push(Note::new(
                NoteKind::NotTranslated,
                &m.at,
                format!(
                    "HTTP method {method:?} is not one of {} or ANY; left out",
                    METHODS.join(", ")
                ),
            ));
            continue;
        }
        let mut leave_out = |kind, message: String| {
            notes.push(Note::new(kind, &m.at, message));
            left_out.push(LeftOut {
                at: m.at.clone(),
                path: path.clone(),
                method: method.clone(),
            });
        };
        let what = format!("{method} {path}");
        let (auth, scopes) = match &m.access {
            Access::Public => (Some(AuthMode::None), None),
            Access::Unknown(why) => {
                leave_out(
                    NoteKind::Unresolved,
                    format!(
                        "{what}: authorization depends on {why}; left out (default deny applies)"
                    ),
                );
                continue;
            }
            Access::NotEnforceable(why) => {
                leave_out(
                    NoteKind::NotEnforced,
                    format!(
                        "{what} is protected by {why}, which this service cannot check; left out, so the default action (deny, 403) answers it"
                    ),
                );
                continue;
            }
            Access::Cognito { authorizer, scopes } => {
                let unknown: Vec<&str> = scopes.iter().flat_map(|s| s.unknowns()).collect();
                if !unknown.is_empty() {
                    leave_out(
                        NoteKind::Unresolved,
                        format!(
                            "{what}: authorization scopes depend on {}; left out (default deny applies)",
                            unknown.join(", ")
                        ),
                    );
                    continue;
                }
                let scopes: Vec<String> = scopes.iter().filter_map(|s| s.as_known()).collect();
                if let Some(bad) = scopes.iter().find(|s| {
                    s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control())
                }) {
                    leave_out(
                        NoteKind::NotTranslated,
                        format!(
                            "{what}: scope {bad:?} is not a scope name; left out (default deny applies)"
                        ),
                    );
                    continue;
                }
                if !used.contains(authorizer) {
                    used.push(*authorizer);
                }
                if scopes.is_empty() {
                    (None, None)
                } else {
                    (None, Some(dedup(scopes)))
                }
            }
        };
        match (&auth, &scopes, &m.access) {
            (Some(AuthMode::None), _, _) => notes.push(Note::new(
                NoteKind::Public,
                &m.at,
                format!("{what}: API Gateway does not authorize this method; the route is public (auth: none)"),
            )),
            (None, None, Access::Cognito { authorizer, .. }) => notes.push(Note::new(
                NoteKind::Changed,
                &m.at,
                format!(
                    "{what} uses Cognito authorizer {} without authorization scopes, where API Gateway expects an ID token; this service accepts only access tokens, so the route requires any valid access token of the trusted pools and ID tokens get 401",
                    authorizers[*authorizer].name
                ),
            )),
            _ => {}
        }
        for extra in &m.unenforced_extras {
            notes.push(Note::new(
                NoteKind::NotEnforced,
                &m.at,
                format!(
                    "{what}: {extra} is not checked by this service; the route enforces the rest"
                ),
            ));
        }
        candidates.push(Candidate {
            route: Route {
                name: None,
                hosts: None,
                methods: (method != "ANY").then(|| vec![method.clone()]),
                path: path.to_string(),
                scopes,
                groups: None,
                auth,
            },
            shape: path.shape(),
            method,
            source: m,
        });
    }

    let routes = dedup_routes(candidates, &mut notes);
    let (user_pools, placeholders) = trusted_pools(&authorizers, &used, &mut notes);
    let token_source = token_source(&authorizers, &used, &mut notes);

    let policy = PolicyFile {
        user_pools,
        token_source,
        default_action: Default::default(),
        insufficient_scope_status: None,
        leeway_seconds: None,
        routes,
    };
    let compiled = Policy::compile(&policy).map_err(|e| {
        format!("the translated policy does not compile (a bug in import; please report it):\n{e}")
    })?;
    report_fallbacks(&compiled, &left_out, &mut notes);
    notes.sort_by_key(|n| n.kind);
    Ok(Assembled {
        policy,
        notes,
        placeholders,
    })
}

fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for s in list {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// One route per (path shape, method): API Gateway itself allows no two, but a source can
/// state one twice (two functions on one path). Identical requirements merge; different
/// ones keep the first, and the second is reported.
fn dedup_routes(candidates: Vec<Candidate>, notes: &mut Vec<Note>) -> Vec<Route> {
    let mut kept: Vec<Candidate> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for c in candidates {
        let key = (c.shape.clone(), c.method.clone());
        if let Some(&first) = index.get(&key) {
            let other = &kept[first];
            let same = other.route.auth == c.route.auth
                && other
                    .route
                    .scopes
                    .as_ref()
                    .map(|s| s.iter().collect::<BTreeSet<_>>())
                    == c.route
                        .scopes
                        .as_ref()
                        .map(|s| s.iter().collect::<BTreeSet<_>>());
            let message = if same {
                format!(
                    "{} {} is also defined at {} with the same requirements; merged",
                    c.method, c.route.path, other.source.at
                )
            } else {
                format!(
                    "{} {} is already defined at {} with different requirements; this one is left out",
                    c.method, c.route.path, other.source.at
                )
            };
            notes.push(Note::new(NoteKind::NotTranslated, &c.source.at, message));
            continue;
        }
        index.insert(key, kept.len());
        kept.push(c);
    }
    // Names: the source's own (function, operation, resource) when it names one route only.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for c in &kept {
        *counts.entry(c.source.name.clone()).or_default() += 1;
    }
    kept.sort_by(|a, b| (&a.route.path, &a.method).cmp(&(&b.route.path, &b.method)));
    kept.into_iter()
        .map(|mut c| {
            let base = c.source.name.trim();
            let usable = !base.is_empty() && !base.chars().any(char::is_control);
            c.route.name = usable.then(|| {
                if counts[&c.source.name] == 1 {
                    base.to_owned()
                } else {
                    format!("{base} {} {}", c.method, c.route.path)
                }
            });
            c.route
        })
        .collect()
}

/// The pools of the authorizers in use; placeholders for the ones only deployment knows.
fn trusted_pools(
    authorizers: &[super::api::Authorizer],
    used: &[usize],
    notes: &mut Vec<Note>,
) -> (Vec<UserPool>, Vec<Placeholder>) {
    let mut ids: Vec<String> = Vec::new();
    let mut placeholders: Vec<Placeholder> = Vec::new();
    let mut pool_sets: Vec<(String, BTreeSet<String>)> = Vec::new();
    for (i, a) in authorizers.iter().enumerate() {
        if !used.contains(&i) {
            notes.push(Note::new(
                NoteKind::NotTranslated,
                &a.at,
                format!(
                    "authorizer {} is not used by any translated method; its user pools are not trusted",
                    a.name
                ),
            ));
        }
    }
    for &i in used {
        let a = &authorizers[i];
        let mut mine = BTreeSet::new();
        for arn in &a.provider_arns {
            match pool_arn(arn) {
                PoolArn::Pool(id) => {
                    if !ids.contains(&id) {
                        ids.push(id.clone());
                    }
                    mine.insert(id);
                }
                PoolArn::Unresolved(what) => {
                    let id = placeholder(&mut placeholders, &what, &a.at, notes);
                    mine.insert(id);
                }
                PoolArn::Invalid(why) => notes.push(Note::new(
                    NoteKind::NotTranslated,
                    &a.at,
                    format!("authorizer {}: provider ARN ignored: {why}", a.name),
                )),
            }
        }
        if mine.is_empty() {
            let what = format!(
                "a user pool ARN for authorizer {} (it has none usable)",
                a.name
            );
            mine.insert(placeholder(&mut placeholders, &what, &a.at, notes));
        }
        pool_sets.push((a.name.clone(), mine));
    }
    if pool_sets.is_empty() {
        let what = "a user pool: no method of the source uses a Cognito authorizer".to_owned();
        placeholder(&mut placeholders, &what, "(source)", notes);
    }
    let distinct: BTreeSet<&BTreeSet<String>> = pool_sets.iter().map(|(_, s)| s).collect();
    if distinct.len() > 1 {
        let detail: Vec<String> = pool_sets
            .iter()
            .map(|(name, set)| {
                format!(
                    "{name}: {}",
                    set.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        notes.push(Note::new(
            NoteKind::Changed,
            "(authorizers)",
            format!(
                "the authorizers trust different user pools ({}); a policy trusts its pools on every route, so each route now accepts access tokens of all of them (scopes still apply per route)",
                detail.join("; ")
            ),
        ));
    }
    let mut pools: Vec<UserPool> = ids
        .into_iter()
        .map(|id| UserPool {
            id,
            app_clients: None,
            jwks_uri: None,
            issuer: None,
        })
        .collect();
    pools.extend(placeholders.iter().map(|p| UserPool {
        id: p.id.clone(),
        app_clients: None,
        jwks_uri: None,
        issuer: None,
    }));
    (pools, placeholders)
}

fn placeholder(
    placeholders: &mut Vec<Placeholder>,
    what: &str,
    at: &str,
    notes: &mut Vec<Note>,
) -> String {
    if let Some(p) = placeholders.iter().find(|p| p.stands_for == what) {
        return p.id.clone();
    }
    let id = format!(
        "zz-replaceme-{}{PLACEHOLDER_SUFFIX}",
        placeholders.len() + 1
    );
    notes.push(Note::new(
        NoteKind::Unresolved,
        at,
        format!(
            "the user pool id depends on {what}; the policy has the placeholder pool {id}: replace it with the real pool id before deploying (until then no token of it is accepted and `serve` never becomes ready)"
        ),
    ));
    placeholders.push(Placeholder {
        id: id.clone(),
        stands_for: what.to_owned(),
        at: at.to_owned(),
    });
    id
}

/// The header the token is read from: the authorizers' identity source.
fn token_source(
    authorizers: &[super::api::Authorizer],
    used: &[usize],
    notes: &mut Vec<Note>,
) -> TokenSource {
    let mut headers: Vec<(String, String)> = Vec::new();
    for &i in used {
        let a = &authorizers[i];
        let header = match &a.identity_source {
            None => "authorization".to_owned(),
            Some(source) => match source.as_known() {
                None => {
                    notes.push(Note::new(
                        NoteKind::Unresolved,
                        &a.at,
                        format!(
                            "authorizer {}: identity source depends on {}; reading the token from the authorization header",
                            a.name,
                            source.unknowns().join(", ")
                        ),
                    ));
                    "authorization".to_owned()
                }
                Some(s) => match header_of(&s) {
                    Some(h) => h,
                    None => {
                        notes.push(Note::new(
                            NoteKind::NotTranslated,
                            &a.at,
                            format!(
                                "authorizer {}: identity source {s:?} is not one request header; reading the token from the authorization header",
                                a.name
                            ),
                        ));
                        "authorization".to_owned()
                    }
                },
            },
        };
        headers.push((a.name.clone(), header));
    }
    let Some((_, first)) = headers.first().cloned() else {
        return TokenSource::default();
    };
    let others: Vec<String> = headers
        .iter()
        .filter(|(_, h)| *h != first)
        .map(|(n, h)| format!("{n} reads {h}"))
        .collect();
    if !others.is_empty() {
        notes.push(Note::new(
            NoteKind::Changed,
            "(authorizers)",
            format!(
                "a policy reads the token from one header; using {first:?}, while {} (tokens sent there are not found: 401)",
                others.join(", ")
            ),
        ));
    }
    TokenSource { header: first }
}

/// `method.request.header.Authorization` (or a bare header name) → `authorization`.
fn header_of(source: &str) -> Option<String> {
    let name = source.trim();
    let name = name.strip_prefix("method.request.header.").unwrap_or(name);
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| name.to_ascii_lowercase())
}

/// A left-out method is answered by the default action only if no other route matches its
/// requests; a broader route (`/{proxy+}`) would decide them instead. Say so.
fn report_fallbacks(policy: &Policy, left_out: &[LeftOut], notes: &mut Vec<Note>) {
    for l in left_out {
        let sample: Vec<String> = l
            .path
            .segments()
            .iter()
            .map(|s| match s {
                Segment::Literal(s) => s.clone(),
                // No literal route segment can hold a brace: a parameter's sample value
                // only matches parameter routes.
                Segment::Param(n) | Segment::Greedy(n) => format!("{{{n}}}"),
            })
            .collect();
        let methods: Vec<&str> = if l.method == "ANY" {
            METHODS.to_vec()
        } else {
            vec![l.method.as_str()]
        };
        let catchers: BTreeSet<&str> = methods
            .iter()
            .filter_map(|m| policy.routes.find(&sample, m, ""))
            .map(|r| &*r.name)
            .collect();
        if !catchers.is_empty() {
            notes.push(Note::new(
                NoteKind::NotEnforced,
                &l.at,
                format!(
                    "{} {} is left out, but its requests match the broader route(s) {} and get their requirements instead of a denial; review before deploying",
                    l.method,
                    l.path,
                    catchers.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::api::Authorizer;
    use crate::import::text::Text;

    fn cognito(name: &str, arns: &[Text]) -> Authorizer {
        Authorizer {
            name: name.into(),
            at: format!("auth {name}"),
            provider_arns: arns.to_vec(),
            identity_source: None,
        }
    }

    fn method(path: &str, verb: &str, access: Access) -> Method {
        Method {
            at: format!("{verb} {path}"),
            name: format!("{verb}-{path}"),
            path: Text::known(path),
            method: Text::known(verb),
            access,
            unenforced_extras: vec![],
        }
    }

    const ARN: &str = "arn:aws:cognito-idp:ap-south-1:1234567890:userpool/ap-south-1_abcdefghi";

    #[test]
    fn translates_each_kind_of_method() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
        let scoped = |s: &str| Access::Cognito {
            authorizer: a,
            scopes: vec![Text::known(s)],
        };
        api.methods = vec![
            method("/users/{id}", "get", scoped("users/read")),
            method("/health", "GET", Access::Public),
            method(
                "/me",
                "any",
                Access::Cognito {
                    authorizer: a,
                    scopes: vec![],
                },
            ),
            method("/iam", "POST", Access::NotEnforceable("AWS_IAM".into())),
            method("/users/{id}", "GET", scoped("users/read")),
            method("/users/{userId}", "GET", scoped("users/write")),
        ];
        let out = assemble(api).unwrap();
        assert_eq!(out.policy.user_pools[0].id, "ap-south-1_abcdefghi");
        let summary: Vec<(String, Option<Vec<String>>, Option<AuthMode>)> = out
            .policy
            .routes
            .iter()
            .map(|r| (r.path.clone(), r.scopes.clone(), r.auth))
            .collect();
        assert_eq!(
            summary,
            [
                ("/health".into(), None, Some(AuthMode::None)),
                ("/me".into(), None, None),
                ("/users/{id}".into(), Some(vec!["users/read".into()]), None),
            ]
        );
        let kinds: Vec<NoteKind> = out.notes.iter().map(|n| n.kind).collect();
        assert!(kinds.contains(&NoteKind::Public));
        assert!(kinds.contains(&NoteKind::Changed));
        assert!(kinds.contains(&NoteKind::NotEnforced));
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == NoteKind::NotTranslated)
                .count(),
            2
        );
        assert!(out.placeholders.is_empty());
        // Route methods are upper case; ANY is written as no methods.
        assert_eq!(out.policy.routes[1].methods, None);
        assert_eq!(out.policy.routes[2].methods, Some(vec!["GET".into()]));
    }

    #[test]
    fn unknown_pools_become_placeholders() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::unknown("!GetAtt UserPool.Arn")]));
        api.methods = vec![method(
            "/x",
            "GET",
            Access::Cognito {
                authorizer: a,
                scopes: vec![Text::known("x/y")],
            },
        )];
        let out = assemble(api).unwrap();
        assert_eq!(out.policy.user_pools[0].id, "zz-replaceme-1_UNRESOLVED");
        assert_eq!(out.placeholders[0].stands_for, "!GetAtt UserPool.Arn");
        assert_eq!(out.notes[0].kind, NoteKind::Unresolved);
        assert!(crate::policy::Policy::compile(&out.policy).is_ok());
    }

    #[test]
    fn a_left_out_method_caught_by_a_broader_route_is_reported() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
        api.methods = vec![
            method(
                "/admin/{proxy+}",
                "ANY",
                Access::Cognito {
                    authorizer: a,
                    scopes: vec![Text::known("admin/all")],
                },
            ),
            method(
                "/admin/keys",
                "POST",
                Access::NotEnforceable("AWS_IAM".into()),
            ),
        ];
        let out = assemble(api).unwrap();
        assert!(
            out.notes.iter().any(|n| n
                .message
                .contains("match the broader route(s) ANY-/admin/{proxy+}")),
            "{:#?}",
            out.notes
        );
    }

    #[test]
    fn authorizers_with_different_pools_and_headers_are_reported() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
        let mut b = cognito(
            "B",
            &[Text::known(
                "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI",
            )],
        );
        b.identity_source = Some(Text::known("method.request.header.X-Token"));
        let b = api.authorizer(b);
        api.methods = vec![
            method(
                "/a",
                "GET",
                Access::Cognito {
                    authorizer: a,
                    scopes: vec![Text::known("a/b")],
                },
            ),
            method(
                "/b",
                "GET",
                Access::Cognito {
                    authorizer: b,
                    scopes: vec![Text::known("a/b")],
                },
            ),
        ];
        let out = assemble(api).unwrap();
        assert_eq!(out.policy.user_pools.len(), 2);
        assert_eq!(out.policy.token_source.header, "authorization");
        let changed: Vec<&str> = out
            .notes
            .iter()
            .filter(|n| n.kind == NoteKind::Changed)
            .map(|n| n.message.as_str())
            .collect();
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert!(changed.iter().any(|m| m.contains("B reads x-token")));
    }

    #[test]
    fn identity_sources_name_headers() {
        assert_eq!(
            header_of("method.request.header.Authorization").as_deref(),
            Some("authorization")
        );
        assert_eq!(header_of("X-Token").as_deref(), Some("x-token"));
        assert_eq!(header_of("method.request.querystring.token"), None);
        assert_eq!(
            header_of("method.request.header.A, method.request.header.B"),
            None
        );
    }
}
