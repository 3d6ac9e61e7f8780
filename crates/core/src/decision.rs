//! What a check decided, and why: the pipeline's output, protocol-free.
//!
//! Every way a request can be refused is a [`DenyReason`], so every denial has one precise,
//! loggable cause; a denial also carries the HTTP answer it becomes ([`DenialResponse`],
//! API Gateway's statuses and bodies, as the policy's gateway responses change them), so
//! nothing downstream needs the policy to answer.

use std::sync::Arc;

use crate::credential::NoToken;
use crate::host::BadHost;
use crate::path::UnsafePath;
use crate::policy::ClaimHeaders;
use crate::policy::responses::{
    BAD_REQUEST, EXPIRED, FORBIDDEN, GatewayResponses, MISSING_TOKEN, ResponseType, UNAUTHORIZED,
};
pub use crate::policy::responses::{DenialResponse, MESSAGES};
use crate::token::{TokenError, VerifiedToken};

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
    /// The path cannot be matched safely ([`UnsafePath`] says why): 400 Bad Request.
    UnsafePath(UnsafePath),
    /// The `:authority` cannot be reduced to exactly one host: 400 Bad Request.
    UnsafeHost(BadHost),
    /// The method is empty, longer than 32 characters or not an HTTP token: 400 Bad
    /// Request.
    UnsafeMethod,
    /// No route matches and the policy's default action is `deny`: 403 `Missing
    /// Authentication Token`, API Gateway's answer when no method matches.
    NoRoute,
    /// The route needs a token and the configured header holds none that can be read
    /// ([`NoToken`] says why): 401 with the challenge `Bearer`.
    NoToken(NoToken),
    /// The token was refused ([`TokenError`] says by which check; a revoked token is one):
    /// 401 `invalid_token`, with its own message when it has expired.
    InvalidToken(TokenError),
    /// The token is valid but holds none of the route's scopes: 401 `insufficient_scope`,
    /// or 403 under `insufficientScopeStatus: 403`.
    InsufficientScope,
    /// The token is valid but its `cognito:groups` hold none of the route's groups:
    /// answered as an insufficient scope.
    InsufficientGroup,
    /// The route is `auth: deny`: 403 Forbidden, no token read.
    DenyRoute,
    /// The check carried no HTTP request attributes (not an HTTP filter's check).
    NotHttp,
    /// An HTTP authorization subrequest (`src/http_auth/`) without exactly one readable
    /// original method, host or path: there is no request to decide on, and none is
    /// guessed.
    BadSubrequest(BadSubrequest),
}

/// Which header of an HTTP authorization subrequest cannot be read as the original
/// request's method, host or path, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSubrequest {
    /// The header (lower case), `host`, or `:path` for the request target.
    pub header: &'static str,
    /// What is wrong with it.
    pub problem: SubrequestProblem,
}

/// What is wrong with one original-request header of a subrequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubrequestProblem {
    /// Not sent.
    Missing,
    /// Sent more than once: which one the gateway meant cannot be known.
    Repeated,
    /// Not text.
    NotText,
    /// Not an absolute `http(s)` URL with a host (`X-Original-URL`).
    NotUrl,
}

impl SubrequestProblem {
    /// A short stable label for logs.
    pub fn label(self) -> &'static str {
        match self {
            SubrequestProblem::Missing => "missing",
            SubrequestProblem::Repeated => "repeated",
            SubrequestProblem::NotText => "not_text",
            SubrequestProblem::NotUrl => "not_url",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub enum Decision {
    /// The request goes upstream, with the identity of the verified token, if any.
    Allow {
        /// Why it was allowed.
        reason: AllowReason,
        /// The matched route's name; `None` when no route matched (a default allow).
        route: Option<Arc<str>>,
        /// The route's authorizer, when a token was verified.
        authorizer: Option<Arc<str>>,
        /// The verified token; `None` on a public route or a default allow.
        token: Option<Arc<VerifiedToken>>,
        /// The policy's claim headers: set from the token's claims, or removed.
        claim_headers: ClaimHeaders,
    },
    /// The request is refused; under dry run it is let through and counted as `would_deny`.
    Deny {
        /// Why it was refused.
        reason: DenyReason,
        /// The matched route's name; `None` when the request was refused before a route
        /// was looked for, or none matched.
        route: Option<Arc<str>>,
        /// The route's authorizer, when the route needed a token.
        authorizer: Option<Arc<str>>,
        /// What the client gets, unless the decision is a dry run's.
        response: DenialResponse,
        /// Set when the route (or the policy) is in dry run: the denial is logged and
        /// counted as `would_deny`, and the request is let through.
        dry_run: Option<DryRun>,
    },
}

/// What a dry-run denial lets through: the identity of a token that was verified before
/// the request fell short (a missing scope or group), so that the upstream sees the
/// same headers it would once the policy is enforced.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The token verified before the denial, if any: its identity headers are set upstream.
    pub token: Option<Arc<VerifiedToken>>,
    /// The policy's claim headers: set from `token`'s claims, or removed.
    pub claim_headers: ClaimHeaders,
}

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
            // Answered exactly as an invalid token; told apart in logs and metrics.
            DenyReason::InvalidToken(TokenError::Revoked(_)) => "revoked",
            DenyReason::InvalidToken(_) => "invalid_token",
            DenyReason::InsufficientScope => "insufficient_scope",
            DenyReason::InsufficientGroup => "insufficient_group",
            DenyReason::DenyRoute => "deny_route",
            DenyReason::NotHttp => "not_http",
            DenyReason::BadSubrequest(_) => "bad_subrequest",
        }
    }

    /// The finer cause behind the label (which token check failed, and so on).
    pub fn detail(&self) -> String {
        match self {
            DenyReason::UnsafePath(p) => p.label().to_owned(),
            DenyReason::UnsafeHost(h) => h.label().to_owned(),
            DenyReason::NoToken(n) => n.label().to_owned(),
            DenyReason::InvalidToken(t) => format!("{}: {t}", t.label()),
            DenyReason::BadSubrequest(b) => format!("{}: {}", b.header, b.problem.label()),
            _ => String::new(),
        }
    }

    /// What the client sees (docs/decisions.md), API Gateway-compatible; an insufficient scope or
    /// group gets `insufficient_scope_status` (401 as API Gateway, or 403); `responses`
    /// (the policy's gateway responses) may change status, headers and body.
    pub fn response(
        &self,
        insufficient_scope_status: u16,
        responses: &GatewayResponses,
    ) -> DenialResponse {
        let (kind, status, www_authenticate, message) = self.builtin(insufficient_scope_status);
        responses.answer(kind, status, message, www_authenticate)
    }

    /// API Gateway's answer before any gateway response: its response type, status,
    /// challenge and default message.
    pub(crate) fn builtin(
        &self,
        insufficient_scope_status: u16,
    ) -> (
        Option<ResponseType>,
        u16,
        Option<&'static str>,
        &'static str,
    ) {
        use ResponseType::{AccessDenied, Default4xx, MissingAuthenticationToken, Unauthorized};
        let invalid = Some(r#"Bearer error="invalid_token""#);
        match self {
            DenyReason::UnsafePath(_)
            | DenyReason::UnsafeHost(_)
            | DenyReason::UnsafeMethod
            | DenyReason::BadSubrequest(_) => (Some(Default4xx), 400, None, BAD_REQUEST),
            DenyReason::NoRoute => (Some(MissingAuthenticationToken), 403, None, MISSING_TOKEN),
            DenyReason::DenyRoute => (Some(AccessDenied), 403, None, FORBIDDEN),
            // Not a request from an HTTP filter: there is no client to answer.
            DenyReason::NotHttp => (None, 403, None, FORBIDDEN),
            DenyReason::NoToken(_) => (Some(Unauthorized), 401, Some("Bearer"), UNAUTHORIZED),
            // API Gateway's EXPIRED_TOKEN is for AWS credentials; an expired Cognito token
            // is an UNAUTHORIZED answer with its own message.
            DenyReason::InvalidToken(TokenError::Expired) => {
                (Some(Unauthorized), 401, invalid, EXPIRED)
            }
            DenyReason::InvalidToken(_) => (Some(Unauthorized), 401, invalid, UNAUTHORIZED),
            DenyReason::InsufficientScope | DenyReason::InsufficientGroup => {
                let scope = Some(r#"Bearer error="insufficient_scope""#);
                if insufficient_scope_status == 403 {
                    (Some(AccessDenied), 403, scope, FORBIDDEN)
                } else {
                    (Some(Unauthorized), 401, scope, UNAUTHORIZED)
                }
            }
        }
    }
}

impl Decision {
    /// A denial for `reason`, answered as [`DenyReason::response`] says.
    pub fn deny(
        reason: DenyReason,
        route: Option<Arc<str>>,
        authorizer: Option<Arc<str>>,
        insufficient_scope_status: u16,
        responses: &GatewayResponses,
    ) -> Self {
        let response = reason.response(insufficient_scope_status, responses);
        Decision::Deny {
            reason,
            route,
            authorizer,
            response,
            dry_run: None,
        }
    }

    /// This denial, turned into a dry run's: logged and counted as `would_deny`, let
    /// through with `token`'s identity (if any). An allow is returned as it is.
    pub(crate) fn into_dry_run(
        self,
        token: Option<Arc<VerifiedToken>>,
        claim_headers: &ClaimHeaders,
    ) -> Self {
        match self {
            Decision::Deny {
                reason,
                route,
                authorizer,
                response,
                ..
            } => Decision::Deny {
                reason,
                route,
                authorizer,
                response,
                dry_run: Some(DryRun {
                    token,
                    claim_headers: claim_headers.clone(),
                }),
            },
            allow => allow,
        }
    }

    /// Whether the request goes upstream: an allow, or a dry run's denial.
    pub fn lets_through(&self) -> bool {
        match self {
            Decision::Allow { .. } => true,
            Decision::Deny { dry_run, .. } => dry_run.is_some(),
        }
    }

    /// The HTTP status the client gets: 200 when the request goes upstream.
    pub fn status(&self) -> u16 {
        match self {
            Decision::Deny {
                response,
                dry_run: None,
                ..
            } => response.status,
            _ => 200,
        }
    }

    /// `allow`, `deny`, or `would_deny` (a dry run's denial, let through).
    pub fn result(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allow",
            Decision::Deny { dry_run: None, .. } => "deny",
            Decision::Deny { .. } => "would_deny",
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

    /// The authorizer of the matched route, when it needed a token.
    pub fn authorizer(&self) -> Option<&str> {
        match self {
            Decision::Allow { authorizer, .. } | Decision::Deny { authorizer, .. } => {
                authorizer.as_deref()
            }
        }
    }

    /// The verified token behind an allow or a dry run's denial, if any.
    pub fn token(&self) -> Option<&VerifiedToken> {
        match self {
            Decision::Allow { token, .. } => token.as_deref(),
            Decision::Deny {
                dry_run: Some(DryRun { token, .. }),
                ..
            } => token.as_deref(),
            Decision::Deny { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(reason: DenyReason, insufficient: u16) -> (u16, Option<&'static str>, String) {
        let r = reason.response(insufficient, &GatewayResponses::default());
        (r.status, r.www_authenticate, r.body.to_string())
    }

    #[test]
    fn denials_answer_like_api_gateway() {
        let unauthorized = r#"{"message":"Unauthorized"}"#.to_owned();
        assert_eq!(
            answer(DenyReason::NoToken(NoToken::Missing), 401),
            (401, Some("Bearer"), unauthorized.clone())
        );
        assert_eq!(
            answer(DenyReason::InvalidToken(TokenError::Expired), 401).2,
            r#"{"message":"The incoming token has expired"}"#
        );
        assert_eq!(
            answer(DenyReason::InvalidToken(TokenError::BadSignature), 401).1,
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(answer(DenyReason::InsufficientScope, 401).0, 401);
        let (status, _, body) = answer(DenyReason::InsufficientScope, 403);
        assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
        // No method matches: API Gateway's MISSING_AUTHENTICATION_TOKEN answer; an
        // `auth: deny` route keeps Forbidden.
        assert_eq!(
            answer(DenyReason::NoRoute, 401),
            (
                403,
                None,
                r#"{"message":"Missing Authentication Token"}"#.to_owned()
            )
        );
        assert_eq!(
            answer(DenyReason::DenyRoute, 401),
            (403, None, r#"{"message":"Forbidden"}"#.to_owned())
        );
        assert_eq!(
            answer(DenyReason::UnsafePath(UnsafePath::DotSegment), 401).0,
            400
        );
        assert_eq!(answer(DenyReason::UnsafeHost(BadHost::BadPort), 401).0, 400);
        assert_eq!(answer(DenyReason::UnsafeMethod, 401).0, 400);
    }

    #[test]
    fn a_revoked_token_is_answered_as_an_invalid_one_and_labelled_revoked() {
        let entry = crate::revocation::Revocation {
            index: 0,
            kind: crate::revocation::Kind::Jti,
            value: "j".to_owned(),
            issued_before: None,
            added_at: None,
            reason: None,
        };
        let revoked = DenyReason::InvalidToken(TokenError::Revoked(Arc::new(entry)));
        let invalid = DenyReason::InvalidToken(TokenError::BadSignature);
        let none = GatewayResponses::default();
        assert_eq!(revoked.response(401, &none), invalid.response(401, &none));
        assert_eq!(revoked.response(403, &none), invalid.response(403, &none));
        assert_eq!(revoked.label(), "revoked");
        assert_eq!(revoked.detail(), "revoked: revoked by revocations[0] (jti)");
    }
}
