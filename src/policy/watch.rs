//! Following the policy file as it changes.
//!
//! Kubernetes updates a mounted ConfigMap by writing a new timestamped folder and atomically
//! swapping the `..data` symlink, so the file's own inode never changes: we watch the
//! *folder* and re-read the file on any event there (and every poll interval, in case an
//! event is missed). A new text is compiled in full before it is offered; an invalid one is
//! logged and counted once, and the last good policy stays in force.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Policy, read_policy_text};

/// Quiet time after an event before the file is read, so a burst of events is one reload.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// A digest of policy text, to tell real changes from touches.
pub fn text_digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Starts following `path`; each valid new policy arrives on the returned channel.
/// `current` is the digest of the text already in force.
pub fn spawn(
    path: PathBuf,
    current: [u8; 32],
    poll: Duration,
) -> Result<mpsc::Receiver<Policy>, String> {
    let (event_tx, mut event_rx) = mpsc::unbounded_channel::<()>();
    let folder = watch_folder(&path);
    let mut watcher = notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
        let _ = event_tx.send(());
    })
    .map_err(|e| format!("cannot watch {}: {e}", folder.display()))?;
    watcher
        .watch(&folder, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", folder.display()))?;

    let (policy_tx, policy_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _watcher = watcher; // Dropping it would stop the notifications.
        let mut last = current;
        let mut last_error = String::new();
        loop {
            tokio::select! {
                event = event_rx.recv() => {
                    if event.is_none() {
                        return;
                    }
                    tokio::time::sleep(DEBOUNCE).await;
                    while event_rx.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(poll) => {}
            }
            let text = match read_policy_text(&path) {
                Ok(text) => text,
                Err(e) => {
                    report_error(&mut last_error, &e.to_string());
                    continue;
                }
            };
            let digest = text_digest(&text);
            if digest == last {
                continue;
            }
            last = digest;
            match Policy::parse(&text) {
                Ok(policy) => {
                    last_error.clear();
                    if policy_tx.send(policy).await.is_err() {
                        return;
                    }
                }
                Err(e) => report_error(&mut last_error, &e.to_string()),
            }
        }
    });
    Ok(policy_rx)
}

fn report_error(last_error: &mut String, error: &str) {
    if last_error != error {
        tracing::error!(errors = %error, "policy refused; the last good policy stays in force");
        crate::metrics::policy_reload("failure");
        *last_error = error.to_owned();
    }
}

/// The folder holding the policy file (the ConfigMap mount).
fn watch_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
