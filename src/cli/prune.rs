//! `revocations prune FILE --max-token-lifetime DURATION`: drop the entries every token of
//! which must have expired.
//!
//! An entry is only worth keeping while a token it matches could still be accepted. A token
//! lives at most the longest token lifetime (Cognito: 1 day for access and ID tokens) past
//! its `iat`, and is accepted until `exp` plus the policy's `leewaySeconds` (at most
//! [`MAX_LEEWAY_SECONDS`]). So an entry can go once
//! `bound + lifetime + MAX_LEEWAY_SECONDS <= now`, where the bound is a time before which
//! every matching token was issued:
//!
//! - `sub` entries: `issuedBefore` (only tokens with `iat` before it match);
//! - `jti` and `originJti` entries: `addedAt`, when given (a revoked token or session
//!   exists when it is revoked, and a revoked session issues no new tokens). Without
//!   `addedAt` nothing tells when their tokens expire: such entries are always kept.
//!
//! The file is checked in full first (an invalid file is not touched), and written back
//! from the checked entries (comments are not kept), to a new file beside it that is
//! renamed over it: a reader (the service following it) sees the old file or the new one,
//! never half of one.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cognito_ext_authz::errors::FileErrors;
use cognito_ext_authz::policy::MAX_LEEWAY_SECONDS;
use cognito_ext_authz::revocation::model::{EntryFile, RevocationFile};
use cognito_ext_authz::revocation::{Kind, Revocation, RevocationList};

/// What a prune keeps and removes.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The entries kept, as written, in file order.
    pub kept: Vec<EntryFile>,
    /// The entries removed, with when their last token expired.
    pub removed: Vec<Removed>,
    /// `jti` and `originJti` entries kept because they have no `addedAt`.
    pub undated: usize,
}

/// One removed entry.
#[derive(Debug, Clone)]
pub struct Removed {
    pub entry: Arc<Revocation>,
    /// Every token it matches has expired by then (seconds since the epoch).
    pub expired_by: u64,
}

/// Parses `1d`, `24h`, `90m`, `3600s`, `1h30m` or bare seconds; not zero.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad =
        || format!("{text:?} is not a duration (a number of seconds, or like 1d, 24h, 90m, 3600s)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return (seconds > 0).then_some(seconds).ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

/// Which entries of `file` can go at `now` for tokens living at most `max_lifetime`
/// seconds. An invalid file is refused with every error.
pub fn plan(file: &RevocationFile, max_lifetime: u64, now: u64) -> Result<Plan, FileErrors> {
    let list = RevocationList::compile(&file.revocations)?;
    let mut plan = Plan::default();
    // Compiling keeps every entry, in file order.
    for (written, entry) in file.revocations.iter().zip(list.entries()) {
        let bound = match entry.kind {
            Kind::Sub => entry.issued_before,
            Kind::Jti | Kind::OriginJti => entry.added_at,
        };
        let Some(bound) = bound else {
            plan.undated += 1;
            plan.kept.push(written.clone());
            continue;
        };
        let expired_by = bound
            .saturating_add(max_lifetime)
            .saturating_add(MAX_LEEWAY_SECONDS);
        if expired_by <= now {
            plan.removed.push(Removed {
                entry: entry.clone(),
                expired_by,
            });
        } else {
            plan.kept.push(written.clone());
        }
    }
    Ok(plan)
}

/// The text of a revocation file holding `entries`, checked to read back as exactly them.
pub fn render(entries: &[EntryFile]) -> Result<String, String> {
    let file = RevocationFile {
        revocations: entries.to_vec(),
    };
    let body = if entries.is_empty() {
        "revocations: []\n".to_owned()
    } else {
        serde_saphyr::to_string(&file).map_err(|e| format!("cannot write YAML: {e}"))?
    };
    let text = format!(
        "# Written by `cognito-ext-authz revocations prune` (comments are not kept; use `reason`).\n{body}"
    );
    let reread = cognito_ext_authz::revocation::parse_file(&text).map_err(|e| e.to_string())?;
    if reread != file {
        return Err("the pruned file would not read back as the entries kept".to_owned());
    }
    Ok(text)
}

/// Replaces the regular file at `path` with `text` in one step: a new file in the same
/// folder (the old one's permission bits, without execute or set-id bits), flushed to disk,
/// then renamed over it. A symlink is refused rather than replaced by a file.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let shown = path.display();
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{shown}: is a symbolic link; prune the file it points to (a mounted ConfigMap is read-only: prune its source)"
        ));
    }
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map_or_else(
        || "revocations".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let temp = folder.join(format!(".{name}.prune-{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(meta.mode() & 0o666)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename itself reaches the disk with the folder.
        if let Ok(dir) = std::fs::File::open(&folder) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("{shown}: cannot write: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("3600s"), Ok(3600));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("90m"), Ok(5400));
        for bad in [
            "",
            "0",
            "0s",
            "1w",
            "d",
            "1.5h",
            "-1d",
            "1h 30m",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    const DAY: u64 = 86_400;
    const T: u64 = 1_795_687_200; // 2026-11-26T10:00:00Z

    fn file(yaml: &str) -> RevocationFile {
        cognito_ext_authz::revocation::parse_file(yaml).unwrap()
    }

    #[test]
    fn only_entries_whose_tokens_all_expired_go() {
        let f = file(
            r#"
revocations:
  - sub: old
    issuedBefore: 2026-11-26T10:00:00Z
    reason: signed out
  - sub: recent
    issuedBefore: 1795773600
  - jti: dated
    addedAt: 2026-11-26T10:00:00Z
  - originJti: undated
"#,
        );
        // A day and the largest leeway after issuedBefore: the first sub entry is still needed
        // one second before, and goes at that second.
        let edge = T + DAY + MAX_LEEWAY_SECONDS;
        let p = plan(&f, DAY, edge - 1).unwrap();
        assert_eq!((p.kept.len(), p.removed.len(), p.undated), (4, 0, 1));
        let p = plan(&f, DAY, edge).unwrap();
        let removed: Vec<usize> = p.removed.iter().map(|r| r.entry.index).collect();
        assert_eq!(removed, [0, 2]);
        assert_eq!(p.removed[0].expired_by, edge);
        let kept: Vec<_> = p
            .kept
            .iter()
            .map(|e| e.sub.clone().or(e.origin_jti.clone()))
            .collect();
        assert_eq!(
            kept,
            [Some("recent".to_owned()), Some("undated".to_owned())]
        );
        // The kept entries are written back as written, and read back the same.
        let text = render(&p.kept).unwrap();
        assert!(text.contains("1795773600"), "{text}");
        assert_eq!(file(&text).revocations, p.kept);
        assert_eq!(file(&render(&[]).unwrap()).revocations, []);
    }

    #[test]
    fn an_invalid_file_is_not_pruned() {
        let f = file("revocations:\n  - sub: a\n");
        assert!(plan(&f, DAY, u64::MAX).is_err());
    }

    #[test]
    fn writes_replace_the_file_and_refuse_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("revocations.yaml");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(
            write_atomically(&link, "x")
                .unwrap_err()
                .contains("symbolic link")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
