//! `cognito-ext-authz check`: one request decided offline by the real pipeline, explained.
//!
//! Runs the real binary against tests/fixtures/check/policy.yaml with tokens minted here
//! and a JWKS file written here, and asserts the explanation (route, token checks in
//! order, scopes, response) and the exit code: 0 allow, 1 deny, 2 usage or input error.
//!
//! One fixture policy and one ordered list of token checks (`CHECKS`), shared by the
//! modules: `token_failures` (each check failing at its step), `inputs` (token and key
//! sources, usage errors); the explanation of a whole request is here.

use std::path::PathBuf;

use serde_json::{Value, json};
use testkit::{
    CLIENT, Run, SCOPE, access_claims, b64_json, check_args, key, now, run, run_with_input,
};

mod inputs;
mod token_failures;

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
        testkit::write_jwks(dir.path());
        Keys { dir }
    }

    fn jwks(&self) -> PathBuf {
        self.dir.path().join("jwks.json")
    }
}

/// `check` of METHOD PATH with the token (if any), offline.
fn check(keys: &Keys, method: &str, path: &str, host: &str, token: Option<&str>) -> Run {
    let jwks = keys.jwks();
    let mut args = check_args(POLICY, jwks.to_str().unwrap(), method, path);
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
