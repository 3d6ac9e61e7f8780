//! The tests file (`TESTS.yaml`): what `test` reads and `import --tests` writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `client_id` (access token) and `aud` (ID token) of a test token whose case names
/// none and whose authorizer lists no app clients.
pub const DEFAULT_CLIENT: &str = "testclient0000000000000000";

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestFile {
    /// The cases, run in order.
    pub tests: Vec<TestCase>,
}

/// One case: a request, the token it carries, and what must come out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestCase {
    /// Shown in the output; default `METHOD path (token)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The request the proxy would send.
    pub request: TestRequest,
    /// Omitted: no token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenSpec>,
    /// What must come out.
    pub expect: Expect,
}

/// The request as Envoy would send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestRequest {
    /// The method; omitted: `GET`.
    #[serde(default = "TestRequest::default_method")]
    pub method: String,
    /// Path as sent, query string allowed.
    pub path: String,
    /// `:authority`; omitted: none (only routes for any host match).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// Further request headers (names are lower-cased).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl TestRequest {
    fn default_method() -> String {
        "GET".to_owned()
    }
}

/// The token: a kind, and claims set over the kind's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenSpec {
    /// Omitted: a valid token of the kind the route takes (an access token; an ID token on
    /// a `tokenUse: id` route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TokenKind>,
    /// Which configured pool issues it (its `id`); default the first pool of the matched
    /// route's authorizer. A pool of another authorizer makes a token the route must refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Claims set over the defaults; `null` removes one.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
}

/// What kind of token a case carries. Each kind but `idToken` and `accessToken` is of the
/// kind the matched route takes: an access token, or an ID token on a `tokenUse: id` route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenKind {
    /// A valid token of the pool.
    Valid,
    /// No token header at all.
    None,
    /// Expired an hour ago.
    Expired,
    /// A Cognito ID token (`token_use: id`, `aud`, no scope), whatever the route takes.
    IdToken,
    /// A Cognito access token (`token_use: access`, `client_id`, `scope`), whatever the
    /// route takes.
    AccessToken,
    /// Signed by the trusted key, but naming an issuer no pool has.
    WrongIssuer,
    /// A `client_id` (an ID token's `aud`) outside the pool's `appClients`.
    WrongClient,
    /// Signed by another key under the trusted key's `kid`.
    BadSignature,
    /// A valid token whose `jti` is on the run's revocation list.
    Revoked,
}

impl TokenKind {
    /// The kind as the tests file writes it.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Valid => "valid",
            TokenKind::None => "none",
            TokenKind::Expired => "expired",
            TokenKind::IdToken => "idToken",
            TokenKind::AccessToken => "accessToken",
            TokenKind::WrongIssuer => "wrongIssuer",
            TokenKind::WrongClient => "wrongClient",
            TokenKind::BadSignature => "badSignature",
            TokenKind::Revoked => "revoked",
        }
    }
}

/// What must come out. Only what is stated is checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// 200 for an allowed request, else the denial's status.
    pub status: u16,
    /// The route's name (`x-cognito-route`), for allowed and denied requests alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The decision's reason label (`authorized`, `no_token`, `expired_token`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Allowed: headers set upstream (`null`: must not reach the upstream). Denied: the
    /// response headers (`null`: absent).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Option<String>>,
    /// The denial's body (compared as JSON when both sides are JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}
