//! One request decided at a port: its trace span, the pipeline, its decision log line and
//! metrics, and the protocol-free [`Answer`].
//!
//! The gRPC port ([`crate::grpc`]) and the HTTP authorization port ([`crate::http_auth`])
//! both decide through [`decide`], so the same request gets the same decision, the same
//! log line, the same counts and the same answer whichever port it came through; each
//! port only reads its own wire format into a [`Request`] and writes the [`Answer`] back.

use std::time::Instant;

use tracing::Instrument as _;

use crate::answer::Answer;
use crate::decision::DenyReason;
use crate::pipeline::{Pipeline, Request};
use crate::trace_context::Correlation;

/// Decides `request` (or denies at once for the reason it could not be read), logs and
/// counts the decision with `correlation`'s ids and the time since `started`, and returns
/// the answer, with the decision's metadata only when `with_metadata`; the trace span says
/// which `port` the check came through.
pub async fn decide(
    pipeline: &Pipeline,
    request: Result<Request, DenyReason>,
    correlation: &Correlation,
    started: Instant,
    with_metadata: bool,
    port: crate::observe::telemetry::Port,
) -> Answer {
    let span = crate::observe::telemetry::check_span(correlation, port);
    let (decision, request) = match request {
        Ok(request) => (
            pipeline.decide(&request).instrument(span.clone()).await,
            request,
        ),
        Err(reason) => (pipeline.refuse(reason), Request::default()),
    };
    crate::observe::telemetry::record_decision(&span, &decision);
    drop(span);
    crate::observe::decision_log::record_correlated(
        &decision,
        &request,
        correlation,
        started.elapsed(),
    );
    Answer::build(&decision, request.headers(), with_metadata)
}
