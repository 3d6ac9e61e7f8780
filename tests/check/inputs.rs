//! Where the token and keys come from, and usage errors.

use super::*;

#[test]
fn tokens_come_from_a_file_or_standard_input_with_or_without_bearer() {
    let keys = Keys::new();
    let t = token(&access_claims(SCOPE));
    let file = testkit::write(keys.dir.path(), "token", &format!("Bearer {t}\n"));
    let jwks = keys.jwks();
    let base = check_args(POLICY, jwks.to_str().unwrap(), "POST", "/users");
    let mut args = base.clone();
    args.extend(["--token-file", file.to_str().unwrap()]);
    assert_eq!(run(BIN, &args).code, 0);
    let mut args = base;
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
            check_args(bad_policy.to_str().unwrap(), jwks, "GET", "/"),
            "bad.yaml",
        ),
        (
            check_args("/nonexistent/policy.yaml", jwks, "GET", "/"),
            "cannot read",
        ),
        (
            check_args(POLICY, not_jwks.to_str().unwrap(), "GET", "/"),
            "no usable RS256 signing key",
        ),
        (
            [
                check_args(POLICY, jwks, "GET", "/"),
                vec!["--token-file", "/nonexistent/token"],
            ]
            .concat(),
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
    // `check` of GET /users with the token, run off the runtime the key server answers on.
    let check_users = || {
        let (policy, t) = (policy.clone(), t.clone());
        tokio::task::spawn_blocking(move || {
            run(
                BIN,
                &[
                    "check", "--policy", &policy, "--method", "GET", "--path", "/users", "--token",
                    &t,
                ],
            )
        })
    };
    let r = check_users().await.unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("keys: 1 key(s) fetched from http://127.0.0.1:"),
        "{}",
        r.stdout
    );

    // The key set is down: a token whose key cannot be known is not a decision.
    keys.set_down(true);
    let r = check_users().await.unwrap();
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("cannot decide: the key set of the token's pool could not be fetched")
    );
}
