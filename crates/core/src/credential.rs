//! Reading the access token out of the configured request header.
//!
//! Like API Gateway's identity source: the header holds either the bare JWT or
//! `Bearer <jwt>` (scheme case-insensitive). Anything ambiguous (the header sent twice,
//! another scheme, extra words) is treated as no token at all, never guessed at.

use thiserror::Error;

/// Why no token could be read from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum NoToken {
    /// The request has no token header.
    #[error("token header is missing")]
    Missing,
    /// The header is empty, blank, or `Bearer` alone.
    #[error("token header is empty")]
    Empty,
    /// The header was sent more than once (or its value holds a `,`, the way Envoy joins
    /// repeated headers).
    #[error("token header has several values")]
    Several,
    /// The value is neither a bare token nor `Bearer <token>`: another scheme (`Basic ...`)
    /// or more words.
    #[error("token header uses a scheme other than Bearer")]
    OtherScheme,
    /// The value is not UTF-8 (only possible with raw headers).
    #[error("token header is not valid text")]
    NotText,
}

impl NoToken {
    /// A short stable label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            NoToken::Missing => "missing",
            NoToken::Empty => "empty",
            NoToken::Several => "several_values",
            NoToken::OtherScheme => "other_scheme",
            NoToken::NotText => "not_text",
        }
    }
}

/// The request headers as Envoy sent them.
#[derive(Debug, Clone)]
pub enum Headers {
    /// `attributes.request.http.headers`: lowercase names, repeated headers joined by `,`.
    Joined(std::collections::HashMap<String, String>),
    /// `header_map` (Envoy's `encode_raw_headers: true`): one entry per header line.
    Raw(Vec<(String, Vec<u8>)>),
}

impl Default for Headers {
    fn default() -> Self {
        Headers::Joined(Default::default())
    }
}

impl Headers {
    /// The one value of header `name` (lowercase), as text.
    fn single(&self, name: &str) -> Result<&str, NoToken> {
        match self {
            Headers::Joined(map) => map.get(name).map(String::as_str).ok_or(NoToken::Missing),
            Headers::Raw(list) => {
                let mut values = list.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
                let (_, value) = values.next().ok_or(NoToken::Missing)?;
                if values.next().is_some() {
                    return Err(NoToken::Several);
                }
                std::str::from_utf8(value).map_err(|_| NoToken::NotText)
            }
        }
    }

    /// The first value of header `name` (lowercase), as bytes.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        match self {
            Headers::Joined(map) => map.get(name).map(String::as_bytes),
            Headers::Raw(list) => list
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_slice()),
        }
    }

    /// Calls `f` with each header name (as Envoy sent it: lower case).
    pub fn for_each_name(&self, mut f: impl FnMut(&str)) {
        match self {
            Headers::Joined(map) => map.keys().for_each(|k| f(k)),
            Headers::Raw(list) => list.iter().for_each(|(k, _)| f(k)),
        }
    }
}

/// The token carried by header `name` (lowercase).
pub fn bearer_token<'a>(headers: &'a Headers, name: &'a str) -> Result<&'a str, NoToken> {
    let value = headers.single(name)?.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(NoToken::Empty);
    }
    // Envoy joins repeated headers with ','; a JWT never contains one.
    if value.contains(',') {
        return Err(NoToken::Several);
    }
    // One word (a bare token, or the scheme alone) or two (scheme and token), split at
    // spaces and tabs; read byte by byte, as a token is a kilobyte or more of text.
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    match value.as_bytes().iter().position(blank) {
        None if value.eq_ignore_ascii_case("bearer") => Err(NoToken::Empty),
        None => Ok(value),
        Some(end) => {
            // Not empty: `value` ends in neither a space nor a tab.
            let token = value[end..].trim_start_matches([' ', '\t']);
            // A vectorised search: this is the one pass over the whole token.
            if !value[..end].eq_ignore_ascii_case("bearer")
                || memchr::memchr2(b' ', b'\t', token.as_bytes()).is_some()
            {
                return Err(NoToken::OtherScheme);
            }
            Ok(token)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(pairs: &[(&str, &str)]) -> Headers {
        Headers::Joined(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The rule as words: split at spaces and tabs, one word is the token (or the scheme
    /// alone), two are `Bearer` and the token, anything else another scheme.
    fn by_words(value: &str) -> Result<&str, NoToken> {
        let mut words = value.split([' ', '\t']).filter(|w| !w.is_empty());
        match (words.next(), words.next(), words.next()) {
            (None, ..) => Err(NoToken::Empty),
            (Some(s), None, None) if s.eq_ignore_ascii_case("bearer") => Err(NoToken::Empty),
            (Some(token), None, None) => Ok(token),
            (Some(s), Some(token), None) if s.eq_ignore_ascii_case("bearer") => Ok(token),
            _ => Err(NoToken::OtherScheme),
        }
    }

    proptest::proptest! {
        #[test]
        fn the_token_is_the_word_after_bearer(value in "[ \t]{0,2}((?i:bearer)|Basic|x|a\\.b)?([ \t]{1,3}(x\\.y|(?i:bearer)|z)){0,3}[ \t]{0,2}") {
            let h = joined(&[("authorization", value.as_str())]);
            let want = if value.contains(',') { Err(NoToken::Several) } else { by_words(&value) };
            proptest::prop_assert_eq!(bearer_token(&h, "authorization"), want, "{:?}", value);
        }
    }

    #[test]
    fn reads_bare_and_bearer_tokens() {
        for value in [
            "a.b.c",
            "Bearer a.b.c",
            "bearer a.b.c",
            "BEARER  a.b.c",
            " a.b.c ",
        ] {
            let h = joined(&[("authorization", value)]);
            assert_eq!(bearer_token(&h, "authorization"), Ok("a.b.c"), "{value:?}");
        }
        let raw = Headers::Raw(vec![("Authorization".into(), b"Bearer a.b.c".to_vec())]);
        assert_eq!(bearer_token(&raw, "authorization"), Ok("a.b.c"));
        let custom = joined(&[("x-token", "a.b.c")]);
        assert_eq!(bearer_token(&custom, "x-token"), Ok("a.b.c"));
        assert_eq!(
            bearer_token(&custom, "authorization"),
            Err(NoToken::Missing)
        );
    }

    #[test]
    fn anything_ambiguous_is_no_token() {
        let cases = [
            ("", NoToken::Empty),
            ("   ", NoToken::Empty),
            ("Bearer", NoToken::Empty),
            ("Basic dXNlcjpwYXNz", NoToken::OtherScheme),
            ("Bearer a.b.c extra", NoToken::OtherScheme),
            ("Bearer a.b.c,Bearer d.e.f", NoToken::Several),
        ];
        for (value, want) in cases {
            let h = joined(&[("authorization", value)]);
            assert_eq!(bearer_token(&h, "authorization"), Err(want), "{value:?}");
        }
        let twice = Headers::Raw(vec![
            ("authorization".into(), b"a.b.c".to_vec()),
            ("authorization".into(), b"d.e.f".to_vec()),
        ]);
        assert_eq!(bearer_token(&twice, "authorization"), Err(NoToken::Several));
        let binary = Headers::Raw(vec![("authorization".into(), vec![0xff, 0xfe])]);
        assert_eq!(
            bearer_token(&binary, "authorization"),
            Err(NoToken::NotText)
        );
    }
}
