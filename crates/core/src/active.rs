//! The policy in force, paired with the key sets of its user pools.
//!
//! A reload builds a new [`ActivePolicy`] and swaps it in whole, so every check sees one
//! consistent policy and key-set list from start to end.

use std::sync::Arc;
use std::time::Duration;

use crate::policy::Policy;
use crate::policy::table::Route;
use crate::revocation::RevocationList;
use crate::token::Trust;
use crate::token::keys::{KeyReadiness, PoolKeys};

/// A compiled policy and, index for index with `policy.pools`, each pool's key set.
#[derive(Debug)]
pub struct ActivePolicy {
    /// The compiled policy.
    pub policy: Policy,
    /// Each pool's key set, index for index with `policy.pools`.
    pub keys: Vec<Arc<PoolKeys>>,
    /// Increases with every reload; cached verifications from older generations are ignored.
    pub generation: u64,
}

impl ActivePolicy {
    /// What tokens are verified against on `route`, with the revocation list in force.
    pub fn trust<'a>(&'a self, route: &Route, revocations: &'a RevocationList) -> Trust<'a> {
        Trust {
            pools: &self.policy.pools,
            keys: &self.keys,
            authorizer: &self.policy.authorizers[route.authorizer],
            token_use: route.token_use,
            claim_names: &self.policy.claim_headers,
            leeway_seconds: self.policy.leeway_seconds,
            generation: self.generation,
            revocations,
        }
    }

    /// Whether the pools' keys let the pod be ready: no pool is still
    /// worth waiting for, and some pool has keys (or every pool was refused definitively).
    /// A pool that cannot get keys then refuses only its own tokens (401) instead of
    /// holding every new pod, and so every team's rollout, unready; but when no pool can
    /// be reached at all (an egress outage), the pod stays unready rather than replace
    /// pods that still have keys.
    pub fn keys_ready(&self, wait: Duration) -> bool {
        let states: Vec<KeyReadiness> = self.keys.iter().map(|k| k.readiness(wait)).collect();
        !states.contains(&KeyReadiness::Pending)
            && (states.contains(&KeyReadiness::Loaded)
                || states.iter().all(|s| *s == KeyReadiness::Refused))
    }

    /// The pools without keys, for the log line when the pod becomes ready without them.
    pub fn pools_without_keys(&self) -> Vec<&str> {
        self.keys
            .iter()
            .filter(|k| !k.is_loaded())
            .map(|k| k.pool_id())
            .collect()
    }
}
