//! `cognito-ext-authz import`: API Gateway definitions in, a policy and a report out.
//!
//! Every fixture in tests/fixtures/import/ is imported with the real binary; its output
//! must pass `validate`, and its routes, pools and notes are asserted. The Serverless
//! example of issue 5 is then taken through the decision pipeline with `check`, with
//! tokens signed by a key generated here and published in a JWKS file written here.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cognito_ext_authz::policy::model::{AuthMode, PolicyFile};
use serde_json::json;
use support::{SCOPE, access_claims, key};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_cognito-ext-authz"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
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
    let r = run(&args);
    assert!(
        r.code == 0 || r.code == 3,
        "{name}: exit {}: {}",
        r.code,
        r.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let path = support::write(dir.path(), "policy.yaml", &r.stdout);
    let v = run(&["validate", path.to_str().unwrap()]);
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

/// `(path, methods, scopes, auth)` of every route; auth is `none`, `deny` or empty
/// (required).
fn routes(p: &PolicyFile) -> Vec<(String, String, String, &'static str)> {
    p.routes
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.methods.as_ref().map_or("ANY".to_owned(), |m| m.join(",")),
                r.scopes.as_ref().map_or(String::new(), |s| s.join(" ")),
                match r.auth {
                    Some(AuthMode::None) => "none",
                    Some(AuthMode::Deny) => "deny",
                    Some(AuthMode::Required) | None => "",
                },
            )
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

fn pools(p: &PolicyFile) -> Vec<&str> {
    p.user_pools.iter().map(|u| u.id.as_str()).collect()
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
        let complete = notes(&imported.report, "unresolved").is_empty();
        assert_eq!(imported.code, if complete { 0 } else { 3 }, "{name}");
        seen += 1;
    }
    assert!(seen >= 9, "only {seen} fixtures");
}

#[test]
fn serverless_example_of_issue_5() {
    let i = import("serverless.yml", &[]);
    assert_eq!(i.code, 0, "{}", i.report);
    assert_eq!(pools(&i.policy), ["ap-south-1_abcdefghi"]);
    assert_eq!(i.policy.token_source.header, "authorization");
    assert_eq!(routes(&i.policy), [route("/my_path", "POST", SCOPE, "")]);
    assert_eq!(i.policy.routes[0].name.as_deref(), Some("my_func"));
    assert!(
        i.report.contains("1 route(s), 1 user pool(s), 0 note(s)"),
        "{}",
        i.report
    );
    // The format can be given instead of detected.
    let forced = run(&[
        "import",
        fixture("serverless.yml").to_str().unwrap(),
        "--format",
        "serverless",
    ]);
    assert_eq!(forced.stdout, i.yaml);
}

/// The imported Serverless policy, through the decision pipeline with `check`.
#[test]
fn serverless_example_decides_like_api_gateway() {
    let i = import("serverless.yml", &[]);
    let jwks = support::write(
        i._dir.path(),
        "jwks.json",
        &json!({"keys": [key(0).jwk]}).to_string(),
    );
    let check = |method: &str, path: &str, token: Option<&str>| {
        let mut args = vec![
            "check",
            "--policy",
            i.path.to_str().unwrap(),
            "--jwks",
            jwks.to_str().unwrap(),
            "--method",
            method,
            "--path",
            path,
        ];
        if let Some(t) = token {
            args.extend(["--token", t]);
        }
        run(&args)
    };
    let with_scope = key(0).sign(&access_claims(SCOPE));
    let without_scope = key(0).sign(&access_claims("openid email"));

    let r = check("POST", "/my_path", Some(&format!("Bearer {with_scope}")));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("matched route \"my_func\""));
    assert!(r.stdout.contains("decision: ALLOW (authorized)"));

    let r = check("POST", "/my_path", Some(&without_scope));
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("decision: DENY (insufficient_scope)"));
    assert!(r.stdout.contains("response: HTTP 401"), "{}", r.stdout);

    let r = check("POST", "/my_path", None);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("response: HTTP 401"));

    for (method, path) in [
        ("GET", "/my_path"),
        ("POST", "/other"),
        ("POST", "/my_path/x"),
        ("POST", "/"),
    ] {
        let r = check(method, path, Some(&with_scope));
        assert_eq!(r.code, 1, "{method} {path}");
        assert!(
            r.stdout.contains("decision: DENY (no_route)"),
            "{method} {path}"
        );
        assert!(r.stdout.contains("response: HTTP 403"), "{method} {path}");
    }
}

#[test]
fn serverless_authorizer_forms() {
    let i = import("serverless-mixed.yml", &[]);
    assert_eq!(i.code, 3, "the partner pool comes from SSM");
    assert_eq!(
        pools(&i.policy),
        ["eu-west-1_AbCdEfGhI", "zz-replaceme-1_UNRESOLVED"]
    );
    assert_eq!(
        routes(&i.policy),
        [
            route("/health", "GET", "", "none"),
            route("/legacy/{proxy+}", "ANY", "", "deny"),
            route("/me", "GET", "", ""),
            route("/orders", "GET", "orders/read orders/admin", ""),
            route("/orders/{id}", "GET", "orders/read", ""),
            route("/orders/{id}/{proxy+}", "ANY", "orders/admin", ""),
            route("/partner/orders", "POST", "partner/write", ""),
            route("/reports", "GET", "", "deny"),
        ]
    );
    let unresolved = notes(&i.report, "unresolved");
    assert_eq!(unresolved.len(), 1);
    assert!(unresolved[0].contains("${ssm:/orders/partner-pool-id}"));
    let not_enforced = notes(&i.report, "not-enforced").join("\n");
    for want in [
        "private: true",
        "GET /reports: protected by AWS_IAM authorization (SigV4), which this service cannot check; emitted as `auth: deny` (every request refused, 403)",
        "ANY /legacy/{proxy+}: protected by the Lambda authorizer legacyAuthorizer, which this service cannot check; emitted as `auth: deny`",
    ] {
        assert!(not_enforced.contains(want), "{want}: {not_enforced}");
    }
    assert!(notes(&i.report, "public")[0].contains("GET /health"));
    let changed = notes(&i.report, "changed").join("\n");
    assert!(changed.contains(
        "GET /me uses Cognito authorizer ProfileAuthorizer without authorization scopes"
    ));
    let not_translated = notes(&i.report, "not-translated").join("\n");
    assert!(not_translated.contains("cors"));
    assert!(not_translated.contains("httpApi"));
    assert!(i.yaml.contains("# PLACEHOLDER: replace with the real pool id (REGION_ID) of the Serverless variable ${ssm:/orders/partner-pool-id}"));
}

#[test]
fn openapi_3_export() {
    let i = import("openapi3-export.json", &[]);
    assert_eq!(i.code, 3, "a provider ARN names a stage variable");
    assert_eq!(
        pools(&i.policy),
        [
            "us-east-1_InvPool01",
            "us-east-1_Staff0001",
            "zz-replaceme-1_UNRESOLVED"
        ]
    );
    assert_eq!(
        routes(&i.policy),
        [
            route("/admin/keys", "POST", "", "deny"),
            route("/admin/{proxy+}", "ANY", "staff/admin", ""),
            route("/items", "GET", "inventory/read inventory/admin", ""),
            route("/items", "OPTIONS", "", "none"),
            route("/items", "POST", "inventory/write", ""),
            route("/items/{id}", "DELETE", "inventory/admin", ""),
            route("/items/{id}", "GET", "inventory/read", ""),
            route("/metrics", "GET", "", "deny"),
            route("/profile", "GET", "", ""),
            route("/webhooks/{source}", "POST", "", "deny"),
        ]
    );
    let names: Vec<Option<&str>> = i.policy.routes.iter().map(|r| r.name.as_deref()).collect();
    assert_eq!(names[0], Some("rotateKeys"));
    assert_eq!(names[2], Some("listItems"));
    assert!(notes(&i.report, "unresolved")[0].contains("stage variable contractorPoolId"));
    let not_enforced = notes(&i.report, "not-enforced").join("\n");
    assert!(not_enforced.contains("GET /metrics: protected by AWS_IAM"));
    assert!(not_enforced.contains(
        "POST /webhooks/{source}: protected by the Lambda authorizer webhook-authorizer (type request), which this service cannot check; emitted as `auth: deny`"
    ));
    assert!(not_enforced.contains("DELETE /items/{id}: an API key (x-api-key) is not checked"));
    let changed = notes(&i.report, "changed").join("\n");
    assert!(changed.contains("base path \"/prod\""));
    assert!(changed.contains(
        "GET /profile uses Cognito authorizer inventory-pool without authorization scopes"
    ));
    assert!(changed.contains("trust different user pools"));
}

/// An IAM method under a broader Cognito route is refused, not caught by the broader route.
#[test]
fn a_denied_method_under_a_broader_route_is_refused() {
    let i = import("openapi3-export.json", &[]);
    let jwks = support::write(
        i._dir.path(),
        "jwks.json",
        &json!({"keys": [key(0).jwk]}).to_string(),
    );
    let check = |method: &str, path: &str| {
        run(&[
            "check",
            "--policy",
            i.path.to_str().unwrap(),
            "--jwks",
            jwks.to_str().unwrap(),
            "--method",
            method,
            "--path",
            path,
            "--token",
            &key(0).sign(&access_claims("staff/admin")),
        ])
    };
    let r = check("POST", "/admin/keys");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("matched route \"rotateKeys\""),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("decision: DENY (deny_route)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("response: HTTP 403"), "{}", r.stdout);
    // The path's other methods, and the rest of the tree, still go to the broader route.
    let r = check("GET", "/admin/keys");
    assert!(
        r.stdout.contains("matched route \"ANY /admin/{proxy+}\""),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("deny_route"), "{}", r.stdout);
}

#[test]
fn swagger_2_export_with_its_own_token_header() {
    let i = import("swagger2-export.yaml", &[]);
    assert_eq!(i.code, 0, "{}", i.report);
    assert_eq!(pools(&i.policy), ["eu-central-1_Acc0unts1"]);
    assert_eq!(i.policy.token_source.header, "x-access-token");
    assert_eq!(
        routes(&i.policy),
        [
            route("/accounts", "GET", "accounts/read", ""),
            route("/accounts", "POST", "accounts/write", ""),
            route("/accounts/{accountId}", "GET", "accounts/read", ""),
            route(
                "/accounts/{accountId}",
                "PATCH",
                "accounts/write accounts/admin",
                ""
            ),
            route("/status", "GET", "", "none"),
        ]
    );
    assert!(notes(&i.report, "changed")[0].contains("base path \"/v1\""));
}

#[test]
fn cloudformation_short_and_long_forms_translate_the_same() {
    let yaml = import("cloudformation.yaml", &[]);
    let json = import("cloudformation.json", &[]);
    assert_eq!(yaml.code, 0, "{}", yaml.report);
    assert_eq!(yaml.policy, json.policy);
    assert_eq!(pools(&yaml.policy), ["ap-south-1_abcdefghi"]);
    assert_eq!(
        routes(&yaml.policy),
        [
            route("/admin", "POST", "", "deny"),
            route("/admin/{proxy+}", "ANY", "users/admin", ""),
            route("/health", "GET", "", "none"),
            route("/users", "OPTIONS", "", "none"),
            route("/users", "POST", SCOPE, ""),
            route("/users/{id}", "GET", &format!("{SCOPE} users/read"), ""),
        ]
    );
    assert_eq!(yaml.policy.routes[0].name.as_deref(), Some("AdminKeys"));
    assert_eq!(yaml.policy.routes[4].name.as_deref(), Some("CreateUser"));
    let not_enforced = notes(&yaml.report, "not-enforced");
    assert_eq!(not_enforced.len(), 1);
    assert!(
        not_enforced[0]
            .starts_with("[not-enforced] Resources.AdminKeys: POST /admin: protected by AWS_IAM")
    );
    assert_eq!(notes(&yaml.report, "public").len(), 2);
}

#[test]
fn pools_created_by_the_template_become_placeholders() {
    let i = import("cloudformation-created-pool.yaml", &[]);
    assert_eq!(i.code, 3);
    assert!(i.report.contains("INCOMPLETE"));
    assert_eq!(
        pools(&i.policy),
        ["zz-replaceme-1_UNRESOLVED", "zz-replaceme-2_UNRESOLVED"]
    );
    // The placeholders validate (so the rest can be reviewed and tested) but are marked
    // where they stand, and say what the real value is.
    assert!(i.yaml.contains(
        "  # PLACEHOLDER: replace with the real pool id (REGION_ID) of the user pool UserPool created by this template (!GetAtt UserPool.Arn)\n  - id: zz-replaceme-1_UNRESOLVED\n"
    ), "{}", i.yaml);
    assert!(i.yaml.contains(
        "# PLACEHOLDER: replace with the real pool id (REGION_ID) of parameter PartnerPoolArn\n"
    ));
    // A scope from a parameter is never guessed from its default: the method is denied.
    assert_eq!(
        routes(&i.policy),
        [
            route("/notes", "GET", "", "deny"),
            route("/notes", "POST", "notes/write", "")
        ]
    );
    let unresolved = notes(&i.report, "unresolved").join("\n");
    assert!(unresolved.contains("GET /notes: authorization scopes depend on parameter NotesScope (default \"notes/read\", may be overridden), which only deployment knows; emitted as `auth: deny` (every request refused, 403)"));
    // Such a pool can never be trusted by accident: its issuer's region does not exist.
    let policy = cognito_ext_authz::policy::Policy::load(&i.path).unwrap();
    assert!(
        policy.pools[0]
            .jwks_uri
            .starts_with("https://cognito-idp.zz-replaceme-1.amazonaws.com/")
    );
}

#[test]
fn sam_apis_events_and_globals() {
    let i = import("sam.yaml", &[]);
    assert_eq!(i.code, 0, "{}", i.report);
    assert_eq!(
        pools(&i.policy),
        ["us-west-2_TaSkS0001", "us-west-2_PubPool99"]
    );
    assert_eq!(
        routes(&i.policy),
        [
            route("/catalog", "GET", "catalog/read", ""),
            route("/export", "GET", "", "deny"),
            route("/partner/tasks", "POST", "", "deny"),
            route("/ping", "GET", "", "none"),
            route("/tasks", "GET", "tasks/read", ""),
            route("/tasks", "POST", "tasks/write", ""),
            route("/tasks/{taskId}", "ANY", "tasks/write tasks/admin", ""),
        ]
    );
    let names: Vec<&str> = i
        .policy
        .routes
        .iter()
        .filter_map(|r| r.name.as_deref())
        .collect();
    assert_eq!(
        names,
        [
            "Catalog",
            "Export",
            "Partner",
            "Ping",
            "ListTasks",
            "CreateTask",
            "TaskById"
        ]
    );
    let not_enforced = notes(&i.report, "not-enforced").join("\n");
    assert!(not_enforced.contains("GET /export: protected by AWS_IAM"));
    assert!(
        not_enforced
            .contains("POST /partner/tasks: protected by the Lambda authorizer PartnerLambda")
    );
    assert!(
        notes(&i.report, "changed")
            .join("\n")
            .contains("2 REST APIs")
    );
    assert!(notes(&i.report, "not-translated")[0].contains("HttpApi"));
}

#[test]
fn an_inline_openapi_body_is_read_with_the_template_intrinsics() {
    let i = import("cloudformation-openapi-body.yaml", &[]);
    assert_eq!(i.code, 3);
    assert_eq!(
        pools(&i.policy),
        ["ca-central-1_B00ksP001", "zz-replaceme-1_UNRESOLVED"]
    );
    assert_eq!(
        routes(&i.policy),
        [
            route("/books", "GET", "books/read", ""),
            route("/books", "POST", "books/write", ""),
            route("/books/{isbn}", "GET", "books/read", ""),
        ]
    );
    assert!(notes(&i.report, "unresolved")[0].contains("parameter PoolId"));
}

#[test]
fn sources_that_cannot_be_read_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = support::write(dir.path(), "x.yaml", "name: not an api\n");
    let broken = support::write(dir.path(), "y.yaml", "Resources: [\n");
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
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    // A format given by hand that the file is not: nothing to translate, and it says so.
    let r = run(&[
        "import",
        fixture("serverless.yml").to_str().unwrap(),
        "--format",
        "openapi",
    ]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("no method of the source uses a Cognito authorizer"),
        "{}",
        r.stderr
    );
}
