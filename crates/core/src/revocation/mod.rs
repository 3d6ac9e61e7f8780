//! The revocation list: tokens refused although they verify (Cognito's `RevokeToken` and
//! `GlobalSignOut` are invisible to a signature check).
//!
//! The operator's YAML file ([`model`]) names one token by `jti`, one sign-in session by
//! `originJti`, or a user's tokens issued before a time by `sub` and `issuedBefore`.
//! [`RevocationList::compile`] checks every entry and builds hash maps keyed by the
//! lower-cased value, so [`RevocationList::find`] costs at most three lookups however long
//! the list; the verifier looks up every use of a verified token, cached or not. The rules
//! (matching, duplicates, what is refused, pruning) are in docs/policy.md, "Revocation";
//! what can go wrong with the list, in docs/security.md.

pub mod model;

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::sync::Arc;

use model::{EntryFile, RevocationFile, TimeValue};

use crate::errors::{FileErrors, Located};
use crate::token::VerifiedToken;

/// Revocation files larger than this are refused unread. A ConfigMap holds at most 1 MiB;
/// a file from another volume may be larger (100,000 entries with reasons fit easily).
pub const MAX_REVOCATIONS_BYTES: usize = 16 * 1024 * 1024;

/// Lists with more entries are refused (while they are read): what bounds the memory a
/// list takes, about 130 MB while this many load (`docs/security.md`). Twice the 100,000
/// entries the benchmarks load; `revocations prune` keeps a list far below it.
pub(crate) const MAX_REVOCATION_ENTRIES: usize = 200_000;

/// What an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One token, by its `jti` claim.
    Jti,
    /// Every token of one sign-in session, by Cognito's `origin_jti` claim (what
    /// `RevokeToken` ends).
    OriginJti,
    /// Every token of one user (its `sub`) issued before the entry's `issuedBefore` (what
    /// `GlobalSignOut` ends).
    Sub,
}

impl Kind {
    /// The key as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Jti => "jti",
            Kind::OriginJti => "originJti",
            Kind::Sub => "sub",
        }
    }

    /// The label value in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Jti => "jti",
            Kind::OriginJti => "origin_jti",
            Kind::Sub => "sub",
        }
    }
}

/// One checked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Its place in the file (`revocations[index]`).
    pub index: usize,
    /// What it names.
    pub kind: Kind,
    /// The `jti`, `originJti` or `sub`, as written.
    pub value: String,
    /// `sub` entries: a token with `iat` before this (seconds since the epoch) is revoked.
    pub issued_before: Option<u64>,
    /// `jti` and `originJti` entries: when it was added (seconds since the epoch), if known.
    pub added_at: Option<u64>,
    /// `reason`, for people: shown by `check` and `prune`, never used to decide.
    pub reason: Option<String>,
}

impl fmt::Display for Revocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revocations[{}] ({})", self.index, self.kind.name())
    }
}

/// The compiled list: entries by lower-cased `jti`, `originJti` and `sub`.
#[derive(Debug, Default)]
pub struct RevocationList {
    entries: Vec<Arc<Revocation>>,
    jti: HashMap<Box<str>, u32>,
    origin_jti: HashMap<Box<str>, u32>,
    /// Per `sub`, the entry with the latest `issuedBefore`.
    sub: HashMap<Box<str>, u32>,
    /// Entries that repeat another's value (merged).
    duplicates: usize,
}

/// How many entries of each kind a list has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// `jti` entries.
    pub(crate) jti: usize,
    /// `originJti` entries.
    pub(crate) origin_jti: usize,
    /// `sub` entries.
    pub(crate) sub: usize,
    /// Entries that repeat the value of an earlier entry of the same kind (merged into it).
    pub(crate) duplicates: usize,
}

impl RevocationList {
    /// No entries: nothing is revoked.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses and compiles revocation YAML.
    pub fn parse(text: &str) -> Result<RevocationList, FileErrors> {
        Self::compile(&parse_file(text)?.revocations)
    }

    /// Checks every entry, collecting every problem with its place, and builds the maps.
    pub fn compile(entries: &[EntryFile]) -> Result<RevocationList, FileErrors> {
        let mut errors = Vec::new();
        let mut list = RevocationList::default();
        let count = |kind| {
            entries
                .iter()
                .filter(|e| selector(e).is_ok_and(|(k, _)| k == kind))
                .count()
        };
        list.entries.reserve_exact(entries.len());
        list.jti.reserve(count(Kind::Jti));
        list.origin_jti.reserve(count(Kind::OriginJti));
        list.sub.reserve(count(Kind::Sub));
        for (index, entry) in entries.iter().enumerate() {
            match check_entry(index, entry) {
                Ok(revocation) => list.add(revocation),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(list)
        } else {
            Err(FileErrors { file: None, errors })
        }
    }

    fn add(&mut self, revocation: Revocation) {
        let at = u32::try_from(self.entries.len()).expect("fewer than 2^32 entries");
        let key: Box<str> = revocation.value.to_ascii_lowercase().into();
        let map = match revocation.kind {
            Kind::Jti => &mut self.jti,
            Kind::OriginJti => &mut self.origin_jti,
            Kind::Sub => &mut self.sub,
        };
        match map.entry(key) {
            MapEntry::Vacant(v) => {
                v.insert(at);
            }
            MapEntry::Occupied(mut o) => {
                self.duplicates += 1;
                let kept = &self.entries[*o.get() as usize];
                // The latest issuedBefore revokes the most; otherwise the first entry stays.
                if revocation.kind == Kind::Sub && revocation.issued_before > kept.issued_before {
                    o.insert(at);
                }
            }
        }
        self.entries.push(Arc::new(revocation));
    }

    /// The entry revoking `token`, if any. Costs nothing when the list is empty and three
    /// hash lookups otherwise.
    pub fn find(&self, token: &VerifiedToken) -> Option<&Arc<Revocation>> {
        if self.entries.is_empty() {
            return None;
        }
        let lookup = |map: &HashMap<Box<str>, u32>, value: &str| -> Option<&Arc<Revocation>> {
            if map.is_empty() {
                return None;
            }
            let at = if value.bytes().any(|b| b.is_ascii_uppercase()) {
                map.get(value.to_ascii_lowercase().as_str())
            } else {
                map.get(value)
            }?;
            Some(&self.entries[*at as usize])
        };
        if let Some(hit) = token.jti.as_deref().and_then(|j| lookup(&self.jti, j)) {
            return Some(hit);
        }
        if let Some(hit) = token
            .origin_jti
            .as_deref()
            .and_then(|o| lookup(&self.origin_jti, o))
        {
            return Some(hit);
        }
        lookup(&self.sub, &token.sub).filter(|entry| {
            // No iat: nothing shows the token was issued after the entry's time.
            token
                .iat
                .is_none_or(|iat| entry.issued_before.is_none_or(|before| iat < before))
        })
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[Arc<Revocation>] {
        &self.entries
    }

    /// How many entries, duplicates included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries: nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries by kind (as written, duplicates included) and how many were duplicates.
    pub(crate) fn counts(&self) -> Counts {
        let of = |kind| self.entries.iter().filter(|e| e.kind == kind).count();
        Counts {
            jti: of(Kind::Jti),
            origin_jti: of(Kind::OriginJti),
            sub: of(Kind::Sub),
            duplicates: self.duplicates,
        }
    }

    /// Entries by kind under their metric labels, for the size gauge.
    pub fn sizes(&self) -> [(&'static str, usize); 3] {
        let c = self.counts();
        [
            (Kind::Jti.label(), c.jti),
            (Kind::OriginJti.label(), c.origin_jti),
            (Kind::Sub.label(), c.sub),
        ]
    }

    /// `5 entries: 2 jti, 1 originJti, 2 sub`, and duplicates when there are any.
    pub fn summary(&self) -> String {
        let c = self.counts();
        let mut out = format!(
            "{} entr{}: {} jti, {} originJti, {} sub",
            self.len(),
            if self.len() == 1 { "y" } else { "ies" },
            c.jti,
            c.origin_jti,
            c.sub
        );
        if c.duplicates > 0 {
            out.push_str(&format!(" ({} repeating another, merged)", c.duplicates));
        }
        out
    }
}

/// The file's YAML, unchecked beyond its shape (unknown keys refused).
pub fn parse_file(text: &str) -> Result<RevocationFile, FileErrors> {
    let blank = |line: &str| line.trim().is_empty() || line.trim_start().starts_with('#');
    if text.lines().all(blank) {
        // Never read as "nothing revoked": an emptied file is far more likely a mistake.
        return Err(FileErrors::one(
            "the file is empty (write `revocations: []` for a list without entries)",
        ));
    }
    serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
        FileErrors::one(format!(
            "invalid revocation list YAML: {}",
            crate::policy::yaml_error::describe(text, &e)
        ))
    })
}

/// The parser's budget, sized for the largest file read: the default (250,000 nodes) would
/// stop near 60,000 entries. Anchors and aliases keep their default limits.
fn yaml_options() -> serde_saphyr::Options {
    let default = serde_saphyr::Budget::default();
    serde_saphyr::Options {
        budget: Some(serde_saphyr::Budget {
            max_reader_input_bytes: Some(MAX_REVOCATIONS_BYTES),
            // Every node takes at least two bytes of the file.
            max_nodes: MAX_REVOCATIONS_BYTES / 2,
            max_events: MAX_REVOCATIONS_BYTES,
            ..default
        }),
        ..serde_saphyr::Options::default()
    }
}

/// `revocations[3]`, written only when an error needs it (a list has 100,000 entries).
struct Place(usize);

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "revocations[{}]", self.0)
    }
}

/// What an entry names: `jti`, `originJti` or `sub`, when exactly one.
fn selector(entry: &EntryFile) -> Result<(Kind, &String), Vec<Kind>> {
    let named = [
        (Kind::Jti, &entry.jti),
        (Kind::OriginJti, &entry.origin_jti),
        (Kind::Sub, &entry.sub),
    ];
    let mut found = named
        .iter()
        .filter_map(|(kind, value)| value.as_ref().map(|v| (*kind, v)));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        _ => Err(named
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| *k)
            .collect()),
    }
}

/// Checks one entry; every problem, each with its place.
fn check_entry(index: usize, entry: &EntryFile) -> Result<Revocation, Vec<Located>> {
    let place = Place(index);
    let mut errors = Vec::new();
    let (kind, value) = match selector(entry) {
        Ok(one) => one,
        Err(several) if several.is_empty() => {
            return Err(vec![Located::new(
                place.to_string(),
                "names none of jti, originJti, sub (an entry names exactly one)",
            )]);
        }
        Err(several) => {
            let names: Vec<&str> = several.iter().map(|k| k.name()).collect();
            return Err(vec![Located::new(
                place.to_string(),
                format!(
                    "names {} (an entry names exactly one of jti, originJti, sub)",
                    names.join(" and ")
                ),
            )]);
        }
    };
    if let Err(e) = check_text(value) {
        errors.push(Located::new(
            format!("{place}.{}", kind.name()),
            e.to_string(),
        ));
    }
    if let Some(reason) = &entry.reason
        && reason.chars().any(char::is_control)
    {
        errors.push(Located::new(
            format!("{place}.reason"),
            "contains a control character (one line of text)",
        ));
    }
    let time = |field: &str, value: &TimeValue, errors: &mut Vec<Located>| match value.seconds() {
        Ok(secs) => Some(secs),
        Err(e) => {
            errors.push(Located::new(format!("{place}.{field}"), e.to_string()));
            None
        }
    };
    let mut issued_before = None;
    let mut added_at = None;
    match kind {
        Kind::Sub => {
            match &entry.issued_before {
                Some(t) => issued_before = time("issuedBefore", t, &mut errors),
                None => errors.push(Located::new(place.to_string(), "sub needs issuedBefore (every token of the user issued before that time is revoked)")),
            }
            if entry.added_at.is_some() {
                errors.push(Located::new(format!("{place}.addedAt"), "only for jti and originJti entries (a sub entry is pruned by its issuedBefore)"));
            }
        }
        Kind::Jti | Kind::OriginJti => {
            if entry.issued_before.is_some() {
                errors.push(Located::new(
                    format!("{place}.issuedBefore"),
                    format!(
                        "only with sub (a {} entry revokes whatever its iat)",
                        kind.name()
                    ),
                ));
            }
            if let Some(t) = &entry.added_at {
                added_at = time("addedAt", t, &mut errors);
            }
        }
    }
    if errors.is_empty() {
        Ok(Revocation {
            index,
            kind,
            value: value.clone(),
            issued_before,
            added_at,
            reason: entry.reason.clone(),
        })
    } else {
        Err(errors)
    }
}

/// A `jti`, `originJti` or `sub`: not empty, no white space around it, no control
/// characters (none of which a Cognito token's claim has, so such a value could never
/// match and is most likely a copy-and-paste slip).
fn check_text(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        Err("is empty")
    } else if value.trim() != value {
        Err("has white space around it")
    } else if value.chars().any(char::is_control) {
        Err("contains a control character")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::TokenUse;

    fn token(
        jti: Option<&str>,
        origin: Option<&str>,
        sub: &str,
        iat: Option<u64>,
    ) -> VerifiedToken {
        VerifiedToken {
            token_use: TokenUse::Access,
            sub: sub.to_owned(),
            client_id: "client".to_owned(),
            username: None,
            aud: None,
            claims: Vec::new(),
            scopes: Vec::new(),
            groups: Vec::new(),
            exp: u64::MAX,
            pool: 0,
            kid: "k".to_owned(),
            jti: jti.map(str::to_owned),
            origin_jti: origin.map(str::to_owned),
            iat,
        }
    }

    const LIST: &str = r#"
revocations:
  - jti: 6f1c0000-0000-4000-8000-000000000001
    reason: leaked in a log
  - originJti: 0B7E0000-0000-4000-8000-000000000002
  - sub: 7d0e1f2a-0000-4000-8000-000000000003
    issuedBefore: 2026-11-26T10:00:00Z
  - sub: 7d0e1f2a-0000-4000-8000-000000000003
    issuedBefore: 1795680000
  - jti: 6F1C0000-0000-4000-8000-000000000001
"#;

    #[test]
    fn each_kind_matches_its_tokens() {
        let list = RevocationList::parse(LIST).unwrap();
        assert_eq!(
            list.summary(),
            "5 entries: 2 jti, 1 originJti, 2 sub (2 repeating another, merged)"
        );
        let hit = |t: &VerifiedToken| list.find(t).map(|e| e.index);
        let jti = token(
            Some("6f1c0000-0000-4000-8000-000000000001"),
            None,
            "u",
            Some(1),
        );
        assert_eq!(hit(&jti), Some(0), "the first of two duplicates answers");
        assert_eq!(
            list.find(&jti).unwrap().reason.as_deref(),
            Some("leaked in a log")
        );
        let upper = token(
            Some("6F1C0000-0000-4000-8000-000000000001"),
            None,
            "u",
            None,
        );
        assert_eq!(hit(&upper), Some(0), "case is ignored");
        let session = token(
            None,
            Some("0b7e0000-0000-4000-8000-000000000002"),
            "u",
            None,
        );
        assert_eq!(hit(&session), Some(1));
        let sub = "7d0e1f2a-0000-4000-8000-000000000003";
        // The later issuedBefore of the two entries for the sub wins.
        assert_eq!(hit(&token(None, None, sub, Some(1_795_687_199))), Some(2));
        assert_eq!(hit(&token(None, None, sub, Some(1_795_687_200))), None);
        assert_eq!(
            hit(&token(None, None, sub, None)),
            Some(2),
            "no iat: revoked"
        );
        assert_eq!(
            hit(&token(Some("other"), Some("other"), "other", Some(0))),
            None
        );
        assert_eq!(hit(&token(Some(""), Some(""), "x", Some(0))), None);
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        let list = RevocationList::parse("revocations: []\n").unwrap();
        assert!(list.is_empty());
        assert_eq!(list.find(&token(Some("a"), Some("b"), "c", None)), None);
        assert_eq!(list.summary(), "0 entries: 0 jti, 0 originJti, 0 sub");
    }

    fn errors_of(yaml: &str) -> String {
        RevocationList::parse(yaml).unwrap_err().to_string()
    }

    #[test]
    fn every_problem_is_refused_with_its_place() {
        let err = errors_of(
            r#"
revocations:
  - reason: nothing named
  - jti: a
    sub: b
    issuedBefore: 0
  - sub: u1
  - sub: u2
    issuedBefore: 2026-11-26
  - jti: ""
  - originJti: " x"
  - jti: y
    issuedBefore: 1
  - sub: u3
    issuedBefore: 1
    addedAt: 2
  - jti: z
    addedAt: -5
  - sub: u4
    issuedBefore: 1.5
"#,
        );
        for want in [
            "revocations[0]: names none of jti, originJti, sub",
            "revocations[1]: names jti and sub",
            "revocations[2]: sub needs issuedBefore",
            "revocations[3].issuedBefore: \"2026-11-26\" is not an RFC 3339 time",
            "revocations[4].jti: is empty",
            "revocations[5].originJti: has white space around it",
            "revocations[6].issuedBefore: only with sub",
            "revocations[7].addedAt: only for jti and originJti entries",
            "revocations[8].addedAt: -5 is before 1970",
            "revocations[9].issuedBefore: 1.5 is not a whole number",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
    }

    #[test]
    fn more_entries_than_allowed_are_refused_while_read() {
        let mut text = String::from("revocations:\n");
        for i in 0..=MAX_REVOCATION_ENTRIES {
            text.push_str(&format!("- jti: {i:x}\n"));
        }
        let err = errors_of(&text);
        assert!(
            err.contains("more than the 200000 entries allowed"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_other_shapes_are_refused() {
        assert!(errors_of("revocations:\n  - jti: a\n    reasn: typo\n").contains("reasn"));
        assert!(errors_of("revocation: []\n").contains("revocation"));
        let empty = errors_of("");
        assert!(empty.contains("revocations: []"), "{empty}");
        assert!(errors_of("# nothing\n\n").contains("the file is empty"));
        assert!(errors_of("revocations: {jti: a}\n").contains("invalid revocation list YAML"));
        assert!(errors_of("revocations:\n  - jti: [a]\n").contains("invalid revocation list YAML"));
    }
}
