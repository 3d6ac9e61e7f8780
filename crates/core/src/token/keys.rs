//! The RSA key set of each user pool: fetched from a [`KeySource`], refreshed, and
//! refetched on an unknown `kid`.
//!
//! Keys always come from the URL in the policy, never from the token. Each key is parsed
//! once, when its key set is fetched, into an aws-lc RS256 verifier (PKCS#1 v1.5 with
//! SHA-256, 2048 to 8192 bits), so a check does only the RSA public operation; checks read
//! the current key map without a lock (an `ArcSwap`). An unknown `kid` refetches the key
//! set at most once per pool per cooldown, concurrent misses sharing that one fetch; a
//! failed fetch keeps the last good keys (docs/decisions.md, "Token rules").

use std::collections::HashMap;

use crate::crypto::PublicKey;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::lock::Mutex;
use serde::Deserialize;
use thiserror::Error;

/// A key set document larger than this is refused.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Why a key set could not be fetched or used.
#[derive(Debug, Error)]
pub enum KeyError {
    /// No whole answer: connecting, TLS, the timeout or reading the body failed (the cause,
    /// as text).
    #[error("request failed: {0}")]
    Http(String),
    /// The key set URL answered with this status instead of 200 (a redirect among them:
    /// none is followed).
    #[error("HTTP status {0}")]
    Status(u16),
    /// The document is larger than [`MAX_JWKS_BYTES`].
    #[error("key set larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The body is not a JWKS document (`{"keys": [...]}`); the parser's message.
    #[error("not a JWKS document: {0}")]
    NotJwks(String),
    /// The document holds no RSA signing key usable with RS256 (2048 to 8192 bits).
    #[error("no usable RS256 signing key in the key set")]
    NoUsableKey,
}

impl KeyError {
    /// Whether the key set URL answered, and what it answered is not a key set we can use:
    /// a client error (the pool does not exist, the URL is wrong: 4xx other than 408 and
    /// 429) or a body that is not a usable JWKS. Retrying will not help until someone
    /// fixes the policy or the pool. Network failures, timeouts, redirects and server
    /// errors may pass by themselves and are not definitive.
    pub fn is_definitive(&self) -> bool {
        match self {
            KeyError::Status(status) => (400..500).contains(status) && !matches!(status, 408 | 429),
            KeyError::TooLarge | KeyError::NotJwks(_) | KeyError::NoUsableKey => true,
            KeyError::Http(_) => false,
        }
    }
}

/// What one pool's key set means for the pod's readiness ([`PoolKeys::readiness`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyReadiness {
    /// Keys are in force.
    Loaded,
    /// The last fetch failed definitively ([`KeyError::is_definitive`]): the pool's tokens
    /// are refused until it is fixed; waiting will not bring keys.
    Refused,
    /// Fetches have failed for longer than the readiness wait, for reasons that may pass.
    Overdue,
    /// Not loaded yet, and neither refused nor overdue: worth waiting for.
    Pending,
}

/// `kid` -> RS256 verification key.
pub type KeyMap = HashMap<String, PublicKey>;

/// A future a [`KeySource`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where key sets come from. The service fetches them over HTTPS with its own bounds and
/// counts each fetch; a fixed key set ([`PoolKeys::fixed`]) has none.
pub trait KeySource: Send + Sync + 'static {
    /// Fetches and parses the key set of `pool` at `uri` ([`parse_jwks`]).
    fn fetch<'a>(&'a self, pool: &'a str, uri: &'a str) -> BoxFuture<'a, Result<KeyMap, KeyError>>;

    /// Runs `work` to its end even when the caller stops waiting for it, and resolves when
    /// it is done: a refetch started by a check that is then cancelled must still finish
    /// for the checks waiting behind it (the service spawns it as a task of its own).
    fn detached(&self, work: BoxFuture<'static, ()>) -> BoxFuture<'static, ()>;
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Parses a JWKS document, keeping only RSA signing keys usable with RS256 (2048 to 8192
/// bits). Other keys are skipped; a document with none usable is an error.
pub fn parse_jwks(body: &[u8]) -> Result<KeyMap, KeyError> {
    let jwks: Jwks = serde_json::from_slice(body).map_err(|e| KeyError::NotJwks(e.to_string()))?;
    let mut keys = KeyMap::new();
    for value in jwks.keys {
        let Ok(jwk) = serde_json::from_value::<RsaJwk>(value) else {
            continue;
        };
        if jwk.kty != "RSA"
            || jwk.use_.as_deref().is_some_and(|u| u != "sig")
            || jwk.alg.as_deref().is_some_and(|a| a != "RS256")
        {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else {
            continue;
        };
        let bits = modulus_bits(&n);
        if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 || kid.is_empty() {
            continue;
        }
        if keys.contains_key(&kid) {
            continue;
        }
        let Ok(key) = crate::crypto::rsa_public_key(&n, &e) else {
            continue;
        };
        keys.insert(kid, key);
    }
    if keys.is_empty() {
        return Err(KeyError::NoUsableKey);
    }
    Ok(keys)
}

fn modulus_bits(n: &[u8]) -> usize {
    let n = match n.iter().position(|b| *b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    n.len() * 8 - n[0].leading_zeros() as usize
}

/// The key set of one user pool.
pub struct PoolKeys {
    pool_id: String,
    uri: String,
    keys: ArcSwap<KeyMap>,
    loaded: AtomicBool,
    /// `None` for a fixed key set (offline `check --jwks`): nothing is ever fetched.
    source: Option<Arc<dyn KeySource>>,
    cooldown: Duration,
    /// Held while a refetch for an unknown `kid` runs; holds the time of the last one.
    refetch: Arc<Mutex<Option<Instant>>>,
    last_success: std::sync::Mutex<Option<Instant>>,
    /// Since the last success (or ever): when fetches started failing, and whether the
    /// last failure was definitive.
    failing: std::sync::Mutex<Option<(Instant, bool)>>,
}

impl std::fmt::Debug for PoolKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolKeys")
            .field("pool_id", &self.pool_id)
            .field("uri", &self.uri)
            .field("kids", &self.keys.load().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl PoolKeys {
    /// An empty key set, filled by [`PoolKeys::refresh`].
    pub fn remote(
        pool_id: &str,
        uri: &str,
        source: Arc<dyn KeySource>,
        cooldown: Duration,
    ) -> Self {
        Self {
            pool_id: pool_id.to_owned(),
            uri: uri.to_owned(),
            keys: ArcSwap::from_pointee(KeyMap::new()),
            loaded: AtomicBool::new(false),
            source: Some(source),
            cooldown,
            refetch: Arc::new(Mutex::new(None)),
            last_success: std::sync::Mutex::new(None),
            failing: std::sync::Mutex::new(None),
        }
    }

    /// A key set that never changes (offline checks).
    pub fn fixed(pool_id: &str, keys: KeyMap) -> Self {
        Self {
            pool_id: pool_id.to_owned(),
            uri: String::new(),
            keys: ArcSwap::from_pointee(keys),
            loaded: AtomicBool::new(true),
            source: None,
            cooldown: Duration::MAX,
            refetch: Arc::new(Mutex::new(None)),
            last_success: std::sync::Mutex::new(None),
            failing: std::sync::Mutex::new(None),
        }
    }

    /// The pool this key set belongs to.
    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// The key set URL.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether keys were fetched successfully at least once.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether this key set still holds the pod unready: not while it is loaded, nor once
    /// its last fetch failed definitively, nor once fetches have been failing for `wait`.
    pub(crate) fn readiness(&self, wait: Duration) -> KeyReadiness {
        if self.is_loaded() {
            return KeyReadiness::Loaded;
        }
        match *self.failing.lock().unwrap_or_else(|e| e.into_inner()) {
            Some((_, true)) => KeyReadiness::Refused,
            Some((since, false)) if since.elapsed() >= wait => KeyReadiness::Overdue,
            _ => KeyReadiness::Pending,
        }
    }

    /// Time since the last successful fetch, if any.
    pub fn since_last_success(&self) -> Option<Duration> {
        self.last_success
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|t| t.elapsed())
    }

    /// The key with this `kid`, if the current key set has it.
    pub(crate) fn get(&self, kid: &str) -> Option<PublicKey> {
        self.keys.load().get(kid).cloned()
    }

    /// The key with this `kid`, refetching the key set first if it is unknown and the
    /// cooldown since the last such refetch has passed. Concurrent callers share one fetch.
    pub(crate) async fn get_or_refetch(self: &Arc<Self>, kid: &str) -> Option<PublicKey> {
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        let source = self.source.as_ref()?;
        let mut last = self.refetch.clone().lock_owned().await;
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        if last.is_some_and(|t| t.elapsed() < self.cooldown) {
            return None;
        }
        *last = Some(Instant::now());
        tracing::info!(pool = %self.pool_id, "unknown key id; refetching the key set");
        // In a task of its own, the lock held until it is done: the check that started it
        // may be cancelled (its client reset it or closed the connection, its timeout
        // passed), and the checks waiting behind it count on its result, not on the
        // cooldown it started. Failures are logged and counted inside; the last good keys
        // stay.
        let keys = Arc::clone(self);
        source
            .detached(Box::pin(async move {
                let _ = keys.refresh().await;
                drop(last);
            }))
            .await;
        self.get(kid)
    }

    /// Fetches the key set now; on failure the last good keys stay in force.
    pub async fn refresh(&self) -> Result<usize, KeyError> {
        let Some(source) = &self.source else {
            return Ok(self.keys.load().len());
        };
        match source.fetch(&self.pool_id, &self.uri).await {
            Ok(keys) => {
                let count = keys.len();
                let mut kids: Vec<&String> = keys.keys().collect();
                kids.sort();
                tracing::info!(pool = %self.pool_id, uri = %self.uri, keys = count, kids = ?kids, "key set fetched");
                self.keys.store(Arc::new(keys));
                self.loaded.store(true, Ordering::Release);
                *self.last_success.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                *self.failing.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(count)
            }
            Err(e) => {
                {
                    let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
                    let since = failing.map_or_else(Instant::now, |(since, _)| since);
                    *failing = Some((since, e.is_definitive()));
                }
                if self.loaded.load(Ordering::Acquire) {
                    tracing::warn!(pool = %self.pool_id, uri = %self.uri, error = %e, "key set fetch failed; keeping the last good keys");
                } else {
                    tracing::warn!(pool = %self.pool_id, uri = %self.uri, error = %e, "key set fetch failed; no keys for this pool yet, its tokens are refused (401)");
                }
                Err(e)
            }
        }
    }
}

/// Every pool's key set, shared across policy reloads so keys survive a reload.
pub struct KeyStore {
    source: Arc<dyn KeySource>,
    cooldown: Duration,
    sets: std::sync::Mutex<HashMap<(String, String), Arc<PoolKeys>>>,
}

impl KeyStore {
    /// An empty store; key sets are created as policies name them.
    pub fn new(source: Arc<dyn KeySource>, cooldown: Duration) -> Self {
        Self {
            source,
            cooldown,
            sets: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The key set for each pool of `policy`, reusing the ones already known; key sets of
    /// pools no longer in the policy are forgotten.
    pub fn for_policy(&self, policy: &crate::policy::Policy) -> Vec<Arc<PoolKeys>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let wanted: Vec<(String, String)> = policy
            .pools
            .iter()
            .map(|p| (p.id.clone(), p.jwks_uri.clone()))
            .collect();
        sets.retain(|k, _| wanted.contains(k));
        wanted
            .into_iter()
            .map(|key| {
                sets.entry(key.clone())
                    .or_insert_with(|| {
                        Arc::new(PoolKeys::remote(
                            &key.0,
                            &key.1,
                            Arc::clone(&self.source),
                            self.cooldown,
                        ))
                    })
                    .clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_that_retrying_cannot_change_are_definitive() {
        for status in [400, 401, 403, 404, 410] {
            assert!(KeyError::Status(status).is_definitive(), "{status}");
        }
        for status in [302, 408, 429, 500, 502, 503, 504] {
            assert!(!KeyError::Status(status).is_definitive(), "{status}");
        }
        assert!(KeyError::TooLarge.is_definitive());
        assert!(KeyError::NotJwks("x".into()).is_definitive());
        assert!(KeyError::NoUsableKey.is_definitive());
        assert!(!KeyError::Http("timed out".into()).is_definitive());
    }

    fn modulus(bits: usize) -> String {
        let mut n = vec![0u8; bits / 8];
        n[0] = 0xc1;
        *n.last_mut().unwrap() = 1;
        URL_SAFE_NO_PAD.encode(n)
    }

    #[test]
    fn keeps_only_rs256_signing_keys() {
        let good = modulus(2048);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "alg": "RS256", "use": "sig", "n": good, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": good, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": good, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": good, "e": "AQAB"},
            {"kty": "RSA", "kid": "small", "n": modulus(1024), "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "n": good, "e": "AQAB"},
            {"kty": "RSA", "kid": "bad-b64", "n": "***", "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(|k| k.as_str()).collect();
        kids.sort();
        assert_eq!(kids, ["a", "b"]);
    }

    #[test]
    fn skips_empty_kids_and_exponents_over_8_bytes() {
        let good = modulus(2048);
        // 65537 with leading zero bytes: 8 bytes in all is the most a key may carry.
        let padded = |len: usize| {
            let mut e = vec![0u8; len - 3];
            e.extend([1, 0, 1]);
            URL_SAFE_NO_PAD.encode(e)
        };
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "", "n": good, "e": "AQAB"},
            {"kty": "RSA", "kid": "e8", "n": good, "e": padded(8)},
            {"kty": "RSA", "kid": "e9", "n": good, "e": padded(9)},
            {"kty": "RSA", "kid": "e-empty", "n": good, "e": ""},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(|k| k.as_str()).collect();
        kids.sort();
        assert_eq!(kids, ["e8"]);
    }

    #[test]
    fn refuses_documents_without_usable_keys() {
        assert!(matches!(
            parse_jwks(b"{\"keys\": []}"),
            Err(KeyError::NoUsableKey)
        ));
        assert!(matches!(parse_jwks(b"<html>"), Err(KeyError::NotJwks(_))));
        assert!(matches!(
            parse_jwks(b"{\"nokeys\": 1}"),
            Err(KeyError::NotJwks(_))
        ));
    }

    #[test]
    fn measures_modulus_bits() {
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01, 0]), 9);
        assert_eq!(modulus_bits(&[0, 0]), 0);
    }
}
