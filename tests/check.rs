//! `cognito-ext-authz check`: one request decided offline by the real pipeline, explained.
//!
//! Runs the real binary against tests/fixtures/check/policy.yaml with tokens minted here
//! and a JWKS file written here, and asserts the explanation (route, token checks in
//! order, scopes, response) and the exit code: 0 allow, 1 deny, 2 usage or input error.
//!
//! Why one file of this length: one subcommand, one fixture policy and one ordered list of
//! token checks (`CHECKS`) that the explanation tests assert against.

use std::path::PathBuf;

use serde_json::{Value, json};
use testkit::{CLIENT, Run, SCOPE, access_claims, b64_json, key, now, run, run_with_input};

/// The service binary, run by the test kit's `run` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const POLICY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/check/policy.yaml"
);

/// A temporary folder holding the JWKS of `key(0)`.
struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        testkit::write(
            dir.path(),
            "jwks.json",
            &json!({"keys": [key(0).jwk]}).to_string(),
        );
        Keys { dir }
    }

    fn jwks(&self) -> PathBuf {
        self.dir.path().join("jwks.json")
    }
}

/// `check` of METHOD PATH with the token (if any), offline.
fn check(keys: &Keys, method: &str, path: &str, host: &str, token: Option<&str>) -> Run {
    let jwks = keys.jwks();
    let mut args = vec![
        "check",
        "--policy",
        POLICY,
        "--jwks",
        jwks.to_str().unwrap(),
        "--method",
        method,
        "--path",
        path,
    ];
    if !host.is_empty() {
        args.extend(["--host", host]);
    }
    if let Some(t) = token {
        args.extend(["--token", t]);
    }
    run(BIN, &args)
}

/// Every one of `wants` is in the output.
fn assert_says(out: &str, wants: &[&str]) {
    for want in wants {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

fn token(claims: &Value) -> String {
    key(0).sign(claims)
}

/// The status word printed for the token check described as `check`.
fn status<'a>(out: &'a str, check: &str) -> &'a str {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(check))
        .unwrap_or_else(|| panic!("no line for {check:?} in:\n{out}"));
    let status = line.trim_start()[check.len()..].trim();
    // `pass → pool ...`: what the check found is not part of its status.
    status.split(" → ").next().unwrap()
}

const CHECKS: [&str; 13] = [
    "shape: three base64url parts, JSON header",
    "alg is RS256",
    "kid present",
    "claims are JSON",
    "iss is a configured user pool",
    "kid is in that pool's key set",
    "signature verifies",
    "exp present and in the future",
    "nbf not in the future",
    "iat not in the future",
    "token_use is the route's (access, or id)",
    "client (client_id, or aud of an ID token) present and allowed",
    "sub present",
];

/// Every check before `failing` passed, it failed with `why`, every one after was not reached.
fn assert_fails_at(out: &str, failing: &str, why: &str) {
    let at = CHECKS.iter().position(|c| *c == failing).unwrap();
    for c in &CHECKS[..at] {
        assert_eq!(status(out, c), "pass", "{c}\n{out}");
    }
    assert_eq!(status(out, failing), format!("FAIL ({why})"), "\n{out}");
    for c in &CHECKS[at + 1..] {
        assert_eq!(status(out, c), "not reached", "{c}\n{out}");
    }
}

#[test]
fn allows_a_valid_token_and_explains_every_step() {
    let keys = Keys::new();
    let t = token(&access_claims(&format!("openid {SCOPE}")));
    let r = check(&keys, "post", "/users?x=1", "", Some(&t));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert_says(
        out,
        &[
            "request: POST /users host (none)",
            "matched route \"create-user\" (routes[0])",
            "path: template /users matches /users (literal segments)",
            "method: POST is one of [POST]",
            "host: the route takes any host",
            "requires: a valid access token of a configured pool with any one scope of [user_management_lambdas/api]",
            "header (unverified): alg=\"RS256\" kid=\"test-key-0\"",
            "token_use=\"access\"",
            &format!("client_id=\"{CLIENT}\""),
            "scopes: any one of [user_management_lambdas/api]; token has [openid, user_management_lambdas/api] (verified); user_management_lambdas/api matches",
            "decision: ALLOW (authorized)",
            "pass → pool ap-south-1_abcdefghi",
            "pass → kid test-key-0",
            "pass → client 4example23456789abc",
            "response: the request goes upstream",
            "set x-cognito-sub: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "set x-cognito-username: alice",
            "set x-cognito-route: create-user",
        ],
    );
    for c in CHECKS {
        assert_eq!(status(out, c), "pass", "{c}");
    }
    // Neither the token nor its signature is ever printed.
    let signature = t.rsplit('.').next().unwrap();
    assert!(!out.contains(&t) && !out.contains(signature));
    assert!(!r.stderr.contains(signature));
}

#[test]
fn explains_host_and_parameter_matches_with_groups() {
    let keys = Keys::new();
    let t = token(&access_claims("users/read"));
    let r = check(&keys, "GET", "/users/42", "API.example.com:443", Some(&t));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_says(
        &r.stdout,
        &[
            "matched route \"get-user\"",
            "path: template /users/{id} matches /users/42 ({id} = 42)",
            "host: api.example.com is matched by [api.example.com]",
            "and any one group of [admins]",
            "groups: any one of [admins]; token has [admins] (verified); admins matches",
        ],
    );
    // Another host: the host-bound route does not match, and nothing else does.
    let r = check(&keys, "GET", "/users/42", "other.example.com", Some(&t));
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .contains("no route matches GET /users/42 on host other.example.com")
    );
    // ...and it says which route would have taken the request on its own host, with
    // --host missing too (the mistake is then most likely the missing --host).
    for host in ["other.example.com", ""] {
        let r = check(&keys, "GET", "/users/42", host, Some(&t));
        assert!(
            r.stdout.contains(
                "routes for this method and path on other hosts: \"get-user\" (hosts: api.example.com)"
            ),
            "{host:?}: {}",
            r.stdout
        );
    }
    // A path no host-bound route takes names none.
    let r = check(&keys, "GET", "/nowhere", "other.example.com", Some(&t));
    assert!(!r.stdout.contains("on other hosts"), "{}", r.stdout);
}

#[test]
fn an_expired_token_fails_at_exp() {
    let keys = Keys::new();
    let mut claims = access_claims(SCOPE);
    claims["exp"] = json!(now() - 120);
    claims["iat"] = json!(now() - 3720);
    let r = check(&keys, "POST", "/users", "", Some(&token(&claims)));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_fails_at(
        &r.stdout,
        "exp present and in the future",
        "token has expired",
    );
    assert_says(
        &r.stdout,
        &[
            "ago)",
            "decision: DENY (expired_token)",
            "response: HTTP 401",
            "www-authenticate: Bearer error=\"invalid_token\"",
            r#"body: {"message":"The incoming token has expired"}"#,
            "token has [user_management_lambdas/api] (unverified); user_management_lambdas/api matches",
        ],
    );
}

#[test]
fn a_token_without_the_scope_is_refused_with_401() {
    let keys = Keys::new();
    let r = check(
        &keys,
        "POST",
        "/users",
        "",
        Some(&token(&access_claims("orders/read"))),
    );
    assert_eq!(r.code, 1);
    for c in CHECKS {
        assert_eq!(status(&r.stdout, c), "pass", "{c}");
    }
    assert_says(
        &r.stdout,
        &[
            "token has [orders/read] (verified); none matches",
            "decision: DENY (insufficient_scope)",
            "response: HTTP 401",
            "www-authenticate: Bearer error=\"insufficient_scope\"",
            r#"body: {"message":"Unauthorized"}"#,
        ],
    );
}

#[test]
fn a_bad_signature_fails_at_the_signature() {
    let keys = Keys::new();
    // Signed by another key under the configured key's kid.
    let mut header = json!({"alg": "RS256", "kid": key(0).kid});
    let forged = key(1).sign_with_header(&header, &access_claims(SCOPE));
    let r = check(&keys, "POST", "/users", "", Some(&forged));
    assert_eq!(r.code, 1);
    assert_fails_at(&r.stdout, "signature verifies", "signature does not verify");
    assert!(r.stdout.contains("decision: DENY (invalid_token)"));
    assert!(r.stdout.contains(r#"body: {"message":"Unauthorized"}"#));

    // An unknown kid fails one step earlier.
    header["kid"] = json!(key(1).kid);
    let r = check(
        &keys,
        "POST",
        "/users",
        "",
        Some(&key(1).sign_with_header(&header, &access_claims(SCOPE))),
    );
    assert_fails_at(
        &r.stdout,
        "kid is in that pool's key set",
        "no key with this kid in the pool's key set",
    );
}

#[test]
fn algorithm_issuer_token_use_and_client_failures_name_their_check() {
    let keys = Keys::new();
    let claims = access_claims(SCOPE);
    let hs256 = format!(
        "{}.{}.c2ln",
        b64_json(&json!({"alg": "HS256", "kid": key(0).kid})),
        b64_json(&claims)
    );
    let r = check(&keys, "POST", "/users", "", Some(&hs256));
    assert_fails_at(
        &r.stdout,
        "alg is RS256",
        "algorithm \"HS256\" is not allowed (RS256 only)",
    );

    let mut other_pool = claims.clone();
    other_pool["iss"] = json!(testkit::issuer("eu-west-1_AbCdEfGhI"));
    let r = check(&keys, "POST", "/users", "", Some(&token(&other_pool)));
    assert_fails_at(
        &r.stdout,
        "iss is a configured user pool",
        "issuer is not a configured user pool",
    );

    let mut id_token = claims.clone();
    id_token["token_use"] = json!("id");
    let r = check(&keys, "POST", "/users", "", Some(&token(&id_token)));
    assert_fails_at(
        &r.stdout,
        "token_use is the route's (access, or id)",
        "not an access token (token_use \"id\")",
    );

    let mut other_client = claims.clone();
    other_client["client_id"] = json!("someotherclient");
    let r = check(&keys, "POST", "/users", "", Some(&token(&other_client)));
    assert_fails_at(
        &r.stdout,
        "client (client_id, or aud of an ID token) present and allowed",
        "app client is not allowed",
    );
    assert_eq!(r.code, 1);

    let r = check(&keys, "POST", "/users", "", Some("not-a-jwt"));
    assert_fails_at(
        &r.stdout,
        "shape: three base64url parts, JSON header",
        "malformed token: not three dot-separated parts",
    );
}

#[test]
fn no_token_is_401_with_a_bearer_challenge() {
    let keys = Keys::new();
    let r = check(&keys, "POST", "/users", "", None);
    assert_eq!(r.code, 1);
    assert_says(
        &r.stdout,
        &[
            "no token: token header is missing",
            "decision: DENY (no_token)",
            "response: HTTP 401",
            "www-authenticate: Bearer\n",
        ],
    );
    assert!(!r.stdout.contains("checks, in pipeline order"));
    let r = check(&keys, "POST", "/users", "", Some("Basic dXNlcjpwYXNz"));
    assert!(
        r.stdout
            .contains("no token: token header uses a scheme other than Bearer")
    );
}

#[test]
fn no_route_is_403_and_names_the_methods_the_path_has() {
    let keys = Keys::new();
    let t = token(&access_claims(SCOPE));
    let r = check(&keys, "DELETE", "/users", "", Some(&t));
    assert_eq!(r.code, 1);
    assert_says(
        &r.stdout,
        &[
            "no route matches DELETE /users on host (none)",
            "the path has routes for other methods: POST (route \"create-user\")",
            "default action: deny (403)",
            "not read: the decision did not need it",
            "decision: DENY (no_route)",
            "response: HTTP 403",
            r#"body: {"message":"Missing Authentication Token"}"#,
        ],
    );
}

#[test]
fn an_unsafe_path_is_400_before_anything_else() {
    let keys = Keys::new();
    let t = token(&access_claims(SCOPE));
    for path in ["/files/../users", "/files/a%2fb", "/files//x"] {
        let r = check(&keys, "GET", path, "", Some(&t));
        assert_eq!(r.code, 1, "{path}");
        assert!(
            r.stdout.contains("path cannot be matched safely"),
            "{path}:\n{}",
            r.stdout
        );
        assert!(r.stdout.contains("decision: DENY (unsafe_path)"));
        assert!(r.stdout.contains("response: HTTP 400"));
        assert!(r.stdout.contains(r#"body: {"message":"Bad Request"}"#));
    }
}

#[test]
fn a_public_route_is_allowed_without_reading_the_token() {
    let keys = Keys::new();
    let r = check(&keys, "GET", "/health", "", Some("garbage"));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("requires: nothing (auth: none, public)"));
    assert!(r.stdout.contains("not read: the decision did not need it"));
    assert!(r.stdout.contains("decision: ALLOW (public_route)"));
    assert!(r.stdout.contains("set x-cognito-route: ANY /health"));
    assert!(r.stdout.contains("remove x-cognito-sub"));
}

#[test]
fn greedy_routes_show_what_they_caught() {
    let keys = Keys::new();
    let r = check(
        &keys,
        "PUT",
        "/files/a/b.txt",
        "",
        Some(&token(&access_claims("files/read"))),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("({proxy+} = a/b.txt)"), "{}", r.stdout);
    assert!(r.stdout.contains("method: the route takes any method"));
}

#[test]
fn tokens_come_from_a_file_or_standard_input_with_or_without_bearer() {
    let keys = Keys::new();
    let t = token(&access_claims(SCOPE));
    let file = testkit::write(keys.dir.path(), "token", &format!("Bearer {t}\n"));
    let jwks = keys.jwks();
    let base = [
        "check",
        "--policy",
        POLICY,
        "--jwks",
        jwks.to_str().unwrap(),
        "--method",
        "POST",
        "--path",
        "/users",
    ];
    let mut args = base.to_vec();
    args.extend(["--token-file", file.to_str().unwrap()]);
    assert_eq!(run(BIN, &args).code, 0);
    let mut args = base.to_vec();
    args.extend(["--token-file", "-"]);
    let r = run_with_input(BIN, &args, &format!("{t}\n"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn usage_and_input_errors_exit_2() {
    let keys = Keys::new();
    let jwks = keys.jwks();
    let jwks = jwks.to_str().unwrap();
    let bad_policy = testkit::write(
        keys.dir.path(),
        "bad.yaml",
        "userPools: []\nroutes:\n  - path: /x\n    scope: [a]\n",
    );
    let not_jwks = testkit::write(keys.dir.path(), "not-jwks.json", "{\"keys\": []}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["check", "--policy", POLICY, "--path", "/users"],
            "--method",
        ),
        (
            vec![
                "check",
                "--policy",
                POLICY,
                "--method",
                "GET",
                "--path",
                "/",
                "--token",
                "a",
                "--token-file",
                "b",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "check",
                "--policy",
                bad_policy.to_str().unwrap(),
                "--jwks",
                jwks,
                "--method",
                "GET",
                "--path",
                "/",
            ],
            "bad.yaml",
        ),
        (
            vec![
                "check",
                "--policy",
                "/nonexistent/policy.yaml",
                "--jwks",
                jwks,
                "--method",
                "GET",
                "--path",
                "/",
            ],
            "cannot read",
        ),
        (
            vec![
                "check",
                "--policy",
                POLICY,
                "--jwks",
                not_jwks.to_str().unwrap(),
                "--method",
                "GET",
                "--path",
                "/",
            ],
            "no usable RS256 signing key",
        ),
        (
            vec![
                "check",
                "--policy",
                POLICY,
                "--jwks",
                jwks,
                "--method",
                "GET",
                "--path",
                "/",
                "--token-file",
                "/nonexistent/token",
            ],
            "cannot read",
        ),
    ];
    for (args, want) in cases {
        let r = run(BIN, &args);
        assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(want),
            "{args:?}: missing {want:?} in {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?}");
    }
}

/// Without --jwks, each pool's keys are fetched once from its key set URL.
#[tokio::test]
async fn fetches_keys_when_no_jwks_file_is_given() {
    let keys = testkit::KeyServer::start().await;
    keys.publish(testkit::POOL, key(0));
    let dir = tempfile::tempdir().unwrap();
    let policy = testkit::write(
        dir.path(),
        "policy.yaml",
        &format!(
            "userPools:\n  - id: {}\n    jwksUri: {}\nroutes:\n  - path: /users\n    scopes: [{SCOPE}]\n",
            testkit::POOL,
            keys.jwks_uri(testkit::POOL)
        ),
    );
    let policy = policy.to_str().unwrap().to_owned();
    let t = token(&access_claims(SCOPE));
    let args = move |t: &str| {
        vec![
            "check".to_owned(),
            "--policy".to_owned(),
            policy.clone(),
            "--method".to_owned(),
            "GET".to_owned(),
            "--path".to_owned(),
            "/users".to_owned(),
            "--token".to_owned(),
            t.to_owned(),
        ]
    };
    let a = args(&t);
    let r = tokio::task::spawn_blocking(move || {
        run(BIN, &a.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("keys: 1 key(s) fetched from http://127.0.0.1:"),
        "{}",
        r.stdout
    );

    // The key set is down: a token whose key cannot be known is not a decision.
    keys.set_down(true);
    let a = args(&t);
    let r = tokio::task::spawn_blocking(move || {
        run(BIN, &a.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("cannot decide: the key set of the token's pool could not be fetched")
    );
}

#[test]
fn a_token_not_valid_yet_fails_at_nbf() {
    let keys = Keys::new();
    let mut claims = access_claims(SCOPE);
    // An hour ahead: outside any clock skew the service could allow.
    claims["nbf"] = json!(now() + 3600);
    let r = check(&keys, "POST", "/users", "", Some(&token(&claims)));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_fails_at(
        &r.stdout,
        "nbf not in the future",
        "token is not valid yet (nbf)",
    );
    assert!(
        r.stdout.contains("decision: DENY (invalid_token)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("response: HTTP 401"), "{}", r.stdout);
}

#[test]
fn a_token_issued_in_the_future_fails_at_iat() {
    let keys = Keys::new();
    let mut claims = access_claims(SCOPE);
    claims["iat"] = json!(now() + 3600);
    let r = check(&keys, "POST", "/users", "", Some(&token(&claims)));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_fails_at(
        &r.stdout,
        "iat not in the future",
        "token was issued in the future (iat)",
    );
    assert!(
        r.stdout.contains("decision: DENY (invalid_token)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_token_without_sub_fails_at_sub() {
    let keys = Keys::new();
    let mut claims = access_claims(SCOPE);
    claims.as_object_mut().unwrap().remove("sub");
    let r = check(&keys, "POST", "/users", "", Some(&token(&claims)));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_fails_at(&r.stdout, "sub present", "malformed token: no sub claim");
    assert!(
        r.stdout.contains("decision: DENY (invalid_token)"),
        "{}",
        r.stdout
    );
}
