//! The second phase of assembling: one route per (path shape, method), since a source can
//! state a method twice (two functions on one path, two REST APIs in one template), each
//! route named after its source; every conflict is reported, and a conflict never opens a
//! method wider than any of its definitions.

use std::collections::{BTreeSet, HashMap};

use super::super::report::{Note, NoteKind};
use super::methods::Candidate;
use cognito_ext_authz_core::policy::model::{AuthMode, RouteConfig};

/// One route per (path shape, method): API Gateway itself allows no two, but a source can
/// state one twice (two functions on one path). Identical requirements merge; otherwise
/// the route is `auth: deny` (a method is never opened wider than any of its definitions
/// says, and which one API Gateway would keep is not known); every conflict is reported.
pub(super) fn dedup_routes(candidates: Vec<Candidate>, notes: &mut Vec<Note>) -> Vec<RouteConfig> {
    let mut kept: Vec<Candidate> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for c in candidates {
        let key = (c.shape.clone(), c.method.clone());
        match index.get(&key) {
            Some(&first) => settle(&mut kept[first], c, notes),
            None => {
                index.insert(key, kept.len());
                kept.push(c);
            }
        }
    }
    named(kept)
}

/// Settles a second definition `c` of the method `kept` already stands for, and reports it.
fn settle(kept: &mut Candidate, c: Candidate, notes: &mut Vec<Note>) {
    let other = &*kept;
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
        // Deny-safe: a definition this service cannot enforce is never overridden by one
        // that would admit its requests.
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
        // Neither is deny: keeping either could open the method wider than the other
        // definition says, and API Gateway itself refuses a second one.
        let message = if other.source.api != c.source.api {
            // Two REST APIs of one template may each have the method: it is the one
            // policy for both that cannot tell them apart.
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
        let route = &mut kept.route;
        route.auth = Some(AuthMode::Deny);
        route.scopes = None;
        route.groups = None;
        route.authorizer = None;
        route.token_use = None;
        return;
    };
    notes.push(Note::new(NoteKind::NotTranslated, &c.source.at, message));
    if replace {
        *kept = c;
    }
}

/// The routes in (path, method) order, each named after its source (function, operation,
/// resource) when that names one route only, else after its source, method and path.
fn named(mut kept: Vec<Candidate>) -> Vec<RouteConfig> {
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
