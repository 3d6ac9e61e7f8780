//! Reducing the request's `:authority` to the host routes are matched on.
//!
//! Envoy picks a virtual host from the `:authority` as sent; istiod generates each virtual
//! host's domains as `["api.example.com", "api.example.com:*"]`, so `api.example.com:abc`
//! or `api.example.com:443.` still reach the `api.example.com` virtual host. If this
//! service read such a form as some other host, a request could be routed to one
//! application by Envoy and authorized against another application's route here. So only
//! forms with one unambiguous meaning are reduced (case folded, a decimal port dropped);
//! everything else is refused with 400 and never guessed at.

use thiserror::Error;

/// Hosts longer than this are refused (DNS names are at most 253 characters).
const MAX_HOST_BYTES: usize = 255;

/// Why an `:authority` cannot be reduced to one host (answered with 400 Bad Request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BadHost {
    /// The `:authority` is not UTF-8.
    #[error("host is not valid UTF-8")]
    NotUtf8,
    /// Longer than 255 bytes (a DNS name is at most 253).
    #[error("host is too long")]
    TooLong,
    /// It holds an `@` (`user@host`): userinfo, which no host to route on has.
    #[error("host has userinfo ('@')")]
    UserInfo,
    /// The port after `:` is empty, not 1 to 5 decimal digits, or above 65535 (`h:abc`,
    /// `h:443.`, `h:`), forms Envoy may still route to the virtual host `h`.
    #[error("host has a port that is empty or not decimal")]
    BadPort,
    /// The name holds a byte other than ASCII letters, digits, `-`, `_` and `.`.
    #[error("host has a character that is not allowed in a host name")]
    BadCharacter,
    /// The name ends with `.` (`api.example.com.`), which Envoy routes apart from the
    /// name without it.
    #[error("host ends with '.'")]
    TrailingDot,
    /// Two dots in a row, or a leading dot (`a..b`, `.example.com`).
    #[error("host has an empty label")]
    EmptyLabel,
    /// A `[...]` that is not a bracketed IPv6 address (unclosed, empty, without `:`, with
    /// other characters, or followed by something other than a port).
    #[error("host has a malformed IPv6 literal")]
    BadIpLiteral,
}

impl BadHost {
    /// A short stable label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            BadHost::NotUtf8 => "not_utf8",
            BadHost::TooLong => "too_long",
            BadHost::UserInfo => "userinfo",
            BadHost::BadPort => "bad_port",
            BadHost::BadCharacter => "bad_character",
            BadHost::TrailingDot => "trailing_dot",
            BadHost::EmptyLabel => "empty_label",
            BadHost::BadIpLiteral => "bad_ip_literal",
        }
    }
}

/// The host to match routes on: lower case, without a decimal port.
///
/// `API.Example.com:8443` → `api.example.com`, `[::1]:80` → `::1`, and an empty
/// `:authority` (which only matches routes without `hosts`) stays empty. Refused: userinfo,
/// an empty or non-decimal port, a trailing dot (Envoy routes `api.example.com.` apart from
/// `api.example.com` unless told otherwise), empty labels, and any byte outside letters,
/// digits, `-`, `_` and `.`.
pub fn normalize(raw: &[u8]) -> Result<String, BadHost> {
    let raw = std::str::from_utf8(raw).map_err(|_| BadHost::NotUtf8)?;
    if raw.len() > MAX_HOST_BYTES {
        return Err(BadHost::TooLong);
    }
    if raw.contains('@') {
        return Err(BadHost::UserInfo);
    }
    if raw.is_empty() {
        return Ok(String::new());
    }
    if let Some(rest) = raw.strip_prefix('[') {
        let (literal, after) = rest.split_once(']').ok_or(BadHost::BadIpLiteral)?;
        if !after.is_empty() {
            port(after.strip_prefix(':').ok_or(BadHost::BadIpLiteral)?)?;
        }
        let ok = !literal.is_empty()
            && literal.contains(':')
            && literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        return if ok {
            Ok(literal.to_ascii_lowercase())
        } else {
            Err(BadHost::BadIpLiteral)
        };
    }
    let name = match raw.split_once(':') {
        Some((name, p)) => {
            port(p)?;
            name
        }
        None => raw,
    };
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(BadHost::BadCharacter);
    }
    if name.ends_with('.') {
        return Err(BadHost::TrailingDot);
    }
    if name.split('.').any(str::is_empty) {
        return Err(BadHost::EmptyLabel);
    }
    Ok(name.to_ascii_lowercase())
}

/// A port: 1 to 5 decimal digits, at most 65535.
fn port(p: &str) -> Result<(), BadHost> {
    let decimal = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if decimal && p.parse::<u32>().is_ok_and(|n| n <= 65_535) {
        Ok(())
    } else {
        Err(BadHost::BadPort)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalize(raw.as_bytes()).unwrap()
    }

    #[test]
    fn the_same_host_in_any_form_is_one_host() {
        assert_eq!(ok("API.Example.com"), "api.example.com");
        assert_eq!(ok("api.example.com:8443"), "api.example.com");
        assert_eq!(ok("api.example.com:0443"), "api.example.com");
        assert_eq!(ok("[::1]:80"), "::1");
        assert_eq!(ok("[::FFFF:127.0.0.1]"), "::ffff:127.0.0.1");
        assert_eq!(ok("127.0.0.1:9000"), "127.0.0.1");
        assert_eq!(ok("my_host"), "my_host");
        assert_eq!(ok(""), "");
        let longest = "a".repeat(MAX_HOST_BYTES);
        assert_eq!(ok(&longest), longest);
    }

    #[test]
    fn ambiguous_forms_are_refused() {
        let cases = [
            ("admin.example.com:abc", BadHost::BadPort),
            ("admin.example.com:443.", BadHost::BadPort),
            ("admin.example.com:", BadHost::BadPort),
            ("admin.example.com:99999", BadHost::BadPort),
            ("admin.example.com:123456", BadHost::BadPort),
            // At most five digits, even when the number is a valid port.
            ("admin.example.com:000443", BadHost::BadPort),
            ("admin.example.com:+443", BadHost::BadPort),
            ("a:1:2", BadHost::BadPort),
            ("user@admin.example.com", BadHost::UserInfo),
            ("admin.example.com.", BadHost::TrailingDot),
            ("admin..example.com", BadHost::EmptyLabel),
            (".example.com", BadHost::EmptyLabel),
            ("admin.example.com ", BadHost::BadCharacter),
            ("a b", BadHost::BadCharacter),
            ("a.example.com,b.example.com", BadHost::BadCharacter),
            ("a%2eexample.com", BadHost::BadCharacter),
            ("a\\b", BadHost::BadCharacter),
            ("[::1", BadHost::BadIpLiteral),
            ("[::1]x", BadHost::BadIpLiteral),
            ("[::1]:", BadHost::BadPort),
            ("[]", BadHost::BadIpLiteral),
            // No ':', so not an IPv6 literal (an IPv4 address is never bracketed).
            ("[1.2.3.4]", BadHost::BadIpLiteral),
            ("[v1.x]", BadHost::BadIpLiteral),
            ("[fe80::1%25eth0]", BadHost::BadIpLiteral),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw.as_bytes()), Err(want), "{raw:?}");
        }
        assert_eq!(normalize(&[0x61, 0xff]), Err(BadHost::NotUtf8));
        assert_eq!(
            normalize("a".repeat(MAX_HOST_BYTES + 1).as_bytes()),
            Err(BadHost::TooLong)
        );
    }
}
