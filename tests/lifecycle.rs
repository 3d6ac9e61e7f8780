//! Keys, reloads, health and signals (SPEC 1-4), against the real service process.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A token signed by `key` that no earlier check has seen (so it is verified, not cached).
fn fresh_token(signer: &SigningKey, n: u64) -> String {
    let mut claims = access_claims(SCOPE);
    claims["jti"] = json!(format!("fresh-{n}"));
    signer.sign(&claims)
}

async fn status_of(service: &Service, token: &str) -> u16 {
    status_at(service.grpc, token.to_owned()).await
}

/// The status of `POST /users/1` with `token`, over a new connection to `grpc`.
async fn status_at(grpc: std::net::SocketAddr, token: String) -> u16 {
    let mut client =
        cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient::connect(
            format!("http://{grpc}"),
        )
        .await
        .unwrap();
    let headers = [("authorization", bearer(&token))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    check(&mut client, request("POST", "h", "/users/1", &headers))
        .await
        .status
}

/// Checks every token at once, each over its own connection.
async fn statuses_concurrently(grpc: std::net::SocketAddr, tokens: Vec<String>) -> Vec<u16> {
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| tokio::spawn(status_at(grpc, t)))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Polls `f` until it returns true, for up to `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
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

#[tokio::test(flavor = "multi_thread")]
async fn health_is_not_serving_until_every_pools_keys_are_loaded() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    keys.set_down(true);
    let service = Service::start(&policy(&keys, ROUTES), &[]);
    let _ = service.client().await;
    eventually(10, "a failed key fetch", || async { keys.fetches() >= 1 }).await;
    assert_eq!(service.health("").await, NOT_SERVING);
    assert_eq!(
        service.health("envoy.service.auth.v3.Authorization").await,
        NOT_SERVING
    );
    let ready = reqwest::get(format!("http://{}/readyz", service.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    // Checks are answered meanwhile, and a token cannot be verified without keys.
    assert_eq!(status_of(&service, &fresh_token(key(0), 1)).await, 401);

    keys.set_down(false);
    eventually(15, "SERVING after the key server recovers", || async {
        service.health("").await == SERVING
    })
    .await;
    assert_eq!(
        service.health("envoy.service.auth.v3.Authorization").await,
        SERVING
    );
    assert_eq!(status_of(&service, &fresh_token(key(0), 2)).await, 200);
    let metrics = service.metrics().await;
    assert!(
        metrics.contains(&format!(
            "cognito_ext_authz_key_fetches_total{{pool=\"{POOL}\",result=\"failure\"}}"
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_keys_are_picked_up_and_last_good_keys_survive_outages() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    let mut service = Service::start(
        &policy(&keys, ROUTES),
        &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "1")],
    );
    service.wait_ready().await;
    assert_eq!(status_of(&service, &fresh_token(key(0), 1)).await, 200);

    // Cognito adds a key: a token signed with it triggers one refetch and is accepted.
    keys.publish(POOL, key(1));
    assert_eq!(status_of(&service, &fresh_token(key(1), 2)).await, 200);

    // The key server goes down: known keys keep working, even after a failed refetch.
    keys.set_down(true);
    assert_eq!(status_of(&service, &fresh_token(key(2), 3)).await, 401);
    assert_eq!(status_of(&service, &fresh_token(key(0), 4)).await, 200);
    assert_eq!(status_of(&service, &fresh_token(key(1), 5)).await, 200);

    // A key leaves the key set: tokens signed with it stop working, cached ones included.
    let cached = fresh_token(key(0), 6);
    assert_eq!(status_of(&service, &cached).await, 200);
    keys.set_down(false);
    keys.withdraw(POOL, &key(0).kid);
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the refetch cooldown
    assert_eq!(status_of(&service, &fresh_token(key(2), 7)).await, 401); // triggers a refetch
    assert_eq!(status_of(&service, &cached).await, 401);
    assert_eq!(status_of(&service, &fresh_token(key(1), 8)).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_kids_share_one_refetch_per_cooldown() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    let mut service = Service::start(
        &policy(&keys, ROUTES),
        &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "600")],
    );
    service.wait_ready().await;
    let before = keys.fetches();

    let unknown_kid = |prefix: &str, n: usize| {
        key(0).sign_with_header(
            &json!({"alg": "RS256", "kid": format!("{prefix}-{n}")}),
            &access_claims(SCOPE),
        )
    };
    let tokens = (0..64).map(|n| unknown_kid("attacker", n)).collect();
    let statuses = statuses_concurrently(service.grpc, tokens).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    for n in 0..64 {
        assert_eq!(status_of(&service, &unknown_kid("again", n)).await, 401);
    }
    assert_eq!(
        keys.fetches() - before,
        1,
        "one refetch for every unknown kid within the cooldown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_unknown_kids_wait_for_one_fetch() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    let mut service = Service::start(
        &policy(&keys, ROUTES),
        &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "600")],
    );
    service.wait_ready().await;
    let before = keys.fetches();
    // key(1) is published now; 32 concurrent checks with its tokens need its kid.
    keys.publish(POOL, key(1));
    let tokens = (0..32).map(|n| fresh_token(key(1), 100 + n)).collect();
    let statuses = statuses_concurrently(service.grpc, tokens).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        keys.fetches() - before,
        1,
        "concurrent misses shared one fetch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configmap_update_reloads_the_policy_and_a_bad_one_is_refused() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    // No polling fallback: the change must be seen through the folder watch.
    let mut service = Service::start(
        &policy(&keys, ROUTES),
        &[("AUTHZ_POLICY_POLL_SECONDS", "3600")],
    );
    service.wait_ready().await;
    let token = fresh_token(key(0), 1);
    assert_eq!(status_of(&service, &token).await, 200);

    service.swap_policy(&policy(
        &keys,
        "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [other/scope]\n",
    ));
    eventually(5, "the new policy in force", || async {
        status_of(&service, &token).await == 401
    })
    .await;

    // A broken policy is refused; the last good one keeps answering.
    service.swap_policy(&policy(
        &keys,
        "routes:\n  - path: /users/{id\n    scopes: [a/b]\n",
    ));
    eventually(5, "the refusal logged", || async {
        service.logs().contains("policy refused")
    })
    .await;
    assert!(service.logs().contains("routes[0] (/users/{id).path"));
    assert_eq!(status_of(&service, &token).await, 401);
    let mut client = service.client().await;
    let a = check(&mut client, request("POST", "h", "/users/1", &[])).await;
    assert_eq!(
        a.headers["www-authenticate"], "Bearer",
        "still the last good policy"
    );
    let metrics = service.metrics().await;
    assert!(
        metrics.contains("cognito_ext_authz_policy_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cognito_ext_authz_policy_reloads_total{result=\"success\"} 2"),
        "{metrics}"
    );

    // Fixing it takes effect again.
    service.swap_policy(&policy(&keys, ROUTES));
    eventually(5, "the fixed policy in force", || async {
        status_of(&service, &token).await == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_policy_file_rewritten_in_place_reloads() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    let mut service = Service::start_in(
        &policy(&keys, ROUTES),
        &[("AUTHZ_POLICY_POLL_SECONDS", "3600")],
        false,
    );
    service.wait_ready().await;
    let token = fresh_token(key(0), 1);
    assert_eq!(status_of(&service, &token).await, 200);
    std::fs::write(
        service.policy_path(),
        policy(
            &keys,
            "defaultAction: deny\nroutes:\n  - path: /other\n    auth: none\n",
        ),
    )
    .unwrap();
    eventually(5, "the rewritten policy in force", || async {
        status_of(&service, &token).await == 403
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_then_exits_zero() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    let mut service = Service::start(&policy(&keys, ROUTES), &[("AUTHZ_DRAIN_SECONDS", "2")]);
    service.wait_ready().await;
    let mut client = service.client().await;
    service.signal("TERM");
    eventually(2, "NOT_SERVING while draining", || async {
        service.health("").await == NOT_SERVING
    })
    .await;
    // Still answering during the drain, on the connection Envoy already holds.
    let token = fresh_token(key(0), 1);
    let a = check(
        &mut client,
        request(
            "POST",
            "h",
            "/users/1",
            &[("authorization", &bearer(&token))],
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(service.wait_exit(Duration::from_secs(10)).await, Some(0));
    assert!(service.logs().contains("draining"));
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_errors_are_clear() {
    let keys = KeyServer::start().await;
    let mut service = Service::start(
        &policy(
            &keys,
            "routes:\n  - path: /a\n    methods: [GETT]\n    scopess: [x]\n",
        ),
        &[],
    );
    assert_eq!(service.wait_exit(Duration::from_secs(10)).await, Some(1));
    assert!(service.logs().contains("scopess"), "{}", service.logs());

    let mut service = Service::start(
        &policy(&keys, ROUTES),
        &[("AUTHZ_LISTEN_ADDR", "nine-thousand")],
    );
    assert_eq!(service.wait_exit(Duration::from_secs(10)).await, Some(2));
    assert!(
        service.logs().contains("AUTHZ_LISTEN_ADDR"),
        "{}",
        service.logs()
    );
}
