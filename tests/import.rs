//! `cognito-ext-authz import`: API Gateway definitions in, a policy and a report out.
//!
//! Every fixture in tests/fixtures/import/ is imported with the real binary; its output
//! must pass `validate`, and its routes, pools and notes are asserted. The Serverless
//! example is then taken through the decision pipeline with `check`, with
//! tokens signed by a key generated here and published in a JWKS file written here.
//!
//! Why one file of this length: one expected translation per fixture in
//! tests/fixtures/import/, each a table of routes, pools and notes that reads as data; the
//! helpers that turn a policy into those tables are shared by all of them.

use std::path::{Path, PathBuf};

use cognito_ext_authz::policy::model::{AuthMode, PolicyFile, TokenUse, UserPoolConfig};
use serde_json::json;
use testkit::{SCOPE, access_claims, key, run};

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

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
fn serverless_example_of_issue_5() {
    let i = import("serverless.yml", &[]);
    assert_eq!(i.code, 0, "{}", i.report);
    assert_eq!(pools(&i.policy), ["ap-south-1_abcdefghi"]);
    // The authorizer of resources.Resources, under its logical id, with its provider ARN.
    let authorizer = &i.policy.authorizers["ApiGatewayAuthorizer"];
    assert_eq!(authorizer.token_source.header, "authorization");
    assert_eq!(
        authorizer.user_pools[0].arn.as_deref(),
        Some("arn:aws:cognito-idp:ap-south-1:1234567890:userpool/ap-south-1_abcdefghi")
    );
    assert_eq!(routes(&i.policy), [route("/my_path", "POST", SCOPE, "")]);
    assert_eq!(i.policy.routes[0].name.as_deref(), Some("my_func"));
    assert_eq!(
        route_authorizers(&i.policy),
        [("my_func".to_owned(), "ApiGatewayAuthorizer".to_owned())]
    );
    assert!(
        i.report
            .contains("1 route(s), 1 authorizer(s), 1 user pool(s), 0 note(s)"),
        "{}",
        i.report
    );
    // The format can be given instead of detected.
    let forced = run(
        BIN,
        &[
            "import",
            fixture("serverless.yml").to_str().unwrap(),
            "--format",
            "serverless",
        ],
    );
    assert_eq!(forced.stdout, i.yaml);
}

/// The imported Serverless policy, through the decision pipeline with `check`.
#[test]
fn serverless_example_decides_like_api_gateway() {
    let i = import("serverless.yml", &[]);
    let jwks = testkit::write(
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
        run(BIN, &args)
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
            // No scopes: an ID token, as API Gateway.
            route("/me", "GET", "", "id"),
            route("/orders", "GET", "orders/read orders/admin", ""),
            // `cors: true`: the preflight API Gateway answers itself, and only it.
            route("/orders", "OPTIONS", "", "none"),
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
    let public = notes(&i.report, "public").join("\n");
    assert!(public.contains("GET /health"), "{public}");
    assert!(
        public.contains("[public] functions.listOrders.events[0].http.cors: OPTIONS /orders: a CORS preflight, which API Gateway answers without authorization; the route is public (auth: none), for OPTIONS only"),
        "{public}"
    );
    // Every authorizer is its own: nothing is merged, so nothing is reported as changed.
    assert!(notes(&i.report, "changed").is_empty(), "{}", i.report);
    assert_eq!(
        route_authorizers(&i.policy),
        [
            ("profile".to_owned(), "ProfileAuthorizer".to_owned()),
            ("listOrders".to_owned(), "orders-pool".to_owned()),
            ("getOrder".to_owned(), "orders-pool".to_owned()),
            ("anyOrder".to_owned(), "orders-pool".to_owned()),
            ("partner".to_owned(), "partner-authorizer".to_owned()),
        ]
    );
    let not_translated = notes(&i.report, "not-translated").join("\n");
    assert!(!not_translated.contains("cors"));
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
            route("/profile", "GET", "", "id"),
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
    // The only difference left is the base path.
    let changed = notes(&i.report, "changed");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].contains("base path \"/prod\""));
    // Each security scheme is its own authorizer, with its own pools.
    let staff: Vec<String> = i.policy.authorizers["staff-pool"]
        .user_pools
        .iter()
        .map(pool_id)
        .collect();
    assert_eq!(staff, ["us-east-1_Staff0001", "zz-replaceme-1_UNRESOLVED"]);
    let inventory: Vec<String> = i.policy.authorizers["inventory-pool"]
        .user_pools
        .iter()
        .map(pool_id)
        .collect();
    assert_eq!(inventory, ["us-east-1_InvPool01"]);
    assert_eq!(
        route_authorizers(&i.policy),
        [
            ("ANY /admin/{proxy+}".to_owned(), "staff-pool".to_owned()),
            ("listItems".to_owned(), "inventory-pool".to_owned()),
            ("createItem".to_owned(), "inventory-pool".to_owned()),
            ("DELETE /items/{id}".to_owned(), "inventory-pool".to_owned()),
            ("GET /items/{id}".to_owned(), "inventory-pool".to_owned()),
            ("GET /profile".to_owned(), "inventory-pool".to_owned()),
        ]
    );
}

/// An IAM method under a broader Cognito route is refused, not caught by the broader route.
#[test]
fn a_denied_method_under_a_broader_route_is_refused() {
    let i = import("openapi3-export.json", &[]);
    let jwks = testkit::write(
        i._dir.path(),
        "jwks.json",
        &json!({"keys": [key(0).jwk]}).to_string(),
    );
    let check = |method: &str, path: &str| {
        run(
            BIN,
            &[
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
            ],
        )
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
    assert_eq!(
        i.policy.authorizers["accounts-authorizer"]
            .token_source
            .header,
        "x-access-token"
    );
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
        "      # PLACEHOLDER: replace with the real pool id (REGION_ID) of the user pool UserPool created by this template (!GetAtt UserPool.Arn)\n      - id: zz-replaceme-1_UNRESOLVED\n"
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
    let policy = cognito_ext_authz::files::load_policy(&i.path).unwrap();
    assert!(policy.pools.iter().any(|p| {
        p.jwks_uri
            .starts_with("https://cognito-idp.zz-replaceme-1.amazonaws.com/")
    }));
}

#[test]
fn sam_apis_events_and_globals() {
    let i = import("sam.yaml", &[]);
    assert_eq!(i.code, 0, "{}", i.report);
    assert_eq!(
        pools(&i.policy),
        ["us-west-2_PubPool99", "us-west-2_TaSkS0001"]
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

/// Definitions kept in other files are each reported where they are named, and no method
/// whose authorization only such a file states becomes public.
#[test]
fn api_definitions_in_other_files_are_reported_and_never_made_public() {
    let i = import("cloudformation-external-definitions.yaml", &[]);
    assert_eq!(i.code, 3, "two methods cannot be read: {}", i.report);
    // Each is unreadable (the import is not complete, exit 3), even without a method of
    // its own in the template: none of its methods is in the policy.
    let unreadable = notes(&i.report, "unreadable");
    for want in [
        "[unreadable] Resources.OrdersApi.Properties.BodyS3Location: the API definition is in another file, so none of its methods is in the policy (the default action, deny, answers them); import that OpenAPI file too",
        "[unreadable] Resources.BillingApi.Properties.Body: an included definition (Fn::Transform AWS::Include) cannot be read, so none of its methods is in the policy (the default action, deny, answers them); import the OpenAPI file itself",
        "[unreadable] Resources.ReportsApi.Properties.DefinitionUri: the API definition is in another file, so none of its methods is in the policy (the default action, deny, answers them); import that OpenAPI file too",
        "[unreadable] Resources.AdminApi.Properties.DefinitionBody: an included definition (Fn::Transform AWS::Include) cannot be read, so none of its methods is in the policy (the default action, deny, answers them); import the OpenAPI file itself",
    ] {
        assert!(unreadable.contains(&want), "{want}\n{}", i.report);
    }
    assert!(
        notes(&i.report, "not-translated").is_empty(),
        "{}",
        i.report
    );
    // SAM events on those APIs: denied, since only the other file says what they need.
    assert_eq!(
        routes(&i.policy),
        [
            route("/admin/cache", "DELETE", "", "deny"),
            route("/reports", "GET", "", "deny"),
            // The method the template defines itself is translated as usual.
            route("/status", "GET", "orders/read", ""),
        ]
    );
    let unreadable = notes(&i.report, "unreadable").join("\n");
    for want in [
        "[unreadable] Resources.ReportsFunction.Properties.Events.ListReports: GET /reports: its authorization cannot be read with certainty: the definition of the API ReportsApi is in another file (DefinitionUri), which decides what this method requires; import that OpenAPI file too; emitted as `auth: deny`",
        "[unreadable] Resources.ReportsFunction.Properties.Events.PurgeCache: DELETE /admin/cache: its authorization cannot be read with certainty: the definition of the API AdminApi is included from another file (Fn::Transform AWS::Include), which decides what this method requires",
    ] {
        assert!(unreadable.contains(want), "{want}\n{}", i.report);
    }
    assert!(notes(&i.report, "public").is_empty(), "{}", i.report);
}

/// WebSocket and Application Load Balancer events are reported, one note each, and add no
/// route; the function's `http` event is translated beside them.
#[test]
fn serverless_websocket_and_alb_events_are_reported_not_translated() {
    let i = import("serverless-other-events.yml", &[]);
    assert_eq!(i.code, 0, "{}", i.report);
    assert_eq!(
        notes(&i.report, "not-translated"),
        [
            "[not-translated] functions.connect.events[0].websocket: a WebSocket API event is not a REST API method; not translated",
            "[not-translated] functions.connect.events[1].websocket: a WebSocket API event is not a REST API method; not translated",
            "[not-translated] functions.rooms.events[1].alb: an Application Load Balancer event is not a REST API method; not translated",
        ]
    );
    assert_eq!(routes(&i.policy), [route("/rooms", "GET", "chat/read", "")]);
    assert!(notes(&i.report, "public").is_empty(), "{}", i.report);
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

#[test]
fn two_authorizers_import_exactly_from_every_format() {
    for (fixture, staff, customers) in SHOP {
        let i = import(fixture, &[]);
        assert_eq!(i.code, 0, "{fixture}: {}", i.report);
        // Only the two public methods are reported: nothing differs from API Gateway.
        assert_eq!(
            notes(&i.report, "public").len(),
            2,
            "{fixture}: {}",
            i.report
        );
        assert!(
            i.report
                .contains("6 route(s), 2 authorizer(s), 2 user pool(s), 2 note(s)"),
            "{fixture}: {}",
            i.report
        );
        let names: Vec<&str> = i.policy.authorizers.keys().map(String::as_str).collect();
        let mut want = vec![staff, customers];
        want.sort();
        assert_eq!(names, want, "{fixture}");
        assert!(i.policy.user_pools.is_empty() && i.policy.default_authorizer.is_none());

        let s = &i.policy.authorizers[staff];
        assert_eq!(
            s.user_pools.iter().map(pool_id).collect::<Vec<_>>(),
            [STAFF_POOL]
        );
        assert_eq!(s.token_source.header, "authorization", "{fixture}");
        assert_eq!(s.identity_validation_expression, None, "{fixture}");
        assert_eq!(s.result_ttl_seconds, Some(0), "{fixture}");
        let c = &i.policy.authorizers[customers];
        assert_eq!(
            c.user_pools.iter().map(pool_id).collect::<Vec<_>>(),
            [CUSTOMER_POOL]
        );
        assert_eq!(c.token_source.header, "x-customer-token", "{fixture}");
        assert_eq!(
            c.identity_validation_expression.as_deref(),
            Some("^cust[0-9a-z]{22}$"),
            "{fixture}"
        );
        assert_eq!(c.result_ttl_seconds, Some(60), "{fixture}");

        assert_eq!(
            routes(&i.policy),
            [
                route("/health", "GET", "", "none"),
                route("/orders", "GET", "orders/read", ""),
                route("/orders", "OPTIONS", "", "none"),
                route("/profile", "GET", "", "id"),
                route("/staff/me", "GET", "", "id"),
                route("/staff/reports", "GET", "reports/read", ""),
            ],
            "{fixture}"
        );
        let by_path: Vec<(&str, Option<&str>)> = i
            .policy
            .routes
            .iter()
            .map(|r| (r.path.as_str(), r.authorizer.as_deref()))
            .collect();
        assert_eq!(
            by_path,
            [
                ("/health", None),
                ("/orders", Some(customers)),
                ("/orders", None),
                ("/profile", Some(customers)),
                ("/staff/me", Some(staff)),
                ("/staff/reports", Some(staff)),
            ],
            "{fixture}"
        );
    }
}

/// The imported policy with each pool's key set served by `keys`.
fn with_local_keys(policy: &PolicyFile, keys: &testkit::KeyServer) -> String {
    let mut policy = policy.clone();
    for authorizer in policy.authorizers.values_mut() {
        for pool in &mut authorizer.user_pools {
            pool.jwks_uri = Some(keys.jwks_uri(&pool_id(pool)));
        }
    }
    serde_saphyr::to_string(&policy).unwrap()
}

fn access_of(pool: &str, client: &str, scope: &str) -> serde_json::Value {
    let mut c = access_claims(scope);
    c["iss"] = json!(testkit::issuer(pool));
    c["client_id"] = json!(client);
    c
}

fn id_of(pool: &str, aud: &str) -> serde_json::Value {
    let now = testkit::now();
    json!({
        "sub": "11111111-2222-3333-4444-555555555555",
        "aud": aud,
        "token_use": "id",
        "auth_time": now - 60,
        "iss": testkit::issuer(pool),
        "cognito:username": "carol",
        "exp": now + 3600,
        "iat": now - 60,
        "email": "carol@example.com",
    })
}

/// Each imported shop, served by the real binary, decides every request as API Gateway
/// would: a route takes tokens of its own authorizer's pools from its own header only; a
/// method without scopes takes ID tokens; the customers' expression is matched against
/// `aud`; the preflight needs no token, and only OPTIONS is opened.
#[tokio::test(flavor = "multi_thread")]
async fn two_authorizers_decide_through_the_service_as_api_gateway_would() {
    let keys = testkit::KeyServer::publishing(STAFF_POOL, key(0)).await;
    keys.publish(CUSTOMER_POOL, key(1));
    let bearer = |k: usize, claims: &serde_json::Value| format!("Bearer {}", key(k).sign(claims));
    let staff_reports = bearer(0, &access_of(STAFF_POOL, STAFF_CLIENT, "reports/read"));
    let staff_id = bearer(0, &id_of(STAFF_POOL, STAFF_CLIENT));
    let mut expired = access_of(STAFF_POOL, STAFF_CLIENT, "reports/read");
    expired["exp"] = json!(testkit::now() - 10);
    let staff_expired = bearer(0, &expired);
    // A customer-pool token that even holds the staff scope.
    let customer_with_staff_scope = bearer(
        1,
        &access_of(CUSTOMER_POOL, CUSTOMER_CLIENT, "reports/read orders/read"),
    );
    let customer_orders = bearer(1, &access_of(CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read"));
    // An access token with `aud` (a pre-token-generation trigger can add it).
    let mut with_aud = access_of(CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read");
    with_aud["aud"] = json!(CUSTOMER_CLIENT);
    let customer_orders_aud = bearer(1, &with_aud);
    let customer_id = bearer(1, &id_of(CUSTOMER_POOL, CUSTOMER_CLIENT));
    let customer_id_other_client = bearer(1, &id_of(CUSTOMER_POOL, "otherclient0123456789abcd"));
    let customer_id_longer = bearer(1, &id_of(CUSTOMER_POOL, "xcustclient0123456789abcdef"));

    const CUST: &str = "x-customer-token";
    const AUTH: &str = "authorization";
    // (what, method, path, header, token, status, reason)
    let cases: Vec<(&str, &str, &str, &str, &str, u16, &str)> = vec![
        (
            "staff token, staff scope",
            "GET",
            "/staff/reports",
            AUTH,
            &staff_reports,
            200,
            "authorized",
        ),
        (
            "customer token with the staff scope, on the staff route",
            "GET",
            "/staff/reports",
            AUTH,
            &customer_with_staff_scope,
            401,
            "invalid_token",
        ),
        (
            "customer token in the customers' header, on the staff route",
            "GET",
            "/staff/reports",
            CUST,
            &customer_with_staff_scope,
            401,
            "no_token",
        ),
        (
            "staff token in the customers' header, on the staff route",
            "GET",
            "/staff/reports",
            CUST,
            &staff_reports,
            401,
            "no_token",
        ),
        (
            "staff ID token where scopes are required",
            "GET",
            "/staff/reports",
            AUTH,
            &staff_id,
            401,
            "invalid_token",
        ),
        (
            "expired staff token",
            "GET",
            "/staff/reports",
            AUTH,
            &staff_expired,
            401,
            "expired_token",
        ),
        (
            "staff ID token, scope-less staff route",
            "GET",
            "/staff/me",
            AUTH,
            &staff_id,
            200,
            "authorized",
        ),
        (
            "staff access token, scope-less staff route",
            "GET",
            "/staff/me",
            AUTH,
            &staff_reports,
            401,
            "invalid_token",
        ),
        (
            "customer ID token, scope-less staff route",
            "GET",
            "/staff/me",
            AUTH,
            &customer_id,
            401,
            "invalid_token",
        ),
        (
            "customer ID token matching the expression",
            "GET",
            "/profile",
            CUST,
            &customer_id,
            200,
            "authorized",
        ),
        (
            "customer ID token in the staff header",
            "GET",
            "/profile",
            AUTH,
            &customer_id,
            401,
            "no_token",
        ),
        (
            "customer access token, scope-less route",
            "GET",
            "/profile",
            CUST,
            &customer_orders,
            401,
            "invalid_token",
        ),
        (
            "customer ID token not matching the expression",
            "GET",
            "/profile",
            CUST,
            &customer_id_other_client,
            401,
            "invalid_token",
        ),
        (
            "aud matching only in part",
            "GET",
            "/profile",
            CUST,
            &customer_id_longer,
            401,
            "invalid_token",
        ),
        (
            "staff ID token on the customers' route",
            "GET",
            "/profile",
            CUST,
            &staff_id,
            401,
            "invalid_token",
        ),
        (
            "customer access token without aud: the expression cannot match",
            "GET",
            "/orders",
            CUST,
            &customer_orders,
            401,
            "invalid_token",
        ),
        (
            "customer access token with a matching aud",
            "GET",
            "/orders",
            CUST,
            &customer_orders_aud,
            200,
            "authorized",
        ),
        (
            "staff token with a matching aud, on the customers' route",
            "GET",
            "/orders",
            CUST,
            &staff_reports,
            401,
            "invalid_token",
        ),
        ("no token", "GET", "/orders", CUST, "", 401, "no_token"),
        (
            "CORS preflight, no token",
            "OPTIONS",
            "/orders",
            CUST,
            "",
            200,
            "public_route",
        ),
        (
            "another method of the preflight's path",
            "DELETE",
            "/orders",
            CUST,
            &customer_orders_aud,
            403,
            "no_route",
        ),
        (
            "preflight of a path API Gateway does not answer",
            "OPTIONS",
            "/profile",
            CUST,
            "",
            403,
            "no_route",
        ),
        (
            "public method",
            "GET",
            "/health",
            AUTH,
            "",
            200,
            "public_route",
        ),
    ];

    for (fixture, staff, customers) in SHOP {
        let i = import(fixture, &[]);
        let service = testkit::Service::ready(BIN, &with_local_keys(&i.policy, &keys), &[]).await;
        let mut client = service.client().await;
        for (what, method, path, header, token, status, reason) in &cases {
            let headers: Vec<(&str, &str)> = if token.is_empty() {
                vec![]
            } else {
                vec![(*header, *token)]
            };
            let a = testkit::check(
                &mut client,
                testkit::request(method, "shop.example.com", path, &headers),
            )
            .await;
            assert_eq!(
                (a.status, a.metadata["reason"].as_str()),
                (*status, *reason),
                "{fixture}: {what}: {method} {path}: {a:?}"
            );
            if a.status == 200 && *reason == "authorized" {
                let authorizer = if path.starts_with("/staff") {
                    staff
                } else {
                    customers
                };
                assert_eq!(a.metadata["authorizer"], authorizer, "{fixture}: {what}");
            }
        }

        // Result TTLs: staff 0 (every request verified), customers 60 (reused).
        let misses = "cognito_ext_authz_token_cache_misses_total";
        let before = service.metric(misses, &[]).await;
        for _ in 0..3 {
            let r = testkit::request("GET", "h", "/staff/reports", &[(AUTH, &staff_reports)]);
            assert_eq!(testkit::check(&mut client, r).await.status, 200);
        }
        let staff_misses = service.metric(misses, &[]).await - before;
        let fresh = bearer(1, &{
            let mut c = id_of(CUSTOMER_POOL, CUSTOMER_CLIENT);
            c["jti"] = json!(fixture);
            c
        });
        for _ in 0..3 {
            let r = testkit::request("GET", "h", "/profile", &[(CUST, &fresh)]);
            assert_eq!(testkit::check(&mut client, r).await.status, 200);
        }
        let customer_misses = service.metric(misses, &[]).await - before - staff_misses;
        assert_eq!(
            (staff_misses, customer_misses),
            (3.0, 1.0),
            "{fixture}: cache misses (staff TTL 0, customers TTL 60)"
        );
    }
}
