//! Keeping the live policy in step with its file.
//!
//! [`crate::follow`] says when the file may have changed and is settled (a kubelet
//! `..data` swap at once, an in-place rewrite once quiet); then the file is read on the
//! blocking pool, never on a request worker. A text already in force is ignored; a new one
//! is compiled in full before it is offered; an invalid one is logged and counted once,
//! and the last good policy stays in force.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Policy, PolicyErrors, read_policy_text};
use crate::follow::{self, Timing};

/// A digest of policy text, to tell real changes from touches.
pub fn text_digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Starts following `path`; each valid new policy arrives on the returned channel.
/// `current` is the digest of the text already in force.
pub fn spawn(
    path: PathBuf,
    current: [u8; 32],
    timing: Timing,
) -> Result<mpsc::Receiver<Policy>, notify::Error> {
    let mut changes = follow::spawn(vec![path.clone()], timing)?;
    let (policy_tx, policy_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut last = current;
        let mut last_error = String::new();
        while changes.recv().await.is_some() {
            let read = path.clone();
            let text = match tokio::task::spawn_blocking(move || read_policy_text(&read)).await {
                Ok(Ok(text)) => text,
                Ok(Err(e)) => {
                    report_error(&mut last_error, &e);
                    continue;
                }
                Err(_) => continue,
            };
            let digest = text_digest(&text);
            if digest == last {
                continue;
            }
            last = digest;
            let reload =
                tracing::info_span!(target: crate::telemetry::SPAN_TARGET, "policy reload");
            match reload.in_scope(|| Policy::parse(&text)) {
                Ok(policy) => {
                    last_error.clear();
                    if policy_tx.send(policy).await.is_err() {
                        return;
                    }
                }
                Err(e) => report_error(&mut last_error, &e),
            }
        }
    });
    Ok(policy_rx)
}

fn report_error(last_error: &mut String, errors: &PolicyErrors) {
    let error = errors.to_string();
    if *last_error != error {
        tracing::error!(errors = %error, "policy refused; the last good policy stays in force");
        crate::metrics::policy_reload("failure");
        *last_error = error;
    }
}
