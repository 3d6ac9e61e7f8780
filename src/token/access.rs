//! A verified Cognito access token: the claims the policy and the upstream use.

use std::time::{SystemTime, UNIX_EPOCH};

/// A verified Cognito access token: the claims the policy and the upstream use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub sub: String,
    pub client_id: String,
    pub username: Option<String>,
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
