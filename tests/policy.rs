//! Policy rules refused at load time (docs/policy.md, "Refused at load time"), through
//! `cognito-ext-authz validate`, the same loader `serve` uses. Each refusal has a control:
//! the nearest policy that is accepted, so a test cannot pass because everything fails.

use std::process::Command;

use testkit::{POOL, write};

const ROUTE: &str = "routes:\n  - path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";

struct Validated {
    code: i32,
    stderr: String,
}

fn validate(yaml: &str) -> Validated {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", yaml);
    let out = Command::new(env!("CARGO_BIN_EXE_cognito-ext-authz"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    Validated {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_valid(yaml: &str) {
    let v = validate(yaml);
    assert_eq!(v.code, 0, "should be valid:\n{yaml}\n{}", v.stderr);
}

fn assert_refused(yaml: &str, error: &str) {
    let v = validate(yaml);
    assert_eq!(v.code, 1, "should be refused:\n{yaml}\n{}", v.stderr);
    assert!(v.stderr.contains(error), "no {error:?} in:\n{}", v.stderr);
}

fn pool_policy(extra: &str) -> String {
    format!("userPools:\n  - id: {POOL}\n{extra}{ROUTE}")
}

#[test]
fn policy_files_over_1_mib_are_refused() {
    const LIMIT: usize = 1024 * 1024;
    let padded = |size: usize| {
        let body = pool_policy("");
        let comment = size - body.len() - 3; // "# " and the newline
        format!("{body}# {}\n", "x".repeat(comment))
    };
    assert_eq!(padded(LIMIT).len(), LIMIT);
    assert_valid(&padded(LIMIT));
    assert_refused(
        &padded(LIMIT + 1),
        "1048577 bytes is larger than the 1048576 allowed",
    );
}

#[test]
fn leeway_is_at_most_300_seconds() {
    assert_valid(&pool_policy("leewaySeconds: 300\n"));
    assert_refused(
        &pool_policy("leewaySeconds: 301\n"),
        "leewaySeconds: 301 is more than the 300 seconds allowed",
    );
}

#[test]
fn a_pool_or_issuer_listed_twice_is_refused() {
    assert_refused(
        &format!("userPools:\n  - id: {POOL}\n  - id: {POOL}\n{ROUTE}"),
        &format!("userPools[1].id: \"{POOL}\" is listed twice"),
    );
    let issuer = "https://issuer.example.com/shared";
    assert_refused(
        &format!(
            "userPools:\n  - id: {POOL}\n    issuer: {issuer}\n  - id: eu-west-1_zzzzzzzzz\n    issuer: {issuer}\n{ROUTE}"
        ),
        &format!("issuer \"{issuer}\" is configured twice"),
    );
    // The control: two pools, each its own issuer.
    assert_valid(&format!(
        "userPools:\n  - id: {POOL}\n  - id: eu-west-1_zzzzzzzzz\n{ROUTE}"
    ));
}

#[test]
fn empty_lists_are_refused() {
    let route = |field: &str| {
        format!("userPools:\n  - id: {POOL}\nroutes:\n  - path: /users/{{id}}\n    {field}\n")
    };
    for (field, error) in [
        (
            "scopes: []",
            "routes[0] (/users/{id}).scopes: an empty list",
        ),
        (
            "groups: []",
            "routes[0] (/users/{id}).groups: an empty list",
        ),
        (
            "methods: []",
            "routes[0] (/users/{id}).methods: an empty list",
        ),
        ("hosts: []", "routes[0] (/users/{id}).hosts: an empty list"),
    ] {
        assert_refused(&route(field), error);
    }
    assert_refused(
        &pool_policy("    appClients: []\n"),
        "userPools[0].appClients: an empty list",
    );
    // The controls: the same fields with one entry each.
    assert_valid(&format!(
        "userPools:\n  - id: {POOL}\n    appClients: [abc123]\nroutes:\n  - path: /users/{{id}}\n    scopes: [a/b]\n    groups: [g]\n    methods: [GET]\n    hosts: [api.example.com]\n"
    ));
}

#[test]
fn a_misspelt_key_is_pointed_at_on_its_own_line_once() {
    let v = validate(&format!(
        "userPools:\n  - id: {POOL}\n    appClient: [abc]\n{ROUTE}"
    ));
    assert_eq!(v.code, 1, "{}", v.stderr);
    assert!(
        v.stderr
            .contains("line 3 column 5: unknown field `appClient`, expected one of"),
        "{}",
        v.stderr
    );
    assert!(
        v.stderr.contains("error: 3 |     appClient: [abc]"),
        "{}",
        v.stderr
    );
    assert!(v.stderr.contains("error:   |     ^\n"), "{}", v.stderr);
    assert!(
        !v.stderr.contains("at line"),
        "the place is told once: {}",
        v.stderr
    );
    assert!(!v.stderr.contains("line 2"), "{}", v.stderr);
    // The control: spelt right, the same policy is valid.
    assert_valid(&format!(
        "userPools:\n  - id: {POOL}\n    appClients: [abc]\n{ROUTE}"
    ));
}

#[test]
fn claim_headers_that_proxies_or_upstreams_interpret_are_refused() {
    // One name of each class (docs/policy.md, claimHeaders), in the spelling given and with `_`.
    for (name, class) in [
        (":authority", "a pseudo-header"),
        ("proxy-connection", "a hop-by-hop header"),
        ("Keep_Alive", "a hop-by-hop header"),
        ("te", "a hop-by-hop header"),
        ("content-encoding", "a framing or body header"),
        ("content-type", "a framing or body header"),
        ("expect", "a framing or body header"),
        ("x-forwarded-for", "a routing or origin header"),
        ("X_Forwarded_Host", "a routing or origin header"),
        ("forwarded", "a routing or origin header"),
        ("host", "a routing or origin header"),
        ("via", "a routing or origin header"),
        ("x-original-url", "a routing or origin header"),
        ("x-http-method-override", "a routing or origin header"),
        ("cookie", "a credential header"),
        ("proxy-authorization", "a credential header"),
        ("x-envoy-original-path", "a header a proxy sets"),
        ("x-request-id", "a header a proxy sets"),
        ("grpc-timeout", "a header a proxy sets"),
        ("x-amzn-oidc-identity", "a header a proxy sets"),
        ("traceparent", "a tracing header"),
        ("b3", "a tracing header"),
        ("x-b3-traceid", "a tracing header"),
        ("x-ot-span-context", "a tracing header"),
    ] {
        let yaml = pool_policy(&format!("claimHeaders:\n  \"{name}\": email\n"));
        assert_refused(&yaml, &format!("claimHeaders.{name}: {name:?} is {class}"));
    }
    // Controls: names near them that nothing interprets.
    for name in [
        "x-user-email",
        "x-forwarded",
        "x-envoyish",
        "x-content",
        "b3x",
        "x-tenant",
    ] {
        assert_valid(&pool_policy(&format!(
            "claimHeaders:\n  \"{name}\": email\n"
        )));
    }
}

#[test]
fn an_identity_validation_expression_that_cannot_match_the_whole_aud_is_refused() {
    // `expression` as a YAML scalar.
    let with = |expression: &str| {
        format!(
            "authorizers:\n  a:\n    userPools: [{{id: {POOL}}}]\n    identityValidationExpression: {expression}\n{ROUTE}"
        )
    };
    // An `(?x)` comment at the end would swallow the anchor: refused, never loosened.
    assert_refused(
        &with("'(?x)client #c'"),
        "cannot be anchored to match the whole aud",
    );
    assert_refused(&with("'([a-z'"), "is not a regular expression");
    assert_valid(&with(r#""(?x)client #c\n""#));
    assert_valid(&with("client"));
    assert_valid(&with("'^(?:client)$'"));
}
