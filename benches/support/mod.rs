//! What both criterion benches (`hot_path`, `telemetry`) share: the bench key and its
//! tokens, the policy in force built in process, a runtime, the `Check` requests, and a
//! whole `Check` benched over those requests in turn.
//!
//! It lives here, not in the test kit, because it needs criterion: the kit is built with
//! every integration test, which have no use for it. What the load generator shares with
//! the benches (policy, tokens, targets) is the kit's `testkit::load`.

use std::hint::black_box;
use std::sync::Arc;

use cognito_ext_authz::active::ActivePolicy;
use cognito_ext_authz::grpc::{self, AuthorizationService, CheckRequestView};
use cognito_ext_authz::policy::Policy;
use cognito_ext_authz::proto::envoy::service::auth::v3::CheckRequest;
use cognito_ext_authz::token::keys::{PoolKeys, parse_jwks};
use criterion::measurement::Measurement;
use criterion::{BatchSize, BenchmarkGroup};
use testkit::{SigningKey, check_request, load};

/// The bench pool's key set URI: never fetched (the keys are fixed in process).
const JWKS_URI: &str = "http://127.0.0.1:1/ap-south-1_benchpool/.well-known/jwks.json";

/// The bench signing key and 512 distinct tokens it signed.
pub struct Fixture {
    pub key: SigningKey,
    pub tokens: Vec<String>,
}

pub fn fixture() -> Fixture {
    let key = SigningKey::generate(load::KID);
    let tokens = (0..512).map(|n| load::token(&key, n)).collect();
    Fixture { key, tokens }
}

/// The bench policy with `routes` routes in force, with the fixture's key as its pool's
/// key set.
pub fn active(f: &Fixture, routes: usize) -> ActivePolicy {
    let policy = Policy::parse(&load::policy_yaml(routes, JWKS_URI)).expect("bench policy");
    let keys = parse_jwks(f.key.jwks().as_bytes()).expect("bench JWKS");
    ActivePolicy {
        policy,
        keys: vec![Arc::new(PoolKeys::fixed(load::POOL, keys))],
        generation: 1,
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// One request to [`load::TARGETS`]`[2]` per token, each changed by `shape` (given the
/// token's index), as the wire views the service decodes: built once, as the server
/// would have decoded them.
pub fn requests(f: &Fixture, shape: impl Fn(usize, &mut CheckRequest)) -> Vec<CheckRequestView> {
    let (method, host, raw) = load::TARGETS[2];
    f.tokens
        .iter()
        .enumerate()
        .map(|(n, t)| {
            let mut r = check_request(method, host, raw, Some(t));
            shape(n, &mut r);
            grpc::view_of(&r)
        })
        .collect()
}

/// Benches `service` deciding `requests` in turn, each a fresh clone made outside the
/// timing.
pub fn checks_in_turn<M: Measurement>(
    group: &mut BenchmarkGroup<'_, M>,
    name: &str,
    rt: &tokio::runtime::Runtime,
    service: &AuthorizationService,
    requests: &[CheckRequestView],
) {
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
}
