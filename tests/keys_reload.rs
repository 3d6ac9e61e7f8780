//! A policy reload that adds user pools: their first key fetches run side by side, so one
//! slow key server (another team's, say) holds the reload for one timeout, not one per
//! pool added; until then the last policy stays in force whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");
const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const RELOADS: &str = "cognito_ext_authz_policy_reloads_total";
const ADDED: [&str; 3] = ["us-east-1_Added1", "us-east-1_Added2", "us-east-1_Added3"];

/// The status of `GET /health` without a token.
async fn health(service: &Service) -> u16 {
    let mut client = service.client().await;
    check(&mut client, request("GET", "h", "/health", &[]))
        .await
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn pools_added_by_a_reload_are_fetched_side_by_side() {
    // A timeout far longer than the test: one pool after another, the second pool's fetch
    // would only start once the first gave up.
    let (keys, mut service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_TIMEOUT_SECONDS", "60")]).await;
    let held = Arc::new(AtomicBool::new(true));
    let mut pools = format!(
        "userPools:\n  - id: {POOL}\n    appClients: [{CLIENT}]\n    jwksUri: {}\n",
        keys.jwks_uri(POOL)
    );
    for pool in ADDED {
        keys.publish(pool, key(1));
        keys.answer(pool, Answering::Hold(held.clone()));
        pools.push_str(&format!(
            "  - id: {pool}\n    jwksUri: {}\n",
            keys.jwks_uri(pool)
        ));
    }
    let before = service.metric(RELOADS, &[r#"result="success""#]).await;
    service.swap_policy(&format!(
        "{pools}{ROUTES}  - name: health\n    path: /health\n    auth: none\n"
    ));
    eventually(30, "every added pool's key set requested", || async {
        ADDED.iter().all(|p| keys.fetches_of(p) >= 1)
    })
    .await;
    // Still the last policy, whole, while the new pools' keys are on their way.
    assert_eq!(
        service.metric(RELOADS, &[r#"result="success""#]).await,
        before
    );
    assert_ne!(health(&service).await, 200);
    held.store(false, Ordering::SeqCst);
    eventually(30, "the reload", || async {
        service.metric(RELOADS, &[r#"result="success""#]).await > before
    })
    .await;
    assert_eq!(health(&service).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_server_that_hangs_does_not_hold_back_another_pools_fetch() {
    // The slow pool is listed first: one fetch after another, the second pool's would
    // wait for the first's 60 s timeout, and the pod with it.
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let held = Arc::new(AtomicBool::new(true));
    let slow = ADDED[0];
    keys.publish(slow, key(1));
    keys.answer(slow, Answering::Hold(held.clone()));
    let policy = format!(
        "userPools:\n  - id: {slow}\n    jwksUri: {}\n  - id: {POOL}\n    appClients: [{CLIENT}]\n    jwksUri: {}\n{ROUTES}",
        keys.jwks_uri(slow),
        keys.jwks_uri(POOL)
    );
    let service = Service::start(BIN, &policy, &[("AUTHZ_JWKS_TIMEOUT_SECONDS", "60")]);
    // No check is sent before this (a check would fetch its pool's keys itself).
    eventually(30, "the other pool's key set requested", || async {
        keys.fetches_of(POOL) >= 1
    })
    .await;
    assert_eq!(
        keys.fetches_of(slow),
        1,
        "the slow fetch is still the first"
    );
    let _ = service.client().await;
    held.store(false, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_refused_at_first_is_retried_and_its_keys_come_into_force() {
    // The key set URL answers 404 first (a pool being created, say): the pod serves the
    // other pool, refuses this one's tokens, and takes its keys once they are there; a
    // token of the other pool's key never passes as this pool's.
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let late = ADDED[1];
    let policy = format!(
        "userPools:\n  - id: {POOL}\n    appClients: [{CLIENT}]\n    jwksUri: {}\n  - id: {late}\n    appClients: [{CLIENT}]\n    jwksUri: {}\n{ROUTES}",
        keys.jwks_uri(POOL),
        keys.jwks_uri(late)
    );
    let service = Service::ready(BIN, &policy, &[("AUTHZ_JWKS_TIMEOUT_SECONDS", "5")]).await;
    let mut claims = access_claims(SCOPE);
    claims["iss"] = serde_json::json!(issuer(late));
    let late_token = key(1).sign(&claims);
    let forged = key(0).sign(&claims);
    assert_eq!(service.check_token(&late_token).await.status, 401);
    keys.publish(late, key(1));
    eventually(60, "the late pool's keys in force", || async {
        service.check_token(&late_token).await.status == 200
    })
    .await;
    assert_eq!(service.check_token(&forged).await.status, 401);
    assert_eq!(service.check_token(&scope_token()).await.status, 200);
}
