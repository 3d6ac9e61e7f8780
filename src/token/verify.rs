//! Verifying a Cognito access token, in the order that leaks nothing and trusts nothing.
//!
//! 1. Shape: three base64url parts, bounded size.
//! 2. Header: `alg` must be exactly `RS256` (so `none`, `HS*` and the rest are refused before
//!    any key is touched); `kid` is required. `jku`, `x5u` and `jwk` are never read.
//! 3. Issuer: the (not yet trusted) `iss` must be a configured pool's issuer; that pool's
//!    configured key set is the only place the key can come from.
//! 4. Signature, with the pool's key for `kid` (refetching the key set once per cooldown
//!    when the `kid` is unknown).
//! 5. Claims, now trusted: `token_use` is `access`, `exp` present and in the future,
//!    `nbf`/`iat` not in the future (with the policy's leeway), `client_id` allowed.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use thiserror::Error;

use super::access::{AccessToken, now_unix};
use super::cache::TokenCache;
use super::keys::PoolKeys;
use crate::policy::Pools;

/// What a token is verified against: the policy's pools, their key sets (index for index),
/// the clock leeway, and the policy generation (cached verifications from another one do
/// not count).
#[derive(Clone, Copy)]
pub struct Trust<'a> {
    pub pools: &'a Pools,
    pub keys: &'a [Arc<PoolKeys>],
    pub leeway_seconds: u64,
    pub generation: u64,
}

/// Seconds `nbf` and `iat` may lie ahead of this pod's clock, on top of the policy's
/// `leewaySeconds`. Cognito stamps `iat` with its own clock and clients use a token the
/// moment they get it, so a pod whose clock trails by a fraction of a second would refuse
/// fresh tokens; `exp` stays exact (only `leewaySeconds` applies there), so this never
/// lengthens a token's life.
pub const ISSUED_SKEW_SECONDS: u64 = 5;

/// Tokens longer than this are refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// The token's structure fails the check named, before or after the signature.
    #[error("malformed token: {1}")]
    Malformed(TokenCheck, &'static str),
    #[error("algorithm {0:?} is not allowed (RS256 only)")]
    Algorithm(String),
    #[error("issuer is not a configured user pool")]
    UnknownIssuer,
    #[error("no key with this kid in the pool's key set")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("not an access token (token_use {0:?})")]
    NotAccessToken(String),
    #[error("app client is not allowed")]
    ClientNotAllowed,
}

impl TokenError {
    /// A short stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            TokenError::Malformed(..) => "malformed",
            TokenError::Algorithm(_) => "algorithm",
            TokenError::UnknownIssuer => "unknown_issuer",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::IssuedInFuture => "issued_in_future",
            TokenError::NotAccessToken(_) => "not_access_token",
            TokenError::ClientNotAllowed => "client_not_allowed",
        }
    }
}

/// One token check, in the order the pipeline runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Shape,
    Alg,
    Kid,
    Claims,
    Issuer,
    Key,
    Signature,
    Exp,
    Nbf,
    Iat,
    TokenUse,
    ClientId,
    Sub,
}

impl TokenCheck {
    /// Every check, in pipeline order.
    pub const ALL: [TokenCheck; 13] = [
        TokenCheck::Shape,
        TokenCheck::Alg,
        TokenCheck::Kid,
        TokenCheck::Claims,
        TokenCheck::Issuer,
        TokenCheck::Key,
        TokenCheck::Signature,
        TokenCheck::Exp,
        TokenCheck::Nbf,
        TokenCheck::Iat,
        TokenCheck::TokenUse,
        TokenCheck::ClientId,
        TokenCheck::Sub,
    ];

    /// What the check verifies.
    pub fn describe(self) -> &'static str {
        match self {
            TokenCheck::Shape => "shape: three base64url parts, JSON header",
            TokenCheck::Alg => "alg is RS256",
            TokenCheck::Kid => "kid present",
            TokenCheck::Claims => "claims are JSON",
            TokenCheck::Issuer => "iss is a configured user pool",
            TokenCheck::Key => "kid is in that pool's key set",
            TokenCheck::Signature => "signature verifies",
            TokenCheck::Exp => "exp present and in the future",
            TokenCheck::Nbf => "nbf not in the future",
            TokenCheck::Iat => "iat not in the future",
            TokenCheck::TokenUse => "token_use is access",
            TokenCheck::ClientId => "client_id present and allowed",
            TokenCheck::Sub => "sub present",
        }
    }
}

impl TokenError {
    /// The check that refused the token; every check before it passed.
    pub fn check(&self) -> TokenCheck {
        match self {
            TokenError::Malformed(check, _) => *check,
            TokenError::Algorithm(_) => TokenCheck::Alg,
            TokenError::UnknownIssuer => TokenCheck::Issuer,
            TokenError::UnknownKey => TokenCheck::Key,
            TokenError::BadSignature => TokenCheck::Signature,
            TokenError::Expired => TokenCheck::Exp,
            TokenError::NotYetValid => TokenCheck::Nbf,
            TokenError::IssuedInFuture => TokenCheck::Iat,
            TokenError::NotAccessToken(_) => TokenCheck::TokenUse,
            TokenError::ClientNotAllowed => TokenCheck::ClientId,
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    /// Extensions the issuer says must be understood (RFC 7515 4.1.11); Cognito sets none
    /// and we understand none, so any is a refusal.
    crit: Option<serde_json::Value>,
}

/// The claims we read. Unknown claims are ignored; a claim of the wrong type makes the
/// token malformed.
#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    token_use: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    scope: Option<String>,
    #[serde(rename = "cognito:groups")]
    groups: Option<Vec<String>>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
}

/// Verifies tokens against the policy in force, through the cache of verified tokens.
#[derive(Debug)]
pub struct Verifier {
    cache: TokenCache,
}

impl Verifier {
    /// A verifier caching up to `cache_entries` verified tokens (0 disables the cache).
    pub fn new(cache_entries: u64) -> Self {
        Self {
            cache: TokenCache::new(cache_entries),
        }
    }

    /// Verifies `token` against `trust`.
    pub async fn verify(
        &self,
        trust: Trust<'_>,
        token: &str,
    ) -> Result<Arc<AccessToken>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed(TokenCheck::Shape, "too long"));
        }
        let now = now_unix();
        let digest = TokenCache::digest(token);
        if let Some(hit) = self.cache.get(&digest, trust.generation)
            && hit.exp > now
            && trust.keys[hit.pool].contains(&hit.kid)
        {
            return Ok(hit);
        }
        let verified = Arc::new(verify_uncached(trust, token, now).await?);
        self.cache
            .insert(digest, trust.generation, verified.clone(), now);
        Ok(verified)
    }
}

async fn verify_uncached(
    trust: Trust<'_>,
    token: &str,
    now: u64,
) -> Result<AccessToken, TokenError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            TokenCheck::Shape,
            "not three dot-separated parts",
        ));
    };
    let header: Header =
        decode_json(header_b64).ok_or(TokenError::Malformed(TokenCheck::Shape, "header"))?;
    match header.alg.as_deref() {
        Some("RS256") => {}
        Some(other) => return Err(TokenError::Algorithm(other.to_owned())),
        None => return Err(TokenError::Malformed(TokenCheck::Alg, "header has no alg")),
    }
    if header.crit.is_some() {
        return Err(TokenError::Malformed(
            TokenCheck::Shape,
            "header has crit extensions",
        ));
    }
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(TokenError::Malformed(TokenCheck::Kid, "header has no kid"))?;
    let claims: Claims =
        decode_json(claims_b64).ok_or(TokenError::Malformed(TokenCheck::Claims, "claims"))?;

    let iss = claims.iss.as_deref().ok_or(TokenError::UnknownIssuer)?;
    let pool_index = trust
        .pools
        .for_issuer(iss)
        .ok_or(TokenError::UnknownIssuer)?;
    let key = trust.keys[pool_index]
        .get_or_refetch(&kid)
        .await
        .ok_or(TokenError::UnknownKey)?;
    let message_len = header_b64.len() + 1 + claims_b64.len();
    let signed = &token.as_bytes()[..message_len];
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| TokenError::BadSignature)?;
    key.verify_sig(signed, &signature)
        .map_err(|_| TokenError::BadSignature)?;

    // From here on the claims are the issuer's own.
    let leeway = trust.leeway_seconds;
    let exp = claims
        .exp
        .ok_or(TokenError::Malformed(TokenCheck::Exp, "no exp claim"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    let not_before_limit = now
        .saturating_add(leeway)
        .saturating_add(ISSUED_SKEW_SECONDS);
    if claims.nbf.is_some_and(|nbf| nbf > not_before_limit) {
        return Err(TokenError::NotYetValid);
    }
    if claims.iat.is_some_and(|iat| iat > not_before_limit) {
        return Err(TokenError::IssuedInFuture);
    }
    match claims.token_use.as_deref() {
        Some("access") => {}
        other => return Err(TokenError::NotAccessToken(other.unwrap_or("").to_owned())),
    }
    let client_id = claims
        .client_id
        .filter(|c| !c.is_empty())
        .ok_or(TokenError::Malformed(
            TokenCheck::ClientId,
            "no client_id claim, or an empty one",
        ))?;
    if let Some(allowed) = &trust.pools.get(pool_index).app_clients
        && !allowed.contains(&client_id)
    {
        return Err(TokenError::ClientNotAllowed);
    }
    let sub = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::Malformed(
            TokenCheck::Sub,
            "no sub claim, or an empty one",
        ))?;
    Ok(AccessToken {
        sub,
        client_id,
        username: claims.username,
        scopes: claims
            .scope
            .as_deref()
            .unwrap_or("")
            // RFC 6749 3.3: scopes are separated by the space character only; a tab or
            // newline is part of a (strange) scope name, as aws-jwt-verify reads it.
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        groups: claims.groups.unwrap_or_default(),
        exp,
        pool: pool_index,
        kid,
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}
