//! The revocation list (docs/policy.md, "Revocation"), through the real binary: each kind of
//! entry, a cached token refused from the moment a new list is in force, an invalid list
//! refused while the last good one stays, start-up refused on a bad list, and the
//! `validate`, `check`, `test` and `revocations prune` commands. Each refusal has its
//! control: a token the list does not name passes.
//!
//! Why one file of this length: the list is one feature seen through the service and through
//! every command that reads it (`validate`, `check`, `test`, `revocations prune`), and the
//! tests share the token maker and the list swapping.

use std::path::Path;

use serde_json::{Value, json};
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const HITS: &str = "cognito_ext_authz_token_cache_hits_total";
const RELOADS: &str = "cognito_ext_authz_revocation_reloads_total";
const DECISIONS: &str = "cognito_ext_authz_decisions_total";
const SIZE: &str = "cognito_ext_authz_revocations";

/// A token with these ids, `sub` and `iat` (the rest as Cognito issues them).
fn token(jti: &str, origin_jti: &str, sub: &str, iat: u64) -> String {
    let mut claims = access_claims(SCOPE);
    claims["jti"] = json!(jti);
    claims["origin_jti"] = json!(origin_jti);
    claims["sub"] = json!(sub);
    claims["iat"] = json!(iat);
    key(0).sign(&claims)
}

/// Decides with `token` as the `n`th check of the service; its answer and decision line.
async fn decided(service: &Service, token: &str, n: &mut usize) -> (Answer, Value) {
    let answer = service.check_token(token).await;
    *n += 1;
    (answer, service.decision(*n).await)
}

/// Swaps in `revocations` (with the same policy) and waits until the service counts a
/// reload with `result`.
async fn swap_revocations(service: &mut Service, policy: &str, revocations: &str, result: &str) {
    let label = format!("result=\"{result}\"");
    let before = service.metric(RELOADS, &[&label]).await;
    service.swap_files(&[("policy.yaml", policy), ("revocations.yaml", revocations)]);
    eventually(30, "the revocation list reload", || async {
        service.metric(RELOADS, &[&label]).await > before
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_entry_revokes_its_tokens_and_nothing_else() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let signed_out = now() - 100;
    let list = format!(
        "revocations:\n  - jti: 6F1C0000-0000-4000-8000-00000000000A\n    reason: leaked in a log\n  - originJti: 0b7e0000-0000-4000-8000-00000000000b\n  - sub: user-signed-out\n    issuedBefore: {signed_out}\n"
    );
    let mut service = Service::start_with_revocations(BIN, &policy(&keys, ROUTES), &list, &[]);
    service.wait_ready().await;
    let fresh = |n: u32| format!("fresh-{n}");
    let mut n = 0;

    // jti (listed in upper case; Cognito's are lower case): one token.
    let (revoked, line) = decided(
        &service,
        &token(
            "6f1c0000-0000-4000-8000-00000000000a",
            &fresh(1),
            "u1",
            now(),
        ),
        &mut n,
    )
    .await;
    assert_eq!(line["reason"], "revoked");
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .starts_with("revoked: revoked by revocations[0] (jti)"),
        "{line}"
    );
    // Answered exactly as any other invalid token.
    let (forged, line) = decided(&service, &key(1).sign(&access_claims(SCOPE)), &mut n).await;
    assert_eq!(line["reason"], "invalid_token");
    assert_eq!(
        (revoked.status, &revoked.headers, &revoked.body),
        (forged.status, &forged.headers, &forged.body)
    );
    assert_eq!(revoked.status, 401);
    assert_eq!(
        revoked.headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );

    // originJti: every token of the session, whatever its jti.
    for i in 2..4 {
        let t = token(
            &fresh(i),
            "0b7e0000-0000-4000-8000-00000000000b",
            "u1",
            now(),
        );
        let (answer, line) = decided(&service, &t, &mut n).await;
        assert_eq!((answer.status, &line["reason"]), (401, &json!("revoked")));
        assert!(
            line["detail"]
                .as_str()
                .unwrap()
                .contains("revocations[1] (originJti)")
        );
    }

    // sub + issuedBefore: iat before is revoked, iat equal or after is not.
    let before = token(&fresh(4), &fresh(4), "user-signed-out", signed_out - 1);
    assert_eq!(service.check_token(&before).await.status, 401);
    let at = token(&fresh(5), &fresh(5), "user-signed-out", signed_out);
    assert_eq!(
        service.check_token(&at).await.status,
        200,
        "iat == issuedBefore"
    );
    let after = token(&fresh(6), &fresh(6), "user-signed-out", now());
    assert_eq!(service.check_token(&after).await.status, 200);
    // A token without iat of a listed sub: nothing shows it is newer.
    let mut claims = access_claims(SCOPE);
    claims["sub"] = json!("user-signed-out");
    claims.as_object_mut().unwrap().remove("iat");
    assert_eq!(service.check_token(&key(0).sign(&claims)).await.status, 401);

    // Controls: other ids and subs pass; a token without jti/origin_jti too.
    let other = token(&fresh(7), &fresh(7), "u2", signed_out - 1);
    assert_eq!(service.check_token(&other).await.status, 200);
    let mut bare = access_claims(SCOPE);
    bare.as_object_mut().unwrap().remove("jti");
    bare.as_object_mut().unwrap().remove("origin_jti");
    assert_eq!(service.check_token(&key(0).sign(&bare)).await.status, 200);

    assert_eq!(
        service
            .metric(
                DECISIONS,
                &[r#"reason="revoked""#, r#"route="create-user""#]
            )
            .await,
        5.0
    );
    assert_eq!(service.metric(SIZE, &[r#"kind="jti""#]).await, 1.0);
    assert_eq!(service.metric(SIZE, &[r#"kind="origin_jti""#]).await, 1.0);
    assert_eq!(service.metric(SIZE, &[r#"kind="sub""#]).await, 1.0);
    assert_eq!(service.metric(RELOADS, &[r#"result="success""#]).await, 1.0);
    let logs = service.logs();
    assert!(logs.contains("revocation list loaded"), "{logs}");
    // Never a token in the log: the revoked one's signature part is nowhere.
    let t = token("6f1c0000-0000-4000-8000-00000000000a", "x", "u", now());
    assert!(!logs.contains(t.rsplit('.').next().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_is_refused_from_the_moment_the_new_list_is_in_force() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let policy = policy(&keys, ROUTES);
    let mut service = Service::start_with_revocations(BIN, &policy, "revocations: []\n", &[]);
    service.wait_ready().await;
    let cached = token("cached-jti", "cached-session", "u1", now());
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.metric(HITS, &[]).await, 1.0, "the token is cached");

    let list = "revocations:\n  - originJti: cached-session\n    reason: RevokeToken\n";
    swap_revocations(&mut service, &policy, list, "success").await;
    assert_eq!(service.metric(SIZE, &[r#"kind="origin_jti""#]).await, 1.0);
    assert_eq!(service.check_token(&cached).await.status, 401);
    assert_eq!(service.decision(3).await["reason"], "revoked");
    assert_eq!(
        service.metric(HITS, &[]).await,
        2.0,
        "still a cache hit: the list is looked up on every use of a verified token"
    );
    // The control: another session's token still passes.
    let other = token("other-jti", "other-session", "u1", now());
    assert_eq!(service.check_token(&other).await.status, 200);

    // Taken off the list: the token passes again.
    swap_revocations(&mut service, &policy, "revocations: []\n", "success").await;
    assert_eq!(service.check_token(&cached).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_list_is_refused_and_the_last_good_one_stays() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let policy = policy(&keys, ROUTES);
    let mut service = Service::start_with_revocations(
        BIN,
        &policy,
        "revocations:\n  - jti: first\n",
        &[("AUTHZ_POLICY_QUIET_MS", "100")],
    );
    service.wait_ready().await;
    let first = token("first", "s1", "u1", now());
    let second = token("second", "s2", "u1", now());
    assert_eq!(service.check_token(&first).await.status, 401);
    assert_eq!(service.check_token(&second).await.status, 200);

    // Each broken version names `second` too: none of them may be taken in part.
    let huge = format!(
        "revocations:\n  - jti: second\n# {}\n",
        "x".repeat(16 * 1024 * 1024)
    );
    let broken: [(&str, &str); 4] = [
        ("revocations:\n  - jti: second\n    reasn: typo\n", "reasn"),
        (
            "revocations:\n  - jti: second\n  - sub: u1\n",
            "revocations[1]: sub needs issuedBefore",
        ),
        (
            "revocations:\n  - jti: second\n  - sub: u1\n    issuedBefore: tomorrow\n",
            "revocations[1].issuedBefore: \\\"tomorrow\\\" is not an RFC 3339 time",
        ),
        (&huge, "is larger than the 16777216 allowed"),
    ];
    for (n, (text, error)) in broken.iter().enumerate() {
        swap_revocations(&mut service, &policy, text, "failure").await;
        assert_eq!(
            service.metric(RELOADS, &[r#"result="failure""#]).await,
            (n + 1) as f64
        );
        assert_eq!(
            service.check_token(&first).await.status,
            401,
            "last good list lost"
        );
        assert_eq!(
            service.check_token(&second).await.status,
            200,
            "broken list taken"
        );
        let logs = service.logs();
        let refused: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("revocation list refused"))
            .collect();
        assert_eq!(refused.len(), n + 1, "{logs}");
        assert!(refused[n].contains(error), "{error} not in {}", refused[n]);
    }
    // The file gone from the ConfigMap: refused too, the last good list stays.
    let before = service.metric(RELOADS, &[r#"result="failure""#]).await;
    service.swap_files(&[("policy.yaml", &policy)]);
    eventually(30, "the missing file refused", || async {
        service.metric(RELOADS, &[r#"result="failure""#]).await > before
    })
    .await;
    assert_eq!(service.check_token(&first).await.status, 401);
    let mut client = service.client().await;
    assert_eq!(
        check(&mut client, request("GET", "h", "/nope", &[]))
            .await
            .status,
        403,
        "still deciding"
    );

    // A good version after bad ones is taken.
    swap_revocations(
        &mut service,
        &policy,
        "revocations:\n  - jti: second\n",
        "success",
    )
    .await;
    assert_eq!(service.check_token(&first).await.status, 200);
    assert_eq!(service.check_token(&second).await.status, 401);
    assert_eq!(service.metric(SIZE, &[r#"kind="jti""#]).await, 1.0);
    assert!(service.running());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_rewritten_in_place_is_taken_once_quiet() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    // A plain file (not a kubelet folder), rewritten in place.
    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    let path = service.revocations_path();
    std::fs::write(&path, "revocations: []\n").unwrap();
    service.spawn(&[
        ("AUTHZ_REVOCATIONS_PATH", path.to_str().unwrap()),
        ("AUTHZ_POLICY_QUIET_MS", "300"),
    ]);
    service.wait_ready().await;
    let t = token("in-place", "s", "u", now());
    assert_eq!(service.check_token(&t).await.status, 200);
    std::fs::write(&path, "revocations:\n  - jti: in-place\n").unwrap();
    eventually(30, "the rewritten list", || async {
        service.check_token(&t).await.status == 401
    })
    .await;
    assert_eq!(service.metric(RELOADS, &[r#"result="success""#]).await, 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_is_refused_without_a_valid_list() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let invalid = "revocations:\n  - jti: a\n    originJti: b\n";
    let mut service = Service::start_with_revocations(BIN, &policy(&keys, ROUTES), invalid, &[]);
    assert_eq!(
        service.wait_exit(std::time::Duration::from_secs(20)).await,
        Some(1)
    );
    let logs = service.logs();
    assert!(
        logs.contains("revocations[0]: names jti and originJti"),
        "{logs}"
    );
    assert!(
        logs.contains("revocations.yaml"),
        "the file is named: {logs}"
    );

    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    let missing = service.revocations_path();
    service.spawn(&[("AUTHZ_REVOCATIONS_PATH", missing.to_str().unwrap())]);
    assert_eq!(
        service.wait_exit(std::time::Duration::from_secs(20)).await,
        Some(1)
    );
    assert!(
        service.logs().contains("revocations.yaml"),
        "{}",
        service.logs()
    );

    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    service.spawn(&[("AUTHZ_REVOCATIONS_PATH", "")]);
    assert_eq!(
        service.wait_exit(std::time::Duration::from_secs(20)).await,
        Some(2)
    );
    assert!(
        service
            .logs()
            .contains("AUTHZ_REVOCATIONS_PATH: must not be empty")
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

const LIST: &str = "revocations:\n  - jti: one\n  - originJti: 0b7e-session\n    reason: leaked in a log\n  - sub: u1\n    issuedBefore: 2026-11-26T10:00:00Z\n  - jti: ONE\n";

#[test]
fn validate_checks_the_list_and_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &format!("userPools:\n  - id: {POOL}\n{ROUTES}"),
    );
    let list = write(dir.path(), "revocations.yaml", LIST);
    let ok = run(
        BIN,
        &[
            "validate",
            path_str(&policy),
            "--revocations",
            path_str(&list),
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains(&format!(
            "{}: valid revocation list: 4 entries: 2 jti, 1 originJti, 1 sub (1 repeating another, merged)",
            list.display()
        )),
        "{}",
        ok.stdout
    );
    let bad = write(
        dir.path(),
        "bad.yaml",
        "revocations:\n  - sub: u1\n  - jti: a\n    issuedBefore: 1\n  - sub: u2\n    issuedBefore: 2026-11-26\n",
    );
    let refused = run(
        BIN,
        &[
            "validate",
            path_str(&policy),
            "--revocations",
            path_str(&bad),
        ],
    );
    assert_eq!(refused.code, 1);
    for want in [
        "revocations[0]: sub needs issuedBefore",
        "revocations[1].issuedBefore: only with sub",
        "revocations[2].issuedBefore: \"2026-11-26\" is not an RFC 3339 time",
        "bad.yaml: 3 error(s)",
    ] {
        assert!(refused.stderr.contains(want), "{want}: {}", refused.stderr);
    }
}

#[test]
fn check_explains_which_entry_revoked_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &format!("userPools:\n  - id: {POOL}\n    appClients: [{CLIENT}]\n{ROUTES}"),
    );
    let jwks = write(
        dir.path(),
        "jwks.json",
        &json!({"keys": [key(0).jwk]}).to_string(),
    );
    let list = write(dir.path(), "revocations.yaml", LIST);
    let revoked = token("two", "0b7e-session", "u2", now());
    let token_file = write(dir.path(), "token", &revoked);
    let base = [
        "check",
        "--policy",
        path_str(&policy),
        "--jwks",
        path_str(&jwks),
        "--method",
        "POST",
        "--path",
        "/users/1",
        "--token-file",
        path_str(&token_file),
    ];
    let out = run(
        BIN,
        &[&base[..], &["--revocations", path_str(&list)]].concat(),
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for want in [
        "revocations: ",
        "(4 entries: 2 jti, 1 originJti, 1 sub (1 repeating another, merged))",
        "FAIL (revoked by revocations[1] (originJti))",
        "revoked by revocations[1] (originJti): originJti 0b7e-session",
        "reason: leaked in a log",
        "decision: DENY (revoked)",
        "response: HTTP 401",
        r#"www-authenticate: Bearer error="invalid_token""#,
    ] {
        assert!(out.stdout.contains(want), "{want}:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains(&revoked), "the token is never printed");
    // Without the list the same token is allowed.
    let out = run(BIN, &base);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("revocations: none"), "{}", out.stdout);
}

#[test]
fn policy_tests_run_with_the_revocation_list() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &format!("userPools:\n  - id: {POOL}\n{ROUTES}"),
    );
    let list = write(
        dir.path(),
        "revocations.yaml",
        "revocations:\n  - sub: signed-out-user\n    issuedBefore: 2100-01-01T00:00:00Z\n",
    );
    let tests = write(
        dir.path(),
        "tests.yaml",
        r#"
tests:
  - name: revoked kind
    request: { method: POST, path: /users/1 }
    token: { kind: revoked, claims: { scope: user_management_lambdas/api } }
    expect: { status: 401, reason: revoked }
  - name: the operator's sub entry
    request: { method: POST, path: /users/1 }
    token: { claims: { scope: user_management_lambdas/api, sub: signed-out-user } }
    expect: { status: 401, reason: revoked }
  - name: control
    request: { method: POST, path: /users/1 }
    token: { claims: { scope: user_management_lambdas/api } }
    expect: { status: 200 }
"#,
    );
    let out = run(
        BIN,
        &[
            "test",
            path_str(&policy),
            path_str(&tests),
            "--revocations",
            path_str(&list),
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.ends_with("3 passed, 0 failed\n"),
        "{}",
        out.stdout
    );
    // Without the operator's list the sub case fails; `revoked` still works.
    let out = run(BIN, &["test", path_str(&policy), path_str(&tests)]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("FAIL  the operator's sub entry"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("2 passed, 1 failed\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn prune_removes_only_entries_whose_tokens_have_all_expired() {
    let dir = tempfile::tempdir().unwrap();
    let recent = now() - 3600;
    let text = format!(
        "# hand-written\nrevocations:\n  - sub: gone\n    issuedBefore: 2020-01-01T00:00:00Z\n    reason: GlobalSignOut\n  - sub: recent\n    issuedBefore: {recent}\n  - jti: old-token\n    addedAt: 2020-01-01T00:00:00Z\n  - originJti: undated-session\n    reason: \"kept: no addedAt\"\n"
    );
    let file = write(dir.path(), "revocations.yaml", &text);

    let dry = run(BIN, &["revocations", "prune", path_str(&file), "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("dry run, file not written"),
        "{}",
        dry.stdout
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    let out = run(
        BIN,
        &[
            "revocations",
            "prune",
            path_str(&file),
            "--max-token-lifetime",
            "1d",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for want in [
        "removed revocations[0] (sub): sub gone (every token it matches expired by 2020-01-02T00:05:00Z); reason: GlobalSignOut",
        "removed revocations[2] (jti): jti old-token",
        "kept 1 jti/originJti entry without addedAt",
        "2 removed, 2 kept (tokens living at most 86400 s); written",
    ] {
        assert!(out.stdout.contains(want), "{want}:\n{}", out.stdout);
    }
    let pruned = std::fs::read_to_string(&file).unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &format!("userPools:\n  - id: {POOL}\n{ROUTES}"),
    );
    let check = run(
        BIN,
        &[
            "validate",
            path_str(&policy),
            "--revocations",
            path_str(&file),
        ],
    );
    assert!(
        check
            .stdout
            .contains("valid revocation list: 2 entries: 0 jti, 1 originJti, 1 sub"),
        "{}\n{pruned}",
        check.stdout
    );
    assert!(pruned.contains(&recent.to_string()) && pruned.contains("kept: no addedAt"));
    assert!(!pruned.contains("gone") && !pruned.contains("old-token"));

    // A lifetime longer than the time since: nothing to remove, the file is untouched.
    let again = run(
        BIN,
        &[
            "revocations",
            "prune",
            path_str(&file),
            "--max-token-lifetime",
            "3600000s",
        ],
    );
    assert!(
        again.stdout.contains("nothing to remove"),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pruned);

    // An invalid file is refused and left as it is.
    let bad = write(dir.path(), "bad.yaml", "revocations:\n  - sub: x\n");
    let refused = run(BIN, &["revocations", "prune", path_str(&bad)]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("sub needs issuedBefore"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "revocations:\n  - sub: x\n"
    );
    let usage = run(
        BIN,
        &[
            "revocations",
            "prune",
            path_str(&file),
            "--max-token-lifetime",
            "1 week",
        ],
    );
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}
