//! The test kit of cognito-ext-authz: everything the integration tests (`tests/`), the
//! criterion benches (`benches/`) and the load generator (`examples/grpc_load.rs`) share,
//! written once.
//!
//! - [`token`]: Cognito-shaped RSA-2048 signing keys, access-token claims, minting.
//! - [`key_server`]: a local stand-in for Cognito's `/{poolId}/.well-known/jwks.json`
//!   (and the policy that trusts it), able to fail, hang, redirect or hold its answers.
//! - [`pki`]: a CA made per test and an HTTPS key server with a certificate it signed.
//! - [`service`]: the real `cognito-ext-authz serve` process on loopback ports, with its
//!   policy in a kubelet-style ConfigMap folder; its logs, metrics, health and signals.
//! - [`check`]: `CheckRequest`s shaped as Envoy's ext_authz filter sends them, and what
//!   Envoy would make of the `CheckResponse` ([`Answer`]).
//! - [`cli`]: the binary's one-shot commands (`validate`, `check`, `import`, ...) run with
//!   arguments (and standard input), their exit code and output; a child awaited with a
//!   time limit.
//! - [`load`]: fixtures for benches and load runs: a policy of any size, numbered tokens, a
//!   large revocation list, the requests the load rotates over.
//!
//! Everything but [`load`] is re-exported at the top, so a test says `use testkit::*;`.
//! Most tests start from [`keys_and_service`]: a key server with [`key`]`(0)` in [`POOL`]
//! and the service, ready, on a policy trusting it.
//!
//! # The binary under test
//!
//! Cargo tells only the root package's own integration tests where it built the
//! `cognito-ext-authz` binary (`env!("CARGO_BIN_EXE_cognito-ext-authz")`, at compile time),
//! so the kit cannot name it: a test passes it in. Each test file that starts the service
//! declares
//!
//! ```ignore
//! const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");
//! ```
//!
//! and hands it to the [`Service`] constructors (`Service::start(BIN, &policy, &[])`,
//! `Service::ready(BIN, &policy, &[])`), to [`keys_and_service`] and to [`run`].
//! Nothing is guessed from the test executable's location.
//!
//! The kit depends on the root crate for its protobuf types (the root package's
//! dev-dependency on the kit closes a cycle cargo allows). It has no tests of its own.

pub mod check;
pub mod cli;
pub mod key_server;
pub mod load;
pub mod pki;
pub mod service;
pub mod token;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use check::{
    Answer, CheckClient, check, check_request, grpc_message, raw_request, request, token_request,
};
pub use cli::{Run, check_args, run, run_with_input, wait_within};
pub use key_server::{Answering, KeyServer, policy};
pub use pki::{TestPki, TlsKeyServer};
pub use service::{PICK_PORT, Service, free_port, rss_kib, sample};
pub use token::{
    CLIENT, POOL, SCOPE, SigningKey, access_claims, b64_json, issuer, key, now, scope_token,
};

/// The fixture most tests start from: a [`KeyServer`] serving [`key`]`(0)` for [`POOL`], and
/// the service on [`policy`]`(&keys, rest)` started with `env`, ready.
///
/// Bind the key server to a name (`_keys` at least, never `_`): dropped, it stops serving.
pub async fn keys_and_service(bin: &str, rest: &str, env: &[(&str, &str)]) -> (KeyServer, Service) {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let service = Service::ready(bin, &policy(&keys, rest), env).await;
    (keys, service)
}

/// The folder `tests/fixtures/{folder}` of the root package (the kit is its
/// `crates/testkit`).
pub fn fixtures(folder: &str) -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = kit.parent().and_then(Path::parent).unwrap();
    root.join("tests/fixtures").join(folder)
}

/// Writes `text` to a file in `dir`, returning its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes the key set of [`key`]`(0)` to `jwks.json` in `dir` (for `check --jwks`),
/// returning its path.
pub fn write_jwks(dir: &Path) -> PathBuf {
    let jwks = serde_json::json!({"keys": [key(0).jwk]});
    write(dir, "jwks.json", &jwks.to_string())
}

/// Polls `f` until it returns true, for up to `secs` seconds (a generous deadline: the
/// condition is what is waited on, never the time).
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
