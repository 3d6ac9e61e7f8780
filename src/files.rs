//! Reading operator-supplied files (the policy, the revocation list, and every file a
//! command reads) without trusting what is at the path.
//!
//! The path is a ConfigMap mount that anything with write access to it can change, or a
//! file handed to a command (`import`, `check --jwks`, `test`): it may hold a FIFO (an
//! `open` for reading would block until a writer appears), a device (`/dev/zero` never
//! ends), or a file far larger than any policy. So the file is opened non-blocking, must be
//! a regular file once open, and is read with a bound before anything parses it; standard
//! input, where a command takes `-`, is read with the same bound.
//!
//! YAML is also checked for depth before a parser that builds a tree sees it
//! ([`check_nesting`]): libyaml's scanner (under the importer's parser) takes time
//! quadratic in the nesting depth, 80,000 levels in 160 KB for minutes.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use thiserror::Error;

use crate::errors::FileErrors;
use crate::policy::Policy;
use crate::policy::folder::PolicyPart;
use crate::revocation::RevocationList;

/// Why a file could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file")]
    NotRegular,
    #[error("{size} bytes is larger than the {max} allowed")]
    TooLarge { size: u64, max: usize },
    #[error("more than the {max} bytes allowed")]
    StreamTooLarge { max: usize },
    #[error("not UTF-8 text")]
    NotUtf8,
}

/// Reads a policy file: a regular file, refused unread past
/// [`MAX_POLICY_BYTES`](crate::policy::MAX_POLICY_BYTES).
pub fn read_policy_text(path: &Path) -> Result<String, FileErrors> {
    read_text(path, crate::policy::MAX_POLICY_BYTES)
        .map_err(|e| FileErrors::one(e.to_string()).in_file(path))
}

/// Reads and compiles a policy file, or a policy folder (every file must be valid and
/// agree with the others: the offline commands refuse what the service would refuse).
pub fn load_policy(path: &Path) -> Result<Policy, FileErrors> {
    if path.is_dir() {
        let folder = read_policy_folder(path)?;
        let mut parts = Vec::new();
        let mut errors = FileErrors {
            file: None,
            errors: Vec::new(),
        };
        for (name, read) in folder.files {
            match read.and_then(|text| PolicyPart::parse(&name, &text)) {
                Ok(part) => parts.push(part),
                Err(e) => errors
                    .errors
                    .extend(e.errors.into_iter().map(|e| e.within(&name))),
            }
        }
        if !errors.errors.is_empty() {
            return Err(errors.in_file(path));
        }
        return Policy::compile_folder(&parts, true).map_err(|e| e.in_file(path));
    }
    let text = read_policy_text(path)?;
    Policy::parse(&text).map_err(|e| e.in_file(path))
}

/// The most files a policy folder may hold.
pub const MAX_POLICY_FILES: usize = 256;

/// The most bytes a policy folder's files may hold together.
pub const MAX_POLICY_FOLDER_BYTES: usize = 16 * 1024 * 1024;

/// A policy folder as read: each policy file's name and text (or why it cannot be read),
/// in name order, and a digest of all of it.
pub struct PolicyFolder {
    /// Each `*.yaml` or `*.yml` file (hidden ones, such as the kubelet's `..data`, are
    /// not policy files), with its text or why it cannot be read.
    pub files: Vec<(String, Result<String, FileErrors>)>,
    /// Changes when any file's name or text changes.
    pub digest: [u8; 32],
}

/// Whether a policy file's name is one it can be known by in logs, metrics and authorizer
/// names: a ConfigMap key's characters (letters, digits, `-`, `_`, `.`).
fn is_usable_file_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Reads every policy file of a folder, each as [`read_policy_text`] reads one file; a
/// file that cannot be read (or has an unusable name, or is past [`MAX_POLICY_FILES`]
/// files or [`MAX_POLICY_FOLDER_BYTES`] bytes in name order) is reported as such, and the
/// others are read. Refused as a whole only when the folder cannot be listed, or names
/// more than four times [`MAX_POLICY_FILES`] policy files.
pub fn read_policy_folder(dir: &Path) -> Result<PolicyFolder, FileErrors> {
    let refuse = |e: String| FileErrors::one(e).in_file(dir);
    let mut names = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| refuse(format!("cannot list: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| refuse(format!("cannot list: {e}")))?;
        let name = entry.file_name();
        let bytes = name.as_encoded_bytes();
        if !bytes.starts_with(b".") && (bytes.ends_with(b".yaml") || bytes.ends_with(b".yml")) {
            if names.len() == 4 * MAX_POLICY_FILES {
                return Err(refuse(format!(
                    "more than {} policy files (a folder may hold {MAX_POLICY_FILES})",
                    4 * MAX_POLICY_FILES
                )));
            }
            // A name that is not UTF-8 is kept (and refused below), never skipped: its
            // routes must not be taken for a file that is not there.
            names.push(name.to_string_lossy().into_owned());
        }
    }
    names.sort();
    let mut total = 0usize;
    let mut hasher = Vec::new();
    let mut files = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let read = if !is_usable_file_name(&name) {
            Err(FileErrors::one(
                "a policy file's name is a ConfigMap key: letters, digits, '-', '_' and '.' only",
            ))
        } else if i >= MAX_POLICY_FILES {
            Err(FileErrors::one(format!(
                "past the {MAX_POLICY_FILES} policy files a folder may hold (in name order)"
            )))
        } else {
            // A link to nothing (a key the kubelet is removing) is unreadable, not absent:
            // the file keeps its last good version until the link is gone.
            read_text(&dir.join(&name), crate::policy::MAX_POLICY_BYTES)
                .map_err(|e| FileErrors::one(e.to_string()))
                .and_then(|text| {
                    if total + text.len() > MAX_POLICY_FOLDER_BYTES {
                        return Err(FileErrors::one(format!(
                            "past the {MAX_POLICY_FOLDER_BYTES} bytes the policy files of a folder may hold together (in name order)"
                        )));
                    }
                    total += text.len();
                    Ok(text)
                })
        };
        hasher.extend_from_slice(name.as_bytes());
        hasher.push(0);
        match &read {
            Ok(text) => hasher.extend_from_slice(&crate::crypto::sha256(text.as_bytes())),
            Err(e) => hasher.extend_from_slice(e.to_string().as_bytes()),
        }
        hasher.push(0);
        files.push((name, read));
    }
    Ok(PolicyFolder {
        files,
        digest: crate::crypto::sha256(&hasher),
    })
}

/// Reads a revocation file: a regular file, refused unread past
/// [`MAX_REVOCATIONS_BYTES`](crate::revocation::MAX_REVOCATIONS_BYTES).
pub fn read_revocations_text(path: &Path) -> Result<String, FileErrors> {
    read_text(path, crate::revocation::MAX_REVOCATIONS_BYTES)
        .map_err(|e| FileErrors::one(e.to_string()).in_file(path))
}

/// Reads and compiles a revocation file.
pub fn load_revocations(path: &Path) -> Result<RevocationList, FileErrors> {
    let text = read_revocations_text(path)?;
    RevocationList::parse(&text).map_err(|e| e.in_file(path))
}

/// Reads the regular file at `path` as text, refusing more than `max` bytes unread.
pub fn read_text(path: &Path, max: usize) -> Result<String, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if meta.len() > max as u64 {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            max,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the size check and the read: never take more than max + 1.
    file.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            max,
        });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

/// Reads standard input as text, refusing more than `max` bytes (`/dev/zero` on standard
/// input is refused once `max` + 1 bytes have arrived, not read until memory runs out).
pub fn read_stdin_text(max: usize) -> Result<String, ReadError> {
    read_bounded(std::io::stdin().lock(), max)
}

fn read_bounded(input: impl Read, max: usize) -> Result<String, ReadError> {
    let mut bytes = Vec::new();
    input.take(max as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > max {
        return Err(ReadError::StreamTooLarge { max });
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

pub use cognito_ext_authz_core::nesting::{MAX_NESTING, NestingError, check_nesting};

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn reads_regular_files_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, "routes: []\n").unwrap();
        assert_eq!(read_text(&path, 100).unwrap(), "routes: []\n");
        assert!(matches!(
            read_text(&path, 5),
            Err(ReadError::TooLarge { size: 11, max: 5 })
        ));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&path, 100), Err(ReadError::NotUtf8)));
        assert!(matches!(
            read_text(dir.path(), 100),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_text(&dir.path().join("missing"), 100),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read_text(&path, 100), Err(ReadError::NotRegular)));
    }

    #[test]
    fn a_policy_folder_reads_each_file_on_its_own_and_skips_what_is_not_a_policy_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "routes: []\n").unwrap();
        std::fs::write(dir.path().join("a.yml"), "routes: []\n").unwrap();
        std::fs::write(dir.path().join("notes.md"), "not policy").unwrap();
        std::fs::write(dir.path().join(".hidden.yaml"), "x").unwrap();
        std::fs::write(dir.path().join("big.yaml"), vec![b'#'; 2 * 1024 * 1024]).unwrap();
        std::fs::write(dir.path().join("a b.yaml"), "routes: []\n").unwrap();
        let c = std::ffi::CString::new(dir.path().join("fifo.yaml").as_os_str().as_encoded_bytes())
            .unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink("..data/gone.yaml", dir.path().join("gone.yaml")).unwrap();

        let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.yaml");
        std::fs::write(dir.path().join(odd), "routes: []\n").unwrap();
        let folder = read_policy_folder(dir.path()).unwrap();
        let seen: Vec<(&str, Result<&str, String>)> = folder
            .files
            .iter()
            .map(|(n, r)| (n.as_str(), r.as_deref().map_err(|e| e.to_string())))
            .collect();
        assert_eq!(seen[0].0, "a b.yaml");
        assert!(seen[0].1.as_ref().unwrap_err().contains("ConfigMap key"));
        assert_eq!(seen[1], ("a.yml", Ok("routes: []\n")));
        assert_eq!(seen[2], ("b.yaml", Ok("routes: []\n")));
        assert_eq!(seen[3].0, "big.yaml");
        assert!(seen[3].1.as_ref().unwrap_err().contains("larger than"));
        assert_eq!(seen[4].0, "caf\u{fffd}.yaml");
        assert!(seen[4].1.as_ref().unwrap_err().contains("ConfigMap key"));
        assert_eq!(seen[5], ("fifo.yaml", Err("not a regular file".to_owned())));
        // A link to nothing is a file that cannot be read, not a file that is not there.
        assert_eq!(seen[6].0, "gone.yaml");
        assert!(seen[6].1.as_ref().unwrap_err().contains("cannot read"));
        assert_eq!(seen.len(), 7, "{seen:?}");

        // Any change of a file's text changes the folder's digest; a new non-policy file
        // does not.
        let before = folder.digest;
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        assert_eq!(read_policy_folder(dir.path()).unwrap().digest, before);
        std::fs::write(dir.path().join("a.yml"), "routes: [] \n").unwrap();
        assert_ne!(read_policy_folder(dir.path()).unwrap().digest, before);
    }

    #[test]
    fn files_past_the_folder_s_bounds_are_refused_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=MAX_POLICY_FILES {
            std::fs::write(dir.path().join(format!("team-{i:03}.yaml")), "").unwrap();
        }
        let folder = read_policy_folder(dir.path()).unwrap();
        let refused: Vec<&str> = folder
            .files
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(refused, ["team-256.yaml"]);
        // Bytes: 17 files of 1 MiB each; the one past 16 MiB (in name order) is refused.
        let dir = tempfile::tempdir().unwrap();
        let big = vec![b'#'; MAX_POLICY_FOLDER_BYTES / 16];
        for i in 0..17 {
            std::fs::write(dir.path().join(format!("team-{i:02}.yaml")), &big).unwrap();
        }
        let folder = read_policy_folder(dir.path()).unwrap();
        let why: Vec<String> = folder
            .files
            .iter()
            .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}")))
            .collect();
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(
            why[0].starts_with("team-16.yaml: past the 16777216 bytes"),
            "{why:?}"
        );
        // Far too many names: refused whole, before any is read.
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=4 * MAX_POLICY_FILES {
            std::fs::write(dir.path().join(format!("t{i}.yaml")), "").unwrap();
        }
        assert!(read_policy_folder(dir.path()).is_err());
    }

    #[test]
    fn standard_input_is_read_within_the_bound() {
        assert_eq!(read_bounded(&b"eyJ.x.y\n"[..], 8).unwrap(), "eyJ.x.y\n");
        // An endless input stops at the bound.
        let endless = std::io::repeat(0);
        assert!(matches!(
            read_bounded(endless, 1024),
            Err(ReadError::StreamTooLarge { max: 1024 })
        ));
    }
}
