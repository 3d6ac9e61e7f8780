//! The revocation file as written: YAML, camelCase keys, unknown keys refused.
//!
//! Values are kept as written (a time stays the text or number it was) so that `revocations
//! prune` can write the entries it keeps back unchanged; [`super::RevocationList::compile`]
//! checks them and says where each problem is.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevocationFile {
    /// The entries, in file order; more than 200,000 are refused while they are read.
    #[serde(deserialize_with = "at_most_max_entries")]
    pub revocations: Vec<EntryFile>,
}

/// The entries, refused past [`super::MAX_REVOCATION_ENTRIES`] while they are read, so a
/// file of many tiny entries cannot take the memory of the process (each costs a few
/// hundred bytes while read and kept).
fn at_most_max_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EntryFile>, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<EntryFile>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of revocation entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<EntryFile>, A::Error> {
            let max = super::MAX_REVOCATION_ENTRIES;
            let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(max));
            while let Some(entry) = seq.next_element()? {
                if entries.len() == max {
                    return Err(de::Error::custom(format!(
                        "more than the {max} entries allowed (prune the list: `cognito-ext-authz revocations prune`)"
                    )));
                }
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    d.deserialize_seq(Entries)
}

/// One entry: exactly one of `jti`, `originJti`, `sub` (with `issuedBefore`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryFile {
    /// One token (its `jti` claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Every token of one sign-in session (Cognito's `origin_jti` claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_jti: Option<String>,
    /// Every token of this user (or, for client credentials, app client) issued before
    /// `issuedBefore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// With `sub`: a token whose `iat` is earlier than this is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_before: Option<TimeValue>,
    /// With `jti` or `originJti`: when the entry was added; every token it matches was
    /// issued before then, which lets `revocations prune` drop it once they have expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<TimeValue>,
    /// Why, for people: shown by `check` and `prune`, never used to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A time as written: RFC 3339 text, or seconds since the epoch (a YAML number, or text
/// made of digits).
#[derive(Debug, Clone, PartialEq)]
pub enum TimeValue {
    /// Seconds since the epoch, written as a YAML integer.
    Integer(i128),
    /// A YAML float: Helm renders large integers of its values as floats (`1.7641152e+09`).
    Float(f64),
    /// Text: an RFC 3339 time, or digits (seconds since the epoch).
    Text(String),
}

/// The largest time accepted: 9999-12-31T23:59:59Z.
const MAX_SECONDS: u64 = 253_402_300_799;

impl TimeValue {
    /// Seconds since the epoch, rounded up to the next whole second (a token's `iat` is
    /// whole seconds, so `iat < t` reads the same for `t` and its ceiling), or what is wrong.
    pub(crate) fn seconds(&self) -> Result<u64, String> {
        let whole = |n: i128| -> Result<u64, String> {
            if n < 0 {
                Err(format!("{n} is before 1970"))
            } else if n > i128::from(MAX_SECONDS) {
                Err(format!("{n} is after the year 9999"))
            } else {
                Ok(n as u64)
            }
        };
        match self {
            TimeValue::Integer(n) => whole(*n),
            TimeValue::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => {
                whole(*f as i128)
            }
            TimeValue::Float(f) => Err(format!(
                "{f} is not a whole number of seconds since the epoch"
            )),
            TimeValue::Text(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t
                .parse::<i128>()
                .map_err(|_| format!("{t:?} is too large"))
                .and_then(whole),
            TimeValue::Text(t) => {
                let parsed = time::OffsetDateTime::parse(
                    t,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|_| {
                    format!(
                        "{t:?} is not an RFC 3339 time (like 2026-11-26T10:00:00Z) or seconds since the epoch"
                    )
                })?;
                let secs =
                    i128::from(parsed.unix_timestamp()) + i128::from(parsed.nanosecond() > 0);
                whole(secs).map_err(|_| format!("{t:?} is before 1970 or after the year 9999"))
            }
        }
    }
}

impl Serialize for TimeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TimeValue::Integer(n) => match i64::try_from(*n) {
                Ok(n) => serializer.serialize_i64(n),
                Err(_) => serializer.serialize_str(&n.to_string()),
            },
            TimeValue::Float(f) => serializer.serialize_f64(*f),
            TimeValue::Text(t) => serializer.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for TimeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;
        impl Visitor<'_> for TimeVisitor {
            type Value = TimeValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an RFC 3339 time or seconds since the epoch")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeValue, E> {
                Ok(TimeValue::Integer(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeValue, E> {
                Ok(TimeValue::Integer(v.into()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<TimeValue, E> {
                Ok(TimeValue::Integer(i128::try_from(v).unwrap_or(i128::MAX)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<TimeValue, E> {
                Ok(TimeValue::Integer(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TimeValue, E> {
                Ok(TimeValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeValue, E> {
                Ok(TimeValue::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(TimeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_epoch_seconds() {
        let text = |t: &str| TimeValue::Text(t.to_owned()).seconds();
        assert_eq!(text("2026-11-26T10:00:00Z"), Ok(1_795_687_200));
        assert_eq!(text("2026-11-26T11:00:00+01:00"), Ok(1_795_687_200));
        // A fraction rounds up: iat 10:00:00 is before 10:00:00.5.
        assert_eq!(text("2026-11-26T10:00:00.5Z"), Ok(1_795_687_201));
        assert_eq!(text("1795687200"), Ok(1_795_687_200));
        assert_eq!(
            TimeValue::Integer(1_795_687_200).seconds(),
            Ok(1_795_687_200)
        );
        assert_eq!(TimeValue::Float(1.7956872e9).seconds(), Ok(1_795_687_200));
        for bad in [
            text("2026-11-26"),
            text("2026-11-26T10:00:00"),
            text("2026-13-01T00:00:00Z"),
            text("yesterday"),
            text(""),
            text("1969-12-31T23:59:59Z"),
            text("99999999999999999999999999999999999999999"),
            TimeValue::Integer(-1).seconds(),
            TimeValue::Integer(i128::from(MAX_SECONDS) + 1).seconds(),
            TimeValue::Float(1.5).seconds(),
            TimeValue::Float(f64::NAN).seconds(),
        ] {
            assert!(bad.is_err(), "{bad:?}");
        }
    }
}
