//! Keeping the live policy in step with its file, or with its folder of files.
//!
//! [`crate::follow`] says when the file (or any file of the folder) may have changed and is
//! settled (a kubelet `..data` swap at once, an in-place rewrite once quiet); then it is
//! read and compiled on the blocking pool, never on a request worker. A text already in
//! force is ignored; a new one is compiled in full before it is offered; an invalid one is
//! logged and counted once, and the last good policy stays in force. In a folder each file
//! is taken or refused on its own ([`FolderState`]): a refused file keeps its last good
//! version and never holds back the others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::errors::FileErrors;
use crate::files::{PolicyFolder, read_policy_folder, read_policy_text};
use crate::follow::{self, Followed, Refusal, Timing};
use crate::policy::Policy;
use crate::policy::folder::{FileVersion, FolderState, PolicyPart};

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
            refused,
        ),
    )
}

fn refused(error: &str) {
    // Empty: a reading of a folder that changed nothing in force (each file's refusal, if
    // any, was logged with its file).
    if error.is_empty() {
        return;
    }
    tracing::error!(errors = %error, "policy refused; the last good policy stays in force");
    crate::observe::metrics::policy_reload("failure");
}

/// A policy folder's files in force, and the files whose newest version is refused.
pub struct Folder {
    dir: PathBuf,
    state: FolderState,
    refused: BTreeSet<String>,
    whole: Arc<AtomicBool>,
}

impl Folder {
    /// A folder with no file in force yet.
    pub fn new(dir: PathBuf) -> Self {
        Folder {
            dir,
            state: FolderState::default(),
            refused: BTreeSet::new(),
            whole: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once every file of the folder has had a version in force (and never unset):
    /// until then a file's routes are unknown, and another file's route could answer
    /// them, so the service does not report itself ready.
    pub fn whole(&self) -> Arc<AtomicBool> {
        self.whole.clone()
    }

    /// Takes a reading of the folder: each file is taken or refused on its own (logged
    /// and counted with its name). The new policy when what is in force changed; an error
    /// when no file at all can be taken.
    pub fn take(&mut self, folder: PolicyFolder) -> Result<Option<Policy>, FileErrors> {
        let files = folder
            .files
            .into_iter()
            .map(|(name, read)| FileVersion {
                parsed: read.and_then(|text| PolicyPart::parse(&name, &text)),
                name: Arc::from(name),
            })
            .collect();
        let update = self.state.update(files)?;
        let now_refused: BTreeSet<String> = update
            .refused
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        for name in &update.taken {
            crate::observe::metrics::policy_file(name, "success");
            tracing::info!(file = %name, "policy file taken");
        }
        for (name, errors) in &update.refused {
            crate::observe::metrics::policy_file(name, "failure");
            let in_force = self.state.in_force().any(|n| n == &**name);
            tracing::error!(
                file = %name,
                errors = %errors,
                "policy file refused; {}",
                if in_force {
                    "its last good version stays in force"
                } else {
                    "none of its routes are in force, and requests no route matches are denied until it is valid"
                }
            );
        }
        // Files no longer refused (fixed, or removed from the folder).
        for name in self.refused.difference(&now_refused) {
            crate::observe::metrics::policy_file_refused(name, false);
        }
        self.refused = now_refused;
        if update.missing.is_empty() {
            self.whole.store(true, Ordering::Release);
        } else if !self.whole.load(Ordering::Acquire) {
            tracing::error!(
                files = ?update.missing,
                "not ready: these policy files have had no valid version since the service started, and another file's route could answer their requests; the service becomes ready once each is valid (or removed)"
            );
        }
        Ok(update.policy)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Starts following a policy folder whose reading `current` (a digest) is in force as
/// `folder`; each new policy arrives on the returned channel.
pub fn spawn_folder(
    folder: Folder,
    current: [u8; 32],
    timing: Timing,
) -> Result<mpsc::Receiver<Policy>, notify::Error> {
    let dir = folder.dir().to_path_buf();
    let folder = Mutex::new(folder);
    let read_dir = dir.clone();
    follow::parsed(
        current,
        timing,
        Followed {
            paths: vec![dir],
            read: Box::new(move || {
                read_policy_folder(&read_dir)
                    .map(|f| (f.digest, f))
                    .map_err(|e| e.to_string())
            }),
            parse: Box::new(move |read| {
                let reload = tracing::info_span!(target: crate::observe::telemetry::SPAN_TARGET, "policy reload");
                let _entered = reload.enter();
                let mut folder = folder.lock().unwrap_or_else(|p| p.into_inner());
                match folder.take(read) {
                    Ok(Some(policy)) => Ok(policy),
                    Ok(None) => Err(Refusal::from(String::new())),
                    Err(errors) => Err(Refusal::from(format!(
                        "{}: {errors}",
                        folder.dir().display()
                    ))),
                }
            }),
            refused,
        },
    )
}
