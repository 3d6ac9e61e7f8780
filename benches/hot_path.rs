//! The hot path, in process: token verification (cold and cached), route matching over a
//! 1,000-route policy, a whole `Check` (CheckRequest in, CheckResponse out), and the
//! revocation list (a lookup and a cached check with 100,000 entries against none, and
//! loading 100,000 entries).
//!
//! `cargo bench --bench hot_path` (about a minute and a half). Keys are generated once per
//! run with the `rsa` crate; tokens are real Cognito-shaped RS256 access tokens.

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cognito_ext_authz::answer::Answer;
use cognito_ext_authz::decision::Decision;
use cognito_ext_authz::grpc::{self, AuthorizationService};
use cognito_ext_authz::path;
use cognito_ext_authz::pipeline::{Pipeline, Request};
use cognito_ext_authz::revocation::RevocationList;
use cognito_ext_authz::token::Verifier;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use support::{Fixture, active, checks_in_turn, fixture, requests, runtime};
use testkit::load;

fn token_verification(c: &mut Criterion, f: &Fixture) {
    let rt = runtime();
    let active = active(f, 100);
    // Any protected route: all share the one authorizer.
    let route = active.policy.routes.routes()[0].clone();
    let none = RevocationList::empty();
    let mut group = c.benchmark_group("token");

    // Verifies the tokens in turn.
    let mut verify_in_turn = |name: &str, verifier: &Verifier| {
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                let t = &f.tokens[i % f.tokens.len()];
                let ok = rt
                    .block_on(verifier.verify(active.trust(&route, &none), t))
                    .unwrap();
                black_box(ok);
            })
        });
    };

    // Cold: no cache, every call a full parse + RS256 verify + claim checks.
    verify_in_turn("verify_cold", &Verifier::new(0));

    // Cached: SHA-256 of the token + a cache lookup + the kid still-present check.
    let cached = Verifier::new(10_000);
    for t in &f.tokens {
        rt.block_on(cached.verify(active.trust(&route, &none), t))
            .unwrap();
    }
    verify_in_turn("verify_cached", &cached);
    group.finish();
}

/// Requests over the 1,000-route policy: literals, `{id}`, two parameters, `{proxy+}`,
/// host-limited routes, a method with no route, and a path no route matches.
const ROUTE_CASES: [(&str, &str, &str); 8] = [
    ("GET", "api.example.com", "/svc17/items"),
    ("POST", "api.example.com", "/svc150/items"),
    (
        "PUT",
        "api.example.com",
        "/svc42/items/8f14e45f-ceea-467f-a0e6-b2c1f5d5e6f7",
    ),
    ("GET", "eu.example.com", "/svc99/items/123"),
    ("DELETE", "api.example.com", "/svc199/items/9/tags/red"),
    (
        "GET",
        "api.example.com",
        "/svc7/files/reports/2026/q3/summary.pdf",
    ),
    ("PATCH", "api.example.com", "/svc3/items/77"),
    ("GET", "api.example.com", "/nothing/here/at/all"),
];

fn route_matching(c: &mut Criterion, f: &Fixture) {
    let active = active(f, 1000);
    let table = &active.policy.routes;
    assert_eq!(table.routes().len(), 1001);
    let mut group = c.benchmark_group("routes_1000");
    group.bench_function("find_mix_of_8", |b| {
        b.iter(|| {
            for (method, host, raw) in ROUTE_CASES {
                let segments = path::segments(black_box(raw)).unwrap();
                black_box(table.find(&segments, method, host));
            }
        })
    });
    group.bench_function("segments_and_find_one_param", |b| {
        b.iter(|| {
            let segments = path::segments(black_box("/svc42/items/123?x=1")).unwrap();
            black_box(table.find(&segments, "PUT", "api.example.com"));
        })
    });
    group.finish();
}

fn whole_check(c: &mut Criterion, f: &Fixture) {
    let rt = runtime();
    cognito_ext_authz::observe::metrics::install();
    let service = AuthorizationService::new(Arc::new(Pipeline::new(active(f, 1000), 10_000)));
    let cold = AuthorizationService::new(Arc::new(Pipeline::new(active(f, 1000), 0)));
    // The service decodes a wire view of each request.
    let requests = requests(f, |_, _| {});
    for r in &requests {
        rt.block_on(service.check_view(r.clone()));
    }
    let mut group = c.benchmark_group("check");
    checks_in_turn(&mut group, "cached_token", &rt, &service, &requests);
    checks_in_turn(&mut group, "uncached_token", &rt, &cold, &requests);
    // Pieces of the cached check, to see where its time goes.
    let authorizer = Pipeline::new(active(f, 1000), 10_000);
    let request = grpc::to_request(requests[0].clone()).unwrap();
    let decision = rt.block_on(authorizer.decide(&request));
    group.bench_function("piece_to_request", |b| {
        b.iter_batched(
            || requests[0].clone(),
            |r| black_box(grpc::to_request(r)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("piece_decide_cached", |b| {
        b.iter(|| black_box(rt.block_on(authorizer.decide(&request))))
    });
    group.bench_function("piece_to_response_allow", |b| {
        b.iter(|| {
            black_box(grpc::to_response(&Answer::new(
                &decision,
                request.headers(),
            )))
        })
    });
    group.bench_function("piece_record_decision", |b| {
        b.iter(|| {
            cognito_ext_authz::observe::decision_log::record(
                &decision,
                &request,
                Duration::from_micros(3),
            )
        })
    });
    group.finish();
    // From here on decision lines are written by hand to a discarding sink, as `serve`
    // writes them with JSON logs.
    decision_line(c, &decision, &request);
    // The cached check as `serve` runs it by default: no dynamic_metadata, the decision
    // line formatted by hand and queued.
    let served = AuthorizationService::new(Arc::new(Pipeline::new(active(f, 1000), 10_000)))
        .with_dynamic_metadata(false);
    for r in &requests {
        rt.block_on(served.check_view(r.clone()));
    }
    let mut group = c.benchmark_group("check");
    checks_in_turn(
        &mut group,
        "cached_token_as_served",
        &rt,
        &served,
        &requests,
    );
    let cold_served = AuthorizationService::new(Arc::new(Pipeline::new(active(f, 1000), 0)))
        .with_dynamic_metadata(false);
    checks_in_turn(
        &mut group,
        "uncached_token_as_served",
        &rt,
        &cold_served,
        &requests,
    );
    group.finish();
}

/// The decision log line of an allowed check, formatted into a reused buffer (JSON and
/// text) and queued to the log writer, which writes to a sink that discards from its own
/// thread as in `serve`; `record_json` is the whole of `decision_log::record_correlated`
/// (metrics included).
fn decision_line(c: &mut Criterion, decision: &Decision, request: &Request) {
    use cognito_ext_authz::observe::decision_log;
    use cognito_ext_authz::observe::sink::LogSink;
    use cognito_ext_authz::trace_context::Correlation;
    let correlation = Correlation::from_headers([
        (
            &b"x-request-id"[..],
            &b"5f2c1e0a-7c1d-4f1e-9a55-0123456789ab"[..],
        ),
        (
            b"traceparent",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    ]);
    let elapsed = Duration::from_micros(3);
    let (sink, flush) = LogSink::new(std::io::sink(), 1 << 16).unwrap();
    // The writer thread serves the rest of the run (the checks after this group log too).
    std::mem::forget(flush);
    let mut group = c.benchmark_group("decision_line");
    let mut line = Vec::with_capacity(1024);
    // The line as the check path formats it, into a buffer it reuses.
    let format = |line: &mut Vec<u8>| {
        line.clear();
        decision_log::format_line(
            line,
            decision_log::LineFormat::Json,
            SystemTime::now(),
            decision,
            request,
            &correlation,
            elapsed,
        );
    };
    group.bench_function("format_json", |b| {
        b.iter(|| {
            format(&mut line);
            black_box(line.len())
        })
    });
    group.bench_function("format_json_and_queue", |b| {
        b.iter(|| {
            format(&mut line);
            black_box(sink.push(&line))
        })
    });
    group.bench_function("format_text", |b| {
        b.iter(|| {
            line.clear();
            decision_log::format_line(
                &mut line,
                decision_log::LineFormat::Text,
                SystemTime::now(),
                decision,
                request,
                &correlation,
                elapsed,
            );
            black_box(line.len())
        })
    });
    decision_log::write_to(sink.clone(), decision_log::LineFormat::Json);
    group.bench_function("record_json", |b| {
        b.iter(|| decision_log::record_correlated(decision, request, &correlation, elapsed))
    });
    group.finish();
}

/// The revocation list: what it adds to a check at 100,000 entries, and what loading that
/// many costs (a reload happens beside the checks, never inside one).
fn revocation(c: &mut Criterion, f: &Fixture) {
    const ENTRIES: usize = 100_000;
    let rt = runtime();
    let text = load::revocations_yaml(ENTRIES);
    let list = RevocationList::parse(&text).expect("bench revocation list");
    assert_eq!(list.len(), ENTRIES);
    let none = RevocationList::empty();

    // The lookup alone, for a verified token on no list (the common case: every check
    // pays it), with 100,000 entries and with none.
    let small = active(f, 100);
    let route = small.policy.routes.routes()[0].clone();
    let token = rt
        .block_on(Verifier::new(0).verify(small.trust(&route, &none), &f.tokens[0]))
        .unwrap();
    let mut group = c.benchmark_group("revocation");
    group.bench_function("find_100k_entries", |b| {
        b.iter(|| black_box(list.find(black_box(&token))))
    });
    group.bench_function("find_no_list", |b| {
        b.iter(|| black_box(none.find(black_box(&token))))
    });

    // A whole cached check, with the list in force and without.
    cognito_ext_authz::observe::metrics::install();
    let requests = requests(f, |_, _| {});
    let with_list = Arc::new(Pipeline::new(active(f, 1000), 10_000));
    with_list.replace_revocations(Arc::new(list));
    let without = Arc::new(Pipeline::new(active(f, 1000), 10_000));
    for (name, pipeline) in [
        ("check_cached_100k_entries", with_list),
        ("check_cached_no_list", without),
    ] {
        let service = AuthorizationService::new(pipeline);
        for r in &requests {
            rt.block_on(service.check_view(r.clone()));
        }
        checks_in_turn(&mut group, name, &rt, &service, &requests);
    }
    group.finish();

    let mut group = c.benchmark_group("revocation_load");
    group.sample_size(10);
    group.bench_function("parse_100k_entries", |b| {
        b.iter(|| black_box(RevocationList::parse(black_box(&text)).unwrap()))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    token_verification(c, &f);
    route_matching(c, &f);
    whole_check(c, &f);
    revocation(c, &f);
}

criterion_group! {
    name = hot_path;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = benches
}
criterion_main!(hot_path);
