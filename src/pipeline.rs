//! The decision pipeline: path → host → route → credential → token → scopes and groups.
//!
//! [`Pipeline::decide`] takes a protocol-free [`Request`] and returns a [`Decision`] that
//! says what to answer and why. Anything the pipeline cannot make sense of ends in a
//! denial, never in an error that could fail open.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::active::ActivePolicy;
use crate::credential::{self, Headers};
use crate::decision::{AllowReason, Decision, DenyReason};
use crate::path;
use crate::policy::Policy;
use crate::policy::model::DefaultAction;
use crate::policy::table::Route;
use crate::revocation::RevocationList;
use crate::token::{VerifiedToken, Verifier};

/// A request as the pipeline sees it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// Host (`:authority`), as sent; normalised when matched.
    pub host: String,
    /// Path as sent, query string included.
    pub path: String,
    pub headers: Headers,
}

/// Decides requests against the live policy and revocation list.
pub struct Pipeline {
    active: ArcSwap<ActivePolicy>,
    /// Swapped on its own: a new list takes effect without touching the policy or the
    /// cache of verified tokens (the list is consulted on every use of a token).
    revocations: ArcSwap<RevocationList>,
    verifier: Verifier,
}

impl Pipeline {
    /// An authorizer starting with `active` and no revocation list, caching up to
    /// `cache_entries` verified tokens.
    pub fn new(active: ActivePolicy, cache_entries: u64) -> Self {
        Self {
            active: ArcSwap::from_pointee(active),
            revocations: ArcSwap::from_pointee(RevocationList::empty()),
            verifier: Verifier::new(cache_entries),
        }
    }

    /// The policy in force.
    pub fn active(&self) -> Arc<ActivePolicy> {
        self.active.load_full()
    }

    /// Puts a new policy in force; checks already running finish under the old one.
    pub fn replace(&self, active: ActivePolicy) {
        self.active.store(Arc::new(active));
    }

    /// Puts a new revocation list in force: every token used from now on, cached or not,
    /// is looked up in it. Returns the list it replaces (checks running may still hold it).
    pub fn replace_revocations(&self, revocations: Arc<RevocationList>) -> Arc<RevocationList> {
        self.revocations.swap(revocations)
    }

    /// Decides one request.
    pub async fn decide(&self, request: &Request) -> Decision {
        let active = self.active.load_full();
        let status = active.policy.insufficient_scope_status;
        let policy = &active.policy;
        let authorizer_of = |route: &Route| policy.authorizers[route.authorizer].name.clone();
        // A denial; under dry run (`dry_run`), let through as `would_deny` with the
        // identity of `token` when it was verified.
        let refuse = |reason, route: Option<&Route>, token, dry_run: bool| {
            let authorizer = route.filter(|r| !r.public && !r.deny).map(authorizer_of);
            let decision =
                Decision::deny(reason, route.map(|r| r.name.clone()), authorizer, status);
            if dry_run {
                decision.into_dry_run(token, &policy.claim_headers)
            } else {
                decision
            }
        };
        let deny = |reason, route: &Route| refuse(reason, Some(route), None, route.dry_run);
        let allow =
            |reason, route: Option<&Route>, token: Option<Arc<VerifiedToken>>| Decision::Allow {
                reason,
                route: route.map(|r| r.name.clone()),
                authorizer: token.as_ref().and(route).map(authorizer_of),
                token,
                claim_headers: policy.claim_headers.clone(),
            };

        let (segments, host) = match (
            path::segments(&request.path),
            crate::host::normalize(request.host.as_bytes()),
            is_method(&request.method),
        ) {
            (Ok(segments), Ok(host), true) => (segments, host),
            (segments, host, method_ok) => {
                let reason = match (segments, &host) {
                    (Err(e), _) => DenyReason::UnsafePath(e),
                    (_, Err(e)) => DenyReason::UnsafeHost(*e),
                    _ => DenyReason::UnsafeMethod,
                };
                let dry_run = policy.dry_run_unsafe
                    && lands_only_on_dry_run(
                        policy,
                        &request.path,
                        method_ok.then_some(request.method.as_str()),
                        host.as_deref().ok(),
                    );
                return refuse(reason, None, None, dry_run);
            }
        };
        let Some(route) = active.policy.routes.find(&segments, &request.method, &host) else {
            return match active.policy.default_action {
                DefaultAction::Deny => {
                    refuse(DenyReason::NoRoute, None, None, policy.dry_run_no_route)
                }
                DefaultAction::Allow => allow(AllowReason::DefaultAllow, None, None),
            };
        };
        if route.deny {
            return deny(DenyReason::DenyRoute, route);
        }
        if route.public {
            return allow(AllowReason::PublicRoute, Some(route), None);
        }
        let header = &policy.authorizers[route.authorizer].token_header;
        let raw = match credential::bearer_token(&request.headers, header) {
            Ok(t) => t,
            Err(e) => return deny(DenyReason::NoToken(e), route),
        };
        let revocations = self.revocations.load_full();
        let trust = active.trust(route, &revocations);
        let token = match self.verifier.verify(trust, raw).await {
            Ok(t) => t,
            Err(e) => return deny(DenyReason::InvalidToken(e), route),
        };
        if !route.scopes.is_empty() && !route.scopes.iter().any(|s| token.scopes.contains(s)) {
            return refuse(
                DenyReason::InsufficientScope,
                Some(route),
                Some(token),
                route.dry_run,
            );
        }
        if !route.groups.is_empty() && !route.groups.iter().any(|g| token.groups.contains(g)) {
            return refuse(
                DenyReason::InsufficientGroup,
                Some(route),
                Some(token),
                route.dry_run,
            );
        }
        allow(AllowReason::Authorized, Some(route), Some(token))
    }
}

/// Whether every route an unsafe request could land on, however an upstream reads its path
/// (`path::reach`), method and host (`None`: unsafe, so any), is in dry run or public:
/// only then may `dryRunUnsafeRequests` let it through (SPEC 8). Landing on no route is
/// never in the way: `dryRunUnsafeRequests` needs `mode: dryRun`, which covers it.
fn lands_only_on_dry_run(
    policy: &Policy,
    raw_path: &str,
    method: Option<&str>,
    host: Option<&str>,
) -> bool {
    policy
        .routes
        .reachable(&path::reach(raw_path), method, host)
        .iter()
        .all(|route| route.dry_run || route.public)
}

/// An HTTP method: a non-empty token (RFC 9110 5.6.2) of at most 32 characters.
pub fn is_method(method: &str) -> bool {
    !method.is_empty()
        && method.len() <= 32
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_tokens() {
        for m in ["GET", "PROPFIND", "M-SEARCH"] {
            assert!(is_method(m), "{m}");
        }
        for m in ["", "GET POST", "GET\n", "GE\u{e9}T", &"A".repeat(33)] {
            assert!(!is_method(m), "{m:?}");
        }
    }
}
