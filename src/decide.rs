//! The decision pipeline: path → route → credential → token → scopes and groups.
//!
//! [`Authorizer::decide`] takes a protocol-free [`Request`] and returns a [`Decision`] that
//! says what to answer and why. Every way a request can be refused is a [`DenyReason`], so
//! every denial has one precise, loggable cause and one well-defined response; anything the
//! pipeline cannot make sense of ends in a denial, never in an error that could fail open.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::active::ActivePolicy;
use crate::credential::{self, Headers, NoToken};
use crate::host::BadHost;
use crate::path::{self, UnsafePath};
use crate::policy::model::DefaultAction;
use crate::policy::table::Route;
use crate::token::{AccessToken, TokenError, Verifier};

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

/// Why a request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowReason {
    /// A valid access token met the route's requirements.
    Authorized,
    /// The route is `auth: none`.
    PublicRoute,
    /// No route matched and the policy's default action is `allow`.
    DefaultAllow,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenyReason {
    UnsafePath(UnsafePath),
    /// The `:authority` cannot be reduced to exactly one host.
    UnsafeHost(BadHost),
    /// The method is empty or not an HTTP token.
    UnsafeMethod,
    NoRoute,
    NoToken(NoToken),
    InvalidToken(TokenError),
    InsufficientScope,
    InsufficientGroup,
    /// The route is `auth: deny`.
    DenyRoute,
    /// The check carried no HTTP request attributes (not an HTTP filter's check).
    NotHttp,
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub enum Decision {
    Allow {
        reason: AllowReason,
        route: Option<Arc<str>>,
        token: Option<Arc<AccessToken>>,
    },
    Deny {
        reason: DenyReason,
        route: Option<Arc<str>>,
        /// 401 or 403 for an insufficient scope, as the policy says.
        insufficient_scope_status: u16,
    },
}

/// The HTTP answer for a denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialResponse {
    pub status: u16,
    pub www_authenticate: Option<&'static str>,
    pub body: &'static str,
}

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const EXPIRED: &str = r#"{"message":"The incoming token has expired"}"#;
const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
const BAD_REQUEST: &str = r#"{"message":"Bad Request"}"#;

impl DenyReason {
    /// A short stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            DenyReason::UnsafePath(_) => "unsafe_path",
            DenyReason::UnsafeHost(_) => "unsafe_host",
            DenyReason::UnsafeMethod => "unsafe_method",
            DenyReason::NoRoute => "no_route",
            DenyReason::NoToken(_) => "no_token",
            DenyReason::InvalidToken(TokenError::Expired) => "expired_token",
            DenyReason::InvalidToken(_) => "invalid_token",
            DenyReason::InsufficientScope => "insufficient_scope",
            DenyReason::InsufficientGroup => "insufficient_group",
            DenyReason::DenyRoute => "deny_route",
            DenyReason::NotHttp => "not_http",
        }
    }

    /// The finer cause behind the label (which token check failed, and so on).
    pub fn detail(&self) -> String {
        match self {
            DenyReason::UnsafePath(p) => p.label().to_owned(),
            DenyReason::UnsafeHost(h) => h.label().to_owned(),
            DenyReason::NoToken(n) => n.label().to_owned(),
            DenyReason::InvalidToken(t) => format!("{}: {t}", t.label()),
            _ => String::new(),
        }
    }

    /// What the client sees (SPEC 5), API Gateway-compatible.
    pub fn response(&self, insufficient_scope_status: u16) -> DenialResponse {
        let invalid = Some(r#"Bearer error="invalid_token""#);
        let (status, www_authenticate, body) = match self {
            DenyReason::UnsafePath(_) | DenyReason::UnsafeHost(_) | DenyReason::UnsafeMethod => {
                (400, None, BAD_REQUEST)
            }
            DenyReason::NoRoute | DenyReason::DenyRoute | DenyReason::NotHttp => {
                (403, None, FORBIDDEN)
            }
            DenyReason::NoToken(_) => (401, Some("Bearer"), UNAUTHORIZED),
            DenyReason::InvalidToken(TokenError::Expired) => (401, invalid, EXPIRED),
            DenyReason::InvalidToken(_) => (401, invalid, UNAUTHORIZED),
            DenyReason::InsufficientScope | DenyReason::InsufficientGroup => {
                let scope = Some(r#"Bearer error="insufficient_scope""#);
                if insufficient_scope_status == 403 {
                    (403, scope, FORBIDDEN)
                } else {
                    (401, scope, UNAUTHORIZED)
                }
            }
        };
        DenialResponse {
            status,
            www_authenticate,
            body,
        }
    }
}

impl Decision {
    /// `allow` or `deny`.
    pub fn result(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allow",
            Decision::Deny { .. } => "deny",
        }
    }

    /// The label of the reason: `authorized`, `public_route`, `no_token`, ...
    pub fn reason(&self) -> &'static str {
        match self {
            Decision::Allow { reason, .. } => match reason {
                AllowReason::Authorized => "authorized",
                AllowReason::PublicRoute => "public_route",
                AllowReason::DefaultAllow => "default_allow",
            },
            Decision::Deny { reason, .. } => reason.label(),
        }
    }

    /// The matched route's name, if any.
    pub fn route(&self) -> Option<&str> {
        match self {
            Decision::Allow { route, .. } | Decision::Deny { route, .. } => route.as_deref(),
        }
    }

    /// The verified token behind an allow, if any.
    pub fn token(&self) -> Option<&AccessToken> {
        match self {
            Decision::Allow { token, .. } => token.as_deref(),
            Decision::Deny { .. } => None,
        }
    }
}

/// Decides requests against the live policy.
pub struct Authorizer {
    active: ArcSwap<ActivePolicy>,
    verifier: Verifier,
}

impl Authorizer {
    /// An authorizer starting with `active`, caching up to `cache_entries` verified tokens.
    pub fn new(active: ActivePolicy, cache_entries: u64) -> Self {
        Self {
            active: ArcSwap::from_pointee(active),
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

    /// Decides one request.
    pub async fn decide(&self, request: &Request) -> Decision {
        let active = self.active.load_full();
        let status = active.policy.insufficient_scope_status;
        let deny = |reason, route: Option<&Route>| Decision::Deny {
            reason,
            route: route.map(|r| r.name.clone()),
            insufficient_scope_status: status,
        };

        let segments = match path::segments(&request.path) {
            Ok(s) => s,
            Err(e) => return deny(DenyReason::UnsafePath(e), None),
        };
        let host = match crate::host::normalize(request.host.as_bytes()) {
            Ok(h) => h,
            Err(e) => return deny(DenyReason::UnsafeHost(e), None),
        };
        if !is_method(&request.method) {
            return deny(DenyReason::UnsafeMethod, None);
        }
        let Some(route) = active.policy.routes.find(&segments, &request.method, &host) else {
            return match active.policy.default_action {
                DefaultAction::Deny => deny(DenyReason::NoRoute, None),
                DefaultAction::Allow => Decision::Allow {
                    reason: AllowReason::DefaultAllow,
                    route: None,
                    token: None,
                },
            };
        };
        if route.deny {
            return deny(DenyReason::DenyRoute, Some(route));
        }
        if route.public {
            return Decision::Allow {
                reason: AllowReason::PublicRoute,
                route: Some(route.name.clone()),
                token: None,
            };
        }
        let raw = match credential::bearer_token(&request.headers, &active.policy.token_header) {
            Ok(t) => t,
            Err(e) => return deny(DenyReason::NoToken(e), Some(route)),
        };
        let token = match self.verifier.verify(&active, raw).await {
            Ok(t) => t,
            Err(e) => return deny(DenyReason::InvalidToken(e), Some(route)),
        };
        if !route.scopes.is_empty() && !route.scopes.iter().any(|s| token.scopes.contains(s)) {
            return deny(DenyReason::InsufficientScope, Some(route));
        }
        if !route.groups.is_empty() && !route.groups.iter().any(|g| token.groups.contains(g)) {
            return deny(DenyReason::InsufficientGroup, Some(route));
        }
        Decision::Allow {
            reason: AllowReason::Authorized,
            route: Some(route.name.clone()),
            token: Some(token),
        }
    }
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
    fn denials_answer_like_api_gateway() {
        let r = DenyReason::NoToken(NoToken::Missing).response(401);
        assert_eq!(
            (r.status, r.www_authenticate, r.body),
            (401, Some("Bearer"), UNAUTHORIZED)
        );
        let r = DenyReason::InvalidToken(TokenError::Expired).response(401);
        assert_eq!(r.body, EXPIRED);
        let r = DenyReason::InvalidToken(TokenError::BadSignature).response(401);
        assert_eq!(r.www_authenticate, Some(r#"Bearer error="invalid_token""#));
        assert_eq!(DenyReason::InsufficientScope.response(401).status, 401);
        let r = DenyReason::InsufficientScope.response(403);
        assert_eq!((r.status, r.body), (403, FORBIDDEN));
        assert_eq!(DenyReason::NoRoute.response(401).status, 403);
        assert_eq!(
            DenyReason::UnsafePath(UnsafePath::DotSegment)
                .response(401)
                .status,
            400
        );
        assert_eq!(
            DenyReason::UnsafeHost(BadHost::BadPort)
                .response(401)
                .status,
            400
        );
        assert_eq!(DenyReason::UnsafeMethod.response(401).status, 400);
    }

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
