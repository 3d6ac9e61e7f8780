//! Tying one check to the request it authorizes: the W3C `traceparent` the proxy passed
//! and Envoy's `x-request-id`, read from the request's headers without trusting them (a
//! malformed or oversized value is left out, never cut or guessed).

/// Longest `traceparent` looked at, in bytes (a future version may append fields).
const MAX_TRACEPARENT_BYTES: usize = 512;

/// Longest `x-request-id` logged, in bytes. Envoy's own ids are 36-byte UUIDs; a longer
/// value is not an id Envoy made, and is left out rather than cut (a cut id matches nothing).
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The ids that tie one check to Envoy's access log and to the request's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Correlation {
    /// `x-request-id`, when it is 1 to [`MAX_REQUEST_ID_BYTES`] visible ASCII characters.
    pub request_id: Option<String>,
    /// The request's W3C `traceparent`, when it is well-formed.
    pub trace: Option<TraceParent>,
}

impl Correlation {
    /// Reads `x-request-id` and `traceparent` out of `(name, value)` header pairs (names in
    /// any case; the first of each wins, as with [`crate::credential::Headers::value`]).
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut request_id = None;
        let mut traceparent = None;
        for (name, value) in headers {
            if request_id.is_none() && name.eq_ignore_ascii_case(b"x-request-id") {
                request_id = Some(value);
            } else if traceparent.is_none() && name.eq_ignore_ascii_case(b"traceparent") {
                traceparent = Some(value);
            }
            if request_id.is_some() && traceparent.is_some() {
                break;
            }
        }
        Correlation {
            request_id: request_id.and_then(valid_request_id).map(str::to_owned),
            trace: traceparent.and_then(TraceParent::parse),
        }
    }
}

/// `value` as a request id: 1 to [`MAX_REQUEST_ID_BYTES`] visible ASCII characters
/// (`!` to `~`), or nothing.
fn valid_request_id(value: &[u8]) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_BYTES
        && value.iter().all(|b| (0x21..=0x7e).contains(b));
    // All ASCII, so always UTF-8.
    ok.then(|| std::str::from_utf8(value).ok()).flatten()
}

/// A well-formed W3C `traceparent`: `version-traceid-parentid-flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    trace_hex: [u8; 32],
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value as the W3C Trace Context spec says: lower-case hex, a
    /// version other than `ff`, trace and parent ids not all zeros, exactly 55 bytes for
    /// version `00` (a later version may append `-` and more). Anything else is `None`.
    pub fn parse(value: &[u8]) -> Option<Self> {
        if value.len() < 55 || value.len() > MAX_TRACEPARENT_BYTES {
            return None;
        }
        if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return None;
        }
        let version = hex_byte(&value[0..2])?;
        match version {
            0xff => return None,
            0x00 if value.len() != 55 => return None,
            _ if value.len() > 55 && value[55] != b'-' => return None,
            _ => {}
        }
        let mut trace_id = [0u8; 16];
        for (i, b) in trace_id.iter_mut().enumerate() {
            *b = hex_byte(&value[3 + 2 * i..5 + 2 * i])?;
        }
        let mut parent_id = [0u8; 8];
        for (i, b) in parent_id.iter_mut().enumerate() {
            *b = hex_byte(&value[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&value[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        let mut trace_hex = [0u8; 32];
        trace_hex.copy_from_slice(&value[3..35]);
        Some(TraceParent {
            trace_hex,
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The trace id, 32 lower-case hex digits.
    pub fn trace_id(&self) -> &str {
        // Checked to be lower-case hex digits by `parse`.
        std::str::from_utf8(&self.trace_hex).unwrap_or_default()
    }

    /// Whether the caller sampled the request (flag `01`).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace id as 16 bytes.
    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The caller's span id (the parent of ours) as 8 bytes.
    pub fn parent_id_bytes(&self) -> [u8; 8] {
        self.parent_id
    }
}

/// Two lower-case hex digits as a byte.
fn hex_byte(two: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(digit(two[0])? << 4 | digit(two[1])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_w3c_traceparent_is_read() {
        let tp = TraceParent::parse(GOOD).unwrap();
        assert_eq!(tp.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.trace_id_bytes()[0], 0x4b);
        assert_eq!(
            tp.parent_id_bytes(),
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert!(tp.sampled());
        // A later version may append fields.
        assert!(
            TraceParent::parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x")
                .is_some()
        );
    }

    #[test]
    fn a_malformed_traceparent_is_ignored() {
        for bad in [
            &b""[..],
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            b"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01,00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    fn correlation(pairs: &[(&str, &[u8])]) -> Correlation {
        Correlation::from_headers(pairs.iter().map(|(k, v)| (k.as_bytes(), *v)))
    }

    const TP: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn request_id_and_trace_are_read_when_well_formed() {
        let c = correlation(&[
            ("X-Request-Id", b"5f2c-aa"),
            ("traceparent", TP),
            ("x-request-id", b"second"),
        ]);
        assert_eq!(c.request_id.as_deref(), Some("5f2c-aa"));
        assert_eq!(
            c.trace.unwrap().trace_id(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn garbage_ids_are_left_out() {
        let long = vec![b'a'; MAX_REQUEST_ID_BYTES + 1];
        for bad in [&b""[..], b"a b", b"id\n", "é".as_bytes(), &long, b"\x00"] {
            assert_eq!(correlation(&[("x-request-id", bad)]).request_id, None);
        }
        let max = vec![b'a'; MAX_REQUEST_ID_BYTES];
        assert!(correlation(&[("x-request-id", &max)]).request_id.is_some());
        assert_eq!(correlation(&[("traceparent", b"00-zz")]).trace, None);
        assert_eq!(correlation(&[]), Correlation::default());
    }
}
