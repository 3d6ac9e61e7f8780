//! Following the policy file as it changes.
//!
//! Kubernetes updates a mounted ConfigMap by writing a new timestamped folder and atomically
//! swapping the `..data` symlink, so the file's own inode never changes: we watch the
//! *folder*. A swap (an event on a `..`-named entry) is complete the moment it happens and
//! is read at once. Any other change may be a file being rewritten in place, and a
//! half-written file can be a valid, weaker policy: it is read only once the folder has been
//! quiet for the quiet period. Every poll interval the file's identity (inode, size,
//! modification time) is compared with the last read, in case an event was missed; a
//! changed file is read once it has stayed unchanged for the quiet period too.
//!
//! Reading the file opens it, and opening is an event: access events are ignored, so the
//! watcher never wakes itself. Reads run on the blocking pool, never on a request worker. A
//! new text is compiled in full before it is offered; an invalid one is logged and counted
//! once, and the last good policy stays in force.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::{Policy, PolicyErrors, read_policy_text};

/// How long to gather the burst of events of one kubelet swap before reading.
const SWAP_SETTLE: Duration = Duration::from_millis(50);

/// A digest of policy text, to tell real changes from touches.
pub fn text_digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// What a folder event means for the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The kubelet swapped `..data`: the new file is complete.
    Swap,
    /// Something else changed: the file may still be being written.
    Write,
}

/// Classifies a notification about the folder for the file named `file`; `None` for events
/// that change nothing (opens, reads, closes after reading: our own reads among them) and
/// for other files in the folder (a log file written beside the policy must not keep
/// postponing its reload).
fn classify(event: &notify::Event, file: &std::ffi::OsStr) -> Option<Change> {
    if matches!(
        event.kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
    ) {
        return None;
    }
    let names = || event.paths.iter().filter_map(|p| p.file_name());
    if names().any(|n| n.as_encoded_bytes().starts_with(b"..")) {
        Some(Change::Swap)
    } else if names().any(|n| n == file) || event.paths.is_empty() {
        Some(Change::Write)
    } else {
        None
    }
}

/// The identity of the file behind the path (following symlinks), to notice changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        modified: m.modified().ok(),
    })
}

/// How the watcher times its reads.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Re-check the file this often even without an event.
    pub poll: Duration,
    /// A rewritten file is read only after it has not changed for this long.
    pub quiet: Duration,
}

/// Starts following `path`; each valid new policy arrives on the returned channel.
/// `current` is the digest of the text already in force.
pub fn spawn(
    path: PathBuf,
    current: [u8; 32],
    timing: Timing,
) -> Result<mpsc::Receiver<Policy>, notify::Error> {
    let (event_tx, mut event_rx) = mpsc::unbounded_channel::<Change>();
    let folder = watch_folder(&path);
    let file = path.file_name().unwrap_or_default().to_owned();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // An error (such as the kernel's event queue overflowing) may hide a change.
        let change = match event {
            Ok(event) => classify(&event, &file),
            Err(_) => Some(Change::Write),
        };
        if let Some(change) = change {
            let _ = event_tx.send(change);
        }
    })?;
    watcher.watch(&folder, RecursiveMode::NonRecursive)?;

    let (policy_tx, policy_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _watcher = watcher; // Dropping it would stop the notifications.
        let mut last = current;
        let mut last_stamp = stamp(&path);
        let mut last_error = String::new();
        loop {
            tokio::select! {
                event = event_rx.recv() => {
                    let Some(mut change) = event else { return };
                    // Gather the burst; a write waits until the folder has been quiet.
                    loop {
                        let wait = match change {
                            Change::Swap => SWAP_SETTLE,
                            Change::Write => timing.quiet,
                        };
                        match tokio::time::timeout(wait, event_rx.recv()).await {
                            Ok(Some(Change::Swap)) => change = Change::Swap,
                            Ok(Some(Change::Write)) => {}
                            Ok(None) => return,
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep(timing.poll) => {
                    let now = stamp(&path);
                    if now == last_stamp {
                        continue;
                    }
                    // Changed without an event: read once it has stayed the same a while.
                    tokio::time::sleep(timing.quiet).await;
                    if stamp(&path) != now {
                        continue;
                    }
                }
            }
            last_stamp = stamp(&path);
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

/// The folder holding the policy file (the ConfigMap mount).
fn watch_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind};

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn own_reads_and_other_files_do_not_count_and_swaps_are_told_apart() {
        let file = std::ffi::OsStr::new("policy.yaml");
        let open = event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/p/policy.yaml",
        );
        let close = event(
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            "/p/policy.yaml",
        );
        assert_eq!(classify(&open, file), None);
        assert_eq!(classify(&close, file), None);
        let swap = event(EventKind::Create(CreateKind::Any), "/p/..data");
        assert_eq!(classify(&swap, file), Some(Change::Swap));
        let write = event(EventKind::Modify(ModifyKind::Any), "/p/policy.yaml");
        assert_eq!(classify(&write, file), Some(Change::Write));
        let log = event(EventKind::Modify(ModifyKind::Any), "/p/service.log");
        assert_eq!(classify(&log, file), None);
    }
}
