//! From API Gateway's model ([`Api`]) to a policy file, with the report of every difference.
//!
//! The rules, the same for every source format (docs/import.md has the table):
//! - each Cognito authorizer in use becomes a named authorizer of the policy, as API
//!   Gateway has it: its own pools, token header, identity validation expression and result
//!   TTL;
//! - a Cognito method becomes a route naming its authorizer and requiring one of its scopes;
//!   without scopes, an ID token (`tokenUse: id`), as API Gateway does;
//! - a method API Gateway does not authorize becomes an `auth: none` route, reported (a CORS
//!   preflight API Gateway answers itself is one, for OPTIONS only);
//! - a method this service cannot enforce (IAM, Lambda authorizer, API key alone), or whose
//!   scopes, authorization or authorizer are unknown, unusable or stated in a shape the
//!   reader could not read with certainty ([`Access::Unreadable`]), becomes an `auth: deny`
//!   route (403 for every request, even under a broader route such as `/admin/{proxy+}`),
//!   reported: import fails closed, never to a public or scope-less route, never to a route
//!   checking less than API Gateway does;
//! - a method whose path or HTTP method is unknown or not expressible cannot be a route: it
//!   is left out, reported, and the default action (or a broader route) answers it;
//! - a pool id that only deployment knows becomes a placeholder pool (see
//!   [`PLACEHOLDER_SUFFIX`]), never a guess.
//!
//! Over 500 lines: nearly half is unit tests pinning each rule above; the rest applies
//! those rules, in the order listed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::api::{Access, Api, GatewayAuthorizer, Method, PoolArn, pool_arn};
use super::report::{Note, NoteKind};
use super::text::Text;
use crate::policy::Policy;
use crate::policy::model::{
    AuthMode, AuthorizerConfig, PolicyFile, RouteConfig, TokenSource, TokenUse, UserPoolConfig,
};
use crate::policy::template::PathTemplate;

/// Methods a route may name (the policy's set).
use crate::policy::rules::{METHODS, is_header_name, is_scope_name};

/// What happens to a method that cannot be a route (its path or HTTP method is unknown or
/// not expressible): no `auth: deny` can name it either.
const LEFT_OUT: &str = "it cannot be a route, so it is left out: the default action (deny, 403) answers its requests, unless a broader route matches them";

/// API Gateway's `authorizerResultTtlInSeconds` bounds (and the policy's).
const MAX_RESULT_TTL_SECONDS: u64 = 3600;

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

/// What an authorizer's settings translate to, before its pools (which are only resolved,
/// and placeholders made, for the authorizers a written route uses).
#[derive(Debug, Clone)]
struct Settings {
    header: String,
    expression: Option<String>,
    /// `None`: API Gateway's default, which is the policy's.
    ttl: Option<u64>,
    /// The TTL only deployment knows: what it depends on.
    ttl_unknown: Option<String>,
}

/// Why the methods of an authorizer cannot be translated exactly.
#[derive(Debug, Clone)]
struct Refusal {
    kind: NoteKind,
    why: String,
}

pub(crate) fn assemble(api: Api) -> Result<Assembled, String> {
    let Api {
        authorizers,
        methods,
        mut notes,
    } = api;
    let names = policy_names(&authorizers);
    let settings: Vec<Result<Settings, Refusal>> = authorizers.iter().map(settings).collect();
    let mut referenced: BTreeSet<usize> = BTreeSet::new();
    let mut candidates: Vec<Candidate> = Vec::new();

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
        let mut route = RouteConfig {
            methods: (method != "ANY").then(|| vec![method.clone()]),
            path: path.to_string(),
            ..RouteConfig::default()
        };
        // A method whose authorization this service cannot enforce or resolve becomes an
        // `auth: deny` route: refused with 403 even under a broader route.
        let mut deny = |kind, why: String| {
            notes.push(Note::new(
                kind,
                &m.at,
                format!("{what}: {why}; emitted as `auth: deny` (every request refused, 403)"),
            ));
            Some(AuthMode::Deny)
        };
        route.auth = match &m.access {
            Access::Public => Some(AuthMode::None),
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
                referenced.insert(*authorizer);
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
                } else if let Err(refusal) = &settings[*authorizer] {
                    deny(
                        refusal.kind,
                        format!(
                            "its Cognito authorizer {} cannot be translated exactly: {}",
                            authorizers[*authorizer].name, refusal.why
                        ),
                    )
                } else {
                    route.authorizer = Some(names[*authorizer].clone());
                    if known.is_empty() {
                        // API Gateway takes an ID token on a Cognito method without scopes.
                        route.token_use = Some(TokenUse::Id);
                    } else {
                        route.scopes = Some(dedup(known));
                    }
                    None
                }
            }
        };
        if route.auth == Some(AuthMode::None) {
            let message = if m.preflight {
                format!(
                    "{what}: a CORS preflight, which API Gateway answers without authorization; the route is public (auth: none), for OPTIONS only"
                )
            } else {
                format!(
                    "{what}: API Gateway does not authorize this method; the route is public (auth: none)"
                )
            };
            notes.push(Note::new(NoteKind::Public, &m.at, message));
        }
        // A deny route checks nothing: what else API Gateway checks does not matter.
        if route.auth != Some(AuthMode::Deny) {
            for extra in &m.unenforced_extras {
                notes.push(Note::new(
                    NoteKind::NotEnforced,
                    &m.at,
                    format!(
                        "{what}: {extra} is not checked by this service; the route enforces the rest"
                    ),
                ));
            }
        }
        candidates.push(Candidate {
            route,
            shape: path.shape(),
            method,
            source: m,
        });
    }

    let routes = dedup_routes(candidates, &mut notes);

    // The authorizers the written routes name, each with its pools.
    let mut placeholders: Vec<Placeholder> = Vec::new();
    let mut written: BTreeMap<String, AuthorizerConfig> = BTreeMap::new();
    for (i, a) in authorizers.iter().enumerate() {
        let in_use = routes
            .iter()
            .any(|r| r.authorizer.as_deref() == Some(names[i].as_str()));
        let Ok(settings) = &settings[i] else { continue };
        if !in_use {
            if !referenced.contains(&i) {
                notes.push(Note::new(
                    NoteKind::NotTranslated,
                    &a.at,
                    format!(
                        "authorizer {} is not used by any translated method; it is not written and its user pools are not trusted",
                        a.name
                    ),
                ));
            }
            continue;
        }
        if let Some(what) = &settings.ttl_unknown {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &a.at,
                format!(
                    "authorizer {}: the result TTL depends on {what}; written as resultTtlSeconds: 0 (every request verified, nothing reused) until you set it",
                    a.name
                ),
            ));
        }
        let user_pools = authorizer_pools(a, &mut placeholders, &mut notes);
        written.insert(
            names[i].clone(),
            AuthorizerConfig {
                user_pools,
                token_source: TokenSource {
                    header: settings.header.clone(),
                },
                identity_validation_expression: settings.expression.clone(),
                result_ttl_seconds: settings.ttl,
            },
        );
    }
    // A policy trusts at least one pool: with no Cognito method at all, a placeholder.
    let user_pools = if written.is_empty() {
        let what = if authorizers.is_empty() {
            "a user pool: no method of the source uses a Cognito authorizer".to_owned()
        } else {
            // The source has Cognito authorizers, but no method using one could be
            // translated (see their notes): not "no Cognito authorizer".
            format!(
                "a user pool: the source's Cognito authorizer(s) {} are used by no method that could be translated (each such method is denied or left out, see its note), so none is written",
                authorizers
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let id = placeholder(&mut placeholders, &what, "(source)", &mut notes);
        vec![pool_config(id)]
    } else {
        Vec::new()
    };

    let policy = PolicyFile {
        user_pools,
        token_source: TokenSource::default(),
        authorizers: written,
        default_authorizer: None,
        claim_headers: Default::default(),
        default_action: Default::default(),
        mode: Default::default(),
        dry_run_unsafe_requests: false,
        insufficient_scope_status: None,
        gateway_responses: Default::default(),
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

/// The policy's name of each authorizer: the source's own, made usable (no whitespace or
/// control characters, not empty) and unique.
fn policy_names(authorizers: &[GatewayAuthorizer]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(authorizers.len());
    for a in authorizers {
        let cleaned: String = a
            .name
            .trim()
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        let base = if cleaned.is_empty() {
            "authorizer".to_owned()
        } else {
            cleaned
        };
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name);
    }
    names
}

/// An authorizer's header, validation expression and TTL, or why its methods cannot be
/// translated exactly.
fn settings(a: &GatewayAuthorizer) -> Result<Settings, Refusal> {
    let refuse = |kind, why: String| Err(Refusal { kind, why });
    if let Some(conflict) = &a.conflict {
        return refuse(
            NoteKind::NotTranslated,
            format!("{conflict}, and which definition is deployed is not certain"),
        );
    }
    let header = match &a.identity_source {
        None => "authorization".to_owned(),
        Some(Err(shape)) => {
            return refuse(
                NoteKind::Unreadable,
                format!("its identity source is {shape}, not one request header"),
            );
        }
        Some(Ok(source)) => match source.as_known() {
            None => {
                return refuse(
                    NoteKind::Unresolved,
                    format!(
                        "its identity source (the token header) depends on {}",
                        source.unknowns().join(", ")
                    ),
                );
            }
            Some(s) => match header_of(&s) {
                Some(h) => h,
                None => {
                    return refuse(
                        NoteKind::Unreadable,
                        format!(
                            "its identity source {s:?} is not one request header (a Cognito authorizer reads the token from one header)"
                        ),
                    );
                }
            },
        },
    };
    let expression = match &a.validation_expression {
        None => None,
        Some(Err(shape)) => {
            return refuse(
                NoteKind::Unreadable,
                format!("its identity validation expression is {shape}, not a string"),
            );
        }
        Some(Ok(text)) => match text.as_known() {
            None => {
                return refuse(
                    NoteKind::Unresolved,
                    format!(
                        "its identity validation expression depends on {}",
                        text.unknowns().join(", ")
                    ),
                );
            }
            Some(e) => {
                let anchored = whole_match(&e);
                if let Err(err) = regex::RegexBuilder::new(&anchored)
                    .size_limit(1 << 20)
                    .build()
                {
                    return refuse(
                        NoteKind::NotEnforced,
                        format!(
                            "its identity validation expression {e:?} is not a regular expression this service can check the same way ({})",
                            one_line(&err.to_string())
                        ),
                    );
                }
                Some(anchored)
            }
        },
    };
    let (ttl, ttl_unknown) = match &a.result_ttl {
        None => (None, None),
        Some(Err(shape)) => {
            return refuse(
                NoteKind::Unreadable,
                format!("its result TTL is {shape}, not a number of seconds"),
            );
        }
        Some(Ok(text)) => match text.as_known() {
            None => (Some(0), Some(text.unknowns().join(", "))),
            Some(s) => match s.trim().parse::<u64>() {
                Ok(n) if n <= MAX_RESULT_TTL_SECONDS => (Some(n), None),
                _ => {
                    return refuse(
                        NoteKind::Unreadable,
                        format!(
                            "its result TTL {s:?} is not a number of seconds from 0 to {MAX_RESULT_TTL_SECONDS} (API Gateway refuses it)"
                        ),
                    );
                }
            },
        },
    };
    Ok(Settings {
        header,
        expression,
        ttl,
        ttl_unknown,
    })
}

/// API Gateway matches the identity validation expression against the whole `aud` (Java's
/// `matches`); the policy's expression is searched for anywhere in it, like any `regex`.
/// An expression already anchored at both ends is kept as written; any other is anchored,
/// so the policy never accepts an `aud` API Gateway would refuse.
fn whole_match(expression: &str) -> String {
    let escaped_end = expression
        .strip_suffix('$')
        .is_some_and(|rest| rest.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1);
    let anchored = expression.len() >= 2
        && expression.starts_with('^')
        && expression.ends_with('$')
        && !escaped_end
        // Alternation or flags (`(?m)`) could make the anchors apply to one part only.
        && !expression.contains('|')
        && !expression.contains("(?");
    if anchored {
        expression.to_owned()
    } else {
        format!("^(?:{expression})$")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
                && other.route.authorizer == c.route.authorizer
                && other.route.token_use == c.route.token_use
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
                let message = if other.source.api != c.source.api {
                    // Two REST APIs of one template may each have the method: it is the
                    // one policy for both that cannot tell them apart.
                    format!(
                        "{} {} is also defined at {} with different requirements, in another REST API ({} and {}); the policy merges the APIs and cannot tell their requests apart: emitted as `auth: deny` (every request refused, 403); import each API into its own policy file with `hosts`",
                        c.method,
                        c.route.path,
                        other.source.at,
                        api_label(&other.source.api),
                        api_label(&c.source.api)
                    )
                } else {
                    format!(
                        "{} {} is also defined at {} with different requirements, which API Gateway would refuse; emitted as `auth: deny` (every request refused, 403): keep one definition",
                        c.method, c.route.path, other.source.at
                    )
                };
                notes.push(Note::new(NoteKind::NotTranslated, &c.source.at, message));
                let kept = &mut kept[first].route;
                kept.auth = Some(AuthMode::Deny);
                kept.scopes = None;
                kept.groups = None;
                kept.authorizer = None;
                kept.token_use = None;
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

/// A REST API's name in a note.
fn api_label(api: &str) -> &str {
    if api.is_empty() { "the API" } else { api }
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

/// The pools of one authorizer: each provider ARN's pool once, placeholders for the ones
/// only deployment knows. An ARN that names no user pool is reported and not trusted; an
/// authorizer left with none trusts a placeholder (no token passes until it is replaced).
fn authorizer_pools(
    a: &GatewayAuthorizer,
    placeholders: &mut Vec<Placeholder>,
    notes: &mut Vec<Note>,
) -> Vec<UserPoolConfig> {
    let mut pools: Vec<UserPoolConfig> = Vec::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for arn in &a.provider_arns {
        let (id, config) = match pool_arn(arn) {
            PoolArn::Pool(id) => (id.clone(), pool_of_arn(arn, id)),
            PoolArn::Unresolved(what) => {
                let id = placeholder(placeholders, &what, &a.at, notes);
                (id.clone(), pool_config(id))
            }
            PoolArn::Invalid(why) => {
                notes.push(Note::new(
                    NoteKind::NotTranslated,
                    &a.at,
                    format!("authorizer {}: provider ARN ignored: {why}", a.name),
                ));
                continue;
            }
        };
        if ids.insert(id) {
            pools.push(config);
        }
    }
    if pools.is_empty() {
        let what = format!(
            "a user pool ARN for authorizer {} (it has none usable)",
            a.name
        );
        pools.push(pool_config(placeholder(placeholders, &what, &a.at, notes)));
    }
    pools
}

/// The pool as the policy names it: by its provider ARN when the ARN is fully known and
/// consistent (its region is the pool id's), else by id.
fn pool_of_arn(arn: &Text, id: String) -> UserPoolConfig {
    let consistent = arn.as_known().filter(|s| {
        s.split(':')
            .nth(3)
            .is_some_and(|region| crate::policy::pool_region(&id) == Some(region))
    });
    match consistent {
        Some(arn) => UserPoolConfig {
            arn: Some(arn),
            ..pool_config(String::new())
        },
        None => pool_config(id),
    }
}

fn pool_config(id: String) -> UserPoolConfig {
    UserPoolConfig {
        id,
        arn: None,
        app_clients: None,
        jwks_uri: None,
        issuer: None,
    }
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
            ..GatewayAuthorizer::default()
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
            preflight: false,
            api: String::new(),
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
        assert!(out.policy.user_pools.is_empty());
        assert_eq!(
            out.policy.authorizers["A"].user_pools[0].arn.as_deref(),
            Some(ARN)
        );
        type Summary = (
            String,
            Option<Vec<String>>,
            Option<AuthMode>,
            Option<String>,
        );
        let summary: Vec<Summary> = out
            .policy
            .routes
            .iter()
            .map(|r| {
                (
                    r.path.clone(),
                    r.scopes.clone(),
                    r.auth,
                    r.authorizer.clone(),
                )
            })
            .collect();
        let a = || Some("A".to_owned());
        assert_eq!(
            summary,
            [
                ("/health".into(), None, Some(AuthMode::None), None),
                ("/iam".into(), None, Some(AuthMode::Deny), None),
                ("/items".into(), Some(vec!["items/read".into()]), None, a()),
                ("/me".into(), None, None, a()),
                // Defined twice with different scopes: neither is kept open.
                ("/users/{id}".into(), None, Some(AuthMode::Deny), None),
            ]
        );
        // Without scopes: an ID token, as API Gateway.
        assert_eq!(out.policy.routes[3].token_use, Some(TokenUse::Id));
        assert_eq!(out.policy.routes[2].token_use, None);
        assert_eq!(out.policy.routes[1].name.as_deref(), Some("POST-/iam"));
        assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotEnforced
            && n.message
                == "POST /iam: protected by AWS_IAM, which this service cannot check; emitted as `auth: deny` (every request refused, 403)"));
        let kinds: Vec<NoteKind> = out.notes.iter().map(|n| n.kind).collect();
        assert!(kinds.contains(&NoteKind::Public));
        // Nothing differs from API Gateway any more: no `changed` note.
        assert!(!kinds.contains(&NoteKind::Changed), "{:#?}", out.notes);
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
        assert_eq!(
            out.policy.authorizers["A"].user_pools[0].id,
            "zz-replaceme-1_UNRESOLVED"
        );
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
        assert!(found.is_deny());
        assert_eq!(&*found.name, "POST-/admin/keys");
        // The other methods of that path still fall to the broader route.
        let found = policy.routes.find(&["admin", "keys"], "GET", "").unwrap();
        assert!(!found.is_deny());
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

    fn scoped(authorizer: usize, scope: &str) -> Access {
        Access::Cognito {
            authorizer,
            scopes: vec![Text::known(scope)],
        }
    }

    #[test]
    fn each_authorizer_keeps_its_pools_header_expression_and_ttl() {
        let mut api = Api::default();
        let staff = api.authorizer(GatewayAuthorizer {
            validation_expression: Some(Ok(Text::known("^[a-z0-9]{26}$"))),
            result_ttl: Some(Ok(Text::known("0"))),
            ..cognito("staff pool", &[Text::known(ARN)])
        });
        let customers = api.authorizer(GatewayAuthorizer {
            identity_source: Some(Ok(Text::known("method.request.header.X-Customer-Token"))),
            validation_expression: Some(Ok(Text::known("cust"))),
            result_ttl: Some(Ok(Text::known("3600"))),
            ..cognito(
                "customers",
                &[
                    Text::known("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"),
                    Text::known("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"),
                    // Region unknown: written by id.
                    {
                        let mut t = Text::known("arn:aws:cognito-idp:");
                        t.push(Text::unknown("AWS::Region"));
                        t.push(Text::known(":1:userpool/eu-west-1_Second999"));
                        t
                    },
                ],
            )
        });
        let unused = api.authorizer(cognito("unused", &[Text::known(ARN)]));
        let _ = unused;
        api.methods = vec![
            method("/staff", "GET", scoped(staff, "staff/read")),
            method(
                "/profile",
                "GET",
                Access::Cognito {
                    authorizer: customers,
                    scopes: vec![],
                },
            ),
        ];
        let out = assemble(api).unwrap();
        let names: Vec<&str> = out.policy.authorizers.keys().map(String::as_str).collect();
        // Source names, made usable; an authorizer no method uses is not written.
        assert_eq!(names, ["customers", "staff-pool"]);
        let staff = &out.policy.authorizers["staff-pool"];
        assert_eq!(staff.token_source.header, "authorization");
        assert_eq!(
            staff.identity_validation_expression.as_deref(),
            Some("^[a-z0-9]{26}$")
        );
        assert_eq!(staff.result_ttl_seconds, Some(0));
        let customers = &out.policy.authorizers["customers"];
        assert_eq!(customers.token_source.header, "x-customer-token");
        // API Gateway matches the whole aud: an unanchored expression is anchored.
        assert_eq!(
            customers.identity_validation_expression.as_deref(),
            Some("^(?:cust)$")
        );
        assert_eq!(customers.result_ttl_seconds, Some(3600));
        let pools: Vec<(Option<&str>, &str)> = customers
            .user_pools
            .iter()
            .map(|p| (p.arn.as_deref(), p.id.as_str()))
            .collect();
        assert_eq!(
            pools,
            [
                (
                    Some("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"),
                    ""
                ),
                (None, "eu-west-1_Second999"),
            ]
        );
        let routes: Vec<(&str, Option<&str>, Option<TokenUse>)> = out
            .policy
            .routes
            .iter()
            .map(|r| (r.path.as_str(), r.authorizer.as_deref(), r.token_use))
            .collect();
        assert_eq!(
            routes,
            [
                ("/profile", Some("customers"), Some(TokenUse::Id)),
                ("/staff", Some("staff-pool"), None),
            ]
        );
        // No `changed` note: pools, headers and ID tokens are what API Gateway does.
        assert!(
            out.notes.iter().all(|n| n.kind != NoteKind::Changed),
            "{:#?}",
            out.notes
        );
        assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
            && n.message.starts_with("authorizer unused is not used")));
        let policy = Policy::compile(&out.policy).unwrap();
        assert_eq!(policy.pools.len(), 3);
    }

    #[test]
    fn authorizers_that_cannot_be_translated_exactly_deny_their_methods() {
        let cases: Vec<(GatewayAuthorizer, NoteKind, &str)> = vec![
            (
                GatewayAuthorizer {
                    identity_source: Some(Ok(Text::unknown("parameter TokenHeader"))),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::Unresolved,
                "identity source (the token header) depends on parameter TokenHeader",
            ),
            (
                GatewayAuthorizer {
                    identity_source: Some(Ok(Text::known("method.request.querystring.token"))),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::Unreadable,
                "is not one request header",
            ),
            (
                GatewayAuthorizer {
                    identity_source: Some(Err("a list".into())),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::Unreadable,
                "identity source is a list",
            ),
            (
                GatewayAuthorizer {
                    validation_expression: Some(Ok(Text::unknown("parameter Aud"))),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::Unresolved,
                "expression depends on parameter Aud",
            ),
            (
                // Java's look-ahead: this service cannot check it the same way.
                GatewayAuthorizer {
                    validation_expression: Some(Ok(Text::known("^(?=abc).*$"))),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::NotEnforced,
                "not a regular expression this service can check the same way",
            ),
            (
                GatewayAuthorizer {
                    result_ttl: Some(Ok(Text::known("3601"))),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::Unreadable,
                "result TTL \"3601\" is not a number of seconds from 0 to 3600",
            ),
            (
                GatewayAuthorizer {
                    result_ttl: Some(Err("a boolean (true)".into())),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::Unreadable,
                "result TTL is a boolean (true)",
            ),
            (
                GatewayAuthorizer {
                    conflict: Some(
                        "the authorizer a is defined at x and again differently at y".into(),
                    ),
                    ..cognito("a", &[Text::known(ARN)])
                },
                NoteKind::NotTranslated,
                "defined at x and again differently at y",
            ),
        ];
        for (authorizer, kind, says) in cases {
            let mut api = Api::default();
            let a = api.authorizer(authorizer);
            api.methods = vec![
                method("/x", "GET", scoped(a, "x/y")),
                method(
                    "/y",
                    "GET",
                    Access::Cognito {
                        authorizer: a,
                        scopes: vec![],
                    },
                ),
            ];
            let out = assemble(api).unwrap();
            assert!(
                out.policy
                    .routes
                    .iter()
                    .all(|r| r.auth == Some(AuthMode::Deny) && r.authorizer.is_none()),
                "{says}: {:#?}",
                out.policy.routes
            );
            assert!(out.policy.authorizers.is_empty(), "{says}");
            let denials = out
                .notes
                .iter()
                .filter(|n| {
                    n.kind == kind
                        && n.message.contains(says)
                        && n.message
                            .contains("its Cognito authorizer a cannot be translated exactly")
                        && n.message
                            .ends_with("emitted as `auth: deny` (every request refused, 403)")
                })
                .count();
            assert_eq!(denials, 2, "{says}: {:#?}", out.notes);
        }
    }

    #[test]
    fn a_result_ttl_only_deployment_knows_is_zero_until_set() {
        let mut api = Api::default();
        let a = api.authorizer(GatewayAuthorizer {
            result_ttl: Some(Ok(Text::unknown("parameter Ttl"))),
            ..cognito("a", &[Text::known(ARN)])
        });
        api.methods = vec![method("/x", "GET", scoped(a, "x/y"))];
        let out = assemble(api).unwrap();
        assert_eq!(out.policy.authorizers["a"].result_ttl_seconds, Some(0));
        assert!(out.policy.routes[0].auth.is_none());
        assert!(out.notes.iter().any(|n| {
            n.kind == NoteKind::Unresolved
                && n.message
                    .contains("the result TTL depends on parameter Ttl")
        }));
    }

    #[test]
    fn one_method_with_two_authorizers_is_denied_not_merged() {
        let mut api = Api::default();
        let a = api.authorizer(cognito("a", &[Text::known(ARN)]));
        let b = api.authorizer(cognito(
            "b",
            &[Text::known(
                "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI",
            )],
        ));
        api.methods = vec![
            method("/x", "GET", scoped(a, "x/y")),
            method("/x", "GET", scoped(b, "x/y")),
        ];
        let out = assemble(api).unwrap();
        assert_eq!(out.policy.routes.len(), 1);
        assert_eq!(out.policy.routes[0].auth, Some(AuthMode::Deny));
        assert_eq!(out.policy.routes[0].authorizer, None);
    }

    #[test]
    fn a_second_different_definition_under_one_name_is_a_conflict() {
        let mut api = Api::default();
        let first = api.authorizer(cognito("a", &[Text::known(ARN)]));
        let same = api.authorizer(GatewayAuthorizer {
            at: "elsewhere".into(),
            ..cognito("a", &[Text::known(ARN)])
        });
        assert_eq!(first, same);
        assert!(api.authorizers[0].conflict.is_none());
        let other = api.authorizer(cognito(
            "a",
            &[Text::known(
                "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI",
            )],
        ));
        assert_eq!(first, other);
        assert!(api.authorizers[0].conflict.is_some());
    }

    #[test]
    fn expressions_are_matched_against_the_whole_aud() {
        for (written, policy) in [
            ("^[a-z0-9]{26}$", "^[a-z0-9]{26}$"),
            ("[a-z0-9]{26}", "^(?:[a-z0-9]{26})$"),
            ("^a$|^b", "^(?:^a$|^b)$"),
            ("^(?m)a$", "^(?:^(?m)a$)$"),
            ("^a\\$", "^(?:^a\\$)$"),
            ("^a\\\\$", "^a\\\\$"),
            ("", "^(?:)$"),
        ] {
            assert_eq!(whole_match(written), policy, "{written}");
        }
        let re = regex::Regex::new(&whole_match("abc")).unwrap();
        assert!(re.is_match("abc"));
        assert!(!re.is_match("xabcx"));
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
