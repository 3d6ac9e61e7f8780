//! What tracing costs per check, in process: the cached check of `hot_path` with the
//! OpenTelemetry layer on (a span per check, continuing a `traceparent` or not), against the
//! same check with tracing off.
//!
//! `cargo bench --bench telemetry`. The exporter points at a closed loopback port, so what
//! is measured is the request path (span, attributes, hand-off to the export queue); the
//! export thread's own work runs beside it on the same cores, as it would in production.

mod support;

use std::sync::Arc;

use cognito_ext_authz::grpc::AuthorizationService;
use cognito_ext_authz::observe::telemetry::{ExportQueue, Telemetry};
use cognito_ext_authz::pipeline::Pipeline;
use cognito_ext_authz::proto::envoy::service::auth::v3::CheckRequest;
use criterion::{Criterion, criterion_group, criterion_main};
use support::{active, checks_in_turn, fixture, requests, runtime};
use tracing_subscriber::layer::SubscriberExt;

fn benches(c: &mut Criterion) {
    let f = fixture();
    let rt = runtime();
    cognito_ext_authz::observe::metrics::install();
    let service = AuthorizationService::new(Arc::new(Pipeline::new(active(&f, 1000), 10_000)));
    let with_ids = |traceparent: bool| {
        move |n: usize, r: &mut CheckRequest| {
            let http = r.attributes.as_mut().unwrap().request.as_mut().unwrap();
            let headers = &mut http.http.as_mut().unwrap().headers;
            headers.insert(
                "x-request-id".into(),
                format!("{n:08x}-7c1d-4f1e-9a55-0123456789ab"),
            );
            if traceparent {
                headers.insert(
                    "traceparent".into(),
                    format!("00-{n:032x}-00f067aa0ba902b7-01").replacen("00000000", "4bf92f35", 1),
                );
            }
        }
    };
    let plain = requests(&f, with_ids(false));
    let traced = requests(&f, with_ids(true));
    for r in &plain {
        rt.block_on(service.check_view(r.clone()));
    }
    let mut group = c.benchmark_group("tracing");
    let mut run =
        |name: &str, requests: &[_]| checks_in_turn(&mut group, name, &rt, &service, requests);
    run("off", &plain);
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9");
    }
    let telemetry = Telemetry::start(ExportQueue::from_env()).expect("exporter");
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        run("on_new_trace", &plain);
        run("on_with_traceparent", &traced);
    });
    group.finish();
    telemetry.shutdown();
}

criterion_group! {
    name = telemetry;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(telemetry);
