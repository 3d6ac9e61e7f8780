//! The admin port: `/metrics` counts what the service decided, `/healthz` and `/readyz`.

use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n  - name: health\n    path: /health\n    auth: none\n";

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_decisions_latency_and_cache_use() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let bearer = format!("Bearer {}", key(0).sign(&access_claims(SCOPE)));
    for _ in 0..3 {
        let a = check(
            &mut client,
            request("POST", "h", "/users/1", &[("authorization", &bearer)]),
        )
        .await;
        assert_eq!(a.status, 200);
    }
    check(&mut client, request("POST", "h", "/users/1", &[])).await;
    check(&mut client, request("GET", "h", "/health", &[])).await;
    check(&mut client, request("GET", "h", "/nowhere", &[])).await;
    check(&mut client, request("GET", "h", "/a/../b", &[])).await;

    let m = service.metrics().await;
    let decisions = "cognito_ext_authz_decisions_total";
    let count = |labels: &[&str]| sample(&m, decisions, labels);
    assert_eq!(
        count(&[
            r#"result="allow""#,
            r#"reason="authorized""#,
            r#"route="create-user""#
        ]),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        count(&[
            r#"result="deny""#,
            r#"reason="no_token""#,
            r#"route="create-user""#
        ]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        count(&[
            r#"result="allow""#,
            r#"reason="public_route""#,
            r#"route="health""#
        ]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        count(&[r#"result="deny""#, r#"reason="no_route""#]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        count(&[r#"result="deny""#, r#"reason="unsafe_path""#]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "cognito_ext_authz_check_duration_seconds_count", &[]),
        Some(7.0),
        "{m}"
    );
    assert!(
        m.contains("cognito_ext_authz_check_duration_seconds_bucket{le=\"0.001\"}"),
        "{m}"
    );
    // The same token three times: verified once, then answered from the cache.
    assert_eq!(
        sample(&m, "cognito_ext_authz_token_cache_misses_total", &[]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "cognito_ext_authz_token_cache_hits_total", &[]),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "cognito_ext_authz_key_fetches_total",
            &[&format!("pool=\"{POOL}\""), r#"result="success""#]
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "cognito_ext_authz_policy_reloads_total",
            &[r#"result="success""#]
        ),
        Some(1.0),
        "{m}"
    );

    for (path, want) in [("/healthz", 200), ("/readyz", 200), ("/nope", 404)] {
        let r = reqwest::get(format!("http://{}{path}", service.admin))
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_decision_logs_one_line_with_its_fields() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let token = key(0).sign(&access_claims(SCOPE));
    let bearer = format!("Bearer {token}");
    check(
        &mut client,
        request(
            "POST",
            "api.example.com",
            "/users/7?secret=query",
            &[("authorization", &bearer)],
        ),
    )
    .await;
    let mut expired = access_claims(SCOPE);
    expired["exp"] = serde_json::json!(now() - 3600);
    expired["iat"] = serde_json::json!(now() - 7200);
    let expired = format!("Bearer {}", key(0).sign(&expired));
    check(
        &mut client,
        request("POST", "h", "/users/8", &[("authorization", &expired)]),
    )
    .await;

    service.decision(2).await;
    let lines = service.decisions();
    assert_eq!(lines.len(), 2, "one line per decision: {lines:?}");
    let allow = &lines[0];
    for (field, want) in [
        ("decision", "allow"),
        ("reason", "authorized"),
        ("detail", ""),
        ("route", "create-user"),
        ("method", "POST"),
        ("host", "api.example.com"),
        ("path", "/users/7"),
        ("sub", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ("client_id", CLIENT),
    ] {
        assert_eq!(allow[field], want, "{field} in {allow}");
    }
    assert!(allow["latency_us"].is_u64(), "{allow}");
    let deny = &lines[1];
    for (field, want) in [
        ("decision", "deny"),
        ("reason", "expired_token"),
        ("detail", "expired: token has expired"),
        ("route", "create-user"),
        ("path", "/users/8"),
        ("sub", ""),
        ("client_id", ""),
    ] {
        assert_eq!(deny[field], want, "{field} in {deny}");
    }
    let logs = service.logs();
    assert!(!logs.contains("secret=query"), "no query string is logged");
    assert!(
        !logs.contains(token.split('.').nth(2).unwrap()),
        "no signature is logged"
    );
}

/// The decision log's `detail` names the precise cause of each 400 and of each missing
/// token: an operator filters and alerts on these labels, so they must not drift.
#[tokio::test(flavor = "multi_thread")]
async fn the_decision_log_names_each_unsafe_request_and_missing_token() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let long_path = "/a".repeat(129);
    let long_host = "a".repeat(256);
    let cases: Vec<(_, &str, &str)> = vec![
        (
            request("GET", "h", "health", &[]),
            "unsafe_path",
            "not_absolute",
        ),
        (
            request("GET", "h", "/a/../health", &[]),
            "unsafe_path",
            "dot_segment",
        ),
        (
            request("GET", "h", "/a%2Fb", &[]),
            "unsafe_path",
            "encoded_separator",
        ),
        (
            request("GET", "h", "/a\\b", &[]),
            "unsafe_path",
            "backslash",
        ),
        (
            request("GET", "h", "/a%zz", &[]),
            "unsafe_path",
            "bad_encoding",
        ),
        (request("GET", "h", "/a%ff", &[]), "unsafe_path", "not_utf8"),
        (
            request("GET", "h", "/a%00", &[]),
            "unsafe_path",
            "control_character",
        ),
        (
            request("GET", "h", "/a//health", &[]),
            "unsafe_path",
            "empty_segment",
        ),
        (
            request("GET", "h", &long_path, &[]),
            "unsafe_path",
            "too_long",
        ),
        (
            request("GET", "h", "/health;x", &[]),
            "unsafe_path",
            "path_parameter",
        ),
        (
            request("GET", "h", "/health#x", &[]),
            "unsafe_path",
            "fragment",
        ),
        (
            raw_request("GET", "", "/health", &[(":authority", b"\xff")]),
            "unsafe_host",
            "not_utf8",
        ),
        (
            request("GET", &long_host, "/health", &[]),
            "unsafe_host",
            "too_long",
        ),
        (
            request("GET", "u@h", "/health", &[]),
            "unsafe_host",
            "userinfo",
        ),
        (
            request("GET", "h:abc", "/health", &[]),
            "unsafe_host",
            "bad_port",
        ),
        (
            request("GET", "h!", "/health", &[]),
            "unsafe_host",
            "bad_character",
        ),
        (
            request("GET", "h.", "/health", &[]),
            "unsafe_host",
            "trailing_dot",
        ),
        (
            request("GET", "a..b", "/health", &[]),
            "unsafe_host",
            "empty_label",
        ),
        (
            request("GET", "[zz]", "/health", &[]),
            "unsafe_host",
            "bad_ip_literal",
        ),
        (request("POST", "h", "/users/1", &[]), "no_token", "missing"),
        (
            request("POST", "h", "/users/1", &[("authorization", " ")]),
            "no_token",
            "empty",
        ),
        (
            request("POST", "h", "/users/1", &[("authorization", "a.b.c,d.e.f")]),
            "no_token",
            "several_values",
        ),
        (
            request(
                "POST",
                "h",
                "/users/1",
                &[("authorization", "Basic dXNlcjpwYXNz")],
            ),
            "no_token",
            "other_scheme",
        ),
        (
            raw_request("POST", "h", "/users/1", &[("authorization", b"\xff\xfe")]),
            "no_token",
            "not_text",
        ),
    ];
    for (req, _, _) in &cases {
        check(&mut client, req.clone()).await;
    }

    service.decision(cases.len()).await;
    let lines = service.decisions();
    assert_eq!(lines.len(), cases.len(), "one line per decision: {lines:?}");
    for (line, (_, reason, detail)) in lines.iter().zip(&cases) {
        assert_eq!(line["decision"], "deny", "{line}");
        assert_eq!(line["reason"], *reason, "{line}");
        assert_eq!(line["detail"], *detail, "{line}");
    }
}
