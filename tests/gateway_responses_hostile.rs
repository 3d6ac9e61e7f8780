//! Gateway responses written to do harm: identity, framing, proxy and Envoy headers in
//! every spelling (case, `_` for `-`, surrounding space, lookalike dashes), control bytes in
//! names and values, statuses Envoy would not read as a denial. Each is refused by
//! `validate`; and a policy that configures every type with every status it may still
//! answers each denial with a non-OK gRPC status, its own headers only, and leaves allowed
//! requests as they were.

use testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: files
    path: /files/{proxy+}
    scopes: [files/read]
  - name: closed
    path: /closed
    auth: deny
"#;

/// Validates a policy whose UNAUTHORIZED response sets `name: value`; the output.
fn validate_header(dir: &std::path::Path, name: &str, value: &str) -> (i32, String) {
    let policy = serde_json::json!({
        "userPools": [{"id": POOL}],
        "claimHeaders": {"x-user-email": "email"},
        "gatewayResponses": {"UNAUTHORIZED": {"headers": {name: value}}},
    });
    // JSON is YAML: every byte of the name and value reaches the policy as written.
    let text = format!("{policy}\n");
    let file = write(dir, "policy.yaml", &format!("{}{ROUTES}", yaml_of(&text)));
    let r = run(BIN, &["validate", file.to_str().unwrap()]);
    (r.code, format!("{}{}", r.stdout, r.stderr))
}

/// The JSON policy as a YAML flow mapping followed by block `routes`: its keys, one per
/// line.
fn yaml_of(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect()
}

#[test]
fn headers_that_proxies_envoy_or_the_upstream_act_on_are_refused_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "X-Cognito-Sub",
        "X-COGNITO-GROUPS",
        "x_Cognito_Route",
        "X-Cognito-Client_Id",
        " X-Cognito-Username ",
        "X\u{2010}Cognito\u{2010}Sub",
        "X-Cognito-Sub\u{200b}",
        "x_user_email",
        "Authorization",
        "Content_Length",
        "Transfer-Encoding",
        "Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Upgrade",
        "Host",
        "Proxy-Authenticate",
        "Proxy-Status",
        "X-Envoy-Upstream-Canary",
        "x_envoy_decorator_operation",
        "Grpc-Status",
        "Set-Cookie",
        "WWW_Authenticate",
        "Content-Type",
        "X-Accel-Redirect",
        "X-Sendfile",
        ":status",
        "X-Ok\r\nX-Cognito-Sub",
        "X-Nul\0",
        "",
    ];
    for name in names {
        let (code, out) = validate_header(dir.path(), name, "v");
        assert_ne!(code, 0, "{name:?} accepted:\n{out}");
        assert!(
            out.contains("gatewayResponses.UNAUTHORIZED.headers."),
            "{name:?}: {out}"
        );
    }
    for value in [
        "a\r\nx-cognito-sub: admin",
        "a\nb",
        "a\0b",
        "tab\there",
        "caf\u{e9}",
        " lead",
        "trail ",
        &"a".repeat(1025),
    ] {
        let (code, out) = validate_header(dir.path(), "X-Note", value);
        assert_ne!(code, 0, "{value:?} accepted:\n{out}");
        assert!(out.contains("the value of \"X-Note\""), "{value:?}: {out}");
    }
    for status in [
        0, 100, 200, 204, 302, 304, 399, 407, 426, 500, 503, 600, 65535,
    ] {
        let dir = dir.path();
        let file = write(
            dir,
            "policy.yaml",
            &format!(
                "userPools: [{{id: {POOL}}}]\ngatewayResponses:\n  DEFAULT_4XX: {{statusCode: {status}}}\n{ROUTES}"
            ),
        );
        let r = run(BIN, &["validate", file.to_str().unwrap()]);
        assert_ne!(r.code, 0, "status {status} accepted:\n{}", r.stdout);
    }
    // What may be said is still said.
    let (code, out) = validate_header(dir.path(), "Access-Control-Allow-Origin", "*");
    assert_eq!(code, 0, "{out}");
}

/// What is denied, its path and headers, the status it gets, the gateway response's
/// headers it carries.
type Denial<'a> = (
    &'a str,
    &'a str,
    Vec<(&'a str, &'a str)>,
    u16,
    &'a [&'a str],
);

#[tokio::test(flavor = "multi_thread")]
async fn every_denial_stays_a_denial_and_an_allow_stays_untouched() {
    let policy = format!(
        r#"gatewayResponses:
  DEFAULT_4XX:
    statusCode: 431
    headers: {{X-Default: d, Access-Control-Allow-Origin: '*'}}
  UNAUTHORIZED:
    statusCode: 400
    headers: {{X-Unauthorized: u}}
    body: '{{"m":$context.error.messageString,"ok":true}}'
  ACCESS_DENIED:
    statusCode: 401
  MISSING_AUTHENTICATION_TOKEN:
    statusCode: 404
    headers: {{X-Missing: m}}
{ROUTES}"#
    );
    let (_keys, service) = keys_and_service(BIN, &policy, &[]).await;
    let mut client = service.client().await;
    let good = format!("Bearer {}", key(0).sign(&access_claims("files/read")));
    let unscoped = format!("Bearer {}", key(0).sign(&access_claims("other/x")));
    let forged = format!("Bearer {}", key(2).sign(&access_claims("files/read")));
    let denials: [Denial; 6] = [
        ("no token", "/files/a", vec![], 400, &["x-unauthorized"]),
        (
            "forged",
            "/files/a",
            vec![("authorization", &forged)],
            400,
            &["x-unauthorized"],
        ),
        (
            "unscoped",
            "/files/a",
            vec![("authorization", &unscoped)],
            400,
            &["x-unauthorized"],
        ),
        // ACCESS_DENIED without headers: DEFAULT_4XX's do not apply, its status does not.
        (
            "deny route",
            "/closed",
            vec![("authorization", &good)],
            401,
            &[],
        ),
        ("no route", "/nowhere", vec![], 404, &["x-missing"]),
        (
            "unsafe path",
            "/files/%2e%2e/closed",
            vec![],
            431,
            &["x-default", "access-control-allow-origin"],
        ),
    ];
    for (what, path, headers, status, own) in denials {
        let a = check(&mut client, request("GET", "h", path, &headers)).await;
        assert_eq!(a.status, status, "{what}");
        assert_ne!(a.grpc_code, 0, "{what}: a denial is never OK to Envoy");
        assert!(a.overwrites, "{what}");
        let mut names: Vec<&str> = a.headers.keys().map(String::as_str).collect();
        names.sort();
        let mut want: Vec<&str> = own.to_vec();
        want.push("content-type");
        // The challenge stays the service's: kept on a 401 made another status, added
        // to a status made 401.
        if status == 401 || path == "/files/a" {
            want.push("www-authenticate");
        }
        want.sort();
        assert_eq!(names, want, "{what}");
        assert!(names.iter().all(|n| !n.starts_with("x-cognito")), "{what}");
        serde_json::from_str::<serde_json::Value>(&a.body).expect("the body is JSON");
    }
    // Allowed: upstream, identity from the token, nothing of any gateway response.
    let a = check(
        &mut client,
        request(
            "GET",
            "h",
            "/files/a",
            &[("authorization", &good), ("x-cognito-sub", "admin")],
        ),
    )
    .await;
    assert_eq!((a.status, a.grpc_code), (200, 0));
    assert_ne!(a.headers["x-cognito-sub"], "admin");
    for name in [
        "x-default",
        "x-unauthorized",
        "x-missing",
        "access-control-allow-origin",
    ] {
        assert!(!a.headers.contains_key(name), "{name} went upstream");
    }
    assert!(a.body.is_empty());
}

#[test]
fn import_leaves_out_what_a_gateway_response_must_not_say_and_writes_a_valid_policy() {
    // An OpenAPI export whose gateway responses try identity, proxy, framing and Envoy
    // headers, CR LF in a value, statuses that are not denials, and request data in the
    // body: none of it reaches the policy, which still validates.
    let doc = serde_json::json!({
        "openapi": "3.0.1",
        "info": {"title": "reports", "version": "1"},
        "paths": {"/reports": {"get": {
            "security": [{"reports-cognito": ["reports/read"]}],
            "x-amazon-apigateway-integration": {"type": "mock"}}}},
        "components": {"securitySchemes": {"reports-cognito": {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools",
                "providerARNs": ["arn:aws:cognito-idp:ap-south-1:123456789012:userpool/ap-south-1_Reports01"]}}}},
        "x-amazon-apigateway-gateway-responses": {
            "UNAUTHORIZED": {
                "statusCode": "200",
                "responseParameters": {
                    "gatewayresponse.header.X-Cognito-Sub": "'admin'",
                    "gatewayresponse.header.x_cognito_groups": "'admins'",
                    "gatewayresponse.header.Authorization": "'Bearer x'",
                    "gatewayresponse.header.X-Accel-Redirect": "'/internal/secrets'",
                    "gatewayresponse.header.Proxy-Status": "'x'",
                    "gatewayresponse.header.X-Envoy-Upstream-Canary": "'true'",
                    "gatewayresponse.header.Transfer-Encoding": "'chunked'",
                    "gatewayresponse.header.X-Split": "'a\r\nx-cognito-sub: admin'",
                    "gatewayresponse.header.Access-Control-Allow-Origin": "'*'"
                },
                "responseTemplates": {"application/json": "{\"b\":\"$input.body\"}"}
            },
            "DEFAULT_4XX": {"statusCode": "302"},
            "ACCESS_DENIED": {"statusCode": "500"}
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let source = write(dir.path(), "api.json", &doc.to_string());
    let r = run(BIN, &["import", source.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    let written = write(dir.path(), "policy.yaml", &r.stdout);
    let v = run(BIN, &["validate", written.to_str().unwrap()]);
    assert_eq!(
        v.code, 0,
        "import wrote a policy validate refuses:\n{}{}",
        v.stdout, v.stderr
    );
    let policy: serde_json::Value = serde_saphyr::from_str(&r.stdout).unwrap();
    let responses = &policy["gatewayResponses"];
    let unauthorized = &responses["UNAUTHORIZED"];
    assert_eq!(
        unauthorized["headers"],
        serde_json::json!({"Access-Control-Allow-Origin": "*"}),
        "{}",
        r.stdout
    );
    assert!(unauthorized.get("statusCode").is_none(), "{}", r.stdout);
    assert!(unauthorized.get("body").is_none(), "{}", r.stdout);
    for kind in ["DEFAULT_4XX", "ACCESS_DENIED"] {
        assert!(
            responses[kind].get("statusCode").is_none(),
            "{kind}: {}",
            r.stdout
        );
    }
}
