//! The decision log: one structured line per check, written by the edge that owns the
//! decision (the gRPC service), and counted in the metrics.
//!
//! Nothing here ever sees a token: the line holds the path without its query string and
//! the verified `sub` and `client_id`, nothing else from the request. Every request field
//! is cut to a bounded length with control characters replaced, so one request can never
//! make a line large or split it.

use std::borrow::Cow;
use std::time::Duration;

use crate::decision::Decision;
use crate::path::without_query;
use crate::pipeline::Request;

/// Longest value of one logged request field (method, host, path), in bytes; longer ones
/// are cut, so one request can never make a log line large.
pub const MAX_LOGGED_FIELD_BYTES: usize = 256;

/// Logs and counts one decision.
pub fn record(decision: &Decision, request: &Request, elapsed: Duration) {
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
}
