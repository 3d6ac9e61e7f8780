//! The revocation list (docs/policy.md, "Revocation"), through the real binary: each kind of
//! entry, a cached token refused from the moment a new list is in force, an invalid list
//! refused while the last good one stays, start-up refused on a bad list, and the
//! `validate`, `check`, `test` and `revocations prune` commands. Each refusal has its
//! control: a token the list does not name passes.
//!
//! The list seen through the service (`serving`) and through every command that reads it
//! (`tools`: `validate`, `check`, `test`, `revocations prune`); the token maker and the
//! list swapping they share are here.

use std::path::Path;

use serde_json::{Value, json};
use testkit::*;

mod serving;
mod tools;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";

const HITS: &str = "cognito_ext_authz_token_cache_hits_total";

const RELOADS: &str = "cognito_ext_authz_revocation_reloads_total";

const DECISIONS: &str = "cognito_ext_authz_decisions_total";

const SIZE: &str = "cognito_ext_authz_revocations";

/// A token with these ids, `sub` and `iat` (the rest as Cognito issues them).
fn token(jti: &str, origin_jti: &str, sub: &str, iat: u64) -> String {
    let mut claims = access_claims(SCOPE);
    claims["jti"] = json!(jti);
    claims["origin_jti"] = json!(origin_jti);
    claims["sub"] = json!(sub);
    claims["iat"] = json!(iat);
    key(0).sign(&claims)
}

/// Decides with `token` as the `n`th check of the service; its answer and decision line.
async fn decided(service: &Service, token: &str, n: &mut usize) -> (Answer, Value) {
    let answer = service.check_token(token).await;
    *n += 1;
    (answer, service.decision(*n).await)
}

/// Swaps in `revocations` (with the same policy) and waits until the service counts a
/// reload with `result`.
async fn swap_revocations(service: &mut Service, policy: &str, revocations: &str, result: &str) {
    let label = format!("result=\"{result}\"");
    let before = service.metric(RELOADS, &[&label]).await;
    service.swap_files(&[("policy.yaml", policy), ("revocations.yaml", revocations)]);
    eventually(30, "the revocation list reload", || async {
        service.metric(RELOADS, &[&label]).await > before
    })
    .await;
}

const LIST: &str = "revocations:\n  - jti: one\n  - originJti: 0b7e-session\n    reason: leaked in a log\n  - sub: u1\n    issuedBefore: 2026-11-26T10:00:00Z\n  - jti: ONE\n";
