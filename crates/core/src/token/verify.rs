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
//! 6. On every use, cached or not: the route's authorizer takes it, and it is not on the
//!    revocation list in force.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use thiserror::Error;

use crate::crypto::PublicKey;

use super::access::{VerifiedToken, now_unix};
use super::cache::TokenCache;
use super::keys::PoolKeys;
use crate::policy::model::TokenUse;
use crate::policy::{Authorizer, Pools};
use crate::revocation::{Revocation, RevocationList};

/// Told of each lookup in the verified-token cache (whether it hit); the service counts
/// them in its metrics. Set once, for the process.
static CACHE_LOOKUPS: std::sync::OnceLock<fn(bool)> = std::sync::OnceLock::new();

/// Has `observer` told of every verified-token cache lookup from now on (the first call
/// wins).
pub fn observe_cache_lookups(observer: fn(bool)) {
    let _ = CACHE_LOOKUPS.set(observer);
}

fn looked_up(hit: bool) {
    if let Some(observer) = CACHE_LOOKUPS.get() {
        observer(hit);
    }
}

/// What a token is verified against: the policy's pools and their key sets (index for
/// index), the route's authorizer and the token it takes, the claims the policy's claim
/// headers need, the clock leeway, the policy generation (cached verifications from
/// another one do not count), and the revocation list in force.
#[derive(Clone, Copy)]
pub struct Trust<'a> {
    /// The policy's trusted pools.
    pub pools: &'a Pools,
    /// Each pool's key set, index for index with `pools`.
    pub keys: &'a [Arc<PoolKeys>],
    /// The route's authorizer: the pools and app clients it takes, its validation
    /// expression and result TTL.
    pub authorizer: &'a Authorizer,
    /// The kind of token the route takes (`tokenUse`).
    pub token_use: TokenUse,
    /// The policy's claim headers (header, claim): the claims copied into the verified
    /// token.
    pub claim_names: &'a [(String, String)],
    /// The policy's `leewaySeconds`.
    pub leeway_seconds: u64,
    /// The policy generation: a verification cached under another one does not count.
    pub generation: u64,
    /// The revocation list in force.
    pub revocations: &'a RevocationList,
}

/// Seconds `nbf` and `iat` may lie ahead of this pod's clock, on top of the policy's
/// `leewaySeconds`. Cognito stamps `iat` with its own clock and clients use a token the
/// moment they get it, so a pod whose clock trails by a fraction of a second would refuse
/// fresh tokens; `exp` stays exact (only `leewaySeconds` applies there), so this never
/// lengthens a token's life.
pub(crate) const ISSUED_SKEW_SECONDS: u64 = 5;

/// Tokens longer than this are refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// The token's structure fails the check named, before or after the signature.
    #[error("malformed token: {1}")]
    Malformed(TokenCheck, &'static str),
    /// The header's `alg` (given) is not `RS256`: refused before any key is looked up.
    #[error("algorithm {0:?} is not allowed (RS256 only)")]
    Algorithm(String),
    /// `iss` is missing, or not the issuer of a pool the route's authorizer trusts.
    #[error("issuer is not a configured user pool")]
    UnknownIssuer,
    /// The pool's key set has no key with the token's `kid` (an unknown `kid` refetches the
    /// key set at most once per cooldown), or the pool has no keys yet.
    #[error("no key with this kid in the pool's key set")]
    UnknownKey,
    /// The signature does not verify with the pool's key (or is not base64url).
    #[error("signature does not verify")]
    BadSignature,
    /// `exp`, plus `leewaySeconds`, has passed: answered with API Gateway's
    /// `The incoming token has expired`.
    #[error("token has expired")]
    Expired,
    /// `nbf` is later than now, by more than `leewaySeconds` and 5 seconds of skew.
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is later than now, by more than `leewaySeconds` and 5 seconds of skew.
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    /// The route takes access tokens and `token_use` (given; empty when absent) is another.
    #[error("not an access token (token_use {0:?})")]
    NotAccessToken(String),
    /// The route takes ID tokens (`tokenUse: id`) and `token_use` (given; empty when
    /// absent) is another.
    #[error("not an ID token (token_use {0:?})")]
    NotIdToken(String),
    /// The authorizer's `identityValidationExpression` does not match the whole `aud` (or
    /// the token has no `aud`).
    #[error("aud does not match the authorizer's identity validation expression")]
    ValidationExpression,
    /// The app client (`client_id`, or `aud` of an ID token) is not among the pool's
    /// `appClients`.
    #[error("app client is not allowed")]
    ClientNotAllowed,
    /// Verified, but on the revocation list.
    #[error("revoked by {0}")]
    Revoked(Arc<Revocation>),
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
            TokenError::NotIdToken(_) => "not_id_token",
            TokenError::ValidationExpression => "validation_expression",
            TokenError::ClientNotAllowed => "client_not_allowed",
            TokenError::Revoked(_) => "revoked",
        }
    }
}

/// One token check, in the order the pipeline runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Three base64url parts, a JSON header without `crit`, at most 16 KiB.
    Shape,
    /// `alg` is `RS256`.
    Alg,
    /// `kid` is present and not empty.
    Kid,
    /// The claims are a JSON object, each claim read of its expected type.
    Claims,
    /// `iss` is the issuer of a pool the route's authorizer trusts.
    Issuer,
    /// That pool's key set has the `kid`.
    Key,
    /// The signature verifies with that key.
    Signature,
    /// `exp` is present and in the future.
    Exp,
    /// `nbf`, when present, is not in the future.
    Nbf,
    /// `iat`, when present, is not in the future.
    Iat,
    /// `token_use` is the kind the route takes (`access`, or `id`).
    TokenUse,
    /// The app client (`client_id`, or `aud` of an ID token) is present and allowed.
    ClientId,
    /// `sub` is present and not empty.
    Sub,
    /// `aud` matches the authorizer's identity validation expression, when it has one.
    Expression,
    /// The token is not on the revocation list in force.
    Revocation,
}

impl TokenCheck {
    /// Every check, in pipeline order.
    pub const ALL: [TokenCheck; 15] = [
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
        TokenCheck::Expression,
        TokenCheck::Revocation,
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
            TokenCheck::TokenUse => "token_use is the route's (access, or id)",
            TokenCheck::ClientId => "client (client_id, or aud of an ID token) present and allowed",
            TokenCheck::Sub => "sub present",
            TokenCheck::Expression => "aud matches the identity validation expression (when set)",
            TokenCheck::Revocation => "not on the revocation list",
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
            TokenError::NotAccessToken(_) | TokenError::NotIdToken(_) => TokenCheck::TokenUse,
            TokenError::ValidationExpression => TokenCheck::Expression,
            TokenError::ClientNotAllowed => TokenCheck::ClientId,
            TokenError::Revoked(_) => TokenCheck::Revocation,
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
    aud: Option<serde_json::Value>,
    username: Option<String>,
    #[serde(rename = "cognito:username")]
    cognito_username: Option<String>,
    scope: Option<String>,
    #[serde(rename = "cognito:groups")]
    groups: Option<Vec<String>>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    jti: Option<String>,
    origin_jti: Option<String>,
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
    ) -> Result<Arc<VerifiedToken>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed(TokenCheck::Shape, "too long"));
        }
        let now = now_unix();
        let digest = TokenCache::digest(token);
        let ttl = trust.authorizer.ttl;
        // A hit counts only under the same policy, before `exp`, within the authorizer's
        // result TTL, and while the key that signed it is still the pool's key for its kid.
        let hit = if !self.cache.is_enabled() {
            None
        } else if ttl.is_zero() {
            looked_up(false);
            None
        } else {
            let hit = self
                .cache
                .get(&digest, trust.generation)
                .filter(|(hit, verified_at, key)| {
                    hit.exp > now
                        && verified_at.elapsed() < ttl
                        && trust.keys[hit.pool]
                            .get(&hit.kid)
                            .is_some_and(|current| Arc::ptr_eq(&current, key))
                })
                .map(|(hit, _, _)| hit);
            looked_up(hit.is_some());
            // The check's trace span (when tracing is on) says whether it reused a
            // verification; with tracing off the current span is none and this is a no-op.
            let span = tracing::Span::current();
            if !span.is_none() {
                span.record("cache_hit", hit.is_some());
            }
            hit
        };
        let verified = match hit {
            Some(hit) => hit,
            None => {
                let (verified, key) = verify_uncached(trust, token, now).await?;
                let verified = Arc::new(verified);
                self.cache
                    .insert(digest, trust.generation, verified.clone(), key, now);
                verified
            }
        };
        accepts(trust, &verified)?;
        Ok(verified)
    }
}

/// The rules checked on every use of a verified token, cached or not: its pool is one of
/// the authorizer's, it is the kind of token the route takes, its app client is allowed,
/// its `aud` matches the validation expression, and it is not on the revocation list in
/// force (so a token cached before an entry was added is refused from the moment the new
/// list is).
fn accepts(trust: Trust<'_>, token: &VerifiedToken) -> Result<(), TokenError> {
    let pool = trust
        .authorizer
        .trusts(token.pool)
        .ok_or(TokenError::UnknownIssuer)?;
    match (trust.token_use, token.token_use) {
        (TokenUse::Access, TokenUse::Access) | (TokenUse::Id, TokenUse::Id) => {}
        (TokenUse::Access, found) => {
            return Err(TokenError::NotAccessToken(found.as_str().to_owned()));
        }
        (TokenUse::Id, found) => return Err(TokenError::NotIdToken(found.as_str().to_owned())),
    }
    if let Some(allowed) = &pool.app_clients
        && !allowed.contains(&token.client_id)
    {
        return Err(TokenError::ClientNotAllowed);
    }
    if let Some(expression) = &trust.authorizer.expression
        && !token
            .aud
            .as_deref()
            .is_some_and(|aud| expression.is_match(aud))
    {
        return Err(TokenError::ValidationExpression);
    }
    if let Some(entry) = trust.revocations.find(token) {
        return Err(TokenError::Revoked(entry.clone()));
    }
    Ok(())
}

/// Verifies what does not depend on the route: shape, algorithm, issuer, signature, times,
/// `token_use`, client and `sub`. Returns the token and the key that verified it.
async fn verify_uncached(
    trust: Trust<'_>,
    token: &str,
    now: u64,
) -> Result<(VerifiedToken, PublicKey), TokenError> {
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
        .filter(|&p| trust.authorizer.trusts(p).is_some())
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
    if !key.verify_rs256(signed, &signature) {
        return Err(TokenError::BadSignature);
    }

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
    let aud = match &claims.aud {
        Some(serde_json::Value::String(a)) => Some(a.clone()),
        _ => None,
    };
    // The kind of token the route takes, before anything that differs between the kinds.
    match (trust.token_use, claims.token_use.as_deref()) {
        (TokenUse::Access, Some("access")) | (TokenUse::Id, Some("id")) => {}
        (TokenUse::Access, other) => {
            return Err(TokenError::NotAccessToken(other.unwrap_or("").to_owned()));
        }
        (TokenUse::Id, other) => {
            return Err(TokenError::NotIdToken(other.unwrap_or("").to_owned()));
        }
    }
    let (token_use, client_id, username) = match trust.token_use {
        TokenUse::Access => (
            TokenUse::Access,
            required(claims.client_id, TokenCheck::ClientId, "client_id")?,
            claims.username,
        ),
        TokenUse::Id => (
            TokenUse::Id,
            required(aud.clone(), TokenCheck::ClientId, "aud")?,
            claims.cognito_username,
        ),
    };
    let sub = required(claims.sub, TokenCheck::Sub, "sub")?;
    let extra = if trust.claim_names.is_empty() {
        Vec::new()
    } else {
        claim_values(claims_b64, trust.claim_names)
    };
    let verified = VerifiedToken {
        token_use,
        sub,
        client_id,
        username,
        aud,
        claims: extra,
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
        jti: claims.jti,
        origin_jti: claims.origin_jti,
        iat: claims.iat,
    };
    Ok((verified, key))
}

/// The values of the claims the claim headers name, as header values: strings as they
/// are, numbers in decimal, booleans `true`/`false`, arrays of those joined with `,`.
/// Claims that are absent, objects or null are left out.
fn claim_values(claims_b64: &str, wanted: &[(String, String)]) -> Vec<(String, String)> {
    use serde_json::Value;
    let Some(map) = decode_json::<serde_json::Map<String, Value>>(claims_b64) else {
        return Vec::new();
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    wanted
        .iter()
        .filter_map(|(_, claim)| {
            let value = match map.get(claim)? {
                Value::Array(items) => {
                    let parts: Option<Vec<String>> = items.iter().map(scalar).collect();
                    parts?.join(",")
                }
                other => scalar(other)?,
            };
            Some((claim.clone(), value))
        })
        .collect()
}

/// A claim that must be present and not empty.
fn required(
    value: Option<String>,
    check: TokenCheck,
    claim: &'static str,
) -> Result<String, TokenError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(TokenError::Malformed(
            check,
            match claim {
                "sub" => "empty sub claim",
                "aud" => "empty aud claim",
                _ => "empty client_id claim",
            },
        )),
        None => Err(TokenError::Malformed(
            check,
            match claim {
                "sub" => "no sub claim",
                "aud" => "no aud claim",
                _ => "no client_id claim",
            },
        )),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}
