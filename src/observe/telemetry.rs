//! Following a request across hops: the W3C `traceparent` a check carries, and
//! OpenTelemetry traces exported over OTLP/gRPC.
//!
//! Tracing is configured only by the OpenTelemetry SDK's own variables. Without
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) nothing here
//! runs: no exporter, no `tracing` layer, and [`check_span`] returns a disabled span after
//! one atomic load. With it, each check is a span ("authz check") that continues the
//! request's trace (its parent is the `traceparent` Envoy or Istio sent), with the decision,
//! reason, route, status, request id, `sub` and `client_id` as attributes, and nothing else
//! from the request: never a token, a header value or another claim. Key set fetches and
//! policy reloads are spans of their own.
//!
//! Spans leave the request path at once: a finished span is put on a bounded queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048) without waiting; when the queue is full the span
//! is dropped and counted (`cognito_ext_authz_spans_dropped_total{reason="queue_full"}`).
//! One thread of its own ("otel-export", with a single-threaded runtime, apart from the
//! request workers) sends batches (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512) at least
//! every `OTEL_BSP_SCHEDULE_DELAY` ms (default 5000); a batch the collector refuses or does
//! not take in `OTEL_EXPORTER_OTLP_TIMEOUT` is counted as `reason="export_failed"`.
//!
//! Sampling is the SDK's: `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default
//! `parentbased_always_on`: a request Envoy did not sample is not sampled here either).
//! `OTEL_SERVICE_NAME` defaults to `cognito-ext-authz`; `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none` turn tracing off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter as _, SpanProcessor};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::decision::Decision;
use crate::observe::{MAX_LOGGED_FIELD_BYTES, bounded};
use crate::trace_context::{Correlation, TraceParent};

/// The `tracing` target of every span meant for OpenTelemetry; the log writer ignores
/// spans with this target, the OpenTelemetry layer sees nothing else.
pub use cognito_ext_authz_core::SPAN_TARGET;

/// The service name when `OTEL_SERVICE_NAME` does not give one.
pub const DEFAULT_SERVICE_NAME: &str = "cognito-ext-authz";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether checks are traced (an exporter is running).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The OpenTelemetry context whose remote span is the caller's (`traceparent`).
pub fn remote_context(parent: &TraceParent) -> opentelemetry::Context {
    let flags = if parent.sampled() {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes(parent.trace_id_bytes()),
        SpanId::from_bytes(parent.parent_id_bytes()),
        flags,
        true,
        TraceState::default(),
    ))
}

// ---------------------------------------------------------------------------------------
// The check span

/// Which port a check came through, as its span says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The gRPC port: `envoy.service.auth.v3.Authorization/Check`.
    Grpc,
    /// The HTTP authorization port (an authorization subrequest).
    Http,
}

/// The span for one check, child of the request's `traceparent` when it has one; a
/// disabled span (costing nothing) when tracing is off.
pub fn check_span(correlation: &Correlation, port: Port) -> Span {
    if !enabled() {
        return Span::none();
    }
    let request_id = correlation.request_id.as_deref().unwrap_or("");
    // One span shape; only the fields naming the protocol differ by port.
    macro_rules! span {
        ($($protocol:tt)*) => {
            tracing::info_span!(
                target: SPAN_TARGET,
                "authz check",
                otel.kind = "server",
                $($protocol)*
                request_id,
                decision = Empty,
                reason = Empty,
                route = Empty,
                authorizer = Empty,
                cache_hit = Empty,
                status = Empty,
                sub = Empty,
                client_id = Empty,
            )
        };
    }
    let span = match port {
        Port::Grpc => span!(
            rpc.system = "grpc",
            rpc.service = "envoy.service.auth.v3.Authorization",
            rpc.method = "Check",
        ),
        Port::Http => span!(network.protocol.name = "http",),
    };
    if let Some(parent) = &correlation.trace {
        // Fails only when the span is disabled (not sampled by the layer's filter).
        let _ = span.set_parent(remote_context(parent));
    }
    span
}

/// Puts the decision on the check's span: result, reason, route, HTTP status, and of the
/// token only `sub` and `client_id`.
pub fn record_decision(span: &Span, decision: &Decision) {
    if span.is_none() {
        return;
    }
    span.record("decision", decision.result());
    span.record("reason", decision.reason());
    span.record("route", decision.route().unwrap_or(""));
    span.record("authorizer", decision.authorizer().unwrap_or(""));
    span.record("status", decision.status());
    if let Some(token) = decision.token() {
        span.record("sub", bounded(&token.sub, MAX_LOGGED_FIELD_BYTES).as_ref());
        span.record(
            "client_id",
            bounded(&token.client_id, MAX_LOGGED_FIELD_BYTES).as_ref(),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Set-up

/// Why tracing could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OpenTelemetry: cannot build the OTLP/gRPC exporter: {0}")]
    Exporter(String),
    #[error("OpenTelemetry: cannot start the export thread: {0}")]
    Thread(String),
}

/// Export settings, from the SDK's `OTEL_BSP_*` variables.
#[derive(Debug, Clone)]
pub struct ExportQueue {
    /// Finished spans waiting to be sent; more are dropped and counted.
    pub max_queue_size: usize,
    /// Spans per export request.
    pub max_batch_size: usize,
    /// Longest a span waits before its batch is sent.
    pub schedule_delay: Duration,
}

impl ExportQueue {
    /// From `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and
    /// `OTEL_BSP_SCHEDULE_DELAY` (ms); a missing or unreadable value takes the SDK default.
    pub fn from_env() -> Self {
        let read = |name: &str, default: u64, max: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&v| v > 0)
                .map_or(default, |v| v.min(max))
        };
        let max_queue_size = read("OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1 << 20) as usize;
        ExportQueue {
            max_queue_size,
            max_batch_size: (read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1 << 20) as usize)
                .min(max_queue_size),
            schedule_delay: Duration::from_millis(read("OTEL_BSP_SCHEDULE_DELAY", 5000, 600_000)),
        }
    }
}

/// Running trace export. Dropping it (or [`Telemetry::shutdown`]) sends what is queued,
/// within a few seconds, and stops the export thread.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

/// Whether the SDK's variables ask for trace export: an OTLP endpoint is set, and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
pub fn configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

impl Telemetry {
    /// Starts trace export when the SDK's variables ask for it ([`configured`]).
    pub fn from_env() -> Result<Option<Telemetry>, TelemetryError> {
        if !configured() {
            return Ok(None);
        }
        Telemetry::start(ExportQueue::from_env()).map(Some)
    }

    /// Starts the OTLP/gRPC exporter (endpoint, headers, timeout from `OTEL_EXPORTER_OTLP_*`)
    /// on its own thread, and the tracer provider (sampler from `OTEL_TRACES_SAMPLER*`).
    pub fn start(queue: ExportQueue) -> Result<Telemetry, TelemetryError> {
        crate::observe::metrics::install();
        crate::observe::metrics::describe_telemetry();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TelemetryError::Thread(e.to_string()))?;
        let mut exporter = {
            // tonic's channel starts its worker on this runtime, which the export thread drives.
            let _enter = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?
        };
        let resource = resource();
        exporter.set_resource(&resource);
        let (tx, rx) = mpsc::sync_channel(queue.max_queue_size);
        let settings = queue.clone();
        std::thread::Builder::new()
            .name("otel-export".into())
            .spawn(move || export_loop(rx, exporter, runtime, settings))
            .map_err(|e| TelemetryError::Thread(e.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(QueueProcessor { queue: tx })
            .with_resource(resource)
            .build();
        ENABLED.store(true, Ordering::Relaxed);
        Ok(Telemetry { provider })
    }

    /// The `tracing` layer turning this service's spans (target [`SPAN_TARGET`], nothing
    /// else, and no events) into OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl Layer<S> + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("cognito-ext-authz"))
            .with_location(false)
            .with_target(false)
            .with_threads(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            // The hint lets every `trace!`/`debug!` callsite (h2, hyper, tower: several
            // per check) be skipped by its level alone, before any dispatch.
            .with_filter(
                tracing_subscriber::filter::filter_fn(is_trace_span)
                    .with_max_level_hint(tracing::level_filters::LevelFilter::INFO),
            )
    }

    /// Sends what is queued and stops the export thread.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Relaxed);
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
    }
}

/// Whether `metadata` is one of the spans meant for OpenTelemetry (and not for the log).
pub fn is_trace_span(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span() && metadata.target() == SPAN_TARGET
}

/// The SDK's resource (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`), named
/// `cognito-ext-authz` unless the variables name it.
fn resource() -> Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    let builder = Resource::builder();
    if named {
        builder.build()
    } else {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    }
}

// ---------------------------------------------------------------------------------------
// The export queue

enum Message {
    Span(Box<SpanData>),
    Flush(SyncSender<()>),
    Shutdown(SyncSender<()>),
}

/// Hands finished spans to the export thread without ever waiting: a full queue drops the
/// span and counts it.
#[derive(Debug)]
struct QueueProcessor {
    queue: SyncSender<Message>,
}

impl QueueProcessor {
    /// Sends a control message and waits (at most `timeout`) for the export thread to act.
    fn control(&self, make: fn(SyncSender<()>) -> Message, timeout: Duration) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let mut message = make(ack_tx);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TrySendError::Full(_)) => return Err(OTelSdkError::Timeout(timeout)),
                Err(TrySendError::Disconnected(_)) => return Err(OTelSdkError::AlreadyShutdown),
            }
        }
        ack_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.queue.try_send(Message::Span(Box::new(span))).is_err() {
            crate::observe::metrics::spans_dropped("queue_full", 1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.control(Message::Flush, Duration::from_secs(5))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.control(Message::Shutdown, timeout)
    }
}

/// The export thread: batches spans off the queue and sends them, one request at a time.
fn export_loop(
    queue: Receiver<Message>,
    exporter: opentelemetry_otlp::SpanExporter,
    runtime: tokio::runtime::Runtime,
    settings: ExportQueue,
) {
    let mut batch: Vec<SpanData> = Vec::with_capacity(settings.max_batch_size);
    let send = |batch: &mut Vec<SpanData>| {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let spans = std::mem::replace(batch, Vec::with_capacity(settings.max_batch_size));
        if runtime.block_on(exporter.export(spans)).is_err() {
            crate::observe::metrics::spans_dropped("export_failed", count);
        }
    };
    let mut deadline = Instant::now() + settings.schedule_delay;
    loop {
        match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Message::Span(span)) => {
                batch.push(*span);
                if batch.len() >= settings.max_batch_size {
                    send(&mut batch);
                    deadline = Instant::now() + settings.schedule_delay;
                }
            }
            Ok(Message::Flush(ack)) => {
                send(&mut batch);
                let _ = ack.send(());
            }
            Ok(Message::Shutdown(ack)) => {
                while let Ok(Message::Span(span)) = queue.try_recv() {
                    batch.push(*span);
                    if batch.len() >= settings.max_batch_size {
                        send(&mut batch);
                    }
                }
                send(&mut batch);
                let _ = exporter.shutdown();
                let _ = ack.send(());
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                send(&mut batch);
                deadline = Instant::now() + settings.schedule_delay;
            }
            Err(RecvTimeoutError::Disconnected) => {
                send(&mut batch);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_callers_span_is_the_remote_parent() {
        let tp = TraceParent::parse(GOOD).unwrap();
        let cx = remote_context(&tp);
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_remote() && sc.is_sampled());
    }

    #[test]
    fn tracing_is_off_without_an_endpoint() {
        // The test environment sets none of the OTLP variables.
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
            && std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
        {
            assert!(!configured());
            assert!(check_span(&Correlation::default(), Port::Grpc).is_none());
        }
    }
}
