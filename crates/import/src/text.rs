//! Strings from a source file, with the parts that only deployment would know.
//!
//! A provider ARN written `!Sub arn:aws:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${PoolId}`
//! is partly known now and partly not. Keeping the unknown parts as named holes (instead of
//! failing, or worse, guessing) lets the importer use what is known (here: nothing of the
//! pool id, so a placeholder) and say precisely what is not.

use std::fmt;

/// One piece of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Known(String),
    /// What the value depends on, for the report: `parameter PoolArn`, `AWS::Region`, ...
    Unknown(String),
}

/// A string whose parts may be unknown until deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(Vec<Part>);

impl Text {
    /// A fully known string.
    pub(crate) fn known(s: impl Into<String>) -> Self {
        Text(vec![Part::Known(s.into())])
    }

    /// A value known only at deployment; `what` names what it depends on.
    pub(crate) fn unknown(what: impl Into<String>) -> Self {
        Text(vec![Part::Unknown(what.into())])
    }

    /// Appends `other`.
    pub(crate) fn push(&mut self, other: Text) {
        for part in other.0 {
            match (self.0.last_mut(), part) {
                (Some(Part::Known(a)), Part::Known(b)) => a.push_str(&b),
                (_, part) => self.0.push(part),
            }
        }
    }

    /// The string, when every part of it is known.
    pub(crate) fn as_known(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Known(s) => out.push_str(s),
                Part::Unknown(_) => return None,
            }
        }
        Some(out)
    }

    /// What the unknown parts depend on, in order.
    pub(crate) fn unknowns(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Unknown(w) => Some(w.as_str()),
                Part::Known(_) => None,
            })
            .collect()
    }

    /// Each known part rewritten by `f` (which may open holes in it), unknown parts kept:
    /// for transformations a deployment tool applies to literal text only.
    pub(crate) fn map_known(&self, mut f: impl FnMut(&str) -> Text) -> Text {
        let mut out = Text::default();
        for part in &self.0 {
            match part {
                Part::Known(s) => out.push(f(s)),
                Part::Unknown(w) => out.0.push(Part::Unknown(w.clone())),
            }
        }
        out
    }

    /// The first two fields of the text split on single spaces, as JavaScript's
    /// `split(' ')` gives them (`GET ${sls:stage}/version` → `GET`, `<stage>/version`;
    /// `GET  /x` → `GET`, the empty string), when the first space is in a known first part.
    pub(crate) fn first_two_fields(&self) -> Option<(String, Text)> {
        let Some(Part::Known(first)) = self.0.first() else {
            return None;
        };
        let (word, rest) = first.split_once(' ')?;
        let mut second = Text::default();
        for part in std::iter::once(Part::Known(rest.to_owned())).chain(self.0[1..].iter().cloned())
        {
            match part {
                Part::Known(s) => match s.split_once(' ') {
                    Some((end, _)) => {
                        second.push(Text::known(end));
                        break;
                    }
                    None => second.push(Text::known(s)),
                },
                unknown => second.0.push(unknown),
            }
        }
        second
            .0
            .retain(|p| !matches!(p, Part::Known(s) if s.is_empty()));
        Some((word.to_owned(), second))
    }

    /// Without one `c` at its very start and one at its very end, where those are known.
    pub(crate) fn strip_once(&self, c: char) -> Text {
        let mut parts = self.0.clone();
        if let Some(Part::Known(s)) = parts.first_mut()
            && s.starts_with(c)
        {
            s.remove(0);
        }
        if let Some(Part::Known(s)) = parts.last_mut()
            && s.ends_with(c)
        {
            s.pop();
        }
        parts.retain(|p| !matches!(p, Part::Known(s) if s.is_empty()));
        Text(parts)
    }

    /// The known text with each unknown part replaced by `hole`, and the unknowns in order:
    /// lets callers parse structure (an ARN's fields) around the holes.
    pub(crate) fn with_holes(&self, hole: char) -> (String, Vec<&str>) {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Known(s) => out.push_str(s),
                Part::Unknown(_) => out.push(hole),
            }
        }
        (out, self.unknowns())
    }
}

impl fmt::Display for Text {
    /// Known parts as written, unknown ones as `<what>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.0 {
            match part {
                Part::Known(s) => f.write_str(s)?,
                Part::Unknown(w) => write!(f, "<{w}>")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_known_parts_and_keeps_holes() {
        let mut t = Text::known("arn:");
        t.push(Text::known("aws:"));
        t.push(Text::unknown("AWS::Region"));
        t.push(Text::known(":x"));
        assert_eq!(t.as_known(), None);
        assert_eq!(t.unknowns(), ["AWS::Region"]);
        assert_eq!(t.to_string(), "arn:aws:<AWS::Region>:x");
        assert_eq!(t.with_holes('\0').0, "arn:aws:\0:x");
        assert_eq!(Text::known("a").as_known().as_deref(), Some("a"));
        assert_eq!(Text::known("/a/").strip_once('/').to_string(), "a");
        assert_eq!(Text::known("//").strip_once('/').to_string(), "");
        let mut v = Text::known("/");
        v.push(Text::unknown("base"));
        v.push(Text::known("/x//"));
        assert_eq!(v.strip_once('/').to_string(), "<base>/x/");
        assert_eq!(v.first_two_fields(), None);
        let mut short = Text::known("GET ");
        short.push(Text::unknown("stage"));
        short.push(Text::known("/version extra"));
        let (word, rest) = short.first_two_fields().unwrap();
        assert_eq!(
            (word.as_str(), rest.to_string()),
            ("GET", "<stage>/version".to_owned())
        );
        let (word, rest) = Text::known("GET  /x").first_two_fields().unwrap();
        assert_eq!((word.as_str(), rest.to_string()), ("GET", String::new()));
        let mapped = t.map_known(|s| Text::known(s.to_uppercase()));
        assert_eq!(mapped.to_string(), "ARN:AWS:<AWS::Region>:X");
    }
}
