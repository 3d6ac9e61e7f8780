//! A verified Cognito token (access or ID): the claims the policy and the upstream use.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::policy::model::TokenUse;

/// A verified Cognito token: the claims the policy and the upstream use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `access` or `id`.
    pub token_use: TokenUse,
    pub sub: String,
    /// The app client: `client_id` of an access token, `aud` of an ID token.
    pub client_id: String,
    /// `username` of an access token, `cognito:username` of an ID token.
    pub username: Option<String>,
    /// `aud` when it is a string (every ID token; access tokens only when a trigger adds it).
    pub aud: Option<String>,
    /// The claims the policy's `claimHeaders` name, as header values.
    pub claims: Vec<(String, String)>,
    pub scopes: Vec<String>,
    pub groups: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Index of the issuing pool in the policy.
    pub pool: usize,
    /// The key that signed it.
    pub kid: String,
}

/// Seconds since the epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
