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
//!
//! In `serve` with JSON logs the line is written by hand ([`format_json`]): the fields are
//! known, so it is formatted straight into a buffer each thread reuses and handed to the
//! [`LogSink`] whose thread writes it out; nothing is allocated per line. It is the same
//! line `tracing`'s JSON formatter writes (same keys, same order), which is what every
//! other user of this module (text logs, tools, tests) still gets.

use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::decision::Decision;
use crate::observe::sink::LogSink;
use crate::observe::{MAX_LOGGED_FIELD_BYTES, bounded};
use crate::path::without_query;
use crate::pipeline::Request;
use crate::trace_context::{Correlation, TraceParent};

/// Where decision lines go when they skip `tracing`; unset, they go through it.
enum Output {
    /// Formatted by [`format_json`] and queued to the sink.
    Json(LogSink),
    /// Not logged (the log filter leaves `decision` lines out).
    Off,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// From now on, decision lines are formatted by [`format_json`] and queued to `sink`
/// (once per process; later calls do nothing).
pub fn write_json_to(sink: LogSink) {
    let _ = OUTPUT.set(Output::Json(sink));
}

/// From now on, decision lines are not logged at all (still counted in the metrics).
pub fn write_none() {
    let _ = OUTPUT.set(Output::Off);
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
    crate::observe::metrics::decision(
        decision.result(),
        decision.reason(),
        route,
        authorizer,
        elapsed,
    );
    match OUTPUT.get() {
        Some(Output::Json(sink)) => {
            LINE.with_borrow_mut(|line| {
                line.clear();
                format_json(
                    line,
                    SystemTime::now(),
                    decision,
                    request,
                    correlation,
                    elapsed,
                );
                sink.push(line);
                // A line cut to its bounds is a few KiB at most; never keep more.
                if line.capacity() > 16 * 1024 {
                    *line = Vec::with_capacity(1024);
                }
            });
            return;
        }
        Some(Output::Off) => return,
        None => {}
    }
    let token = decision.token();
    let detail = match decision {
        Decision::Deny { reason, .. } => reason.detail(),
        Decision::Allow { .. } => String::new(),
    };
    tracing::info!(
        target: "decision",
        decision = decision.result(),
        reason = decision.reason(),
        detail = %bounded(&detail, MAX_LOGGED_FIELD_BYTES),
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

/// Appends the decision line, as `tracing`'s flattened JSON formatter writes it, to `out`
/// (with its `\n`): `timestamp` (RFC 3339, microseconds, UTC), `level`, the fields of
/// [`record_correlated`] in order, `target`.
pub fn format_json(
    out: &mut Vec<u8>,
    now: SystemTime,
    decision: &Decision,
    request: &Request,
    correlation: &Correlation,
    elapsed: Duration,
) {
    let token = decision.token();
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, now);
    out.extend_from_slice(b"\",\"level\":\"INFO\"");
    field(out, "decision", decision.result());
    field(out, "reason", decision.reason());
    fn cut(v: &str) -> Cow<'_, str> {
        bounded(v, MAX_LOGGED_FIELD_BYTES)
    }
    match decision {
        Decision::Deny { reason, .. } => field(out, "detail", &cut(&reason.detail())),
        Decision::Allow { .. } => field(out, "detail", ""),
    }
    field(out, "route", decision.route().unwrap_or(""));
    field(out, "authorizer", decision.authorizer().unwrap_or(""));
    field(out, "method", &cut(&request.method));
    field(out, "host", &cut(&request.host));
    field(out, "path", &cut(without_query(&request.path)));
    field(out, "sub", &cut(token.map_or("", |t| t.sub.as_str())));
    field(
        out,
        "client_id",
        &cut(token.map_or("", |t| t.client_id.as_str())),
    );
    field(
        out,
        "request_id",
        correlation.request_id.as_deref().unwrap_or(""),
    );
    field(
        out,
        "trace_id",
        correlation.trace.as_ref().map_or("", TraceParent::trace_id),
    );
    out.extend_from_slice(b",\"latency_us\":");
    digits(out, elapsed.as_micros() as u64, 1);
    out.extend_from_slice(b",\"target\":\"decision\"}\n");
}

/// `,"name":"value"` with `value` escaped as a JSON string.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..0x20 | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// `2026-11-26T16:05:09.123456Z`, as `tracing_subscriber`'s `SystemTime` timer writes it.
/// The part up to the seconds is worked out once a second per thread.
fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
    }
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != secs {
            let t = time::OffsetDateTime::from(now);
            let mut w = &mut text[..];
            let _ = write!(
                w,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            *cached = if w.is_empty() { secs } else { u64::MAX };
        }
        out.extend_from_slice(text);
    });
    out.push(b'.');
    digits(out, u64::from(since.subsec_micros()), 6);
    out.push(b'Z');
}

/// `n` in decimal, left-padded with zeros to `width` digits.
fn digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    while n > 0 || buf.len() - i < width.max(1) {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correlation(pairs: &[(&str, &[u8])]) -> Correlation {
        Correlation::from_headers(pairs.iter().map(|(k, v)| (k.as_bytes(), *v)))
    }

    const TP: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

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

    /// What `tracing`'s JSON formatter (as `serve` sets it up) writes for one decision.
    fn through_tracing(decision: &Decision, request: &Request, c: &Correlation) -> String {
        use tracing_subscriber::layer::SubscriberExt;
        #[derive(Clone, Default)]
        struct Out(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Out {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let out = Out::default();
        let writer = out.clone();
        let layer = crate::observe::json_lines(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            record_correlated(decision, request, c, Duration::from_micros(1234))
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    fn by_hand(decision: &Decision, request: &Request, c: &Correlation) -> String {
        let mut out = Vec::new();
        format_json(
            &mut out,
            SystemTime::now(),
            decision,
            request,
            c,
            Duration::from_micros(1234),
        );
        String::from_utf8(out).unwrap()
    }

    /// The line without its timestamp, which differs between the two.
    fn untimed(line: &str) -> &str {
        let rest = line.strip_prefix("{\"timestamp\":\"").unwrap();
        &rest[rest.find('"').unwrap()..]
    }

    #[test]
    fn the_hand_written_line_is_the_line_tracing_writes() {
        use crate::decision::DenyReason;
        use crate::token::TokenError;
        let request = Request {
            method: "GET".into(),
            host: "api.example.com".into(),
            path: "/a\"b\\c/é/\u{1}?token=secret".into(),
            headers: Default::default(),
        };
        let c = correlation(&[("x-request-id", b"id-1"), ("traceparent", TP)]);
        let long = "x".repeat(1000);
        let decisions = [
            Decision::deny(DenyReason::NoRoute, None, None, 401, &Default::default()),
            Decision::deny(
                DenyReason::InvalidToken(TokenError::Algorithm(format!("\"none\"{long}"))),
                Some("r\"1".into()),
                Some("default".into()),
                401,
                &Default::default(),
            ),
        ];
        for decision in &decisions {
            let ours = by_hand(decision, &request, &c);
            let theirs = through_tracing(decision, &request, &c);
            assert_eq!(untimed(&ours), untimed(&theirs));
            assert!(ours.ends_with('\n') && ours.lines().count() == 1);
            let v: serde_json::Value = serde_json::from_str(&ours).unwrap();
            assert!(!v["path"].as_str().unwrap().contains("secret"));
            assert!(v["detail"].as_str().unwrap().len() <= MAX_LOGGED_FIELD_BYTES + 3);
        }
        // Read back with the same timestamp shape: 2026-11-26T16:05:09.123456Z.
        let line = by_hand(&decisions[0], &request, &c);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let ts = v["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.');
        assert_eq!(v["latency_us"], 1234);
        assert_eq!(v["request_id"], "id-1");
    }

    #[test]
    fn timestamps_are_utc_calendar_times() {
        let at = |micros| {
            let mut out = Vec::new();
            timestamp(
                &mut out,
                SystemTime::UNIX_EPOCH + Duration::from_micros(micros),
            );
            String::from_utf8(out).unwrap()
        };
        assert_eq!(at(1_795_709_109_123_456), "2026-11-26T16:05:09.123456Z");
        // The same second again (from the per-thread cache), then the next one.
        assert_eq!(at(1_795_709_109_000_007), "2026-11-26T16:05:09.000007Z");
        assert_eq!(at(1_795_709_110_999_999), "2026-11-26T16:05:10.999999Z");
        assert_eq!(at(0), "1970-01-01T00:00:00.000000Z");
        let mut n = Vec::new();
        for v in [0, 7, 1234, u64::MAX] {
            n.clear();
            digits(&mut n, v, 1);
            assert_eq!(String::from_utf8(n.clone()).unwrap(), v.to_string());
        }
    }
}
