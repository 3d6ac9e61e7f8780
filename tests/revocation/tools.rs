//! The list in the offline tools: validate, check, test and revocations prune.

use super::*;

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The policy of [`ROUTES`] trusting [`POOL`], written to `policy.yaml` in `dir`.
fn write_policy(dir: &Path) -> std::path::PathBuf {
    write(
        dir,
        "policy.yaml",
        &format!("userPools:\n  - id: {POOL}\n{ROUTES}"),
    )
}

/// `validate` of `policy` with the revocation list `list`.
fn validate(policy: &Path, list: &Path) -> Run {
    run(
        BIN,
        &[
            "validate",
            path_str(policy),
            "--revocations",
            path_str(list),
        ],
    )
}

#[test]
fn validate_checks_the_list_and_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path());
    let list = write(dir.path(), "revocations.yaml", LIST);
    let ok = validate(&policy, &list);
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
    let refused = validate(&policy, &bad);
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
    let jwks = write_jwks(dir.path());
    let list = write(dir.path(), "revocations.yaml", LIST);
    let revoked = token("two", "0b7e-session", "u2", now());
    let token_file = write(dir.path(), "token", &revoked);
    let mut base = check_args(path_str(&policy), path_str(&jwks), "POST", "/users/1");
    base.extend(["--token-file", path_str(&token_file)]);
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
    let policy = write_policy(dir.path());
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

/// `revocations prune` of `file` with `--max-token-lifetime {lifetime}`.
fn prune(file: &Path, lifetime: &str) -> Run {
    run(
        BIN,
        &[
            "revocations",
            "prune",
            path_str(file),
            "--max-token-lifetime",
            lifetime,
        ],
    )
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

    let out = prune(&file, "1d");
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
    let policy = write_policy(dir.path());
    let check = validate(&policy, &file);
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
    let again = prune(&file, "3600000s");
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
    let usage = prune(&file, "1 week");
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}
