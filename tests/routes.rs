//! Route matching (docs/policy.md) and path safety, through the real service over gRPC.

use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: me
    path: /users/me
    scopes: [users/me]
  - name: user
    path: /users/{id}
    scopes: [users/read]
  - name: user-delete
    methods: [DELETE]
    path: /users/{id}
    scopes: [users/admin]
  - name: users-anything
    path: /users/{proxy+}
    scopes: [users/all]
  - name: health
    path: /health
    auth: none
  - name: users-export-closed
    methods: [POST]
    path: /users/export
    auth: deny
  - name: eu-only
    hosts: ["*.eu.example.com"]
    path: /region
    scopes: [region/eu]
  - name: any-region
    path: /region
    scopes: [region/any]
"#;

/// The route name and status for a request made with a token holding every scope above.
async fn route_of(
    client: &mut cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient<tonic::transport::Channel>,
    method: &str,
    host: &str,
    path: &str,
) -> (u16, String) {
    let token = key(0).sign(&access_claims(
        "users/me users/read users/admin users/all region/eu region/any",
    ));
    let a = check(
        client,
        request(
            method,
            host,
            path,
            &[("authorization", &format!("Bearer {token}"))],
        ),
    )
    .await;
    (
        a.status,
        a.headers
            .get("x-cognito-route")
            .cloned()
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_most_specific_route_wins() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;

    let cases = [
        ("GET", "api.example.com", "/users/me", "me"),
        ("GET", "api.example.com", "/users/42", "user"),
        ("DELETE", "api.example.com", "/users/42", "user-delete"),
        (
            "GET",
            "api.example.com",
            "/users/42/files/a",
            "users-anything",
        ),
        ("GET", "api.example.com", "/users/me/x", "users-anything"),
        (
            "GET",
            "api.example.com",
            "/users/42?view=full&x=/../y",
            "user",
        ),
        ("GET", "api.example.com", "/users/42/", "user"),
        ("GET", "api.example.com", "/us%65rs/me", "me"),
        ("get", "api.example.com", "/users/42", "user"),
        ("GET", "x.eu.example.com", "/region", "eu-only"),
        ("GET", "X.EU.Example.com:8443", "/region", "eu-only"),
        ("GET", "us.example.com", "/region", "any-region"),
    ];
    for (method, host, path, want) in cases {
        assert_eq!(
            route_of(&mut client, method, host, path).await,
            (200, want.to_owned()),
            "{method} {host} {path}"
        );
    }

    // Each route really requires its own scope: `me` is not satisfied by users/read.
    let token = key(0).sign(&access_claims("users/read"));
    let bearer = format!("Bearer {token}");
    let a = check(
        &mut client,
        request("GET", "h", "/users/me", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 401);
    let a = check(
        &mut client,
        request("GET", "h", "/users/7", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 200);
    let a = check(
        &mut client,
        request("DELETE", "h", "/users/7", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 401, "DELETE needs users/admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn public_routes_default_deny_and_unsafe_paths() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;

    // Public: no token needed, and a bad one is not even looked at; identity headers are
    // still stripped so the upstream cannot be fooled.
    for headers in [
        vec![],
        vec![("authorization", "Bearer garbage")],
        vec![("x-cognito-sub", "forged")],
    ] {
        let a = check(
            &mut client,
            request("GET", "h", "/health?probe=1", &headers),
        )
        .await;
        assert_eq!(a.status, 200, "{headers:?}");
        assert_eq!(a.headers["x-cognito-route"], "health");
        assert!(a.removed.contains(&"x-cognito-sub".to_owned()));
    }

    // A deny route closes a path under a broader route, whatever the token.
    let token = key(0).sign(&access_claims("users/all users/read users/me"));
    let bearer = format!("Bearer {token}");
    let a = check(
        &mut client,
        request("POST", "h", "/users/export", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body, r#"{"message":"Forbidden"}"#);
    assert_eq!(a.metadata["reason"], "deny_route");
    assert_eq!(a.metadata["route"], "users-export-closed");
    assert_eq!(
        a.metadata.get("authorizer"),
        None,
        "a deny route has no authorizer"
    );
    // A route that needs a token names its authorizer, also when the token is missing.
    let a = check(&mut client, request("GET", "h", "/users/me", &[])).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.metadata["reason"], "no_token");
    assert_eq!(a.metadata["authorizer"], "default");
    let a = check(
        &mut client,
        request("GET", "h", "/users/export", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 200, "other methods still go to the broader route");

    // No route: 403 Missing Authentication Token, API Gateway's answer when no method
    // matches.
    for path in ["/", "/users", "/other", "/healthz", "/Health"] {
        let a = check(&mut client, request("GET", "h", path, &[])).await;
        assert_eq!(a.status, 403, "{path}");
        assert_eq!(a.body, r#"{"message":"Missing Authentication Token"}"#);
        assert_eq!(a.grpc_code, 7, "PERMISSION_DENIED");
    }

    // Paths that could be read differently upstream: 400, before any route is considered,
    // public ones included.
    for path in [
        "/health/../users/me",
        "/users/./me",
        "/users/%2e%2e/health",
        "/users%2Fme",
        "/users%5cme",
        "/users\\me",
        "/users/%zz",
        "/users/%ff",
        "/users/a%00b",
        // Decoded twice, as some servers do: `..`, `/`.
        "/health/%252e%252e/users/me",
        "/health%252fusers",
        "//users/me",
        "users/me",
    ] {
        let a = check(&mut client, request("GET", "h", path, &[])).await;
        assert_eq!(a.status, 400, "{path}");
        assert_eq!(a.body, r#"{"message":"Bad Request"}"#);
        assert_eq!(a.grpc_code, 3, "INVALID_ARGUMENT");
        assert!(!a.headers.contains_key("www-authenticate"));
    }

    // A check without HTTP attributes (not from the HTTP filter) is refused, not an error.
    let a = check(
        &mut client,
        cognito_ext_authz::proto::envoy::service::auth::v3::CheckRequest { attributes: None },
    )
    .await;
    assert_eq!(a.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn default_allow_lets_unmatched_requests_through_without_identity() {
    let (_keys, service) =
        keys_and_service(BIN, &format!("defaultAction: allow\n{ROUTES}"), &[]).await;
    let mut client = service.client().await;
    let a = check(
        &mut client,
        request("GET", "h", "/unlisted", &[("x-cognito-sub", "forged")]),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.removed.len(),
        6,
        "every identity header is stripped: {:?}",
        a.removed
    );
    assert_eq!(a.metadata["reason"], "default_allow");
    // Matched routes are still enforced.
    let a = check(&mut client, request("GET", "h", "/users/1", &[])).await;
    assert_eq!(a.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_paths_are_refused_even_with_default_allow() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let service = Service::ready(
        BIN,
        &policy(
            &keys,
            &format!(
                "defaultAction: allow\n{ROUTES}  - name: open\n    path: /open/{{proxy+}}\n    auth: none\n"
            ),
        ),
        &[],
    ).await;
    let mut client = service.client().await;
    for path in [
        "/unlisted/../users/1",
        "/unlisted/%2e%2e/users/1",
        "/unlisted%2fusers",
        "/unlisted%5cusers",
        "/unlisted\\users",
        "/unlisted/%zz",
        "/open/../users/1",
    ] {
        let a = check(&mut client, request("GET", "h", path, &[])).await;
        assert_eq!(a.status, 400, "{path}: {a:?}");
        assert_eq!(a.body, r#"{"message":"Bad Request"}"#, "{path}");
    }
    // The control: the same requests without the unsafe part are allowed.
    for path in ["/unlisted/users/1", "/open/users/1"] {
        let a = check(&mut client, request("GET", "h", path, &[])).await;
        assert_eq!(a.status, 200, "{path}: {a:?}");
    }
}

/// API Gateway's matching as published measurements of real API Gateway show it (the
/// measurements are described at `crates/core/src/policy/table.rs`'s tests): resource and method as a
/// pair, a resource without the request's verb falling back to a less specific resource
/// with it (the greedy `{proxy+}` with ANY), and with none at all 403 (API Gateway's
/// Missing Authentication Token; the body is checked with the gateway responses).
#[tokio::test(flavor = "multi_thread")]
async fn matching_follows_what_was_measured_on_api_gateway() {
    const MEASURED: &str = r#"routes:
  - name: proxy
    path: /{proxy+}
    scopes: [users/all]
  - name: jobs-op
    methods: [GET]
    path: /jobs/{operation_type}
    scopes: [users/read]
  - name: cors-only
    methods: [OPTIONS]
    path: /cors_only
    auth: none
"#;
    let (_keys, service) = keys_and_service(BIN, MEASURED, &[]).await;
    let mut client = service.client().await;
    for (method, path, want) in [
        ("GET", "/jobs/reboot", "jobs-op"),
        ("GET", "/jobs", "proxy"),
        ("POST", "/jobs", "proxy"),
        ("POST", "/jobs/reboot", "proxy"),
        ("GET", "/cors_only", "proxy"),
        ("OPTIONS", "/cors_only", "cors-only"),
    ] {
        assert_eq!(
            route_of(&mut client, method, "api.example.com", path).await,
            (200, want.to_owned()),
            "{method} {path}"
        );
    }
    // `{proxy+}` needs a segment: the stage root matches no method.
    let (status, route) = route_of(&mut client, "GET", "api.example.com", "/").await;
    assert_eq!((status, route.as_str()), (403, ""));
}
