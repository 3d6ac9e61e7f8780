//! The cache of verified tokens.
//!
//! Keyed by a 128-bit digest of the token that no other token can be made to share (the
//! backend's `token_key`: truncated SHA-256 in the service, a keyed SipHash in the
//! WebAssembly filter), so the cache never holds a token and an entry costs the same
//! whatever the token's size; bounded in entries, each entry expiring at the
//! token's own `exp`. An entry also records the policy generation it was verified under:
//! after a reload it no longer counts, so a removed pool or app client takes effect at once.
//! The caller re-checks that the signing key is still in the pool's key set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crypto::PublicKey;
use moka::sync::Cache;

use super::access::{VerifiedToken, now_unix};

type Key = [u8; 16];

#[derive(Clone)]
struct Entry {
    generation: u64,
    token: Arc<VerifiedToken>,
    /// When it was verified: an authorizer reuses it only within its result TTL.
    verified_at: Instant,
    /// The key that verified it: a hit counts only while the pool's key for that kid is
    /// still this one.
    key: PublicKey,
}

struct UntilExp;

impl moka::Expiry<Key, Entry> for UntilExp {
    fn expire_after_create(&self, _key: &Key, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(Duration::from_secs(
            value.token.exp.saturating_sub(now_unix()),
        ))
    }
}

/// Verified tokens by digest.
pub(crate) struct TokenCache {
    cache: Option<Cache<Key, Entry>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.cache.as_ref().map(|c| c.entry_count()))
            .finish()
    }
}

impl TokenCache {
    /// A cache of at most `entries` tokens; 0 disables caching.
    pub(crate) fn new(entries: u64) -> Self {
        let cache = (entries > 0).then(|| {
            Cache::builder()
                .max_capacity(entries)
                .expire_after(UntilExp)
                .build()
        });
        Self { cache }
    }

    /// Whether tokens are cached at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.cache.is_some()
    }

    /// The cache key of a token.
    pub(crate) fn digest(token: &str) -> Key {
        crate::crypto::token_key(token.as_bytes())
    }

    /// The verified token for this digest, when it was verified and with which key, if
    /// cached under this policy generation.
    pub(crate) fn get(
        &self,
        key: &Key,
        generation: u64,
    ) -> Option<(Arc<VerifiedToken>, Instant, PublicKey)> {
        let cache = self.cache.as_ref()?;
        cache
            .get(key)
            .filter(|e| e.generation == generation)
            .map(|e| (e.token, e.verified_at, e.key))
    }

    /// Remembers a verified token until its `exp`.
    pub(crate) fn insert(
        &self,
        digest: Key,
        generation: u64,
        token: Arc<VerifiedToken>,
        key: PublicKey,
        now: u64,
    ) {
        if let Some(cache) = &self.cache
            && token.exp > now
        {
            cache.insert(
                digest,
                Entry {
                    generation,
                    token,
                    verified_at: Instant::now(),
                    key,
                },
            );
        }
    }
}
