//! `cognito-ext-authz import`: API Gateway definitions in, a policy and a report out.
//!
//! Every fixture in tests/fixtures/import/ is imported with the real binary; its output
//! must pass `validate`, and its routes, pools and notes are asserted. The Serverless
//! example is then taken through the decision pipeline with `check`, with
//! tokens signed by a key generated here and published in a JWKS file written here.
//!
//! One expected translation per fixture in tests/fixtures/import/, each a table of routes,
//! pools and notes; `formats` holds each source format's, `authorizers` the two-authorizer
//! API through every format and the service; the helpers that turn a policy into those
//! tables are here.

use std::path::PathBuf;

use cognito_ext_authz::policy::model::{AuthMode, PolicyFile, TokenUse, UserPoolConfig};
use serde_json::json;
use testkit::{SCOPE, access_claims, check_args, key, run};

mod authorizers;
mod formats;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

fn fixture(name: &str) -> PathBuf {
    testkit::fixtures("import").join(name)
}

/// An imported fixture: the policy (already checked with `validate`) and the report.
struct Imported {
    code: i32,
    yaml: String,
    policy: PolicyFile,
    report: String,
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn import(name: &str, extra: &[&str]) -> Imported {
    let source = fixture(name);
    let mut args = vec!["import", source.to_str().unwrap()];
    args.extend(extra);
    let r = run(BIN, &args);
    assert!(
        r.code == 0 || r.code == 3,
        "{name}: exit {}: {}",
        r.code,
        r.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let path = testkit::write(dir.path(), "policy.yaml", &r.stdout);
    let v = run(BIN, &["validate", path.to_str().unwrap()]);
    assert_eq!(
        v.code, 0,
        "{name}: the imported policy does not validate:\n{}\n{}",
        v.stderr, r.stdout
    );
    let policy: PolicyFile = serde_saphyr::from_str(&r.stdout).unwrap();
    Imported {
        code: r.code,
        yaml: r.stdout,
        policy,
        report: r.stderr,
        _dir: dir,
        path,
    }
}

/// `(path, methods, scopes, auth)` of every route; auth is `none`, `deny`, `id` (an ID
/// token, API Gateway's rule without scopes) or empty (an access token).
fn routes(p: &PolicyFile) -> Vec<(String, String, String, &'static str)> {
    p.routes
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.methods.as_ref().map_or("ANY".to_owned(), |m| m.join(",")),
                r.scopes.as_ref().map_or(String::new(), |s| s.join(" ")),
                match (r.auth, r.token_use) {
                    (Some(AuthMode::None), _) => "none",
                    (Some(AuthMode::Deny), _) => "deny",
                    (_, Some(TokenUse::Id)) => "id",
                    _ => "",
                },
            )
        })
        .collect()
}

/// `(route name, authorizer)` of every route that names one.
fn route_authorizers(p: &PolicyFile) -> Vec<(String, String)> {
    p.routes
        .iter()
        .filter_map(|r| {
            let name = r.name.clone().unwrap_or_else(|| r.path.clone());
            Some((name, r.authorizer.clone()?))
        })
        .collect()
}

fn route(
    path: &str,
    methods: &str,
    scopes: &str,
    auth: &'static str,
) -> (String, String, String, &'static str) {
    (path.to_owned(), methods.to_owned(), scopes.to_owned(), auth)
}

/// Every pool the policy trusts (over all its authorizers), by id, sorted.
fn pools(p: &PolicyFile) -> Vec<String> {
    let mut out: Vec<String> = p
        .user_pools
        .iter()
        .chain(p.authorizers.values().flat_map(|a| &a.user_pools))
        .map(pool_id)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A pool entry's id, written as `id` or as `arn`.
fn pool_id(pool: &UserPoolConfig) -> String {
    match &pool.arn {
        Some(arn) if pool.id.is_empty() => arn.rsplit_once('/').unwrap().1.to_owned(),
        _ => pool.id.clone(),
    }
}

/// The report's lines of one kind.
fn notes<'a>(report: &'a str, kind: &str) -> Vec<&'a str> {
    let tag = format!("[{kind}] ");
    report.lines().filter(|l| l.starts_with(&tag)).collect()
}

#[test]
fn every_fixture_imports_to_a_policy_that_validates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let imported = import(&name, &[]);
        // The report names every note also written at the top of the policy.
        for line in imported.report.lines().filter(|l| l.starts_with('[')) {
            assert!(
                imported.yaml.contains(&format!("#   {line}")),
                "{name}: {line}"
            );
        }
        // Incomplete (exit 3): something only deployment knows, or cannot be read.
        let complete = notes(&imported.report, "unresolved").is_empty()
            && notes(&imported.report, "unreadable").is_empty();
        assert_eq!(imported.code, if complete { 0 } else { 3 }, "{name}");
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} fixtures");
}

#[test]
fn sources_that_cannot_be_read_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = testkit::write(dir.path(), "x.yaml", "name: not an api\n");
    let broken = testkit::write(dir.path(), "y.yaml", "Resources: [\n");
    for (args, want) in [
        (
            vec!["import", unknown.to_str().unwrap()],
            "cannot tell the format",
        ),
        (vec!["import", broken.to_str().unwrap()], "invalid YAML"),
        (vec!["import", "/nonexistent/serverless.yml"], "cannot read"),
        (
            vec!["import", unknown.to_str().unwrap(), "--format", "terraform"],
            "invalid value",
        ),
    ] {
        let r = run(BIN, &args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    // A format given by hand that the file is not: nothing to translate, and it says so.
    let r = run(
        BIN,
        &[
            "import",
            fixture("serverless.yml").to_str().unwrap(),
            "--format",
            "openapi",
        ],
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("no method of the source uses a Cognito authorizer"),
        "{}",
        r.stderr
    );
}

// ---- Two authorizers, exactly as API Gateway has them ---------------------------------

const STAFF_POOL: &str = "eu-west-1_StaffPool1";

const CUSTOMER_POOL: &str = "eu-west-1_CustPool01";

/// A customer app client: the customers' validation expression is `^cust[0-9a-z]{22}$`.
const CUSTOMER_CLIENT: &str = "custclient0123456789abcdef";

const STAFF_CLIENT: &str = "staffclient0123456789abcde";

/// The same shop API in each source format, with the names its authorizers get there.
const SHOP: [(&str, &str, &str); 3] = [
    (
        "serverless-two-authorizers.yml",
        "StaffAuthorizer",
        "customers",
    ),
    ("openapi-two-authorizers.json", "staff", "customers"),
    (
        "cloudformation-two-authorizers.yaml",
        "StaffAuthorizer",
        "CustomerAuthorizer",
    ),
];
