//! What the service tells about itself: one JSON (or text) decision line per check
//! ([`decision_log`]) written by a bounded writer thread ([`sink`]), Prometheus metrics
//! ([`metrics`]), OpenTelemetry traces over OTLP ([`telemetry`]), and [`start`], which
//! sets them up for `serve`.

pub mod decision_log;
mod init;
pub mod metrics;
pub mod sink;
pub mod telemetry;

pub use init::{Observability, start};

use std::borrow::Cow;

use tracing_subscriber::fmt;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};

/// The JSON log line: one flat object per event, no span fields. Decision lines
/// (`decision_log`, their one writer) have the same shape.
pub fn json_lines<S, W>(writer: W) -> fmt::Layer<S, JsonFields, Format<Json>, W>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + 'static,
{
    fmt::layer()
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
}

/// Longest value of one logged request field (method, host, path), in bytes; longer ones
/// are cut, so one request can never make a log line large.
pub const MAX_LOGGED_FIELD_BYTES: usize = 256;

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
