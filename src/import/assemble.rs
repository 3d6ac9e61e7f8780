//! From API Gateway's model ([`Api`]) to a policy file, with the report of every difference.
//!
//! The rules, the same for every source format (docs/import.md has the table):
//! - a Cognito method becomes a route requiring one of its scopes (none: any access token,
//!   reported, because API Gateway wanted an ID token there);
//! - a method API Gateway does not authorize becomes an `auth: none` route, reported;
//! - a method this service cannot enforce (IAM, Lambda authorizer, API key alone), or whose
//!   scopes or authorization are unknown, unusable or stated in a shape the reader could
//!   not read with certainty ([`Access::Unreadable`]), becomes an `auth: deny` route (403
//!   for every request, even under a broader route such as `/admin/{proxy+}`), reported:
//!   import fails closed, never to a public or scope-less route;
//! - a method whose path or HTTP method is unknown or not expressible cannot be a route: it
//!   is left out, reported, and the default action (or a broader route) answers it;
//! - the user pools of the authorizers in use are trusted; a pool id that only deployment
//!   knows becomes a placeholder pool (see [`PLACEHOLDER_SUFFIX`]), never a guess.

use std::collections::{BTreeSet, HashMap};

use super::api::{Access, Api, Method, PoolArn, pool_arn};
use super::report::{Note, NoteKind};
use crate::policy::Policy;
use crate::policy::model::{AuthMode, PolicyFile, RouteConfig, TokenSource, UserPoolConfig};
use crate::policy::template::PathTemplate;

/// Methods a route may name (the policy's set).
use crate::policy::rules::{METHODS, is_header_name, is_scope_name};

/// What happens to a method that cannot be a route (its path or HTTP method is unknown or
/// not expressible): no `auth: deny` can name it either.
const LEFT_OUT: &str = "it cannot be a route, so it is left out: the default action (deny, 403) answers its requests, unless a broader route matches them";

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
    /// What the real id depends on (`parameter UserPoolArn`, `!GetAtt UserPoolConfig.Arn`, ...).
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
    route: RouteConfig,
    /// Upper-case method, or `ANY`.
    method: String,
    shape: String,
    source: Method,
}

pub(crate) fn assemble(api: Api) -> Result<Assembled, String> {
    let Api {
        authorizers,
        methods,
        mut notes,
    } = api;
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut used: Vec<usize> = Vec::new();

    for m in methods {
        let Some(path_text) = m.path.as_known() else {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &m.at,
                format!(
                    "path {} depends on {}; {LEFT_OUT}",
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
                    format!("{e}; {LEFT_OUT}"),
                ));
                continue;
            }
        };
        let Some(method) = m.method.as_known().map(|s| s.trim().to_ascii_uppercase()) else {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &m.at,
                format!(
                    "HTTP method depends on {}; {LEFT_OUT}",
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
                    "HTTP method {method:?} is not one of {} or ANY; {LEFT_OUT}",
                    METHODS.join(", ")
                ),
            ));
            continue;
        }
        let what = format!("{method} {path}");
        // A method whose authorization this service cannot enforce or resolve becomes an
        // `auth: deny` route: refused with 403 even under a broader route.
        let mut deny = |kind, why: String| {
            notes.push(Note::new(
                kind,
                &m.at,
                format!("{what}: {why}; emitted as `auth: deny` (every request refused, 403)"),
            ));
            (Some(AuthMode::Deny), None)
        };
        let (auth, scopes) = match &m.access {
            Access::Public => (Some(AuthMode::None), None),
            Access::Unknown(why) => deny(
                NoteKind::Unresolved,
                format!("authorization depends on {why}, which only deployment knows"),
            ),
            Access::NotEnforceable(why) => deny(
                NoteKind::NotEnforced,
                format!("protected by {why}, which this service cannot check"),
            ),
            Access::Unreadable(why) => deny(
                NoteKind::Unreadable,
                format!("its authorization cannot be read with certainty: {why}"),
            ),
            Access::Cognito { authorizer, scopes } => {
                let unknown: Vec<&str> = scopes.iter().flat_map(|s| s.unknowns()).collect();
                let known: Vec<String> = scopes.iter().filter_map(|s| s.as_known()).collect();
                let bad = known.iter().find(|s| !is_scope_name(s));
                if !unknown.is_empty() {
                    deny(
                        NoteKind::Unresolved,
                        format!(
                            "authorization scopes depend on {}, which only deployment knows",
                            unknown.join(", ")
                        ),
                    )
                } else if let Some(bad) = bad {
                    deny(
                        NoteKind::NotTranslated,
                        format!("scope {bad:?} is not a scope name"),
                    )
                } else {
                    if !used.contains(authorizer) {
                        used.push(*authorizer);
                    }
                    if known.is_empty() {
                        (None, None)
                    } else {
                        (None, Some(dedup(known)))
                    }
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
        // A deny route checks nothing: what else API Gateway checks does not matter.
        let extras = if auth == Some(AuthMode::Deny) {
            &[][..]
        } else {
            &m.unenforced_extras[..]
        };
        for extra in extras {
            notes.push(Note::new(
                NoteKind::NotEnforced,
                &m.at,
                format!(
                    "{what}: {extra} is not checked by this service; the route enforces the rest"
                ),
            ));
        }
        candidates.push(Candidate {
            route: RouteConfig {
                name: None,
                hosts: None,
                methods: (method != "ANY").then(|| vec![method.clone()]),
                path: path.to_string(),
                scopes,
                groups: None,
                auth,
                authorizer: None,
                token_use: None,
                dry_run: None,
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
        authorizers: Default::default(),
        default_authorizer: None,
        claim_headers: Default::default(),
        default_action: Default::default(),
        mode: Default::default(),
        dry_run_unsafe_requests: false,
        insufficient_scope_status: None,
        leeway_seconds: None,
        routes,
    };
    Policy::compile(&policy).map_err(|e| {
        format!("the translated policy does not compile (a bug in import; please report it):\n{e}")
    })?;
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
/// state one twice (two functions on one path). Identical requirements merge; otherwise
/// the route is `auth: deny` (a method is never opened wider than any of its definitions
/// says, and which one API Gateway would keep is not known); every conflict is reported.
fn dedup_routes(candidates: Vec<Candidate>, notes: &mut Vec<Note>) -> Vec<RouteConfig> {
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
            let deny = |c: &Candidate| c.route.auth == Some(AuthMode::Deny);
            let (message, replace) = if same {
                (
                    format!(
                        "{} {} is also defined at {} with the same requirements; merged",
                        c.method, c.route.path, other.source.at
                    ),
                    false,
                )
            } else if deny(&c) {
                // Deny-safe: a definition this service cannot enforce is never overridden
                // by one that would admit its requests.
                (
                    format!(
                        "{} {} is also defined at {} with different requirements; this one is `auth: deny`, which wins: the route refuses every request (403) and the definition at {} is left out",
                        c.method, c.route.path, other.source.at, other.source.at
                    ),
                    true,
                )
            } else if deny(other) {
                (
                    format!(
                        "{} {} is already defined at {} as `auth: deny`, which wins: the route refuses every request (403) and this one is left out",
                        c.method, c.route.path, other.source.at
                    ),
                    false,
                )
            } else {
                // Neither is deny: keeping either could open the method wider than the
                // other definition says, and API Gateway itself refuses a second one.
                let message = format!(
                    "{} {} is also defined at {} with different requirements, which API Gateway would refuse; emitted as `auth: deny` (every request refused, 403): keep one definition",
                    c.method, c.route.path, other.source.at
                );
                notes.push(Note::new(NoteKind::NotTranslated, &c.source.at, message));
                let kept = &mut kept[first].route;
                kept.auth = Some(AuthMode::Deny);
                kept.scopes = None;
                kept.groups = None;
                continue;
            };
            notes.push(Note::new(NoteKind::NotTranslated, &c.source.at, message));
            if replace {
                kept[first] = c;
            }
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
    authorizers: &[super::api::GatewayAuthorizer],
    used: &[usize],
    notes: &mut Vec<Note>,
) -> (Vec<UserPoolConfig>, Vec<Placeholder>) {
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
    let mut pools: Vec<UserPoolConfig> = ids
        .into_iter()
        .map(|id| UserPoolConfig {
            arn: None,
            id,
            app_clients: None,
            jwks_uri: None,
            issuer: None,
        })
        .collect();
    pools.extend(placeholders.iter().map(|p| UserPoolConfig {
        arn: None,
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
    authorizers: &[super::api::GatewayAuthorizer],
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
    is_header_name(name).then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::api::GatewayAuthorizer;
    use crate::import::text::Text;

    fn cognito(name: &str, arns: &[Text]) -> GatewayAuthorizer {
        GatewayAuthorizer {
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
            method("/items", "GET", scoped("items/read")),
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
                ("/iam".into(), None, Some(AuthMode::Deny)),
                ("/items".into(), Some(vec!["items/read".into()]), None),
                ("/me".into(), None, None),
                // Defined twice with different scopes: neither is kept open.
                ("/users/{id}".into(), None, Some(AuthMode::Deny)),
            ]
        );
        assert_eq!(out.policy.routes[1].name.as_deref(), Some("POST-/iam"));
        assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotEnforced
            && n.message
                == "POST /iam: protected by AWS_IAM, which this service cannot check; emitted as `auth: deny` (every request refused, 403)"));
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
        // RouteConfig methods are upper case; ANY is written as no methods.
        assert_eq!(out.policy.routes[3].methods, None);
        assert_eq!(out.policy.routes[2].methods, Some(vec!["GET".into()]));
        assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
            && n.message.contains(
                "GET /users/{userId} is also defined at get /users/{id} with different requirements"
            )
            && n.message.contains("emitted as `auth: deny`")));
    }

    #[test]
    fn unknown_pools_become_placeholders() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::unknown("!GetAtt UserPoolConfig.Arn")]));
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
        assert_eq!(out.placeholders[0].stands_for, "!GetAtt UserPoolConfig.Arn");
        assert_eq!(out.notes[0].kind, NoteKind::Unresolved);
        assert!(crate::policy::Policy::compile(&out.policy).is_ok());
    }

    #[test]
    fn a_method_under_a_broader_route_is_denied_not_caught() {
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
        let policy = Policy::compile(&out.policy).unwrap();
        let found = policy.routes.find(&["admin", "keys"], "POST", "").unwrap();
        assert!(found.deny);
        assert_eq!(&*found.name, "POST-/admin/keys");
        // The other methods of that path still fall to the broader route.
        let found = policy.routes.find(&["admin", "keys"], "GET", "").unwrap();
        assert!(!found.deny);
        assert!(out.notes.iter().all(|n| !n.message.contains("broader")));
    }

    #[test]
    fn unresolved_or_unusable_authorization_is_denied() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
        api.methods = vec![
            method("/a", "GET", Access::Unknown("parameter Auth".into())),
            method(
                "/b",
                "GET",
                Access::Cognito {
                    authorizer: a,
                    scopes: vec![Text::unknown("parameter Scope")],
                },
            ),
            method(
                "/c",
                "GET",
                Access::Cognito {
                    authorizer: a,
                    scopes: vec![Text::known("two words")],
                },
            ),
        ];
        let mut with_key = method(
            "/d",
            "GET",
            Access::NotEnforceable("an API key alone".into()),
        );
        with_key.unenforced_extras = vec!["an API key".into()];
        api.methods.push(with_key);
        let out = assemble(api).unwrap();
        assert!(
            out.policy
                .routes
                .iter()
                .all(|r| r.auth == Some(AuthMode::Deny) && r.scopes.is_none()),
            "{:#?}",
            out.policy.routes
        );
        assert_eq!(out.policy.routes.len(), 4);
        let kinds: Vec<NoteKind> = out.notes.iter().map(|n| n.kind).collect();
        // Two unresolved methods, plus the placeholder pool: no method uses an authorizer.
        assert_eq!(
            kinds.iter().filter(|k| **k == NoteKind::Unresolved).count(),
            3,
            "{:#?}",
            out.notes
        );
        assert!(out.notes.iter().any(|n| n.message
            == "GET /b: authorization scopes depend on parameter Scope, which only deployment knows; emitted as `auth: deny` (every request refused, 403)"));
        assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
            && n.message.starts_with(
                "GET /c: scope \"two words\" is not a scope name; emitted as `auth: deny`"
            )));
        // A deny route checks nothing, so an extra requirement is not reported.
        assert!(
            out.notes
                .iter()
                .all(|n| !n.message.contains("is not checked"))
        );
    }

    #[test]
    fn deny_wins_over_another_definition_of_the_same_method() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
        let scoped = || Access::Cognito {
            authorizer: a,
            scopes: vec![Text::known("x/y")],
        };
        api.methods = vec![
            method("/x/{id}", "GET", scoped()),
            method("/x/{key}", "GET", Access::NotEnforceable("AWS_IAM".into())),
            method("/y", "GET", Access::NotEnforceable("AWS_IAM".into())),
            method("/y", "GET", Access::Public),
            method("/z", "GET", Access::NotEnforceable("AWS_IAM".into())),
            method(
                "/z",
                "GET",
                Access::NotEnforceable("a Lambda authorizer".into()),
            ),
        ];
        let out = assemble(api).unwrap();
        let summary: Vec<(&str, Option<AuthMode>)> = out
            .policy
            .routes
            .iter()
            .map(|r| (r.path.as_str(), r.auth))
            .collect();
        assert_eq!(
            summary,
            [
                ("/x/{key}", Some(AuthMode::Deny)),
                ("/y", Some(AuthMode::Deny)),
                ("/z", Some(AuthMode::Deny)),
            ]
        );
        let conflicts: Vec<&str> = out
            .notes
            .iter()
            .filter(|n| n.kind == NoteKind::NotTranslated)
            .map(|n| n.message.as_str())
            .collect();
        assert_eq!(conflicts.len(), 3, "{conflicts:?}");
        assert!(conflicts[0].contains("GET /x/{key} is also defined at GET /x/{id} with different requirements; this one is `auth: deny`, which wins"));
        assert!(
            conflicts[1]
                .contains("GET /y is already defined at GET /y as `auth: deny`, which wins")
        );
        assert!(conflicts[2].contains("with the same requirements; merged"));
        assert!(Policy::compile(&out.policy).is_ok());
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
