//! Turning the request's `:path` into segments that are safe to match.
//!
//! Envoy hands us the path with its query string and exactly as the client sent it. The
//! upstream will percent-decode it, so we match on the decoded segments; anything whose
//! meaning could differ between us and the upstream (dot segments, encoded `/` or `\`,
//! broken percent-encoding, control characters, empty segments, `;` path parameters) is
//! refused with 400 rather than guessed at, so a path can never be matched one way here
//! and served another (docs/security.md, "Decisions that refuse ambiguity", says why each
//! form matters).

use std::borrow::Cow;
use thiserror::Error;

/// The most segments a matchable path may have; longer paths are refused.
const MAX_SEGMENTS: usize = 128;

/// Why a path cannot be matched safely (answered with 400 Bad Request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UnsafePath {
    /// The path does not start with `/` (`*`, an empty path, a path without its slash).
    #[error("path does not start with '/'")]
    NotAbsolute,
    /// A `.` or `..` segment, raw or percent-encoded (`%2e%2e`), which an upstream resolves.
    #[error("path has a '.' or '..' segment")]
    DotSegment,
    /// A `%2F` or `%5C`, one segment here and perhaps a separator upstream.
    #[error("path has an encoded '/' or '\\'")]
    EncodedSeparator,
    /// A raw `\`, which some servers read as `/`.
    #[error("path has a backslash")]
    Backslash,
    /// A `%` not followed by two hexadecimal digits.
    #[error("path has invalid percent-encoding")]
    BadEncoding,
    /// A segment whose percent-decoded bytes are not UTF-8.
    #[error("path decodes to invalid UTF-8")]
    NotUtf8,
    /// A control character, raw or percent-encoded (`%00`, `%0d%0a`).
    #[error("path has a control character")]
    ControlCharacter,
    /// An empty segment (`//`), which upstreams merge or keep as they please.
    #[error("path has an empty segment ('//')")]
    EmptySegment,
    /// More than 128 segments.
    #[error("path has too many segments")]
    TooLong,
    /// A `;`, raw or `%3B`: Tomcat, Jetty and Spring strip `;...` from a segment before
    /// they route.
    #[error("path has a ';' path parameter")]
    PathParameter,
    /// A `#` before the query string: a request target has none, and an upstream might
    /// cut the path there.
    #[error("path has a '#' fragment")]
    Fragment,
    /// A segment that a server decoding it a second time would read as a dot segment, or
    /// find a separator, `;` or control character in (`%252e%252e`, `%252f`).
    #[error("path decoded twice would hold a dot segment, a separator or a control character")]
    DoubleEncoded,
}

impl UnsafePath {
    /// A short stable label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            UnsafePath::NotAbsolute => "not_absolute",
            UnsafePath::DotSegment => "dot_segment",
            UnsafePath::EncodedSeparator => "encoded_separator",
            UnsafePath::Backslash => "backslash",
            UnsafePath::BadEncoding => "bad_encoding",
            UnsafePath::NotUtf8 => "not_utf8",
            UnsafePath::ControlCharacter => "control_character",
            UnsafePath::EmptySegment => "empty_segment",
            UnsafePath::TooLong => "too_long",
            UnsafePath::PathParameter => "path_parameter",
            UnsafePath::Fragment => "fragment",
            UnsafePath::DoubleEncoded => "double_encoded",
        }
    }
}

/// The part of a request target before any query string or fragment.
pub fn without_query(raw: &str) -> &str {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    &raw[..end]
}

/// Splits a request path (query string allowed) into decoded segments.
///
/// `/` gives no segments; one trailing slash is ignored (`/users/` is `/users`), as most
/// upstream frameworks do, so a route can not be sidestepped by adding one.
pub fn segments(raw: &str) -> Result<Vec<Cow<'_, str>>, UnsafePath> {
    let path = &raw[..raw.find('?').unwrap_or(raw.len())];
    // A request target has no fragment; an upstream might read `/a#/../b` as a path.
    if path.contains('#') {
        return Err(UnsafePath::Fragment);
    }
    let rest = path.strip_prefix('/').ok_or(UnsafePath::NotAbsolute)?;
    if path.contains('\\') {
        return Err(UnsafePath::Backslash);
    }
    if path.contains(';') {
        return Err(UnsafePath::PathParameter);
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(8);
    for raw_segment in rest.split('/') {
        if out.len() == MAX_SEGMENTS {
            return Err(UnsafePath::TooLong);
        }
        if raw_segment.is_empty() {
            return Err(UnsafePath::EmptySegment);
        }
        let segment = decode(raw_segment)?;
        if segment == "." || segment == ".." {
            return Err(UnsafePath::DotSegment);
        }
        out.push(segment);
    }
    Ok(out)
}

/// Where a request path could lead, read by any upstream: what dry run consults before it
/// lets an unsafe request through (docs/security.md), so that it never opens an enforcing route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reach<'a> {
    /// Segments every reading starts with.
    pub(crate) prefix: Vec<Cow<'a, str>>,
    /// Whether a reading may go on below `prefix` (any number of segments, or none);
    /// otherwise every reading is exactly `prefix`.
    pub(crate) below: bool,
}

/// The paths an upstream could read `raw` as: exactly its segments when it is safe and
/// nothing in it could be decoded again (`%25`); otherwise its leading segments that every server reads alike (decoded cleanly and for
/// good: no `%` left, no `;`, `\`, `#`, dot segment or empty segment) and anything below
/// them, whether the rest is read with `;...` stripped or cut, `\` or an encoded separator
/// taken as `/`, `//` merged, or cut at `#`. When the rest holds a `.` or a `%`, some
/// reading of it may climb (`..`, `..;`, `%2e%2e`, `%2e%2e%2f` decoded once or twice):
/// any path at all.
pub(crate) fn reach(raw: &str) -> Reach<'_> {
    if let Ok(prefix) = segments(raw)
        && !prefix.iter().any(|s| s.contains('%'))
    {
        return Reach {
            prefix,
            below: false,
        };
    }
    let anywhere = Reach {
        prefix: Vec::new(),
        below: true,
    };
    let path = &raw[..raw.find('?').unwrap_or(raw.len())];
    let Some(rest) = path.strip_prefix('/') else {
        return anywhere;
    };
    let mut prefix = Vec::new();
    let mut tail = "";
    let mut offset = 0;
    for raw_segment in rest.split('/') {
        let segment = decode(raw_segment)
            .ok()
            // A `%` left after decoding could be decoded again (`%252e%252e`).
            .filter(|s| !raw_segment.is_empty() && s != "." && s != ".." && !s.contains('%'))
            .filter(|_| !raw_segment.contains([';', '\\', '#']));
        match segment {
            Some(segment) if prefix.len() < MAX_SEGMENTS => prefix.push(segment),
            _ => {
                tail = &rest[offset..];
                break;
            }
        }
        offset += raw_segment.len() + 1;
    }
    if tail.contains(['.', '%']) {
        return anywhere;
    }
    Reach {
        prefix,
        below: true,
    }
}

/// Percent-decodes one segment, refusing what could change the path's structure.
fn decode(segment: &str) -> Result<Cow<'_, str>, UnsafePath> {
    if segment.bytes().any(|b| b.is_ascii_control()) {
        return Err(UnsafePath::ControlCharacter);
    }
    if !segment.contains('%') {
        return Ok(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex(*b));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(UnsafePath::BadEncoding);
            };
            let byte = hi << 4 | lo;
            match byte {
                b'/' | b'\\' => return Err(UnsafePath::EncodedSeparator),
                // Some servers decode before they strip path parameters.
                b';' => return Err(UnsafePath::PathParameter),
                b if b.is_ascii_control() => return Err(UnsafePath::ControlCharacter),
                b => out.push(b),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| UnsafePath::NotUtf8)?;
    if decodes_again_to_something_unsafe(&decoded) {
        return Err(UnsafePath::DoubleEncoded);
    }
    Ok(Cow::Owned(decoded))
}

/// Whether a server that decodes a segment twice (some frameworks and file servers do)
/// would read it as a dot segment, or find a separator, `;` or control character in it:
/// `%252e%252e` is the segment `%2e%2e` here, and `..` there.
fn decodes_again_to_something_unsafe(segment: &str) -> bool {
    if !segment.contains('%') {
        return false;
    }
    let bytes = segment.as_bytes();
    let mut again = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? << 4 | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(b'/' | b'\\' | b';') => return true,
            Some(b) if b.is_ascii_control() => return true,
            Some(b) => {
                again.push(b);
                i += 3;
            }
            None => {
                again.push(bytes[i]);
                i += 1;
            }
        }
    }
    again == b"." || again == b".."
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_second_decoding_would_make_unsafe_is_refused() {
        for raw in [
            "/public/%252e%252e/admin",
            "/public/%252E%252e/admin",
            "/public/%252e/admin",
            "/a%252fb",
            "/a%255cb",
            "/a%253bx",
            "/a%2500b",
        ] {
            assert_eq!(segments(raw), Err(UnsafePath::DoubleEncoded), "{raw}");
        }
        // A literal percent, or a second decoding that leaves a harmless segment, is fine.
        for (raw, want) in [
            ("/files/100%25", vec!["files", "100%"]),
            ("/a%252eb", vec!["a%2eb"]),
            ("/x/%2541", vec!["x", "%41"]),
            ("/x/%252e%252e%252e", vec!["x", "%2e%2e%2e"]),
            ("/x/%25zz", vec!["x", "%zz"]),
        ] {
            let got: Vec<String> = segments(raw)
                .unwrap_or_else(|e| panic!("{raw}: {e}"))
                .into_iter()
                .map(|s| s.into_owned())
                .collect();
            assert_eq!(got, want, "{raw}");
        }
    }

    fn ok(raw: &str) -> Vec<String> {
        segments(raw)
            .unwrap()
            .into_iter()
            .map(|s| s.into_owned())
            .collect()
    }

    #[test]
    fn splits_and_decodes() {
        assert_eq!(ok("/"), Vec::<String>::new());
        assert_eq!(ok("/users/42"), ["users", "42"]);
        assert_eq!(ok("/users/42/"), ["users", "42"]);
        assert_eq!(ok("/us%65rs/a%20b"), ["users", "a b"]);
        assert_eq!(ok("/caf%C3%A9"), ["café"]);
        assert_eq!(ok("/users?x=/../y#frag"), ["users"]);
        assert_eq!(ok("/a.b/..c/.d"), ["a.b", "..c", ".d"]);
    }

    #[test]
    fn refuses_unsafe_paths() {
        let cases = [
            ("users", UnsafePath::NotAbsolute),
            ("", UnsafePath::NotAbsolute),
            ("*", UnsafePath::NotAbsolute),
            ("/a/../admin", UnsafePath::DotSegment),
            ("/a/./b", UnsafePath::DotSegment),
            ("/..", UnsafePath::DotSegment),
            ("/a/%2e%2E/b", UnsafePath::DotSegment),
            ("/a/%2E", UnsafePath::DotSegment),
            ("/a%2Fb", UnsafePath::EncodedSeparator),
            ("/a%2fb", UnsafePath::EncodedSeparator),
            ("/a%5Cb", UnsafePath::EncodedSeparator),
            ("/a\\b", UnsafePath::Backslash),
            ("/a%zzb", UnsafePath::BadEncoding),
            ("/a%2", UnsafePath::BadEncoding),
            ("/a%", UnsafePath::BadEncoding),
            ("/a%ff", UnsafePath::NotUtf8),
            ("/a%00b", UnsafePath::ControlCharacter),
            ("/a%0d%0a", UnsafePath::ControlCharacter),
            ("/a\tb", UnsafePath::ControlCharacter),
            ("//users", UnsafePath::EmptySegment),
            ("/a//b", UnsafePath::EmptySegment),
            ("/files/admin;x/secret", UnsafePath::PathParameter),
            ("/files;/x", UnsafePath::PathParameter),
            ("/files/x;jsessionid=1", UnsafePath::PathParameter),
            ("/files/admin%3Bx/secret", UnsafePath::PathParameter),
            ("/files/admin%3bx", UnsafePath::PathParameter),
            ("/public#/../admin", UnsafePath::Fragment),
            ("/public#x?y", UnsafePath::Fragment),
        ];
        for (raw, want) in cases {
            assert_eq!(segments(raw), Err(want), "{raw:?}");
        }
        let long = "/a".repeat(MAX_SEGMENTS + 1);
        assert_eq!(segments(&long), Err(UnsafePath::TooLong));
        assert_eq!(ok(&"/a".repeat(MAX_SEGMENTS)).len(), MAX_SEGMENTS);
    }

    fn reach_of(raw: &str) -> (Vec<String>, bool) {
        let r = reach(raw);
        (r.prefix.into_iter().map(Cow::into_owned).collect(), r.below)
    }

    #[test]
    fn an_unsafe_path_reaches_below_its_clean_leading_segments() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Safe: exactly its segments.
        assert_eq!(reach_of("/users/42/"), (s(&["users", "42"]), false));
        // Safe, but `%252e%252e` decoded twice is `..`: anywhere.
        assert_eq!(reach_of("/users/%252e%252e/admin"), (Vec::new(), true));
        // `;x` stripped or cut, `\\` or `//` read as one separator, `#` cut: below.
        for (raw, prefix) in [
            ("/users/a;b", &["users"][..]),
            ("/us%65rs/7;jsessionid=1?next=../admin", &["users"]),
            ("/users/a;b/c", &["users"]),
            ("/users/a\\b", &["users"]),
            ("/users//admin", &["users"]),
            ("/users/a#b", &["users"]),
            ("/users/7//", &["users", "7"]),
            ("/admin;x/secret", &[]),
        ] {
            assert_eq!(reach_of(raw), (s(prefix), true), "{raw}");
        }
        // A `.` or `%` after the clean part may climb, read by some upstream: anywhere.
        for raw in [
            "/users/x/..;/admin",
            "/users/a;b/..",
            "/users/%2e%2e%2fadmin",
            "/users/%252e%252e/admin;x",
            "/users/a;b.json",
            "/users/./a;b",
            "/users#/../admin",
            "users",
            "*",
            "",
        ] {
            assert_eq!(reach_of(raw), (Vec::new(), true), "{raw}");
        }
        let long = "/a".repeat(MAX_SEGMENTS + 1);
        let (prefix, below) = reach_of(&long);
        assert_eq!((prefix.len(), below), (MAX_SEGMENTS, true));
    }
}
