//! Reading operator-supplied files (the policy) without trusting what is at the path.
//!
//! The path is a ConfigMap mount that anything with write access to it can change: it may
//! hold a FIFO (an `open` for reading would block until a writer appears), a device, or a
//! file far larger than any policy. So the file is opened non-blocking, must be a regular
//! file once open, and is read with a bound before anything parses it.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use thiserror::Error;

/// Why a file could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file")]
    NotRegular,
    #[error("{size} bytes is larger than the {max} allowed")]
    TooLarge { size: u64, max: usize },
    #[error("not UTF-8 text")]
    NotUtf8,
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
}
