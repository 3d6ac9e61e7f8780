//! Each source format translated: Serverless, OpenAPI 3, Swagger 2, CloudFormation, SAM.

use super::*;

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
    let jwks = testkit::write_jwks(i._dir.path());
    let check = |method: &str, path: &str, token: Option<&str>| {
        let mut args = check_args(
            i.path.to_str().unwrap(),
            jwks.to_str().unwrap(),
            method,
            path,
        );
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
    let jwks = testkit::write_jwks(i._dir.path());
    let check = |method: &str, path: &str| {
        let token = key(0).sign(&access_claims("staff/admin"));
        let mut args = check_args(
            i.path.to_str().unwrap(),
            jwks.to_str().unwrap(),
            method,
            path,
        );
        args.extend(["--token", &token]);
        run(BIN, &args)
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
