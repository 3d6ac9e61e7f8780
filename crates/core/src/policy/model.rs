//! The policy file as operators write it (the ConfigMap's `policy.yaml`).
//!
//! These types mirror the YAML one to one: camelCase keys, unknown keys refused so that a
//! typo can never silently weaken a policy. They carry no behaviour: `compile.rs` checks a
//! [`PolicyFile`] and turns it into a [`Policy`](super::Policy), and `import` writes them
//! from API Gateway definitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyFile {
    /// The single-authorizer form: the Cognito user pools whose tokens are accepted (API
    /// Gateway's `providerARNs`), for one authorizer named `default`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_pools: Vec<UserPoolConfig>,
    /// The single-authorizer form: where the token is read from; `authorization` by default.
    #[serde(default, skip_serializing_if = "TokenSource::is_default")]
    pub token_source: TokenSource,
    /// The named-authorizer form (API Gateway's own model): each authorizer's pools, token
    /// header, validation expression and result TTL. A file uses one form or the other.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorizers: BTreeMap<String, AuthorizerConfig>,
    /// The authorizer of routes that name none; optional when there is exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_authorizer: Option<String>,
    /// Extra identity headers, each set from a claim of the verified token (API Gateway's
    /// `context.authorizer.claims` mappings): header name → claim name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claim_headers: BTreeMap<String, String>,
    /// What happens to a request that no route matches.
    #[serde(default, skip_serializing_if = "DefaultAction::is_deny")]
    pub default_action: DefaultAction,
    /// `enforce` (the default) or `dryRun`: every route's denials (other than `auth: deny`
    /// routes') and the default action's are logged and counted as `would_deny`, and the
    /// request is let through. A route's own `dryRun` overrides it.
    #[serde(default, skip_serializing_if = "Mode::is_enforce")]
    pub mode: Mode,
    /// With `mode: dryRun`, also let through requests refused before any route (400 for
    /// an unsafe path, host or method). Off unless set: those requests are attacks far
    /// more often than traffic a new policy should learn from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run_unsafe_requests: bool,
    /// HTTP status for a valid token that lacks every required scope or group: 401 (API
    /// Gateway's behaviour, the default) or 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insufficient_scope_status: Option<u16>,
    /// API Gateway's gateway responses by response type (`UNAUTHORIZED`, `ACCESS_DENIED`,
    /// `MISSING_AUTHENTICATION_TOKEN`, `EXPIRED_TOKEN`, `DEFAULT_4XX`): the status, static
    /// headers and JSON body of denials.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gateway_responses: BTreeMap<String, super::responses::GatewayResponseConfig>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leeway_seconds: Option<u64>,
    /// The routes, in any order: precedence comes from specificity, not position.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// One Cognito user pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPoolConfig {
    /// Pool id, `REGION_SUFFIX`, e.g. `ap-south-1_abcdefghi`; or give `arn` instead.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The pool's ARN (`arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID`), as API
    /// Gateway's `providerARNs` lists it; instead of `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Accepted app client ids (`client_id` claim); omitted means any client of the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_clients: Option<Vec<String>>,
    /// Key set URL; default `{issuer}/.well-known/jwks.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Expected `iss`; default `https://cognito-idp.{region}.amazonaws.com/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// One named authorizer (API Gateway's `AWS::ApiGateway::Authorizer` of type
/// `COGNITO_USER_POOLS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizerConfig {
    /// The pools whose tokens it accepts (`providerARNs`).
    pub user_pools: Vec<UserPoolConfig>,
    /// Where the token is read from (`identitySource`); `authorization` by default.
    #[serde(default, skip_serializing_if = "TokenSource::is_default")]
    pub token_source: TokenSource,
    /// A regular expression the token's `aud` must match (`identityValidationExpression`);
    /// a token without `aud` (every access token) cannot match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
    /// How long a verified token may be reused without verifying it again
    /// (`authorizerResultTtlInSeconds`, 0 to 3600, default 300; 0: every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_ttl_seconds: Option<u64>,
}

/// Where the token is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenSource {
    /// Request header carrying the token, bare or as `Bearer <jwt>`.
    #[serde(default = "TokenSource::default_header")]
    pub header: String,
}

impl TokenSource {
    fn default_header() -> String {
        "authorization".to_owned()
    }

    /// Whether this is the default, `authorization`.
    pub(crate) fn is_default(&self) -> bool {
        self.header.eq_ignore_ascii_case("authorization")
    }
}

impl Default for TokenSource {
    fn default() -> Self {
        Self {
            header: Self::default_header(),
        }
    }
}

/// Whether denials are enforced or only logged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Denials are answered (the default).
    #[default]
    Enforce,
    /// Denials are logged and counted as `would_deny`; the request goes upstream.
    DryRun,
}

impl Mode {
    fn is_enforce(&self) -> bool {
        *self == Mode::Enforce
    }
}

/// What happens to requests that no route matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DefaultAction {
    /// 403 `{"message":"Missing Authentication Token"}`, as API Gateway answers when no
    /// method matches.
    #[default]
    Deny,
    /// Let the request through without any identity.
    Allow,
}

impl DefaultAction {
    fn is_deny(&self) -> bool {
        *self == DefaultAction::Deny
    }
}

/// One route: which requests it covers and what they need.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfig {
    /// Shows in logs, metrics and the `x-cognito-route` header; defaults to `METHODS PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Host names (`api.example.com`) or suffix wildcards (`*.example.com`); default any host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// HTTP methods; default (or `ANY`) any method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// API Gateway resource path: literal segments, `{name}`, and a final `{name+}`.
    pub path: String,
    /// Any one of these OAuth scopes suffices (API Gateway's `AuthorizationScopes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Any one of these `cognito:groups` suffices (checked in addition to scopes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// `none` makes the route public, `deny` refuses every request it matches (403);
    /// default `required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMode>,
    /// The authorizer whose pools and token header the route uses; default
    /// `defaultAuthorizer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<String>,
    /// Which Cognito token the route takes: `access` (default) or `id` (API Gateway's rule
    /// for a Cognito method without OAuth scopes; not together with `scopes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_use: Option<TokenUse>,
    /// `true`: the route's denials are logged and counted as `would_deny` and the request
    /// is let through; `false`: enforced even under `mode: dryRun`. Default: the policy's
    /// mode, except that an `auth: deny` route is dry-run only when it says so itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// Which Cognito token a route takes (`token_use` claim).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenUse {
    /// An access token (`token_use: access`).
    #[default]
    Access,
    /// An ID token (`token_use: id`), its `aud` the app client.
    Id,
}

impl TokenUse {
    /// `access` or `id`, as the claim says it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

/// Whether a route needs a token at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthMode {
    /// A valid access token is required (the default).
    Required,
    /// Public: no token needed, none inspected.
    None,
    /// Every request the route matches is refused with 403, token or not: for methods
    /// API Gateway protects in a way this service cannot check (IAM, a Lambda authorizer),
    /// or paths to close under a broader route.
    Deny,
}
