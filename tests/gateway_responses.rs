//! Gateway responses (docs/decisions.md) through the real service over gRPC: what Envoy receives in
//! `denied_response` for each kind of denial when the policy configures them, and
//! `validate`'s refusals.

use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ORIGIN: &str = "https://app.example.com";

fn routes(gateway_responses: &str) -> String {
    format!(
        r#"gatewayResponses:
{gateway_responses}
routes:
  - name: files
    path: /files/{{proxy+}}
    scopes: [files/read]
  - name: closed
    path: /closed
    auth: deny
"#
    )
}

/// CORS headers on every 4xx (DEFAULT_4XX), UNAUTHORIZED with its own body and headers.
const CORS: &str = r#"  DEFAULT_4XX:
    headers:
      Access-Control-Allow-Origin: https://app.example.com
      Access-Control-Allow-Headers: Authorization
  UNAUTHORIZED:
    headers:
      Access-Control-Allow-Origin: https://app.example.com
      Access-Control-Expose-Headers: WWW-Authenticate
    body: '{"error":"unauthorized","message":$context.error.messageString}'
  MISSING_AUTHENTICATION_TOKEN:
    statusCode: 404"#;

#[tokio::test(flavor = "multi_thread")]
async fn denials_carry_the_configured_status_headers_and_body() {
    let (_keys, service) = keys_and_service(BIN, &routes(CORS), &[]).await;
    let mut client = service.client().await;

    // No token: UNAUTHORIZED's own headers and body, the challenge still the service's.
    let a = check(&mut client, request("GET", "h", "/files/a", &[])).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.grpc_code, 16, "UNAUTHENTICATED");
    assert_eq!(a.headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(
        a.headers["access-control-expose-headers"],
        "WWW-Authenticate"
    );
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    assert_eq!(a.headers["content-type"], "application/json");
    assert!(!a.headers.contains_key("access-control-allow-headers"));
    assert_eq!(
        a.body,
        r#"{"error":"unauthorized","message":"Unauthorized"}"#
    );

    // An expired token is UNAUTHORIZED too, with its own message.
    let mut claims = access_claims("files/read");
    claims["exp"] = serde_json::json!(now() - 600);
    let bearer = format!("Bearer {}", key(0).sign(&claims));
    let a = check(
        &mut client,
        request("GET", "h", "/files/a", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.metadata["reason"], "expired_token");
    assert_eq!(
        a.body,
        r#"{"error":"unauthorized","message":"The incoming token has expired"}"#
    );

    // An `auth: deny` route: ACCESS_DENIED is not configured, so DEFAULT_4XX applies.
    let a = check(&mut client, request("GET", "h", "/closed", &[])).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(a.headers["access-control-allow-headers"], "Authorization");
    assert_eq!(a.body, r#"{"message":"Forbidden"}"#);

    // No route: MISSING_AUTHENTICATION_TOKEN's status, its default body, no CORS header
    // (a configured type does not take DEFAULT_4XX's headers).
    let a = check(&mut client, request("GET", "h", "/nowhere", &[])).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.metadata["reason"], "no_route");
    assert_eq!(a.body, r#"{"message":"Missing Authentication Token"}"#);
    assert!(!a.headers.contains_key("access-control-allow-origin"));

    // An unsafe path: DEFAULT_4XX.
    let a = check(&mut client, request("GET", "h", "/files/../closed", &[])).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.headers["access-control-allow-origin"], ORIGIN);
    assert_eq!(a.body, r#"{"message":"Bad Request"}"#);

    // An allowed request is untouched: no gateway response header goes upstream.
    let bearer = format!("Bearer {}", key(0).sign(&access_claims("files/read")));
    let a = check(
        &mut client,
        request("GET", "h", "/files/a", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(!a.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_gateway_responses_no_route_is_missing_authentication_token() {
    let (_keys, service) = keys_and_service(BIN, &routes("  {}"), &[]).await;
    let mut client = service.client().await;
    let a = check(&mut client, request("GET", "h", "/nowhere", &[])).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body, r#"{"message":"Missing Authentication Token"}"#);
    assert_eq!(
        a.headers.keys().collect::<Vec<_>>(),
        ["content-type"],
        "no challenge, no extra header"
    );
    let a = check(&mut client, request("GET", "h", "/closed", &[])).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (403, r#"{"message":"Forbidden"}"#)
    );
}

#[test]
fn validate_refuses_what_a_gateway_response_must_not_say() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "policy.yaml",
        &format!(
            "userPools: [{{id: {POOL}}}]\nclaimHeaders: {{x-tenant: custom:tenant}}\n{}",
            routes(
                r#"  THROTTLED: {statusCode: 429}
  UNAUTHORISED: {}
  UNAUTHORIZED:
    statusCode: 302
    headers:
      X-Cognito-Sub: admin
      X-Tenant: t1
      Transfer-Encoding: chunked
      WWW-Authenticate: Basic
  ACCESS_DENIED:
    body: '{"id":"$context.requestId"}'"#
            )
        ),
    );
    let r = run(BIN, &["validate", file.to_str().unwrap()]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    let out = format!("{}{}", r.stdout, r.stderr);
    for want in [
        "gatewayResponses.THROTTLED: \"THROTTLED\" is an API Gateway response type this service never answers with",
        "gatewayResponses.UNAUTHORISED: \"UNAUTHORISED\" is not an API Gateway response type",
        "gatewayResponses.UNAUTHORIZED.statusCode: 302",
        "gatewayResponses.UNAUTHORIZED.headers.X-Cognito-Sub",
        "gatewayResponses.UNAUTHORIZED.headers.X-Tenant",
        "gatewayResponses.UNAUTHORIZED.headers.Transfer-Encoding",
        "gatewayResponses.UNAUTHORIZED.headers.WWW-Authenticate",
        "gatewayResponses.ACCESS_DENIED.body: $context.requestId is a mapping-template variable",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // The same file without the refused parts validates, and says what it configures.
    let file = write(
        dir.path(),
        "ok.yaml",
        &format!("userPools: [{{id: {POOL}}}]\n{}", routes(CORS)),
    );
    let r = run(BIN, &["validate", file.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("gateway responses UNAUTHORIZED, MISSING_AUTHENTICATION_TOKEN, DEFAULT_4XX"),
        "{}",
        r.stdout
    );
}
