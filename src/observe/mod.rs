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
