//! API Gateway's authorizer model (docs/policy.md) through the real service: named authorizers
//! with their own pools and token headers, ID-token routes, identity validation
//! expressions, result TTLs, and claims passed to the upstream as headers.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const STAFF_POOL: &str = "eu-west-1_StaffPool1";
const CUSTOMER_POOL: &str = "eu-west-1_CustPool01";
const CUSTOMER_CLIENT: &str = "custclient0123456789abcdef";

fn two_authorizers(keys: &KeyServer) -> String {
    two_authorizers_with(&keys.jwks_uri(STAFF_POOL), &keys.jwks_uri(CUSTOMER_POOL))
}

/// The two-authorizer policy, its pools' keys at `staff` and `cust`.
fn two_authorizers_with(staff: &str, cust: &str) -> String {
    format!(
        r#"authorizers:
  staff:
    userPools:
      - arn: arn:aws:cognito-idp:eu-west-1:123456789012:userpool/{STAFF_POOL}
        jwksUri: {staff}
  customers:
    userPools:
      - id: {CUSTOMER_POOL}
        appClients: [{CUSTOMER_CLIENT}]
        jwksUri: {cust}
    tokenSource: {{ header: x-customer-token }}
defaultAuthorizer: staff
claimHeaders:
  x-user-email: email
  x-tenant: custom:tenant
  x-level: custom:level
  x-roles: custom:roles
routes:
  - name: staff-reports
    path: /staff/reports
    methods: [GET]
    scopes: [reports/read]
  - name: profile
    path: /profile
    authorizer: customers
    tokenUse: id
  - name: orders
    path: /orders
    authorizer: customers
    scopes: [orders/read]
"#
    )
}

fn access(pool: &str, client: &str, scope: &str) -> Value {
    let mut c = access_claims(scope);
    c["iss"] = json!(issuer(pool));
    c["client_id"] = json!(client);
    c
}

/// A Cognito ID token's claims (`token_use: id`, `aud` the app client).
fn id_claims(pool: &str, client: &str) -> Value {
    let now = now();
    json!({
        "sub": "11111111-2222-3333-4444-555555555555",
        "aud": client,
        "cognito:groups": ["buyers"],
        "email_verified": true,
        "token_use": "id",
        "auth_time": now - 60,
        "iss": issuer(pool),
        "cognito:username": "carol",
        "exp": now + 3600,
        "iat": now - 60,
        "email": "carol@example.com",
        "custom:tenant": "acme",
        "custom:level": 3,
        "custom:roles": ["a", "b"],
    })
}

/// The answer to `GET h{path}` with `headers`.
async fn get(client: &mut CheckClient, path: &str, headers: &[(&str, &str)]) -> Answer {
    check(client, request("GET", "h", path, headers)).await
}

async fn started(keys: &KeyServer, yaml: &str, env: &[(&str, &str)]) -> Service {
    keys.publish(STAFF_POOL, key(0));
    keys.publish(CUSTOMER_POOL, key(1));
    Service::ready(BIN, yaml, env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn each_route_takes_tokens_of_its_own_authorizer_from_its_own_header() {
    let keys = KeyServer::start().await;
    let service = started(&keys, &two_authorizers(&keys), &[]).await;
    let mut client = service.client().await;
    let staff = format!(
        "Bearer {}",
        key(0).sign(&access(STAFF_POOL, "staffclient01", "reports/read"))
    );
    // A customer-pool token holding the staff scope: API Gateway refuses it on the staff route.
    let customer_with_staff_scope = format!(
        "Bearer {}",
        key(1).sign(&access(
            CUSTOMER_POOL,
            CUSTOMER_CLIENT,
            "reports/read orders/read"
        ))
    );

    let a = get(&mut client, "/staff/reports", &[("authorization", &staff)]).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.metadata["authorizer"], "staff");
    assert_eq!(a.metadata["token_use"], "access");
    let a = get(
        &mut client,
        "/staff/reports",
        &[("authorization", &customer_with_staff_scope)],
    )
    .await;
    assert_eq!(a.status_and("reason"), (401, "invalid_token"));

    // The customers' header is read only on their routes, and theirs only.
    let a = get(
        &mut client,
        "/orders",
        &[("x-customer-token", &customer_with_staff_scope)],
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.metadata["authorizer"], "customers");
    let a = get(
        &mut client,
        "/orders",
        &[("authorization", &customer_with_staff_scope)],
    )
    .await;
    assert_eq!(a.status_and("reason"), (401, "no_token"));
    let a = get(
        &mut client,
        "/staff/reports",
        &[("x-customer-token", &staff)],
    )
    .await;
    assert_eq!(a.status_and("reason"), (401, "no_token"));
    let m = service.metrics().await;
    assert!(m.contains(r#"authorizer="customers""#), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_token_route_takes_id_tokens_as_api_gateway_does() {
    let keys = KeyServer::start().await;
    let service = started(&keys, &two_authorizers(&keys), &[]).await;
    let mut client = service.client().await;
    let profile = |token: &str| {
        request(
            "GET",
            "h",
            "/profile",
            &[
                ("x-customer-token", token),
                ("x-user-email", "forged@example.com"),
                ("x_tenant", "forged"),
            ],
        )
    };
    let id = key(1).sign(&id_claims(CUSTOMER_POOL, CUSTOMER_CLIENT));
    let a = check(&mut client, profile(&id)).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.headers["x-cognito-sub"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(a.headers["x-cognito-client-id"], CUSTOMER_CLIENT);
    assert_eq!(a.headers["x-cognito-username"], "carol");
    assert_eq!(a.headers["x-cognito-groups"], "buyers");
    assert!(a.removed.contains(&"x-cognito-scope".to_owned()), "{a:?}");
    assert_eq!(a.metadata["token_use"], "id");
    // Claims to headers: string, number, array, custom attributes; forged ones replaced.
    assert_eq!(a.headers["x-user-email"], "carol@example.com");
    assert_eq!(a.headers["x-tenant"], "acme");
    assert_eq!(a.headers["x-level"], "3");
    assert_eq!(a.headers["x-roles"], "a,b");
    assert!(a.overwrites);
    assert!(a.removed.contains(&"x_tenant".to_owned()), "{a:?}");

    // An access token of the same pool and client: 401 on an ID-token route.
    let access_token = key(1).sign(&access(CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read"));
    let a = check(&mut client, profile(&access_token)).await;
    assert_eq!(a.status_and("reason"), (401, "invalid_token"));
    // An expired ID token: API Gateway's expired body.
    let mut expired = id_claims(CUSTOMER_POOL, CUSTOMER_CLIENT);
    expired["exp"] = json!(now() - 10);
    let a = check(&mut client, profile(&key(1).sign(&expired))).await;
    assert_eq!(a.body, r#"{"message":"The incoming token has expired"}"#);
    // aud outside appClients, or empty: 401.
    for aud in ["otherclient0000000000000", ""] {
        let a = check(
            &mut client,
            profile(&key(1).sign(&id_claims(CUSTOMER_POOL, aud))),
        )
        .await;
        assert_eq!(a.status, 401, "aud {aud:?}: {a:?}");
    }
    // An ID token on an access-token route: 401.
    let a = get(&mut client, "/orders", &[("x-customer-token", &id)]).await;
    assert_eq!(a.status_and("reason"), (401, "invalid_token"));
    // Claim headers are removed when the token does not supply them, and on public or
    // access routes whose token lacks the claims.
    let a = get(
        &mut client,
        "/orders",
        &[
            (
                "x-customer-token",
                &key(1).sign(&access(CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read")),
            ),
            ("x-user-email", "forged@example.com"),
        ],
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(!a.headers.contains_key("x-user-email"));
    assert!(a.removed.contains(&"x-user-email".to_owned()), "{a:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_identity_validation_expression_is_matched_against_aud() {
    let keys = KeyServer::start().await;
    let yaml = format!(
        r#"authorizers:
  customers:
    userPools: [{{ id: {CUSTOMER_POOL}, jwksUri: {cust} }}]
    identityValidationExpression: "^cust[0-9a-z]{{22}}$"
routes:
  - path: /profile
    tokenUse: id
  - path: /orders
"#,
        cust = keys.jwks_uri(CUSTOMER_POOL)
    );
    let service = started(&keys, &yaml, &[]).await;
    let mut client = service.client().await;
    let ask = |path: &str, claims: &Value| {
        request("GET", "h", path, &[("authorization", &key(1).sign(claims))])
    };
    let a = check(
        &mut client,
        ask("/profile", &id_claims(CUSTOMER_POOL, CUSTOMER_CLIENT)),
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = check(
        &mut client,
        ask(
            "/profile",
            &id_claims(CUSTOMER_POOL, "other0123456789abcdefghijk"),
        ),
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(a.metadata["reason"] == "invalid_token");
    // Access tokens have no aud: they cannot match.
    let a = check(
        &mut client,
        ask("/orders", &access(CUSTOMER_POOL, CUSTOMER_CLIENT, "")),
    )
    .await;
    assert_eq!(a.status, 401, "{a:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_written_expression_must_match_the_whole_aud() {
    // API Gateway matches the whole aud (Java's `matches`): `custclient[0-9a-f]{16}` takes
    // the client id itself, never an aud that merely contains it.
    let keys = KeyServer::start().await;
    let yaml = format!(
        r#"authorizers:
  customers:
    userPools: [{{ id: {CUSTOMER_POOL}, jwksUri: {cust} }}]
    identityValidationExpression: "custclient[0-9a-f]{{16}}"
routes:
  - path: /profile
    tokenUse: id
"#,
        cust = keys.jwks_uri(CUSTOMER_POOL)
    );
    let service = started(&keys, &yaml, &[]).await;
    let mut client = service.client().await;
    for (aud, status) in [
        (CUSTOMER_CLIENT.to_owned(), 200),
        (format!("xx{CUSTOMER_CLIENT}xx"), 401),
        (format!("{CUSTOMER_CLIENT}0"), 401),
        (format!("x{CUSTOMER_CLIENT}"), 401),
        (format!("{CUSTOMER_CLIENT}\n"), 401),
    ] {
        let token = key(1).sign(&id_claims(CUSTOMER_POOL, &aud));
        let a = get(&mut client, "/profile", &[("authorization", &token)]).await;
        assert_eq!(a.status, status, "aud {aud:?}: {a:?}");
        if status == 401 {
            assert_eq!(a.metadata["reason"], "invalid_token", "{aud:?}");
        }
    }
}

#[test]
fn validate_says_which_token_each_route_takes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "https://keys.example.com/jwks.json";
    let yaml = two_authorizers_with(keys, keys);
    let path = write(dir.path(), "policy.yaml", &yaml);
    let out = std::process::Command::new(BIN)
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"))
            .to_owned()
    };
    assert!(line("profile").ends_with("valid ID token"), "{stdout}");
    assert!(
        line("orders").ends_with("valid access token with any scope of [orders/read]"),
        "{stdout}"
    );
}

fn cache_misses(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("cognito_ext_authz_token_cache_misses_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_result_ttl_bounds_how_long_a_verified_token_is_reused() {
    let keys = KeyServer::start().await;
    let yaml = |ttl: u64| {
        format!(
            r#"authorizers:
  staff:
    userPools: [{{ id: {STAFF_POOL}, jwksUri: {staff} }}]
    resultTtlSeconds: {ttl}
routes:
  - path: /staff/reports
"#,
            staff = keys.jwks_uri(STAFF_POOL)
        )
    };
    let token = format!(
        "Bearer {}",
        key(0).sign(&access(STAFF_POOL, "staffclient01", ""))
    );
    let ask = || {
        request(
            "GET",
            "h",
            "/staff/reports",
            &[("authorization", token.as_str())],
        )
    };

    // TTL 0: every request is verified again (each one a cache miss).
    let service = started(&keys, &yaml(0), &[]).await;
    let mut client = service.client().await;
    let before = cache_misses(&service.metrics().await);
    for _ in 0..5 {
        assert_eq!(check(&mut client, ask()).await.status, 200);
    }
    assert_eq!(cache_misses(&service.metrics().await) - before, 5);
    drop(service);

    // TTL 3: reused at once (two checks on loopback take far less than 3 s, however slow
    // the machine), verified again once the 3 s have passed.
    let service = started(&keys, &yaml(3), &[]).await;
    let mut client = service.client().await;
    let before = cache_misses(&service.metrics().await);
    assert_eq!(check(&mut client, ask()).await.status, 200);
    assert_eq!(check(&mut client, ask()).await.status, 200);
    let after_two = cache_misses(&service.metrics().await) - before;
    assert_eq!(
        after_two, 1,
        "the second check reused the first verification"
    );
    let waited = Instant::now();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(waited.elapsed() >= Duration::from_secs(3));
    assert_eq!(check(&mut client, ask()).await.status, 200);
    assert_eq!(cache_misses(&service.metrics().await) - before, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn policies_that_mix_forms_or_misuse_the_model_are_refused_with_their_place() {
    let cases = [
        (
            "userPools: [{id: eu-west-1_StaffPool1}]\nauthorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01}]\nroutes: []\n",
            "never both",
        ),
        (
            "authorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01}]\nroutes:\n  - path: /p\n    tokenUse: id\n    scopes: [a/b]\n",
            "`tokenUse: id` is for routes without scopes",
        ),
        (
            "authorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01}]\n    identityValidationExpression: \"([a-z\"\nroutes: []\n",
            "authorizers.a.identityValidationExpression",
        ),
        (
            "authorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01}]\n    resultTtlSeconds: 3601\nroutes: []\n",
            "authorizers.a.resultTtlSeconds",
        ),
        (
            "authorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01}]\n  b:\n    userPools: [{id: eu-west-1_StaffPool1}]\nroutes:\n  - path: /p\n",
            "name its authorizer",
        ),
        (
            "authorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01}]\nroutes:\n  - path: /p\n    authorizer: b\n",
            "\"b\" is not one of the authorizers",
        ),
        (
            "userPools: [{arn: \"arn:aws:cognito-idp:us-east-1:1:userpool/eu-west-1_CustPool01\"}]\nroutes: []\n",
            "is not a user pool ARN",
        ),
        (
            "userPools: [{id: eu-west-1_CustPool01}]\nclaimHeaders:\n  x_cognito_sub: sub\nroutes: []\n",
            "built-in identity header",
        ),
        (
            "userPools: [{id: eu-west-1_CustPool01}]\nclaimHeaders:\n  authorization: email\nroutes: []\n",
            "is a token header",
        ),
        (
            "userPools: [{id: eu-west-1_CustPool01}]\nclaimHeaders:\n  transfer-encoding: email\nroutes: []\n",
            "hop-by-hop",
        ),
        (
            "userPools: [{id: eu-west-1_CustPool01}]\nclaimHeaders:\n  \":path\": email\nroutes: []\n",
            "is a pseudo-header",
        ),
    ];
    for (yaml, want) in cases {
        let err = cognito_ext_authz::policy::Policy::parse(yaml)
            .expect_err(yaml)
            .to_string();
        assert!(
            err.contains(want),
            "{want:?} not in:\n{err}\n--- for:\n{yaml}"
        );
    }
    // Two authorizers may share a pool, each with its own app clients.
    let shared = "authorizers:\n  a:\n    userPools: [{id: eu-west-1_CustPool01, appClients: [aaa]}]\n  b:\n    userPools: [{id: eu-west-1_CustPool01, appClients: [bbb]}]\ndefaultAuthorizer: a\nroutes:\n  - path: /p\n";
    let policy = cognito_ext_authz::policy::Policy::parse(shared).unwrap();
    assert_eq!(policy.pools.len(), 1);
    assert_eq!(policy.authorizers.len(), 2);
}
