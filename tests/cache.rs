//! The cache of verified tokens (docs/decisions.md, "Token rules"): dropped on every policy reload,
//! bounded by `AUTHZ_TOKEN_CACHE_ENTRIES`, disabled by `0`.

use serde_json::json;
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const HITS: &str = "cognito_ext_authz_token_cache_hits_total";
const MISSES: &str = "cognito_ext_authz_token_cache_misses_total";
const RELOADS: &str = "cognito_ext_authz_policy_reloads_total";

fn token(n: usize) -> String {
    let mut claims = access_claims(SCOPE);
    claims["jti"] = json!(format!("cache-{n}"));
    key(0).sign(&claims)
}

/// Swaps in `yaml` and waits until the service counts the reload.
async fn reload(service: &mut Service, yaml: &str) {
    let before = service.metric(RELOADS, &[r#"result="success""#]).await;
    service.swap_policy(yaml);
    eventually(30, "the reload", || async {
        service.metric(RELOADS, &[r#"result="success""#]).await > before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_stops_cached_tokens_of_a_removed_app_client_or_pool_at_once() {
    let (keys, mut service) = keys_and_service(BIN, ROUTES, &[]).await;
    let cached = token(1);
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.metric(HITS, &[]).await, 1.0, "the token is cached");

    // The app client is removed from the pool: the cached token is refused at once.
    let other_client = format!(
        "userPools:\n  - id: {POOL}\n    appClients: [1otherclient234567890]\n    jwksUri: {}\n{ROUTES}",
        keys.jwks_uri(POOL)
    );
    reload(&mut service, &other_client).await;
    assert_eq!(service.check_token(&cached).await.status, 401);
    assert!(
        service.decision(3).await["detail"]
            .as_str()
            .unwrap()
            .starts_with("client_not_allowed")
    );

    // Back to the first policy (cached again), then the pool is removed altogether.
    reload(&mut service, &policy(&keys, ROUTES)).await;
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.check_token(&cached).await.status, 200);
    let hits = service.metric(HITS, &[]).await;
    let other_pool = format!(
        "userPools:\n  - id: eu-west-1_zzzzzzzzz\n    jwksUri: {}\n{ROUTES}",
        keys.jwks_uri(POOL)
    );
    reload(&mut service, &other_pool).await;
    assert_eq!(service.check_token(&cached).await.status, 401);
    assert_eq!(
        service.metric(HITS, &[]).await,
        hits,
        "not answered from the cache"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_entries_disables_the_cache() {
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_TOKEN_CACHE_ENTRIES", "0")]).await;
    let same = token(1);
    for _ in 0..3 {
        assert_eq!(service.check_token(&same).await.status, 200);
    }
    assert_eq!(service.metric(HITS, &[]).await, 0.0);
    assert_eq!(
        service.metric(MISSES, &[]).await,
        0.0,
        "no cache: no lookups"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cache_holds_at_most_the_configured_number_of_tokens() {
    const TOKENS: usize = 200;
    const ENTRIES: usize = 10;
    let (_keys, service) = keys_and_service(
        BIN,
        ROUTES,
        &[("AUTHZ_TOKEN_CACHE_ENTRIES", &ENTRIES.to_string())],
    )
    .await;
    let tokens: Vec<String> = (0..TOKENS).map(token).collect();
    for t in &tokens {
        assert_eq!(service.check_token(t).await.status, 200);
    }
    assert_eq!(service.metric(HITS, &[]).await, 0.0);
    // A second round over the same tokens: an unbounded cache would answer all of them.
    for t in &tokens {
        assert_eq!(service.check_token(t).await.status, 200);
    }
    let hits = service.metric(HITS, &[]).await as usize;
    assert!(
        hits <= 2 * ENTRIES,
        "{hits} of {TOKENS} tokens answered from a cache of {ENTRIES} entries"
    );
}

/// docs/decisions.md: "A cached token stops counting as soon as its signing key leaves the pool's key
/// set." Here the key leaves while its `kid` stays, now naming another key (a re-used or
/// re-issued `kid`): the cache only asks whether the `kid` is still there, so the cached
/// token keeps passing although the key that signed it is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_stops_when_its_kid_names_another_key() {
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "0")]).await;
    let cached = token(1);
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.check_token(&cached).await.status, 200);

    // The pool's key set now has key(1)'s material under key(0)'s kid.
    keys.withdraw(POOL, &key(0).kid);
    let mut replaced = key(1).jwk.clone();
    replaced["kid"] = json!(key(0).kid);
    keys.answer(
        POOL,
        Answering::Body(json!({ "keys": [replaced] }).to_string()),
    );
    let unknown = key(0).sign_with_header(
        &json!({"alg": "RS256", "kid": "unknown"}),
        &access_claims(SCOPE),
    );
    assert_eq!(service.check_token(&unknown).await.status, 401); // refetches the key set
    // The control: a token of key(0) never seen before no longer verifies...
    assert_eq!(service.check_token(&token(2)).await.status, 401);
    // ...and the cached one must not pass either.
    assert_eq!(service.check_token(&cached).await.status, 401);
}
