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

use crate::policy::{Policy, PolicyErrors};
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
pub fn read_policy_text(path: &Path) -> Result<String, PolicyErrors> {
    read_text(path, crate::policy::MAX_POLICY_BYTES)
        .map_err(|e| PolicyErrors::one(e.to_string()).in_file(path))
}

/// Reads and compiles a policy file.
pub fn load_policy(path: &Path) -> Result<Policy, PolicyErrors> {
    let text = read_policy_text(path)?;
    Policy::parse(&text).map_err(|e| e.in_file(path))
}

/// Reads a revocation file: a regular file, refused unread past
/// [`MAX_REVOCATIONS_BYTES`](crate::revocation::MAX_REVOCATIONS_BYTES).
pub fn read_revocations_text(path: &Path) -> Result<String, PolicyErrors> {
    read_text(path, crate::revocation::MAX_REVOCATIONS_BYTES)
        .map_err(|e| PolicyErrors::one(e.to_string()).in_file(path))
}

/// Reads and compiles a revocation file.
pub fn load_revocations(path: &Path) -> Result<RevocationList, PolicyErrors> {
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
