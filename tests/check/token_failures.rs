//! Each token check that fails, named at its step.

use super::*;

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
    // The claims with `claim` set to `value`, signed.
    let with = |claim: &str, value: Value| {
        let mut c = claims.clone();
        c[claim] = value;
        token(&c)
    };
    for (t, step, why) in [
        (
            hs256,
            "alg is RS256",
            "algorithm \"HS256\" is not allowed (RS256 only)",
        ),
        (
            with("iss", json!(testkit::issuer("eu-west-1_AbCdEfGhI"))),
            "iss is a configured user pool",
            "issuer is not a configured user pool",
        ),
        (
            with("token_use", json!("id")),
            "token_use is the route's (access, or id)",
            "not an access token (token_use \"id\")",
        ),
        (
            with("client_id", json!("someotherclient")),
            "client (client_id, or aud of an ID token) present and allowed",
            "app client is not allowed",
        ),
        (
            "not-a-jwt".to_owned(),
            "shape: three base64url parts, JSON header",
            "malformed token: not three dot-separated parts",
        ),
    ] {
        let r = check(&keys, "POST", "/users", "", Some(&t));
        assert_fails_at(&r.stdout, step, why);
        assert_eq!(r.code, 1, "{step}");
    }
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
