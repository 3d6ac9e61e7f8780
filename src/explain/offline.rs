//! Setting `check` up without a server: the operator's policy, and the pools' key sets
//! fetched once (or one `--jwks` file standing in for every pool's).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::CheckError;
use crate::keys::KeyFetcher;
use crate::policy::Policy;
use crate::token::keys::{MAX_JWKS_BYTES, PoolKeys, parse_jwks};
use crate::token::verify::MAX_TOKEN_BYTES;

/// Largest token file read: a token the service would take, with room for `Bearer ` and
/// white space around it.
const MAX_TOKEN_FILE_BYTES: usize = MAX_TOKEN_BYTES + 1024;

/// Every pool's key set, with a note per pool for the explanation.
pub(super) struct KeySets {
    pub keys: Vec<Arc<PoolKeys>>,
    pub notes: Vec<String>,
    /// Pools whose key set could not be fetched, with why.
    pub failed: Vec<(usize, String)>,
}

/// Loads the key sets for `policy`: from `jwks` for every pool, or fetched from each pool.
pub(super) async fn key_sets(policy: &Policy, jwks: Option<&Path>) -> Result<KeySets, CheckError> {
    let mut notes = Vec::new();
    let mut failed_pools: Vec<(usize, String)> = Vec::new();
    let keys: Vec<Arc<PoolKeys>> = match jwks {
        Some(path) => {
            // Read as the service reads a fetched key set: at most its size, and only a
            // regular file (a FIFO would block, `/dev/zero` would never end).
            let text = crate::files::read_text(path, MAX_JWKS_BYTES)
                .map_err(|e| CheckError::Input(format!("{}: cannot read: {e}", path.display())))?;
            // serde_json refuses nesting past 128 levels on its own.
            let map = parse_jwks(text.as_bytes())
                .map_err(|e| CheckError::Input(format!("{}: {e}", path.display())))?;
            notes.push(format!(
                "keys: {} (every pool's key set; nothing fetched)",
                path.display()
            ));
            policy
                .pools
                .iter()
                .map(|p| Arc::new(PoolKeys::fixed(&p.id, map.clone())))
                .collect()
        }
        None => {
            let fetcher = KeyFetcher::new(Duration::from_secs(10))
                .map_err(|e| CheckError::Input(e.to_string()))?;
            let mut keys = Vec::new();
            for (i, pool) in policy.pools.iter().enumerate() {
                let k = PoolKeys::remote(
                    &pool.id,
                    &pool.jwks_uri,
                    Arc::new(fetcher.clone()),
                    Duration::MAX,
                );
                match k.refresh().await {
                    Ok(n) => {
                        notes.push(format!("keys: {} key(s) fetched from {}", n, pool.jwks_uri))
                    }
                    Err(e) => {
                        notes.push(format!("keys: FAILED to fetch {}: {e}", pool.jwks_uri));
                        failed_pools.push((i, e.to_string()));
                    }
                }
                keys.push(Arc::new(k));
            }
            keys
        }
    };

    Ok(KeySets {
        keys,
        notes,
        failed: failed_pools,
    })
}

/// The token header's value from a regular file (`-`: standard input), surrounding white
/// space removed; either is read with a bound.
pub(super) fn read_token_file(path: &Path) -> Result<String, CheckError> {
    let raw = if path == Path::new("-") {
        crate::files::read_stdin_text(MAX_TOKEN_FILE_BYTES).map_err(|e| {
            CheckError::Input(format!("cannot read the token from standard input: {e}"))
        })?
    } else {
        crate::files::read_text(path, MAX_TOKEN_FILE_BYTES)
            .map_err(|e| CheckError::Input(format!("{}: cannot read: {e}", path.display())))?
    };
    Ok(raw.trim().to_owned())
}
