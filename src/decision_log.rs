//! The decision log: one structured line per check, written by the edge that owns the
//! decision (the gRPC service), and counted in the metrics.
//!
//! Nothing here ever sees a token: the line holds the path without its query string and
//! the verified `sub` and `client_id`, nothing else from the request. Every request field
//! is cut to a bounded length with control characters replaced, so one request can never
//! make a line large or split it.
//!
//! Two fields tie the line to the rest of the request's story: `request_id`, the
//! `x-request-id` Envoy puts on every request (and logs in its access log), and `trace_id`,
//! the trace of a W3C `traceparent`. Both are read by [`Correlation::from_headers`], which
//! keeps a value only when it is well-formed and short; anything else is left out of the
//! line (an empty field), never an error, and never looked at by the decision.

use std::borrow::Cow;
use std::time::Duration;

use crate::decision::Decision;
use crate::path::without_query;
use crate::pipeline::Request;
use crate::telemetry::TraceParent;

/// Longest value of one logged request field (method, host, path), in bytes; longer ones
/// are cut, so one request can never make a log line large.
pub const MAX_LOGGED_FIELD_BYTES: usize = 256;

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

/// Logs and counts one decision.
pub fn record(decision: &Decision, request: &Request, elapsed: Duration) {
    record_correlated(decision, request, &Correlation::default(), elapsed);
}

/// Logs and counts one decision, with the ids that tie it to Envoy's access log and trace.
pub fn record_correlated(
    decision: &Decision,
    request: &Request,
    correlation: &Correlation,
    elapsed: Duration,
) {
    let (route, authorizer) = match decision {
        Decision::Allow {
            route, authorizer, ..
        }
        | Decision::Deny {
            route, authorizer, ..
        } => (route.clone(), authorizer.clone()),
    };
    crate::metrics::decision(
        decision.result(),
        decision.reason(),
        route,
        authorizer,
        elapsed,
    );
    let token = decision.token();
    let detail = match decision {
        Decision::Deny { reason, .. } => reason.detail(),
        Decision::Allow { .. } => String::new(),
    };
    tracing::info!(
        target: "decision",
        decision = decision.result(),
        reason = decision.reason(),
        detail = %detail,
        route = decision.route().unwrap_or(""),
        authorizer = decision.authorizer().unwrap_or(""),
        method = %bounded(&request.method, MAX_LOGGED_FIELD_BYTES),
        host = %bounded(&request.host, MAX_LOGGED_FIELD_BYTES),
        path = %bounded(without_query(&request.path), MAX_LOGGED_FIELD_BYTES),
        sub = %bounded(token.map(|t| t.sub.as_str()).unwrap_or(""), MAX_LOGGED_FIELD_BYTES),
        client_id = %bounded(
            token.map(|t| t.client_id.as_str()).unwrap_or(""),
            MAX_LOGGED_FIELD_BYTES
        ),
        request_id = %correlation.request_id.as_deref().unwrap_or(""),
        trace_id = %correlation.trace.as_ref().map_or("", TraceParent::trace_id),
        latency_us = elapsed.as_micros() as u64,
    );
}

/// `value` cut to at most `max` bytes (at a character boundary, marked with `…`) and with
/// control characters replaced, so a logged field has a bounded size and one line.
pub fn bounded(value: &str, max: usize) -> Cow<'_, str> {
    let clean = !value.chars().any(char::is_control);
    if clean && value.len() <= max {
        return Cow::Borrowed(value);
    }
    let mut end = value.len().min(max);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: String = value[..end]
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if end < value.len() {
        out.push('…');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_fields_are_bounded_and_single_line() {
        assert_eq!(bounded("/users/1", 256), "/users/1");
        let long = "/a".repeat(40_000);
        let cut = bounded(&long, 256);
        assert_eq!(cut.len(), 256 + '…'.len_utf8());
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("a\nb\r", 256), "a\u{fffd}b\u{fffd}");
        // Never splits a character.
        assert_eq!(bounded("ééé", 3), "é…");
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
