//! `cognito-ext-authz test` and `import --tests`: the real binary on the fixtures in
//! tests/fixtures/policytest/ and the seed serverless.yml.

use std::path::{Path, PathBuf};

use testkit::run;

/// The service binary, run by the test kit's `run` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_token_kind_passes_against_the_fixture_policy() {
    let r = run(
        BIN,
        &[
            "test",
            &fixture("policytest/policy.yaml"),
            &fixture("policytest/tests.yaml"),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 15, "{}", r.stdout);
    assert!(
        lines[..14].iter().all(|l| l.starts_with("ok    ")),
        "{}",
        r.stdout
    );
    assert_eq!(lines[14], "14 passed, 0 failed");
}

#[test]
fn a_failure_shows_the_explanation_exits_1_and_is_in_the_junit_file() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let r = run(
        BIN,
        &[
            "test",
            &fixture("policytest/policy.yaml"),
            &fixture("policytest/failing.yaml"),
            "--junit",
            s(&junit),
        ],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(
        out.starts_with("ok    GET /health (no token) -> 200\n"),
        "{out}"
    );
    assert!(
        out.contains("FAIL  expects the scope-less token to pass\n"),
        "{out}"
    );
    assert!(
        out.contains("      status: expected 200, got 401 (insufficient_scope)\n"),
        "{out}"
    );
    // check's explanation, under the failing case.
    assert!(out.contains("      | route:"), "{out}");
    assert!(
        out.contains("scopes") && out.contains("user_management_lambdas/api"),
        "{out}"
    );
    assert!(out.contains("ERROR a revoked token\n"), "{out}");
    assert!(out.contains("sets `jti` itself"), "{out}");
    assert!(out.ends_with("1 passed, 2 failed\n"), "{out}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<testcase name=\"expects the scope-less token to pass\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"status: expected 200, got 401"),
        "{xml}"
    );
    assert!(
        xml.contains("<error message=\"token kind `revoked` sets `jti` itself"),
        "{xml}"
    );
}

#[test]
fn unreadable_inputs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "tests:\n  - request: {path: /}\n    expect: {status: 200, stauts: 1}\n",
    )
    .unwrap();
    let r = run(BIN, &["test", &fixture("policytest/policy.yaml"), s(&bad)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("stauts"), "{}", r.stderr);
    let r = run(BIN, &["test", s(&bad), s(&bad)]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
}

/// Imports `source` with `--tests`: (policy file, tests file).
fn import_with_tests(dir: &Path, source: &str) -> (PathBuf, PathBuf) {
    let tests = dir.join("tests.yaml");
    let r = run(BIN, &["import", source, "--tests", s(&tests)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("policy test(s) written"), "{}", r.stderr);
    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, r.stdout).unwrap();
    (policy, tests)
}

#[test]
fn the_imported_seed_passes_its_generated_tests_and_a_dropped_scope_fails_them() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, tests) = import_with_tests(dir.path(), &fixture("import/serverless.yml"));
    let written = std::fs::read_to_string(&tests).unwrap();
    for want in [
        "token with scope user_management_lambdas/api, 200",
        "token without the route's scopes, 401",
        "no token, 401",
        "expired token, 401",
        "ID token, 401",
        "The incoming token has expired",
    ] {
        assert!(written.contains(want), "{want}: {written}");
    }

    let r = run(BIN, &["test", s(&policy), s(&tests)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.ends_with("6 passed, 0 failed\n"), "{}", r.stdout);

    // Drop the route's scope: any access token now passes, as the generated test catches.
    let text = std::fs::read_to_string(&policy).unwrap();
    let dropped: String = text
        .lines()
        .filter(|l| !l.contains("scopes:") && !l.contains("user_management_lambdas/api"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(dropped, text);
    std::fs::write(&policy, dropped).unwrap();
    let r = run(BIN, &["test", s(&policy), s(&tests)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let out = &r.stdout;
    assert!(
        out.contains("FAIL  POST /my_path: token without the route's scopes, 401\n"),
        "{out}"
    );
    assert!(
        out.contains("      status: expected 401, got 200 (authorized)\n"),
        "{out}"
    );
    assert!(out.contains("scopes: none required"), "{out}");
    assert!(out.ends_with("5 passed, 1 failed\n"), "{out}");
}

#[test]
fn every_import_fixture_passes_its_generated_tests() {
    for source in [
        "import/serverless-mixed.yml",
        "import/openapi3-export.json",
        "import/sam.yaml",
        "import/cloudformation.yaml",
        "import/swagger2-export.yaml",
        "import/serverless-two-authorizers.yml",
        "import/openapi-two-authorizers.json",
        "import/cloudformation-two-authorizers.yaml",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tests = dir.path().join("tests.yaml");
        let r = run(BIN, &["import", &fixture(source), "--tests", s(&tests)]);
        // 3: written with placeholders or denied methods; the tests are still written.
        assert!(r.code == 0 || r.code == 3, "{source}: {}", r.stderr);
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, r.stdout).unwrap();
        let r = run(BIN, &["test", s(&policy), s(&tests)]);
        assert_eq!(r.code, 0, "{source}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(" passed, 0 failed"),
            "{source}: {}",
            r.stdout
        );
    }
}

/// The generated cases of an API with two authorizers pin what API Gateway does and a
/// policy edited by hand could lose: each route's own pools, ID tokens where a method has
/// no scopes, the identity validation expression, the preflight.
#[test]
fn generated_tests_pin_each_authorizer_its_pools_id_tokens_and_expression() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, tests) = import_with_tests(
        dir.path(),
        &fixture("import/serverless-two-authorizers.yml"),
    );
    let written = std::fs::read_to_string(&tests).unwrap();
    for want in [
        "GET /staff/reports: token with scope reports/read, 200",
        "GET /staff/reports: token of pool eu-west-1_CustPool01 (not this authorizer's), 401",
        "GET /profile: ID token, 200",
        "GET /profile: access token, 401 (API Gateway takes ID tokens on a method without scopes)",
        "GET /profile: ID token whose aud the identity validation expression refuses, 401",
        "GET /orders: access token without aud, 401 (the identity validation expression)",
        "OPTIONS /orders: public (CORS preflight), no token, 200",
    ] {
        assert!(written.contains(want), "{want}: {written}");
    }
    let r = run(BIN, &["test", s(&policy), s(&tests)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.ends_with("27 passed, 0 failed\n"), "{}", r.stdout);

    let text = std::fs::read_to_string(&policy).unwrap();
    // Each edit, and the first case it makes fail.
    let edits: [(&str, String, &str); 3] = [
        (
            "ID tokens accepted nowhere",
            text.replace("    tokenUse: id\n", ""),
            "FAIL  GET /profile: ID token, 200",
        ),
        (
            "the staff pool trusted by the customers' authorizer too",
            text.replace(
                "userpool/eu-west-1_CustPool01\n",
                "userpool/eu-west-1_CustPool01\n      - id: eu-west-1_StaffPool1\n",
            ),
            "FAIL  GET /orders: token of pool eu-west-1_StaffPool1 (not this authorizer's), 401",
        ),
        (
            "the expression dropped",
            text.replace(
                "    identityValidationExpression: \"^cust[0-9a-z]{22}$\"\n",
                "",
            ),
            "FAIL  GET /orders: access token without aud, 401 (the identity validation expression)",
        ),
    ];
    for (what, edited, fails) in edits {
        assert_ne!(edited, text, "{what}: the edit changed nothing");
        std::fs::write(&policy, &edited).unwrap();
        let r = run(BIN, &["test", s(&policy), s(&tests)]);
        assert_eq!(r.code, 1, "{what}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(fails), "{what}: {}", r.stdout);
    }
}
