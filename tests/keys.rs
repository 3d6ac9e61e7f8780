//! Key fetching (docs/decisions.md, "Token rules"): HTTPS with certificate checks, no
//! redirects, a timeout, a 256 KiB limit, RSA keys of 2048 to 8192 bits only, and a
//! periodic refresh. Each against the real service and a local key server.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const FETCHES: &str = "cognito_ext_authz_key_fetches_total";
const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// Keys refreshed every 10 s, and an unknown kid refetched at most once an hour.
const REFRESHING: &[(&str, &str)] = &[
    ("AUTHZ_JWKS_REFRESH_SECONDS", "10"),
    ("AUTHZ_JWKS_COOLDOWN_SECONDS", "3600"),
];

fn policy_at(jwks_uri: &str) -> String {
    format!("userPools:\n  - id: {POOL}\n    jwksUri: {jwks_uri}\n{ROUTES}")
}

fn failures() -> String {
    format!("pool=\"{POOL}\"")
}

/// Waits until the service has counted `n` failed fetches for the pool.
async fn wait_failed_fetches(service: &Service, n: f64) {
    eventually(60, "failed key fetches counted", || async {
        service
            .metric(FETCHES, &[&failures(), r#"result="failure""#])
            .await
            >= n
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_key_fetches_check_the_certificate() {
    let pki = TestPki::generate();
    let keys = TlsKeyServer::start(&pki, json!({ "keys": [key(0).jwk.clone()] }).to_string()).await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pki.ca_pem).unwrap();
    let ca_path = ca.path().to_str().unwrap().to_owned();

    // Trusting the CA (the system trust store variable), the same server is accepted...
    let trusting = Service::ready(
        BIN,
        &policy_at(&keys.jwks_uri(POOL)),
        &[("SSL_CERT_FILE", &ca_path)],
    )
    .await;
    assert_eq!(trusting.check_token(&scope_token()).await.status, 200);
    drop(trusting);
    let answered = keys.fetches();
    assert_eq!(answered, 1);

    // ...and without it, its certificate (from a CA nobody trusts) is refused: no keys,
    // never SERVING, a failed fetch counted and logged, no request ever answered.
    let service = Service::start(BIN, &policy_at(&keys.jwks_uri(POOL)), &[]);
    wait_failed_fetches(&service, 1.0).await;
    assert_eq!(service.health("").await, NOT_SERVING);
    assert_eq!(
        keys.fetches(),
        answered,
        "no request went over the refused handshake"
    );
    let logs = service.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("key set fetch failed") && l.to_lowercase().contains("certificate")),
        "{logs}"
    );
    assert_eq!(service.check_token(&scope_token()).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_not_followed() {
    let keys = KeyServer::start().await;
    // The redirect target serves a perfectly good key set: following it would load keys.
    keys.publish("elsewhere", key(0));
    keys.answer(POOL, Answering::Redirect(keys.jwks_uri("elsewhere")));
    let service = Service::start(BIN, &policy(&keys, ROUTES), &[]);
    wait_failed_fetches(&service, 2.0).await;
    assert_eq!(service.health("").await, NOT_SERVING);
    assert_eq!(
        keys.fetches_of("elsewhere"),
        0,
        "attempts at the pool's URL only, never one at the redirect target"
    );
    assert!(
        service.logs().contains("HTTP status 302"),
        "{}",
        service.logs()
    );
    // It never had keys: the log says its tokens are refused, not that old keys are kept.
    let logs = service.logs();
    assert!(
        logs.contains("no keys for this pool yet, its tokens are refused (401)"),
        "{logs}"
    );
    assert!(!logs.contains("keeping the last good keys"), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_refresh_after_keys_were_fetched_keeps_them_and_says_so() {
    let (keys, service) = keys_and_service(BIN, ROUTES, REFRESHING).await;
    let token = scope_token();
    assert_eq!(service.check_token(&token).await.status, 200);
    keys.answer(POOL, Answering::Body("not a key set".into()));
    wait_failed_fetches(&service, 1.0).await;
    let logs = service.logs();
    assert!(logs.contains("keeping the last good keys"), "{logs}");
    assert!(!logs.contains("no keys for this pool yet"), "{logs}");
    assert_eq!(service.check_token(&token).await.status, 200);
    assert_eq!(service.health("").await, SERVING);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_server_that_never_answers_times_out() {
    let keys = KeyServer::start().await;
    keys.answer(POOL, Answering::Hang);
    let service = Service::start(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_JWKS_TIMEOUT_SECONDS", "1")],
    );
    // Without a timeout the first fetch would hang for ever and nothing would be counted.
    wait_failed_fetches(&service, 1.0).await;
    assert_eq!(service.health("").await, NOT_SERVING);
    assert!(
        service.logs().to_lowercase().contains("timed out"),
        "{}",
        service.logs()
    );
}

/// A key set document of exactly `size` bytes: the key set with `pad` space after it.
fn padded(keys: &KeyServer, size: usize) -> String {
    let doc = keys.jwks_document("src").to_string();
    assert!(doc.len() < size);
    format!("{doc}{}", " ".repeat(size - doc.len()))
}

#[tokio::test(flavor = "multi_thread")]
async fn key_sets_over_256_kib_are_refused() {
    const LIMIT: usize = 256 * 1024;
    let keys = KeyServer::start().await;
    keys.publish("src", key(0));

    keys.answer(POOL, Answering::Body(padded(&keys, LIMIT)));
    let at_limit = Service::ready(BIN, &policy(&keys, ROUTES), &[]).await;
    assert_eq!(at_limit.check_token(&scope_token()).await.status, 200);
    drop(at_limit);

    keys.answer(POOL, Answering::Body(padded(&keys, LIMIT + 1)));
    let over = Service::start(BIN, &policy(&keys, ROUTES), &[]);
    wait_failed_fetches(&over, 1.0).await;
    assert!(
        over.logs().contains("larger than 262144 bytes"),
        "{}",
        over.logs()
    );
    // Refused for what the URL answered, not for a failure that may pass: the pool's
    // tokens are refused, and it does not hold the pod unready.
    eventually(30, "SERVING without the refused key set", || async {
        over.health("").await == SERVING
    })
    .await;
    assert_eq!(over.check_token(&scope_token()).await.status, 401);
}

/// A policy of two pools: POOL, served by `keys`, and `other` at `other_uri`.
fn two_pools(keys: &KeyServer, other: &str, other_uri: &str) -> String {
    format!(
        "userPools:\n  - id: {POOL}\n    appClients: [{CLIENT}]\n    jwksUri: {}\n  - id: {other}\n    jwksUri: {other_uri}\n{ROUTES}",
        keys.jwks_uri(POOL)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_that_does_not_exist_refuses_its_tokens_without_holding_the_pod_unready() {
    // One team's typo (a well-formed pool id that does not exist: its key set URL answers
    // 404) must not keep every new pod unready and so stop every team's rollout.
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let missing = "us-east-1_Missing1";
    let service = Service::start(
        BIN,
        &two_pools(&keys, missing, &keys.jwks_uri(missing)),
        &[("AUTHZ_JWKS_TIMEOUT_SECONDS", "60")],
    );
    let _ = service.client().await;
    // Long before any wait (60 s timeouts would make it 6 minutes): SERVING at once.
    eventually(30, "SERVING with one pool refused", || async {
        service.health("").await == SERVING
    })
    .await;
    assert_eq!(
        service.check_token(&scope_token()).await.status,
        200,
        "the other team's tokens are decided as ever"
    );
    let logs = service.logs();
    assert!(logs.contains("HTTP status 404"), "{logs}");
    assert!(
        logs.lines().any(
            |l| l.contains("serving without the keys of these user pools") && l.contains(missing)
        ),
        "{logs}"
    );
    assert!(
        service
            .metrics()
            .await
            .lines()
            .any(|l| l.contains("key_fetches_total")
                && l.contains(missing)
                && l.contains("failure")),
        "the failing pool is counted by name (the KeyFetchFailing alert)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_whose_fetches_keep_failing_stops_holding_the_pod_unready_after_a_wait() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let stuck = "us-east-1_Stuck123";
    keys.answer(stuck, Answering::Hang);
    let service = Service::start(
        BIN,
        &two_pools(&keys, stuck, &keys.jwks_uri(stuck)),
        &[("AUTHZ_JWKS_TIMEOUT_SECONDS", "1")],
    );
    let _ = service.client().await;
    // A timeout may pass by itself: the pod waits for it a while (6 timeouts, 6 s here)...
    let stuck_failures = format!("pool=\"{stuck}\"");
    eventually(30, "a timed-out fetch of the stuck pool", || async {
        service
            .metric(FETCHES, &[&stuck_failures, r#"result="failure""#])
            .await
            >= 1.0
    })
    .await;
    assert_eq!(service.health("").await, NOT_SERVING);
    // ...then serves the pools it has.
    eventually(30, "SERVING after the wait", || async {
        service.health("").await == SERVING
    })
    .await;
    assert_eq!(service.check_token(&scope_token()).await.status, 200);
}

/// An RSA public JWK whose modulus has exactly `bits` bits (not a real key: nothing it
/// signs would verify, but a key the service accepts makes a token `bad_signature`, one it
/// skips makes it `unknown_key`).
fn jwk_of_bits(kid: &str, bits: usize) -> Value {
    let mut n = vec![0xffu8; bits.div_ceil(8)];
    let top = bits % 8;
    if top != 0 {
        n[0] = (1u8 << top) - 1;
    }
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "e": "AQAB",
           "n": URL_SAFE_NO_PAD.encode(&n)})
}

#[tokio::test(flavor = "multi_thread")]
async fn only_rsa_keys_of_2048_to_8192_bits_are_used() {
    let keys = KeyServer::start().await;
    let mut doc = keys.jwks_document("none");
    let list = doc["keys"].as_array_mut().unwrap();
    list.push(key(0).jwk.clone());
    for (kid, bits) in [
        ("b2047", 2047),
        ("b2048", 2048),
        ("b8192", 8192),
        ("b8193", 8193),
    ] {
        list.push(jwk_of_bits(kid, bits));
    }
    keys.answer(POOL, Answering::Body(doc.to_string()));
    let service = Service::ready(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "3600")],
    )
    .await;
    for (n, (kid, expected)) in [
        ("b2047", "unknown_key"),
        ("b2048", "bad_signature"),
        ("b8192", "bad_signature"),
        ("b8193", "unknown_key"),
    ]
    .into_iter()
    .enumerate()
    {
        let token =
            key(0).sign_with_header(&json!({"alg": "RS256", "kid": kid}), &access_claims(SCOPE));
        assert_eq!(service.check_token(&token).await.status, 401, "{kid}");
        let last = service.decision(n + 1).await;
        assert!(
            last["detail"].as_str().unwrap().contains(match expected {
                "unknown_key" => "no key with this kid",
                _ => "signature does not verify",
            }),
            "{kid}: {last}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_refreshed_periodically() {
    let (keys, service) = keys_and_service(BIN, ROUTES, REFRESHING).await;
    // Spend the one refetch the cooldown allows on an unknown kid...
    let bogus = key(0).sign_with_header(
        &json!({"alg": "RS256", "kid": "bogus"}),
        &access_claims(SCOPE),
    );
    assert_eq!(service.check_token(&bogus).await.status, 401);
    assert_eq!(keys.fetches(), 2);
    // ...so a key published now can only arrive with the periodic refresh (every 10 s).
    let before = keys.fetches();
    keys.publish(POOL, key(1));
    let token = key(1).sign(&access_claims(SCOPE));
    eventually(60, "the new key through a periodic refresh", || async {
        service.check_token(&token).await.status == 200
    })
    .await;
    assert_eq!(keys.fetches(), before + 1, "one refresh, no refetch");
    assert_eq!(service.health("").await, SERVING);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_online_names_the_pool_whose_keys_cannot_be_had() {
    // Offline, a well-formed pool id that does not exist is valid; online it is named.
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let missing = "us-east-1_Missing1";
    let dir = tempfile::tempdir().unwrap();
    let broken = write(
        dir.path(),
        "broken.yaml",
        &two_pools(&keys, missing, &keys.jwks_uri(missing)),
    );
    let good = write(dir.path(), "good.yaml", &policy(&keys, ROUTES));
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(BIN)
                .args(&args)
                .output()
                .unwrap()
        })
    };
    let arg = |p: &std::path::Path| p.to_str().unwrap().to_owned();

    let offline = run(vec!["validate".into(), arg(&broken)]).await.unwrap();
    assert_eq!(offline.status.code(), Some(0));

    let online = run(vec!["validate".into(), arg(&broken), "--online".into()])
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&online.stdout),
        String::from_utf8_lossy(&online.stderr),
    );
    assert_eq!(online.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("error: pool {missing}: HTTP status 404"))
            && stderr.contains("does this pool exist"),
        "{stderr}"
    );
    assert!(
        stdout.contains(&format!("pool {POOL}: 1 key(s)")),
        "{stdout}"
    );
    assert!(!stderr.contains(&format!("pool {POOL}:")), "{stderr}");

    let fine = run(vec!["validate".into(), arg(&good), "--online".into()])
        .await
        .unwrap();
    assert_eq!(
        fine.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
    assert!(String::from_utf8_lossy(&fine.stdout).contains("every user pool's keys fetched"));
}
