//! What each stage of the filter's work on one request costs inside WebAssembly, without
//! Envoy: `examples/stage_costs.rs` runs these under Node's V8 (the engine Envoy embeds),
//! `scripts/wasm-stage-costs.sh` builds and runs it. Only with the `stage-costs` feature;
//! never in the shipped module.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Instant, SystemTime};

use cognito_ext_authz_core::Answer;

use crate::config::Config;
use crate::filter::{Filter, request_from_lines};
use crate::host::{decode_map, encode_map};
use crate::keys::{HostKeys, read_answer};

/// One request the way Envoy hands it to the filter (pseudo-headers, the client's
/// headers, the ones Envoy adds).
fn header_map(host: &str, method: &str, path: &str, token: &str) -> Vec<u8> {
    let bearer = format!("Bearer {token}");
    let lines: [(&str, &[u8]); 8] = [
        (":authority", host.as_bytes()),
        (":path", path.as_bytes()),
        (":method", method.as_bytes()),
        (":scheme", b"http"),
        ("authorization", bearer.as_bytes()),
        ("x-forwarded-proto", b"http"),
        ("x-request-id", b"0b8f5a52-3f4c-4c1a-9d7e-2a1c8e6b7f10"),
        ("user-agent", b"wrk"),
    ];
    encode_map(lines.into_iter())
}

/// Nanoseconds per call of `f`, over `rounds` calls.
fn per_call(rounds: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(rounds)
}

/// Runs every stage `rounds` times on a request for `method host path` carrying `token`,
/// decided under the plugin configuration `config` with the key set `jwks`; one line per
/// stage, in nanoseconds per call.
pub fn report(
    config: &str,
    jwks: &[u8],
    token: &str,
    request: (&str, &str, &str),
    rounds: u32,
) -> Result<String, String> {
    let (method, host, path) = request;
    let config = Config::parse(config)?;
    let filter = Filter::new(1, config, HostKeys::default());
    filter.taken(0, read_answer(Some(b"200"), Some(jwks), jwks.len()));
    let map = header_map(host, method, path, token);
    let read = || {
        let lines = decode_map(black_box(&map)).ok_or("the header map does not decode")?;
        request_from_lines(lines).map_err(|e| format!("the request is refused: {}", e.label()))
    };
    let request = read()?;
    let decision = filter.decide(&request);
    let mut out = format!("decision: {}\n", decision_label(&decision));

    let mut line = |name: &str, ns: f64| {
        let _ = writeln!(out, "{name:<44} {ns:>9.0} ns");
    };
    line(
        "read the request (decode map, Request)",
        per_call(rounds, || {
            black_box(read().ok());
        }),
    );
    line(
        "decide (cached token)",
        per_call(rounds, || {
            black_box(filter.decide(black_box(&request)));
        }),
    );
    line(
        "build the answer",
        per_call(rounds, || {
            black_box(Answer::build(
                black_box(&decision),
                request.headers(),
                false,
            ));
        }),
    );
    line(
        "sha-256 of the token",
        per_call(rounds, || {
            black_box(cognito_ext_authz_core::crypto::sha256(black_box(
                token.as_bytes(),
            )));
        }),
    );
    line(
        "the cache key of the token (keyed SipHash)",
        per_call(rounds, || {
            black_box(cognito_ext_authz_core::crypto::token_key(black_box(
                token.as_bytes(),
            )));
        }),
    );
    line(
        "Instant::now",
        per_call(rounds, || {
            black_box(Instant::now());
        }),
    );
    line(
        "SystemTime::now",
        per_call(rounds, || {
            black_box(SystemTime::now());
        }),
    );
    Ok(out)
}

fn decision_label(decision: &cognito_ext_authz_core::Decision) -> String {
    match decision {
        cognito_ext_authz_core::Decision::Allow { reason, .. } => format!("allow ({reason:?})"),
        cognito_ext_authz_core::Decision::Deny { reason, .. } => {
            format!("deny ({})", reason.label())
        }
    }
}
