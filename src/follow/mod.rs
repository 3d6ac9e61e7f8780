//! Following files an operator mounts (the policy ConfigMap, the TLS Secret) as they change.
//!
//! Kubernetes updates a mounted ConfigMap or Secret by writing a new timestamped folder and
//! atomically swapping the `..data` symlink, so the files' own inodes never change: we watch
//! their *folders*. A swap (an event on a `..`-named entry) is complete the moment it happens
//! and is reported at once. Any other change may be a file being rewritten in place, and a
//! half-written file can be a valid, weaker one: it is reported only once the folders have
//! been quiet for the quiet period. Every poll interval the files' identities (inode, size,
//! modification time) are compared with the last report, in case an event was missed; a
//! change found that way is reported once it has stayed unchanged for the quiet period too.
//!
//! Reading a file opens it, and opening is an event: access events are ignored, and so are
//! events on other files in the folders, so a reader never wakes itself. What to do with a
//! report (read, validate, swap in) is the caller's; [`parsed`] does it for a text file
//! (the policy, the revocation list): read and parsed off the request workers, parsed only
//! when the text changed, a refusal reported once.

pub mod policy;
pub mod revocations;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long to gather the burst of events of one kubelet swap before reporting.
const SWAP_SETTLE: Duration = Duration::from_millis(50);

/// How a follower times its reports.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Compare the files' identities this often even without an event.
    pub poll: Duration,
    /// A file rewritten in place is reported only after it has not changed for this long.
    pub quiet: Duration,
}

/// What a folder event means for the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The kubelet swapped `..data`: the new files are complete.
    Swap,
    /// Something else changed: a file may still be being written.
    Write,
}

/// Classifies a folder event for the files named `names` (every file but hidden ones when
/// `names` is `None`: a followed folder); `None` for events that change nothing (opens,
/// reads, closes after reading) and for other files in the folders.
fn classify(event: &notify::Event, names: Option<&[OsString]>) -> Option<Change> {
    if matches!(
        event.kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
    ) {
        return None;
    }
    let file_names = || event.paths.iter().filter_map(|p| p.file_name());
    if file_names().any(|n| n.as_encoded_bytes().starts_with(b"..")) {
        Some(Change::Swap)
    } else if file_names().any(|n| match names {
        Some(names) => names.iter().any(|w| w == n),
        None => is_policy_file(n),
    }) || event.paths.is_empty()
    {
        Some(Change::Write)
    } else {
        None
    }
}

/// Whether a followed folder's entry is one of its files: `*.yaml` or `*.yml`, not hidden
/// (a log or an editor's swap file beside them never wakes the follower).
fn is_policy_file(name: &std::ffi::OsStr) -> bool {
    let name = name.as_encoded_bytes();
    !name.starts_with(b".") && (name.ends_with(b".yaml") || name.ends_with(b".yml"))
}

/// The identity of the file behind a path (following symlinks), to notice changes.
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

/// The identities of the followed files; for a followed folder, of every entry in it.
fn stamps(paths: &[PathBuf]) -> Vec<(OsString, Option<Stamp>)> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut listed: Vec<(OsString, Option<Stamp>)> = entries
                    .filter_map(Result::ok)
                    .filter(|e| is_policy_file(&e.file_name()))
                    .map(|e| (e.file_name(), stamp(&e.path())))
                    .collect();
                listed.sort_by(|a, b| a.0.cmp(&b.0));
                out.extend(listed);
            }
            Err(_) => out.push((path.as_os_str().to_owned(), stamp(path))),
        }
    }
    out
}

/// The folder holding a file (the mount).
fn folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Starts following `paths` (files, or one folder and every file in it); a message
/// arrives at once (what was read before the watch began may have changed since), then
/// each time they may have changed and are settled, ready to be read. Ends when the
/// receiver is dropped.
pub fn spawn(paths: Vec<PathBuf>, timing: Timing) -> notify::Result<mpsc::Receiver<()>> {
    let (event_tx, mut event_rx) = mpsc::unbounded_channel::<Change>();
    let whole_folder = paths.len() == 1 && paths[0].is_dir();
    let names: Option<Vec<OsString>> = (!whole_folder).then(|| {
        paths
            .iter()
            .filter_map(|p| p.file_name().map(ToOwned::to_owned))
            .collect()
    });
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // An error (such as the kernel's event queue overflowing) may hide a change.
        let change = match event {
            Ok(event) => classify(&event, names.as_deref()),
            Err(_) => Some(Change::Write),
        };
        if let Some(change) = change {
            let _ = event_tx.send(change);
        }
    })?;
    let folders: BTreeSet<PathBuf> = if whole_folder {
        BTreeSet::from([paths[0].clone()])
    } else {
        paths.iter().map(|p| folder(p)).collect()
    };
    for f in &folders {
        watcher.watch(f, RecursiveMode::NonRecursive)?;
    }

    let (ready_tx, ready_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let _watcher = watcher; // Dropping it would stop the notifications.
        let mut last = stamps(&paths);
        // Once at once: the caller read the files before the watch began, and a change in
        // between would be seen by no event and no poll (the stamps above are after it).
        if ready_tx.send(()).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                event = event_rx.recv() => {
                    let Some(mut change) = event else { return };
                    // Gather the burst; a write waits until the folders have been quiet.
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
                    let now = stamps(&paths);
                    if now == last {
                        continue;
                    }
                    // Changed without an event: report once it has stayed the same a while.
                    tokio::time::sleep(timing.quiet).await;
                    if stamps(&paths) != now {
                        continue;
                    }
                }
            }
            last = stamps(&paths);
            if ready_tx.send(()).await.is_err() {
                return;
            }
        }
    });
    Ok(ready_rx)
}

/// A digest of a followed file's text, to tell real changes from touches.
pub fn text_digest(text: &str) -> [u8; 32] {
    crate::crypto::sha256(text.as_bytes())
}

/// Why a version of the followed files was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What is wrong, as logged (never the contents of a key file).
    pub error: String,
    /// When the same files may be taken without changing (a certificate not valid yet),
    /// in Unix seconds: the version is tried again then.
    pub retry_at: Option<i64>,
}

impl From<String> for Refusal {
    fn from(error: String) -> Self {
        Refusal {
            error,
            retry_at: None,
        }
    }
}

/// Reads every file of a version, with the digest of what was read.
pub type Read<R> = Box<dyn Fn() -> Result<([u8; 32], R), String> + Send + Sync>;

/// Makes the value of what was read, or says why not.
pub type Parse<R, T> = Box<dyn Fn(R) -> Result<T, Refusal> + Send + Sync>;

/// How to turn the files at `paths` into a value: `read` reads them together, bounded, and
/// gives their digest; `parse` validates in full; both run on the blocking pool, never on a
/// request worker (a large revocation list takes a good part of a second to parse, a TLS
/// key a few milliseconds). `refused` is told (once per distinct error, until a version is
/// accepted) why a version was not taken.
pub struct Followed<R, T> {
    /// The files followed; a change to any of them is a new version of all.
    pub paths: Vec<PathBuf>,
    /// Reads every file of a version.
    pub read: Read<R>,
    /// Makes the value of what was read.
    pub parse: Parse<R, T>,
    /// Told why a version was refused.
    pub refused: fn(&str),
}

impl<T: 'static> Followed<String, T> {
    /// One text file, read with `read` (bounded) and parsed with `parse`.
    pub fn text(
        path: PathBuf,
        read: fn(&Path) -> Result<String, String>,
        parse: fn(&str) -> Result<T, String>,
        refused: fn(&str),
    ) -> Self {
        let file = path.clone();
        Followed {
            paths: vec![path],
            read: Box::new(move || read(&file).map(|text| (text_digest(&text), text))),
            parse: Box::new(move |text| parse(&text).map_err(Refusal::from)),
            refused,
        }
    }
}

/// What reading a settled version gave.
enum Version<T> {
    /// The same files as the last version read: nothing to do.
    Unchanged,
    /// A new version (its digest), and what parsing it gave.
    New([u8; 32], Result<T, Refusal>),
    /// It could not be read.
    Unreadable(String),
}

/// Now, in Unix seconds.
fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Follows the files ([`spawn`]); each valid new version arrives on the returned channel.
/// `current` is the digest of the version already in force: a settled version with the
/// same digest is ignored, so is a version already refused, unless its refusal named a
/// time to try again.
pub fn parsed<R: Send + 'static, T: Send + 'static>(
    current: [u8; 32],
    timing: Timing,
    followed: Followed<R, T>,
) -> notify::Result<mpsc::Receiver<T>> {
    let mut changes = spawn(followed.paths.clone(), timing)?;
    let (tx, rx) = mpsc::channel(1);
    let Followed {
        read,
        parse,
        refused,
        ..
    } = followed;
    let work = std::sync::Arc::new((read, parse));
    tokio::spawn(async move {
        let mut last = current;
        let mut last_error = String::new();
        // When a version refused only for being early is to be tried again.
        let mut retry_at: Option<i64> = None;
        loop {
            let woke = match retry_at {
                Some(at) => {
                    let wait = Duration::from_secs((at - now_unix()).max(0) as u64 + 1);
                    tokio::select! {
                        change = changes.recv() => change.is_some(),
                        () = tokio::time::sleep(wait) => true,
                    }
                }
                None => changes.recv().await.is_some(),
            };
            if !woke {
                return;
            }
            let work = std::sync::Arc::clone(&work);
            let retry = retry_at.is_some();
            let version = tokio::task::spawn_blocking(move || {
                let (read, parse) = &*work;
                match read() {
                    Err(e) => Version::Unreadable(e),
                    Ok((digest, _)) if digest == last && !retry => Version::Unchanged,
                    Ok((digest, read)) => Version::New(digest, parse(read)),
                }
            })
            .await;
            let error = match version {
                Ok(Version::New(digest, parsed)) => {
                    last = digest;
                    retry_at = None;
                    match parsed {
                        Ok(value) => {
                            last_error.clear();
                            if tx.send(value).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        Err(refusal) => {
                            retry_at = refusal.retry_at;
                            refusal.error
                        }
                    }
                }
                Ok(Version::Unreadable(e)) => e,
                Ok(Version::Unchanged) | Err(_) => continue,
            };
            if last_error != error {
                refused(&error);
                last_error = error;
            }
        }
    });
    Ok(rx)
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
        let names = [OsString::from("policy.yaml")];
        let open = event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/p/policy.yaml",
        );
        let close = event(
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            "/p/policy.yaml",
        );
        let names = Some(&names[..]);
        assert_eq!(classify(&open, names), None);
        assert_eq!(classify(&close, names), None);
        let swap = event(EventKind::Create(CreateKind::Any), "/p/..data");
        assert_eq!(classify(&swap, names), Some(Change::Swap));
        let write = event(EventKind::Modify(ModifyKind::Any), "/p/policy.yaml");
        assert_eq!(classify(&write, names), Some(Change::Write));
        let log = event(EventKind::Modify(ModifyKind::Any), "/p/service.log");
        assert_eq!(classify(&log, names), None);
        // A followed folder: any policy file in it, not hidden ones nor other files.
        let new_team = event(EventKind::Create(CreateKind::Any), "/p/team-c.yaml");
        assert_eq!(classify(&new_team, None), Some(Change::Write));
        let hidden = event(EventKind::Modify(ModifyKind::Any), "/p/.team-c.yaml.swp");
        assert_eq!(classify(&hidden, None), None);
        assert_eq!(classify(&open, None), None);
        assert_eq!(classify(&log, None), None);
    }

    #[tokio::test]
    async fn a_change_made_before_the_follower_started_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, "first").unwrap();
        // The caller reads and takes "first" (start-up) ...
        let current = text_digest("first");
        // ... and the file changes before the follower is armed.
        std::fs::write(&path, "second").unwrap();
        let timing = Timing {
            poll: Duration::from_secs(3600),
            quiet: Duration::from_millis(50),
        };
        let followed = Followed::text(
            path,
            |p| std::fs::read_to_string(p).map_err(|e| e.to_string()),
            |text| Ok(text.to_owned()),
            |_| {},
        );
        let mut taken = parsed(current, timing, followed).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), taken.recv()).await;
        assert_eq!(got.ok().flatten().as_deref(), Some("second"));
    }
}
