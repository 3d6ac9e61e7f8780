//! A verified Cognito token (access or ID): the claims the policy and the upstream use.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::policy::model::TokenUse;

/// A verified Cognito token: the claims the policy and the upstream use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `access` or `id`.
    pub token_use: TokenUse,
    /// The `sub` claim: the user (for a client credentials token, the app client).
    pub sub: String,
    /// The app client: `client_id` of an access token, `aud` of an ID token.
    pub client_id: String,
    /// `username` of an access token, `cognito:username` of an ID token.
    pub username: Option<String>,
    /// `aud` when it is a string (every ID token; access tokens only when a trigger adds it).
    pub aud: Option<String>,
    /// The claims the policy's `claimHeaders` name, as header values.
    pub claims: Vec<(String, String)>,
    /// The `scope` claim, split at spaces; empty when there is none.
    pub scopes: Vec<String>,
    /// The `cognito:groups` claim; empty when there is none.
    pub groups: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Index of the issuing pool in the policy.
    pub pool: usize,
    /// The key that signed it.
    pub kid: String,
    /// The `jti` claim, the token's own id: what `jti` revocation entries match.
    pub jti: Option<String>,
    /// The `origin_jti` claim, the id of its sign-in session: what `originJti` entries
    /// match.
    pub origin_jti: Option<String>,
    /// Issue time (`iat`), seconds since the epoch: compared with a `sub` entry's
    /// `issuedBefore`.
    pub iat: Option<u64>,
}

/// Seconds since the epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2026-11-26T06:00:00Z`: seconds since the epoch as an RFC 3339 UTC time.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
