//! The policy in force, paired with the key sets of its user pools.
//!
//! A reload builds a new [`ActivePolicy`] and swaps it in whole, so every check sees one
//! consistent policy and key-set list from start to end.

use std::sync::Arc;

use crate::policy::Policy;
use crate::policy::table::Route;
use crate::revocation::RevocationList;
use crate::token::Trust;
use crate::token::keys::PoolKeys;

/// A compiled policy and, index for index with `policy.pools`, each pool's key set.
#[derive(Debug)]
pub struct ActivePolicy {
    pub policy: Policy,
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

    /// Whether every pool's keys were fetched at least once.
    pub fn keys_loaded(&self) -> bool {
        self.keys.iter().all(|k| k.is_loaded())
    }
}
