//! Two authorizers in one API, imported from every format and decided through the service.

use super::*;

#[test]
fn two_authorizers_import_exactly_from_every_format() {
    for (fixture, staff, customers) in SHOP {
        let i = import(fixture, &[]);
        assert_eq!(i.code, 0, "{fixture}: {}", i.report);
        // Only the two public methods are reported: nothing differs from API Gateway.
        assert_eq!(
            notes(&i.report, "public").len(),
            2,
            "{fixture}: {}",
            i.report
        );
        assert!(
            i.report
                .contains("6 route(s), 2 authorizer(s), 2 user pool(s), 2 note(s)"),
            "{fixture}: {}",
            i.report
        );
        let names: Vec<&str> = i.policy.authorizers.keys().map(String::as_str).collect();
        let mut want = vec![staff, customers];
        want.sort();
        assert_eq!(names, want, "{fixture}");
        assert!(i.policy.user_pools.is_empty() && i.policy.default_authorizer.is_none());

        let s = &i.policy.authorizers[staff];
        assert_eq!(
            s.user_pools.iter().map(pool_id).collect::<Vec<_>>(),
            [STAFF_POOL]
        );
        assert_eq!(s.token_source.header, "authorization", "{fixture}");
        assert_eq!(s.identity_validation_expression, None, "{fixture}");
        assert_eq!(s.result_ttl_seconds, Some(0), "{fixture}");
        let c = &i.policy.authorizers[customers];
        assert_eq!(
            c.user_pools.iter().map(pool_id).collect::<Vec<_>>(),
            [CUSTOMER_POOL]
        );
        assert_eq!(c.token_source.header, "x-customer-token", "{fixture}");
        assert_eq!(
            c.identity_validation_expression.as_deref(),
            Some("^cust[0-9a-z]{22}$"),
            "{fixture}"
        );
        assert_eq!(c.result_ttl_seconds, Some(60), "{fixture}");

        assert_eq!(
            routes(&i.policy),
            [
                route("/health", "GET", "", "none"),
                route("/orders", "GET", "orders/read", ""),
                route("/orders", "OPTIONS", "", "none"),
                route("/profile", "GET", "", "id"),
                route("/staff/me", "GET", "", "id"),
                route("/staff/reports", "GET", "reports/read", ""),
            ],
            "{fixture}"
        );
        let by_path: Vec<(&str, Option<&str>)> = i
            .policy
            .routes
            .iter()
            .map(|r| (r.path.as_str(), r.authorizer.as_deref()))
            .collect();
        assert_eq!(
            by_path,
            [
                ("/health", None),
                ("/orders", Some(customers)),
                ("/orders", None),
                ("/profile", Some(customers)),
                ("/staff/me", Some(staff)),
                ("/staff/reports", Some(staff)),
            ],
            "{fixture}"
        );
    }
}

/// The imported policy with each pool's key set served by `keys`.
fn with_local_keys(policy: &PolicyFile, keys: &testkit::KeyServer) -> String {
    let mut policy = policy.clone();
    for authorizer in policy.authorizers.values_mut() {
        for pool in &mut authorizer.user_pools {
            pool.jwks_uri = Some(keys.jwks_uri(&pool_id(pool)));
        }
    }
    serde_saphyr::to_string(&policy).unwrap()
}

fn access_of(pool: &str, client: &str, scope: &str) -> serde_json::Value {
    let mut c = access_claims(scope);
    c["iss"] = json!(testkit::issuer(pool));
    c["client_id"] = json!(client);
    c
}

fn id_of(pool: &str, aud: &str) -> serde_json::Value {
    let now = testkit::now();
    json!({
        "sub": "11111111-2222-3333-4444-555555555555",
        "aud": aud,
        "token_use": "id",
        "auth_time": now - 60,
        "iss": testkit::issuer(pool),
        "cognito:username": "carol",
        "exp": now + 3600,
        "iat": now - 60,
        "email": "carol@example.com",
    })
}

/// Each imported shop, served by the real binary, decides every request as API Gateway
/// would: a route takes tokens of its own authorizer's pools from its own header only; a
/// method without scopes takes ID tokens; the customers' expression is matched against
/// `aud`; the preflight needs no token, and only OPTIONS is opened.
#[tokio::test(flavor = "multi_thread")]
async fn two_authorizers_decide_through_the_service_as_api_gateway_would() {
    let keys = testkit::KeyServer::publishing(STAFF_POOL, key(0)).await;
    keys.publish(CUSTOMER_POOL, key(1));
    let bearer = |k: usize, claims: &serde_json::Value| format!("Bearer {}", key(k).sign(claims));
    let staff_reports = bearer(0, &access_of(STAFF_POOL, STAFF_CLIENT, "reports/read"));
    let staff_id = bearer(0, &id_of(STAFF_POOL, STAFF_CLIENT));
    let mut expired = access_of(STAFF_POOL, STAFF_CLIENT, "reports/read");
    expired["exp"] = json!(testkit::now() - 10);
    let staff_expired = bearer(0, &expired);
    // A customer-pool token that even holds the staff scope.
    let customer_with_staff_scope = bearer(
        1,
        &access_of(CUSTOMER_POOL, CUSTOMER_CLIENT, "reports/read orders/read"),
    );
    let customer_orders = bearer(1, &access_of(CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read"));
    // An access token with `aud` (a pre-token-generation trigger can add it).
    let mut with_aud = access_of(CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read");
    with_aud["aud"] = json!(CUSTOMER_CLIENT);
    let customer_orders_aud = bearer(1, &with_aud);
    let customer_id = bearer(1, &id_of(CUSTOMER_POOL, CUSTOMER_CLIENT));
    let customer_id_other_client = bearer(1, &id_of(CUSTOMER_POOL, "otherclient0123456789abcd"));
    let customer_id_longer = bearer(1, &id_of(CUSTOMER_POOL, "xcustclient0123456789abcdef"));

    const CUST: &str = "x-customer-token";
    const AUTH: &str = "authorization";
    // (what, method, path, header, token, status, reason)
    let cases: Vec<(&str, &str, &str, &str, &str, u16, &str)> = vec![
        (
            "staff token, staff scope",
            "GET",
            "/staff/reports",
            AUTH,
            &staff_reports,
            200,
            "authorized",
        ),
        (
            "customer token with the staff scope, on the staff route",
            "GET",
            "/staff/reports",
            AUTH,
            &customer_with_staff_scope,
            401,
            "invalid_token",
        ),
        (
            "customer token in the customers' header, on the staff route",
            "GET",
            "/staff/reports",
            CUST,
            &customer_with_staff_scope,
            401,
            "no_token",
        ),
        (
            "staff token in the customers' header, on the staff route",
            "GET",
            "/staff/reports",
            CUST,
            &staff_reports,
            401,
            "no_token",
        ),
        (
            "staff ID token where scopes are required",
            "GET",
            "/staff/reports",
            AUTH,
            &staff_id,
            401,
            "invalid_token",
        ),
        (
            "expired staff token",
            "GET",
            "/staff/reports",
            AUTH,
            &staff_expired,
            401,
            "expired_token",
        ),
        (
            "staff ID token, scope-less staff route",
            "GET",
            "/staff/me",
            AUTH,
            &staff_id,
            200,
            "authorized",
        ),
        (
            "staff access token, scope-less staff route",
            "GET",
            "/staff/me",
            AUTH,
            &staff_reports,
            401,
            "invalid_token",
        ),
        (
            "customer ID token, scope-less staff route",
            "GET",
            "/staff/me",
            AUTH,
            &customer_id,
            401,
            "invalid_token",
        ),
        (
            "customer ID token matching the expression",
            "GET",
            "/profile",
            CUST,
            &customer_id,
            200,
            "authorized",
        ),
        (
            "customer ID token in the staff header",
            "GET",
            "/profile",
            AUTH,
            &customer_id,
            401,
            "no_token",
        ),
        (
            "customer access token, scope-less route",
            "GET",
            "/profile",
            CUST,
            &customer_orders,
            401,
            "invalid_token",
        ),
        (
            "customer ID token not matching the expression",
            "GET",
            "/profile",
            CUST,
            &customer_id_other_client,
            401,
            "invalid_token",
        ),
        (
            "aud matching only in part",
            "GET",
            "/profile",
            CUST,
            &customer_id_longer,
            401,
            "invalid_token",
        ),
        (
            "staff ID token on the customers' route",
            "GET",
            "/profile",
            CUST,
            &staff_id,
            401,
            "invalid_token",
        ),
        (
            "customer access token without aud: the expression cannot match",
            "GET",
            "/orders",
            CUST,
            &customer_orders,
            401,
            "invalid_token",
        ),
        (
            "customer access token with a matching aud",
            "GET",
            "/orders",
            CUST,
            &customer_orders_aud,
            200,
            "authorized",
        ),
        (
            "staff token with a matching aud, on the customers' route",
            "GET",
            "/orders",
            CUST,
            &staff_reports,
            401,
            "invalid_token",
        ),
        ("no token", "GET", "/orders", CUST, "", 401, "no_token"),
        (
            "CORS preflight, no token",
            "OPTIONS",
            "/orders",
            CUST,
            "",
            200,
            "public_route",
        ),
        (
            "another method of the preflight's path",
            "DELETE",
            "/orders",
            CUST,
            &customer_orders_aud,
            403,
            "no_route",
        ),
        (
            "preflight of a path API Gateway does not answer",
            "OPTIONS",
            "/profile",
            CUST,
            "",
            403,
            "no_route",
        ),
        (
            "public method",
            "GET",
            "/health",
            AUTH,
            "",
            200,
            "public_route",
        ),
    ];

    for (fixture, staff, customers) in SHOP {
        let i = import(fixture, &[]);
        let service = testkit::Service::ready(BIN, &with_local_keys(&i.policy, &keys), &[]).await;
        let mut client = service.client().await;
        for (what, method, path, header, token, status, reason) in &cases {
            let headers: Vec<(&str, &str)> = if token.is_empty() {
                vec![]
            } else {
                vec![(*header, *token)]
            };
            let a = testkit::check(
                &mut client,
                testkit::request(method, "shop.example.com", path, &headers),
            )
            .await;
            assert_eq!(
                (a.status, a.metadata["reason"].as_str()),
                (*status, *reason),
                "{fixture}: {what}: {method} {path}: {a:?}"
            );
            if a.status == 200 && *reason == "authorized" {
                let authorizer = if path.starts_with("/staff") {
                    staff
                } else {
                    customers
                };
                assert_eq!(a.metadata["authorizer"], authorizer, "{fixture}: {what}");
            }
        }

        // Result TTLs: staff 0 (every request verified), customers 60 (reused).
        let misses = "cognito_ext_authz_token_cache_misses_total";
        let before = service.metric(misses, &[]).await;
        for _ in 0..3 {
            let r = testkit::request("GET", "h", "/staff/reports", &[(AUTH, &staff_reports)]);
            assert_eq!(testkit::check(&mut client, r).await.status, 200);
        }
        let staff_misses = service.metric(misses, &[]).await - before;
        let fresh = bearer(1, &{
            let mut c = id_of(CUSTOMER_POOL, CUSTOMER_CLIENT);
            c["jti"] = json!(fixture);
            c
        });
        for _ in 0..3 {
            let r = testkit::request("GET", "h", "/profile", &[(CUST, &fresh)]);
            assert_eq!(testkit::check(&mut client, r).await.status, 200);
        }
        let customer_misses = service.metric(misses, &[]).await - before - staff_misses;
        assert_eq!(
            (staff_misses, customer_misses),
            (3.0, 1.0),
            "{fixture}: cache misses (staff TTL 0, customers TTL 60)"
        );
    }
}
