//! The decision pipeline: path → host → route → credential → token → scopes and groups.
//!
//! [`Pipeline::decide`] takes a protocol-free [`Request`] and returns a [`Decision`] that
//! says what to answer and why. Anything the pipeline cannot make sense of ends in a
//! denial, never in an error that could fail open.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::active::ActivePolicy;
use crate::credential;
use crate::decision::{AllowReason, Decision, DenyReason};
use crate::path;
use crate::policy::Policy;
use crate::policy::model::DefaultAction;
use crate::policy::table::Route;
use crate::revocation::RevocationList;
use crate::token::{VerifiedToken, Verifier};

pub use crate::request::Request;
use crate::request::is_method;

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

    /// The denial of a request that cannot be decided at all (it could not be read into a
    /// [`Request`]: no route, no authorizer), answered as the policy in force answers.
    pub fn refuse(&self, reason: DenyReason) -> Decision {
        let active = self.active();
        let policy = &active.policy;
        Decision::deny(
            reason,
            None,
            None,
            policy.insufficient_scope_status,
            &policy.gateway_responses,
        )
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
            let authorizer = route.filter(|r| r.is_protected()).map(authorizer_of);
            let decision = Decision::deny(
                reason,
                route.map(|r| r.name.clone()),
                authorizer,
                status,
                &policy.gateway_responses,
            );
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
            path::segments(request.path()),
            crate::host::normalize(request.host().as_bytes()),
            is_method(request.method()),
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
                        request.path(),
                        method_ok.then_some(request.method()),
                        host.as_deref().ok(),
                    );
                return refuse(reason, None, None, dry_run);
            }
        };
        let Some(route) = active
            .policy
            .routes
            .find(&segments, request.method(), &host)
        else {
            return match active.policy.default_action {
                DefaultAction::Deny => {
                    refuse(DenyReason::NoRoute, None, None, policy.dry_run_no_route)
                }
                DefaultAction::Allow => allow(AllowReason::DefaultAllow, None, None),
            };
        };
        if route.is_deny() {
            return deny(DenyReason::DenyRoute, route);
        }
        if route.is_public() {
            return allow(AllowReason::PublicRoute, Some(route), None);
        }
        let header = &policy.authorizers[route.authorizer].token_header;
        let raw = match credential::bearer_token(request.headers(), header) {
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
/// only then may `dryRunUnsafeRequests` let it through (docs/security.md). Landing on no route is
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
        .all(|route| route.dry_run || route.is_public())
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

    /// A policy with dry-run, enforcing, deny and public routes side by side.
    const MIXED: &str = r#"
userPools: [{id: eu-west-1_abcdefghi, jwksUri: "https://keys.example.com/jwks.json"}]
mode: dryRun
dryRunUnsafeRequests: true
routes:
  - path: /users/{id}
    methods: [GET]
  - path: /users/{id}/orders/{proxy+}
    dryRun: false
  - path: /admin/{proxy+}
    auth: deny
  - path: /admin/public
    auth: none
  - name: billing-api
    path: /billing
    hosts: [api.example.com]
    dryRun: false
  - path: /billing
  - path: /reports/{proxy+}
  - path: /files/{name}
    methods: [POST]
    dryRun: false
"#;

    fn percent_decoded(raw: &str) -> String {
        let bytes = raw.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// `//` merged and dot segments resolved, as RFC 3986 and most servers do.
    fn resolved(path: &str) -> String {
        let mut out: Vec<&str> = Vec::new();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                s => out.push(s),
            }
        }
        format!("/{}", out.join("/"))
    }

    /// The paths some upstream could serve for `raw`: each combination of cutting at `#`,
    /// stripping `;...` from segments or cutting at `;`, decoding once or twice (before or
    /// after), reading `\` as `/`, and resolving dot segments.
    fn readings(raw: &str) -> Vec<String> {
        let path = raw.split('?').next().unwrap_or_default();
        let mut out = Vec::new();
        for ops in 0u32..64 {
            for decode_first in [false, true] {
                let mut p = path.to_owned();
                let decode = |p: &mut String| {
                    for _ in 0..(ops & 3).min(2) {
                        *p = percent_decoded(p);
                    }
                };
                if decode_first {
                    decode(&mut p);
                }
                if ops & 4 != 0 {
                    p = p.split('#').next().unwrap_or_default().to_owned();
                }
                if ops & 8 != 0 {
                    p = p
                        .split('/')
                        .map(|s| s.split(';').next().unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("/");
                } else if ops & 16 != 0 {
                    p = p.split(';').next().unwrap_or_default().to_owned();
                }
                if !decode_first {
                    decode(&mut p);
                }
                if ops & 32 != 0 {
                    p = p.replace('\\', "/");
                }
                out.push(resolved(&p));
                out.push(p);
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// Whatever an upstream reads an unsafe request as, dry run lets it through only
        /// when that reading is a dry-run or public route's, or no route's. The path: some
        /// leading segments, then tricks (a climb, a parameter, an encoding), then a route's
        /// path.
        #[test]
        fn dry_run_lets_an_unsafe_request_through_only_to_dry_run_routes(
            head in proptest::collection::vec(proptest::sample::select(vec![
                "users", "7", "reports", "admin", "files", "x",
            ]), 0..3),
            tricks in proptest::collection::vec(proptest::sample::select(vec![
                "..", "..;", "%2e%2e", ".%2e", "%252e%252e", "a;b", "admin;x", "billing;x",
                "a%2fb", "%2e%2e%2f%2e%2e", "a\\..", "x#", "", ".", "7;v=1",
            ]), 0..3),
            target in proptest::sample::select(vec![
                "billing", "admin/secret", "users/7/orders/x", "files/f", "reports/r",
                "admin/public", "users/7", "",
            ]),
            host in proptest::sample::select(vec![
                "api.example.com", "api.example.com.", "api.example.com:abc", "API.example.com:443.",
                "other.com", "other.com.", "",
            ]),
            method in proptest::sample::select(vec!["GET", "POST", "GET /", "", "DELETE"]),
        ) {
            let segments: Vec<&str> = head
                .iter()
                .chain(&tricks)
                .copied()
                .chain(Some(target).filter(|t| !t.is_empty()))
                .collect();
            let policy = Policy::parse(MIXED).unwrap();
            let raw = format!("/{}", segments.join("/"));
            let safe_path = path::segments(&raw).is_ok();
            let safe_host = crate::host::normalize(host.as_bytes());
            if safe_path && safe_host.is_ok() && is_method(method) {
                return Ok(());
            }
            let lets_through = lands_only_on_dry_run(
                &policy,
                &raw,
                is_method(method).then_some(method),
                safe_host.as_deref().ok(),
            );
            if !lets_through {
                return Ok(());
            }
            let hosts = [
                host.to_owned(),
                host.trim_end_matches('.').to_owned(),
                host.split(':').next().unwrap_or_default().to_owned(),
                host.split(':').next().unwrap_or_default().trim_end_matches('.').to_owned(),
            ];
            let methods: Vec<&str> = if is_method(method) {
                vec![method]
            } else {
                crate::policy::rules::METHODS.to_vec()
            };
            for reading in readings(&raw) {
                let Ok(segments) = path::segments(&reading) else { continue };
                for host in &hosts {
                    let Ok(host) = crate::host::normalize(host.as_bytes()) else { continue };
                    for method in &methods {
                        if let Some(route) = policy.routes.find(&segments, method, &host) {
                            proptest::prop_assert!(
                                route.dry_run || route.is_public(),
                                "{method} {host} {raw} let through, read as {reading}: {}",
                                route.name
                            );
                        }
                    }
                }
            }
        }
    }
}
