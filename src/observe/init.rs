//! What `serve` sets up to be observed: the log writer (JSON or text lines on a thread of
//! their own) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the OpenTelemetry export.

use crate::settings::LogFormat;

/// What `serve` keeps until it returns: dropped in this order, trace export first (sending
/// the spans still queued), then the log writer (flushing the lines still queued).
pub struct Observability {
    _telemetry: Option<crate::observe::telemetry::Telemetry>,
    _log: Option<crate::observe::sink::FlushGuard>,
}

/// Logs go to stderr through a background writer thread, so a check never waits on a
/// `write(2)`. The queue is bounded: when the writer cannot keep up (a slow log collector),
/// lines are dropped and counted (`cognito_ext_authz_log_lines_dropped_total`) rather than
/// queued without bound or waited for.
///
/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a second layer turns the service's trace spans
/// into OpenTelemetry spans (`src/observe/telemetry.rs`); the log writer never sees those spans, and
/// without the variable the layer does not exist.
pub fn start(format: LogFormat, queue_lines: usize) -> Observability {
    use crate::observe::sink::LogSink;
    use crate::observe::telemetry::{Telemetry, is_trace_span};
    use std::io::IsTerminal;
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::{FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, Registry};
    let ansi = std::io::stderr().is_terminal();
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let (sink, guard) = match LogSink::new(std::io::stderr(), queue_lines) {
        Ok((sink, guard)) => (Some(sink), Some(guard)),
        // No thread to spare: lines are written on the spot instead.
        Err(e) => {
            eprintln!("warning: cannot start the log writer thread ({e}); writing logs directly");
            (None, None)
        }
    };
    if let Some(sink) = &sink {
        let counted = sink.clone();
        crate::observe::metrics::watch_log_drops(move || counted.dropped());
    }
    // Decision lines are written by src/observe/decision_log.rs alone, never by `tracing`,
    // when the filter lets them through (`RUST_LOG=info,decision=off` turns them off);
    // RUST_LOG is read once, here.
    {
        use crate::observe::decision_log::{self, LineFormat};
        let probe = tracing_subscriber::registry().with(filter());
        let decisions_on = tracing::subscriber::with_default(
            probe,
            || tracing::enabled!(target: "decision", tracing::Level::INFO),
        );
        let line = match format {
            LogFormat::Json => LineFormat::Json,
            LogFormat::Text => LineFormat::Text,
        };
        match (&sink, decisions_on) {
            (_, false) => decision_log::write_none(),
            (Some(sink), true) => decision_log::write_to(sink.clone(), line),
            (None, true) => decision_log::write_to_stderr(line),
        }
    }
    let writer = match sink {
        Some(sink) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(sink),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let filter = filter();
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => super::json_lines(writer).boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
    };
    let (telemetry, telemetry_error) = match Telemetry::from_env() {
        Ok(t) => (t, None),
        Err(e) => (None, Some(e)),
    };
    tracing_subscriber::registry()
        // The hint keeps RUST_LOG's level the process's maximum: without it, a plain
        // closure filter says nothing of levels, and every `trace!` callsite in the HTTP/2
        // stack would be dispatched (and its spans made) on every check, only to be
        // filtered out.
        .with(fmt.with_filter(
            filter.and(filter_fn(|m| !is_trace_span(m)).with_max_level_hint(LevelFilter::TRACE)),
        ))
        .with(telemetry.as_ref().map(|t| t.layer()))
        .init();
    if let Some(e) = telemetry_error {
        // Tracing is for following requests, not for deciding them: serve without it.
        tracing::error!("{e}; serving without trace export");
    } else if telemetry.is_some() {
        tracing::info!("OpenTelemetry trace export on (OTLP/gRPC)");
    }
    Observability {
        _telemetry: telemetry,
        _log: guard,
    }
}
