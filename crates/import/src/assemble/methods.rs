//! The first phase of assembling: each method of the source as a route, in the source's
//! order: a Cognito method names its authorizer and scopes (or takes ID tokens), a method
//! API Gateway does not authorize is public, one this service cannot enforce is
//! `auth: deny`, and one whose path or HTTP method cannot be a route is left out; each
//! difference from API Gateway is reported.

use std::collections::BTreeSet;

use super::super::api::{Access, Method};
use super::super::report::{Note, NoteKind};
use super::settings::Authorizers;
use cognito_ext_authz_core::policy::model::{AuthMode, RouteConfig, TokenUse};
use cognito_ext_authz_core::policy::rules::{METHODS, is_scope_name};
use cognito_ext_authz_core::policy::template::PathTemplate;

/// What happens to a method that cannot be a route (its path or HTTP method is unknown or
/// not expressible): no `auth: deny` can name it either.
const LEFT_OUT: &str = "it cannot be a route, so it is left out: the default action (deny, 403) answers its requests, unless a broader route matches them";

/// A route ready to be written, with where it came from.
pub(super) struct Candidate {
    pub route: RouteConfig,
    /// Upper-case method, or `ANY`.
    pub method: String,
    pub shape: String,
    pub source: Method,
}

/// The route of each method that can be one, and the authorizers the methods name (used or
/// not: an authorizer no method names is reported as unused).
pub(super) fn candidates(
    methods: Vec<Method>,
    authorizers: &Authorizers,
    notes: &mut Vec<Note>,
) -> (Vec<Candidate>, BTreeSet<usize>) {
    let mut referenced: BTreeSet<usize> = BTreeSet::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for m in methods {
        let Some((path, method)) = route_key(&m, notes) else {
            continue;
        };
        let what = format!("{method} {path}");
        let mut route = RouteConfig {
            methods: (method != "ANY").then(|| vec![method.clone()]),
            path: path.to_string(),
            ..RouteConfig::default()
        };
        authorize(&mut route, &m, &what, authorizers, &mut referenced, notes);
        report_differences(&route, &m, &what, notes);
        candidates.push(Candidate {
            route,
            shape: path.shape(),
            method,
            source: m,
        });
    }
    (candidates, referenced)
}

/// The method's path template and upper-case HTTP method (`ANY` for any), or `None`, with
/// a note, when it cannot be a route.
fn route_key(m: &Method, notes: &mut Vec<Note>) -> Option<(PathTemplate, String)> {
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
        return None;
    };
    let path = match PathTemplate::parse(&path_text) {
        Ok(p) => p,
        Err(e) => {
            notes.push(Note::new(
                NoteKind::NotTranslated,
                &m.at,
                format!("{e}; {LEFT_OUT}"),
            ));
            return None;
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
        return None;
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
        return None;
    }
    Some((path, method))
}

/// Sets what `route` requires from the method's access. A method whose authorization this
/// service cannot enforce or resolve becomes an `auth: deny` route: refused with 403 even
/// under a broader route.
fn authorize(
    route: &mut RouteConfig,
    m: &Method,
    what: &str,
    authorizers: &Authorizers,
    referenced: &mut BTreeSet<usize>,
    notes: &mut Vec<Note>,
) {
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
            } else if let Err(refusal) = &authorizers.settings[*authorizer] {
                deny(
                    refusal.kind,
                    format!(
                        "its Cognito authorizer {} cannot be translated exactly: {}",
                        authorizers.list[*authorizer].name, refusal.why
                    ),
                )
            } else {
                route.authorizer = Some(authorizers.names[*authorizer].clone());
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
}

/// Reports a public route, and what else API Gateway checks that the route does not (a
/// deny route checks nothing, so what else API Gateway checks does not matter).
fn report_differences(route: &RouteConfig, m: &Method, what: &str, notes: &mut Vec<Note>) {
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
