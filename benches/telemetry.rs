//! What tracing costs per check, in process: the cached check of `hot_path` with the
//! OpenTelemetry layer on (a span per check, continuing a `traceparent` or not), against the
//! same check with tracing off.
//!
//! `cargo bench --bench telemetry`. The exporter points at a closed loopback port, so what
//! is measured is the request path (span, attributes, hand-off to the export queue); the
//! export thread's own work runs beside it on the same cores, as it would in production.

use std::hint::black_box;
use std::sync::Arc;

use cognito_ext_authz::active::ActivePolicy;
use cognito_ext_authz::grpc::{self, AuthorizationService};
use cognito_ext_authz::pipeline::Pipeline;
use cognito_ext_authz::policy::Policy;
use cognito_ext_authz::telemetry::{ExportQueue, Telemetry};
use cognito_ext_authz::token::keys::{PoolKeys, parse_jwks};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use testkit::{SigningKey, check_request, load};
use tracing_subscriber::layer::SubscriberExt;

const JWKS_URI: &str = "http://127.0.0.1:1/ap-south-1_benchpool/.well-known/jwks.json";

fn benches(c: &mut Criterion) {
    let key = SigningKey::generate(load::KID);
    let tokens: Vec<String> = (0..512).map(|n| load::token(&key, n)).collect();
    let policy = Policy::parse(&load::policy_yaml(1000, JWKS_URI)).expect("bench policy");
    let keys = parse_jwks(key.jwks().as_bytes()).expect("bench JWKS");
    let active = ActivePolicy {
        policy,
        keys: vec![Arc::new(PoolKeys::fixed(load::POOL, keys))],
        generation: 1,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    cognito_ext_authz::metrics::install();
    let service = AuthorizationService::new(Arc::new(Pipeline::new(active, 10_000)));
    let (method, host, raw) = load::TARGETS[2];
    let requests = |traceparent: bool| -> Vec<_> {
        tokens
            .iter()
            .enumerate()
            .map(|(n, t)| {
                let mut r = check_request(method, host, raw, Some(t));
                let http = r.attributes.as_mut().unwrap().request.as_mut().unwrap();
                let headers = &mut http.http.as_mut().unwrap().headers;
                headers.insert(
                    "x-request-id".into(),
                    format!("{n:08x}-7c1d-4f1e-9a55-0123456789ab"),
                );
                if traceparent {
                    headers.insert(
                        "traceparent".into(),
                        format!("00-{n:032x}-00f067aa0ba902b7-01")
                            .replacen("00000000", "4bf92f35", 1),
                    );
                }
                grpc::view_of(&r)
            })
            .collect()
    };
    let plain = requests(false);
    let traced = requests(true);
    for r in &plain {
        rt.block_on(service.check_view(r.clone()));
    }
    let mut group = c.benchmark_group("tracing");
    let run = |name: &str,
               requests: &[grpc::CheckRequestView],
               group: &mut criterion::BenchmarkGroup<_>| {
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    i += 1;
                    requests[i % requests.len()].clone()
                },
                |r| black_box(rt.block_on(service.check_view(r))),
                BatchSize::SmallInput,
            )
        });
    };
    run("off", &plain, &mut group);
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9");
    }
    let telemetry = Telemetry::start(ExportQueue::from_env()).expect("exporter");
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::with_default(subscriber, || {
        run("on_new_trace", &plain, &mut group);
        run("on_with_traceparent", &traced, &mut group);
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
