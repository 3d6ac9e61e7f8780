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
//! This module is the line's one writer ([`format_line`]), in JSON or text as `AUTHZ_LOG_FORMAT` says; `tracing` never writes it. The fields
//! are known, so the line is formatted straight into a buffer each thread reuses and
//! handed to the [`LogSink`] whose thread writes it out; nothing is allocated per line. It
//! has the shape of the service's other log lines of the same format. Outside `serve`
//! (tools, tests) decisions are counted, not logged.

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

/// Where decision lines go: formatted here (the one writer of the line, JSON or text)
/// and queued to the sink, or written on the spot; unset (tools, tests), not logged.
enum Output {
    /// Formatted as `format` and queued to the sink.
    Sink(LogSink, LineFormat),
    /// Formatted as `format` and written to standard error on the spot (no writer thread).
    Stderr(LineFormat),
    /// Not logged (the log filter leaves `decision` lines out).
    Off,
}

/// How a decision line is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One flat JSON object, as the service's other JSON log lines.
    Json,
    /// `timestamp  INFO decision: key=value ...`, as the service's other text log lines.
    Text,
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// From now on, decision lines are written as `format` and queued to `sink` (once per
/// process; later calls do nothing).
pub fn write_to(sink: LogSink, format: LineFormat) {
    let _ = OUTPUT.set(Output::Sink(sink, format));
}

/// From now on, decision lines are written as `format` straight to standard error.
pub fn write_to_stderr(format: LineFormat) {
    let _ = OUTPUT.set(Output::Stderr(format));
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
    let (sink, format) = match OUTPUT.get() {
        Some(Output::Sink(sink, format)) => (Some(sink), *format),
        Some(Output::Stderr(format)) => (None, *format),
        Some(Output::Off) | None => return,
    };
    LINE.with_borrow_mut(|line| {
        line.clear();
        let now = SystemTime::now();
        format_line(line, format, now, decision, request, correlation, elapsed);
        match sink {
            Some(sink) => {
                sink.push(line);
            }
            None => {
                let _ = std::io::stderr().lock().write_all(line);
            }
        }
        // A line cut to its bounds is a few KiB at most; never keep more.
        if line.capacity() > 16 * 1024 {
            *line = Vec::with_capacity(1024);
        }
    });
}

/// The decision line's fields after `timestamp` and `level`, in order, each cut to its
/// bound; `detail` is the denial's detail (empty for an allow). `latency_us` and `target`
/// follow them.
fn fields<'a>(
    decision: &'a Decision,
    request: &'a Request,
    correlation: &'a Correlation,
    detail: &'a str,
) -> [(&'static str, Cow<'a, str>); 12] {
    fn cut(v: &str) -> Cow<'_, str> {
        bounded(v, MAX_LOGGED_FIELD_BYTES)
    }
    let token = decision.token();
    [
        ("decision", Cow::Borrowed(decision.result())),
        ("reason", Cow::Borrowed(decision.reason())),
        ("detail", cut(detail)),
        ("route", Cow::Borrowed(decision.route().unwrap_or(""))),
        (
            "authorizer",
            Cow::Borrowed(decision.authorizer().unwrap_or("")),
        ),
        ("method", cut(request.method())),
        ("host", cut(request.host())),
        ("path", cut(without_query(request.path()))),
        ("sub", cut(token.map_or("", |t| t.sub.as_str()))),
        ("client_id", cut(token.map_or("", |t| t.client_id.as_str()))),
        (
            "request_id",
            Cow::Borrowed(correlation.request_id.as_deref().unwrap_or("")),
        ),
        (
            "trace_id",
            Cow::Borrowed(correlation.trace.as_ref().map_or("", TraceParent::trace_id)),
        ),
    ]
}

/// The denial's detail, empty for an allow.
fn detail(decision: &Decision) -> String {
    match decision {
        Decision::Deny { reason, .. } => reason.detail(),
        Decision::Allow { .. } => String::new(),
    }
}

/// Appends the decision line to `out` (with its `\n`), as `format` says: `timestamp`
/// (RFC 3339, microseconds, UTC), the level, the [`fields`] in order, `latency_us`, in the
/// shape of the service's other log lines of that format.
pub fn format_line(
    out: &mut Vec<u8>,
    format: LineFormat,
    now: SystemTime,
    decision: &Decision,
    request: &Request,
    correlation: &Correlation,
    elapsed: Duration,
) {
    let detail = detail(decision);
    let fields = fields(decision, request, correlation, &detail);
    let micros = elapsed.as_micros() as u64;
    match format {
        LineFormat::Json => json_line(out, now, &fields, micros),
        LineFormat::Text => text_line(out, now, &fields, micros),
    }
}

/// One flat JSON object: `timestamp`, `level`, the fields, `latency_us`, `target`.
fn json_line(out: &mut Vec<u8>, now: SystemTime, fields: &[(&str, Cow<'_, str>)], micros: u64) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, now);
    out.extend_from_slice(b"\",\"level\":\"INFO\"");
    for (name, value) in fields {
        field(out, name, value);
    }
    out.extend_from_slice(b",\"latency_us\":");
    digits(out, micros, 1);
    out.extend_from_slice(b",\"target\":\"decision\"}\n");
}

/// `timestamp  INFO decision: name=value ... latency_us=N`, each value quoted as a JSON
/// string when it is empty or holds a space, `=` or `"`.
fn text_line(out: &mut Vec<u8>, now: SystemTime, fields: &[(&str, Cow<'_, str>)], micros: u64) {
    timestamp(out, now);
    out.extend_from_slice(b"  INFO decision:");
    for (name, value) in fields {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        if value.is_empty() || value.bytes().any(|b| matches!(b, b' ' | b'=' | b'"')) {
            string(out, value);
        } else {
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.extend_from_slice(b" latency_us=");
    digits(out, micros, 1);
    out.push(b'\n');
}

/// `,"name":"value"` with `value` escaped as a JSON string.
fn field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    string(out, value);
}

/// `value` as a JSON string, quotes included.
fn string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
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

    /// What `tracing`'s JSON formatter (as `serve` sets it up) writes for an event.
    fn through_tracing() -> serde_json::Map<String, serde_json::Value> {
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
        tracing::subscriber::with_default(
            subscriber,
            || tracing::info!(target: "policy", summary = "x", "policy loaded"),
        );
        serde_json::from_slice(&out.0.lock().unwrap()).unwrap()
    }

    fn line(format: LineFormat, decision: &Decision, request: &Request, c: &Correlation) -> String {
        let mut out = Vec::new();
        let now = SystemTime::now();
        let elapsed = Duration::from_micros(1234);
        format_line(&mut out, format, now, decision, request, c, elapsed);
        String::from_utf8(out).unwrap()
    }

    fn samples() -> (Request, Correlation, [Decision; 2]) {
        use crate::decision::DenyReason;
        use crate::token::TokenError;
        let request = Request::new(
            "GET",
            "api.example.com",
            "/a\"b\\c/é/\u{1}?token=secret",
            Default::default(),
        );
        let c = correlation(&[("x-request-id", b"id-1"), ("traceparent", TP)]);
        let long = "x".repeat(1000);
        let decisions = [
            Decision::deny(DenyReason::NoRoute, None, None, 401, &Default::default()),
            Decision::deny(
                DenyReason::InvalidToken(TokenError::Algorithm(format!("\"none\"{long}"))),
                Some("r\"1 x".into()),
                Some("default".into()),
                401,
                &Default::default(),
            ),
        ];
        (request, c, decisions)
    }

    #[test]
    fn the_json_line_is_flat_bounded_and_shaped_like_the_other_log_lines() {
        let (request, c, decisions) = samples();
        let other = through_tracing();
        for decision in &decisions {
            let ours = line(LineFormat::Json, decision, &request, &c);
            assert!(ours.ends_with('\n') && ours.lines().count() == 1);
            let v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&ours).unwrap();
            let keys: Vec<&str> = v.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "timestamp",
                    "level",
                    "decision",
                    "reason",
                    "detail",
                    "route",
                    "authorizer",
                    "method",
                    "host",
                    "path",
                    "sub",
                    "client_id",
                    "request_id",
                    "trace_id",
                    "latency_us",
                    "target"
                ]
            );
            // Where a log pipeline finds them in every other line of the service.
            let theirs: Vec<&str> = other.keys().map(String::as_str).collect();
            assert_eq!(keys[..2], theirs[..2]);
            assert_eq!(keys.last(), theirs.last());
            assert_eq!(v["level"], other["level"]);
            assert_eq!(
                v["path"], "/a\"b\\c/é/\u{fffd}",
                "no query, no control character"
            );
            assert!(v["detail"].as_str().unwrap().len() <= MAX_LOGGED_FIELD_BYTES + 3);
            assert_eq!(v["latency_us"], 1234);
            assert_eq!(v["request_id"], "id-1");
            assert_eq!(v["target"], "decision");
        }
        // The timestamp has tracing's shape: 2026-11-26T16:05:09.123456Z.
        let v: serde_json::Value =
            serde_json::from_str(&line(LineFormat::Json, &decisions[0], &request, &c)).unwrap();
        let ts = v["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 27, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.');
    }

    #[test]
    fn the_text_line_is_one_bounded_line_of_the_same_fields() {
        let (request, c, decisions) = samples();
        let text = line(LineFormat::Text, &decisions[1], &request, &c);
        assert!(
            text.ends_with('\n') && text.lines().count() == 1,
            "{text:?}"
        );
        let rest = &text[27..];
        assert!(
            rest.starts_with("  INFO decision: decision=deny reason=invalid_token detail="),
            "{text}"
        );
        // Values with a space, `=` or `"` are quoted (a route name here); empty ones too.
        assert!(
            rest.contains(r#" route="r\"1 x" authorizer=default "#),
            "{text}"
        );
        assert!(rest.contains(r#" sub="" "#), "{text}");
        assert!(
            rest.contains(" path=\"/a\\\"b\\\\c/é/\u{fffd}\" "),
            "{text}"
        );
        assert!(!rest.contains("secret"));
        assert!(rest.ends_with(" latency_us=1234\n"), "{text}");
        assert!(text.len() < 1200, "{}", text.len());
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
