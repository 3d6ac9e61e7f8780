//! Keeping the live policy in step with its file.
//!
//! [`crate::follow`] says when the file may have changed and is settled (a kubelet
//! `..data` swap at once, an in-place rewrite once quiet); then the file is read and
//! compiled on the blocking pool, never on a request worker. A text already in force is
//! ignored; a new one is compiled in full before it is offered; an invalid one is logged
//! and counted once, and the last good policy stays in force.

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::files::read_policy_text;
use crate::follow::{self, Followed, Timing};
use crate::policy::Policy;

/// Starts following `path`; each valid new policy arrives on the returned channel.
/// `current` is the digest of the text already in force.
pub fn spawn(
    path: PathBuf,
    current: [u8; 32],
    timing: Timing,
) -> Result<mpsc::Receiver<Policy>, notify::Error> {
    follow::parsed(
        current,
        timing,
        Followed::text(
            path,
            |path| read_policy_text(path).map_err(|e| e.to_string()),
            |text| {
                let reload = tracing::info_span!(target: crate::observe::telemetry::SPAN_TARGET, "policy reload");
                reload
                    .in_scope(|| Policy::parse(text))
                    .map_err(|e| e.to_string())
            },
            |error| {
                tracing::error!(errors = %error, "policy refused; the last good policy stays in force");
                crate::observe::metrics::policy_reload("failure");
            },
        ),
    )
}
