//! Dry run (docs/policy.md) through the real service: `mode: dryRun` and a route's `dryRun` let a
//! request through that the policy would refuse, and log, count and tell Envoy what
//! would have happened; `auth: deny` routes and unsafe requests stay refused unless the
//! operator says so for them.

use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: read-user
    path: /users/{id}
    methods: [GET]
    scopes: [users/read]
  - name: admin
    path: /admin
    scopes: [admin/all]
    groups: [admins]
  - name: enforced
    path: /billing
    scopes: [billing/read]
    dryRun: false
  - name: closed
    path: /closed
    auth: deny
  - name: closed-but-trialled
    path: /trial-closed
    auth: deny
    dryRun: true
"#;

/// The answer to `GET {host}{path}` with `headers`.
async fn get(client: &mut CheckClient, host: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    check(client, request("GET", host, path, headers)).await
}

fn bearer(scope: &str) -> String {
    format!("Bearer {}", key(0).sign(&access_claims(scope)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_policy_lets_through_what_it_would_deny_and_says_so() {
    let (_keys, service) = keys_and_service(BIN, &format!("mode: dryRun\n{ROUTES}"), &[]).await;
    let mut client = service.client().await;
    let other = bearer("other/scope");

    // A valid token without the scope: let through with its identity, would be 401.
    let a = get(
        &mut client,
        "api.example.com",
        "/users/7",
        &[("authorization", &other), ("x-cognito-scope", "users/read")],
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.headers["x-cognito-sub"],
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    );
    assert_eq!(a.headers["x-cognito-scope"], "other/scope", "{a:?}");
    assert_eq!(a.headers["x-cognito-route"], "read-user");
    assert_eq!(a.metadata["decision"], "would_deny");
    assert_eq!(a.metadata["reason"], "insufficient_scope");
    assert_eq!(a.metadata["would_status"], "401");
    assert_eq!(a.metadata["route"], "read-user");

    // No token: let through without identity; a forged identity header is still removed.
    let a = get(
        &mut client,
        "api.example.com",
        "/users/7",
        &[("x-cognito-sub", "forged"), ("x_cognito_sub", "forged")],
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(!a.headers.contains_key("x-cognito-sub"), "{a:?}");
    assert!(a.removed.contains(&"x-cognito-sub".to_owned()), "{a:?}");
    // No identity header at all without a token: not even the route's name.
    assert!(!a.headers.contains_key("x-cognito-route"), "{a:?}");
    assert!(a.removed.contains(&"x-cognito-route".to_owned()), "{a:?}");
    assert!(a.removed.contains(&"x_cognito_sub".to_owned()), "{a:?}");
    assert_eq!(a.metadata["reason"], "no_token");

    // A bad signature and a missing group: let through, counted.
    let forged = format!("Bearer {}", key(1).sign(&access_claims("users/read")));
    let a = get(&mut client, "h", "/users/7", &[("authorization", &forged)]).await;
    assert_eq!(a.status_and("reason"), (200, "invalid_token"));
    assert!(!a.headers.contains_key("x-cognito-sub"), "{a:?}");
    let mut claims = access_claims("admin/all");
    claims["cognito:groups"] = serde_json::json!(["staff"]);
    let admin = format!("Bearer {}", key(0).sign(&claims));
    let a = get(&mut client, "h", "/admin", &[("authorization", &admin)]).await;
    assert_eq!(a.status_and("reason"), (200, "insufficient_group"));

    // No route under defaultAction deny: let through.
    let a = get(&mut client, "h", "/nowhere", &[]).await;
    assert_eq!(a.status_and("reason"), (200, "no_route"));

    // A route that opts out is enforced.
    let a = get(&mut client, "h", "/billing", &[("authorization", &other)]).await;
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(a.metadata["decision"], "deny");

    // auth: deny routes stay closed unless they say dryRun themselves.
    let a = get(&mut client, "h", "/closed", &[]).await;
    assert_eq!(a.status_and("decision"), (403, "deny"));
    let a = get(&mut client, "h", "/trial-closed", &[]).await;
    assert_eq!(a.status_and("decision"), (200, "would_deny"));
    assert_eq!(a.metadata["reason"], "deny_route");

    // Unsafe requests stay refused (no dryRunUnsafeRequests).
    let a = get(&mut client, "h", "/users/..;/admin", &[]).await;
    assert_eq!(a.status_and("decision"), (400, "deny"));

    // Allowed requests are plain allows.
    let read = bearer("users/read");
    let a = get(&mut client, "h", "/users/7", &[("authorization", &read)]).await;
    assert_eq!(a.status_and("decision"), (200, "allow"));

    // Logged and counted as would_deny, with the reason and the token's identity.
    let line = service.decision(1).await;
    assert_eq!(line["decision"], "would_deny", "{line}");
    assert_eq!(line["reason"], "insufficient_scope");
    assert_eq!(line["sub"], "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    for reason in [
        "insufficient_scope",
        "insufficient_group",
        "invalid_token",
        "no_route",
        "deny_route",
        "no_token",
    ] {
        let reason_label = format!(r#"reason="{reason}""#);
        let labels = [r#"result="would_deny""#, reason_label.as_str()];
        let counted = service
            .metric("cognito_ext_authz_decisions_total", &labels)
            .await;
        assert_eq!(counted, 1.0, "{reason}");
    }
    assert_eq!(
        service
            .metric(
                "cognito_ext_authz_decisions_total",
                &[r#"result="deny""#, r#"reason="insufficient_scope""#],
            )
            .await,
        1.0,
        "the opted-out route's denial"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_route_in_dry_run_leaves_the_others_enforced() {
    let routes = ROUTES.replace(
        "    scopes: [users/read]\n",
        "    scopes: [users/read]\n    dryRun: true\n",
    );
    let (_keys, service) = keys_and_service(BIN, &routes, &[]).await;
    let mut client = service.client().await;
    let other = bearer("other/scope");
    let a = get(&mut client, "h", "/users/7", &[("authorization", &other)]).await;
    assert_eq!(a.status_and("decision"), (200, "would_deny"));
    let a = get(&mut client, "h", "/admin", &[("authorization", &other)]).await;
    assert_eq!(a.status_and("decision"), (401, "deny"));
    let a = get(&mut client, "h", "/nowhere", &[]).await;
    assert_eq!(a.status_and("decision"), (403, "deny"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_requests_are_dry_run_only_when_the_operator_says_so() {
    let rest = format!("mode: dryRun\ndryRunUnsafeRequests: true\n{ROUTES}");
    let (_keys, service) = keys_and_service(BIN, &rest, &[]).await;
    let mut client = service.client().await;
    let a = get(&mut client, "h", "/users/a;b", &[]).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.metadata["decision"], "would_deny");
    assert_eq!(a.metadata["reason"], "unsafe_path");
    assert_eq!(a.metadata["would_status"], "400");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_requests_never_open_an_enforcing_route_in_dry_run() {
    // Read by an upstream that ignores the host or strips `;x` (Tomcat, Spring), each of
    // these requests is a deny route's or an enforcing route's.
    let rest = format!(
        "mode: dryRun\ndryRunUnsafeRequests: true\n{ROUTES}  - name: admin-area\n    path: /admin/{{proxy+}}\n    auth: deny\n  - name: reports-api\n    path: /reports/{{proxy+}}\n    hosts: [api.example.com]\n    dryRun: false\n  - name: reports\n    path: /reports/{{proxy+}}\n"
    );
    let (_keys, service) = keys_and_service(BIN, &rest, &[]).await;
    let mut client = service.client().await;
    for (method, host, path, reason) in [
        ("GET", "api.example.com.", "/admin/secret", "unsafe_host"),
        ("GET", "api.example.com:abc", "/admin/secret", "unsafe_host"),
        ("GET", "api.example.com", "/admin;x/secret", "unsafe_path"),
        ("GET", "api.example.com", "/admin/secret;x", "unsafe_path"),
        ("GET", "api.example.com.", "/billing", "unsafe_host"),
        ("GET", "api.example.com:abc", "/billing", "unsafe_host"),
        ("GET", "api.example.com", "/billing;x", "unsafe_path"),
        ("GET", "api.example.com", "/closed;x", "unsafe_path"),
        // A dot segment or an encoding may climb out of a dry-run route's path.
        ("GET", "h", "/users/x/..;/..;/billing", "unsafe_path"),
        ("GET", "h", "/users/%2e%2e%2fbilling", "unsafe_path"),
        ("GET", "h", "/users/a;b/..%2f..%2fclosed", "unsafe_path"),
        ("GET", "h", "/users//../billing", "unsafe_path"),
        // Not a method: any method, so the enforcing route's too.
        ("GET /", "h", "/billing", "unsafe_method"),
        // A host-less route matches every host: an unknown host may be the enforcing one.
        ("GET", "api.example.com.", "/reports/daily", "unsafe_host"),
        ("GET", "api.example.com", "/reports/daily;x", "unsafe_path"),
    ] {
        let a = check(&mut client, request(method, host, path, &[])).await;
        assert_eq!(a.status, 400, "{method} {host} {path}: {a:?}");
        assert_eq!(a.metadata["decision"], "deny", "{method} {host} {path}");
        assert_eq!(a.metadata["reason"], reason, "{method} {host} {path}");
    }
    // Where every reading is a dry-run route (or none), the operator's choice holds.
    for (method, host, path, reason) in [
        ("GET", "h", "/users/a;b", "unsafe_path"),
        ("GET", "h", "/users/7;jsessionid=1", "unsafe_path"),
        ("GET", "h:abc", "/users/7", "unsafe_host"),
        ("GET /", "h", "/users/7", "unsafe_method"),
        (
            "GET",
            "other.example.com",
            "/reports/daily;x",
            "unsafe_path",
        ),
        ("GET", "h", "/nowhere/x;y", "unsafe_path"),
    ] {
        let a = check(&mut client, request(method, host, path, &[])).await;
        assert_eq!(a.status, 200, "{method} {host} {path}: {a:?}");
        assert_eq!(
            a.metadata["decision"], "would_deny",
            "{method} {host} {path}"
        );
        assert_eq!(a.metadata["reason"], reason, "{method} {host} {path}");
        assert!(!a.headers.contains_key("x-cognito-route"), "{a:?}");
    }
}

#[test]
fn dry_run_settings_that_cannot_mean_anything_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (rest, error) in [
        (
            "dryRunUnsafeRequests: true\nroutes: []\n",
            "dryRunUnsafeRequests: only takes effect with mode: dryRun",
        ),
        (
            "routes:\n  - path: /open\n    auth: none\n    dryRun: true\n",
            "routes[0] (/open).dryRun: an auth: none route lets every request through already",
        ),
        ("mode: dryrun\nroutes: []\n", "unknown variant `dryrun`"),
    ] {
        let yaml = format!(
            "userPools:\n  - id: {POOL}\n    jwksUri: https://keys.example.com/jwks.json\n{rest}"
        );
        let path = write(dir.path(), "policy.yaml", &yaml);
        let out = std::process::Command::new(BIN)
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{rest}: {stderr}");
        assert!(stderr.contains(error), "{rest}: {stderr}");
    }
}

#[test]
fn validate_and_check_say_what_a_dry_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = write_jwks(dir.path());
    let yaml = format!(
        "userPools:\n  - id: {POOL}\n    jwksUri: https://keys.example.com/jwks.json\nmode: dryRun\n{ROUTES}"
    );
    let path = write(dir.path(), "policy.yaml", &yaml);
    let run = |args: &[&str]| std::process::Command::new(BIN).args(args).output().unwrap();
    let out = run(&["validate", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("DRY RUN: policy in mode dryRun, 3 route(s) dry-run"),
        "{stdout}"
    );
    // The route table marks which routes only report.
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{stdout}"))
    };
    for (name, dry) in [
        ("read-user", true),
        ("admin", true),
        ("enforced", false),
        ("closed", false),
        ("closed-but-trialled", true),
    ] {
        assert_eq!(line(name).ends_with(" [dry run]"), dry, "{}", line(name));
    }

    let token = key(0).sign(&access_claims("other/scope"));
    let mut args = check_args(
        path.to_str().unwrap(),
        jwks.to_str().unwrap(),
        "GET",
        "/users/7",
    );
    args.extend(["--token", &token]);
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "let through: {stdout}");
    assert!(
        stdout.contains("decision: WOULD_DENY (insufficient_scope)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dry run: let through; enforced, it would get HTTP 401"),
        "{stdout}"
    );
}
