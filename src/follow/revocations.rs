//! Keeping the live revocation list in step with its file, by the policy's rules
//! ([`crate::follow::parsed`]): read (bounded) and compiled off the request workers; a
//! kubelet swap taken at once, an in-place rewrite once quiet; a new list compiled in full
//! before it is offered; an invalid one logged and counted once while the last good list
//! stays in force (a broken file must never un-revoke a token).

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::files::read_revocations_text;
use crate::follow::{self, Followed, Timing};
use crate::revocation::RevocationList;

/// Starts following `path`; each valid new list arrives on the returned channel. `current`
/// is the digest of the text already in force.
pub fn spawn(
    path: PathBuf,
    current: [u8; 32],
    timing: Timing,
) -> Result<mpsc::Receiver<RevocationList>, notify::Error> {
    follow::parsed(
        current,
        timing,
        Followed::text(
            path,
            |path| read_revocations_text(path).map_err(|e| e.to_string()),
            |text| {
                let reload = tracing::info_span!(
                    target: crate::observe::telemetry::SPAN_TARGET,
                    "revocation list reload"
                );
                reload
                    .in_scope(|| RevocationList::parse(text))
                    .map_err(|e| e.to_string())
            },
            |error| {
                tracing::error!(
                    errors = %error,
                    "revocation list refused; the last good list stays in force"
                );
                crate::observe::metrics::revocation_reload("failure");
            },
        ),
    )
}
