//! Serverless sources whose authorization cannot be read with certainty.

use super::*;

#[test]
fn serverless_scopes_that_are_not_a_list_of_strings_are_denied() {
    for (scopes, says) in [
        ("null", "null"),
        ("orders/read", "a string"),
        ("[orders/read, 5]", "a number"),
        ("[orders/read, [x]]", "a list"),
        ("{a: b}", "a map"),
    ] {
        let t = import(&serverless(&format!(
            r#"{{path: orders, method: get, authorizer: {{arn: "{POOL}", scopes: {scopes}}}}}"#
        )));
        assert_orders_denied(&t, NoteKind::Unreadable, "functions.f.events[0].http", says);
    }
}

#[test]
fn serverless_authorizer_of_the_wrong_shape_is_denied() {
    for (authorizer, says) in [
        ("null", "null"),
        ("5", "a number"),
        ("[]", "empty list"),
        ("''", "empty"),
        (
            "{type: COGNITO_USER_POOLS, scopes: [a/b]}",
            "neither arn nor authorizerId",
        ),
        (
            "{type: COGNITO_USER_POOLS, authorizerId: {Ref: Pool}}",
            "not an AWS::ApiGateway::Authorizer",
        ),
    ] {
        let t = import(&serverless(&format!(
            "{{path: orders, method: get, authorizer: {authorizer}}}"
        )));
        assert_orders_denied(&t, NoteKind::Unreadable, "functions.f.events[0].http", says);
    }
}

#[test]
fn serverless_misspelt_authorizer_does_not_make_a_method_public() {
    let t = import(&serverless(&format!(
        r#"{{path: orders, method: get, Authorizer: {{arn: "{POOL}"}}}}"#
    )));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "functions.f.events[0].http",
        "\"Authorizer\"",
    );
    // Without any authorizer key, the event is plainly public.
    let t = import(&serverless("{path: orders, method: get, cors: true}"));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
}

#[test]
fn serverless_private_flag_only_deployment_knows_is_denied() {
    let t = import(&serverless(
        "{path: orders, method: get, private: '${self:custom.unknownLater}'}",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "functions.f.events[0].http",
        "private",
    );
    let t = import(&serverless("{path: orders, method: get, private: maybe}"));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "functions.f.events[0].http",
        "private",
    );
}

#[test]
fn serverless_short_form_without_a_path_is_not_a_public_root() {
    let t = import(&serverless("get"));
    assert!(
        t.policy.routes.iter().all(|r| r.path != "/"),
        "{:#?}",
        t.policy.routes
    );
    assert!(!t.is_complete());
}

#[test]
fn two_definitions_of_one_method_with_different_requirements_are_denied() {
    // API Gateway refuses a second definition of a method; keeping the first would open
    // `GET /orders` to anyone here.
    let src = serverless("'get orders'").replace(
        "  ok:\n",
        &format!(
            "  g:\n    handler: h\n    events:\n      - http: {{path: orders, method: get, authorizer: {{arn: \"{POOL}\", scopes: [orders/read]}}}}\n  ok:\n"
        ),
    );
    let t = import(&src);
    assert_orders_denied(
        &t,
        NoteKind::NotTranslated,
        "functions.g.events[0].http",
        "different requirements",
    );
}

// ---- CloudFormation and SAM -----------------------------------------------------------

#[test]
fn serverless_cors_opens_the_preflight_and_nothing_else() {
    for cors in [
        "true",
        "{origin: '*', headers: [Content-Type, X-Customer-Token]}",
    ] {
        let t = import(&serverless(&format!(
            r#"{{path: orders, method: get, cors: {cors}, authorizer: {{arn: "{POOL}", scopes: [orders/read]}}}}"#
        )));
        let preflight = route(&t, "/orders", Some("OPTIONS"));
        assert_eq!(preflight.auth, Some(AuthMode::None), "cors: {cors}");
        // The method itself keeps its authorizer and scopes; no other method is opened.
        let get = route(&t, "/orders", Some("GET"));
        assert_eq!(get.auth, None);
        assert_eq!(get.scopes.as_deref(), Some(&["orders/read".to_owned()][..]));
        assert_eq!(
            t.policy
                .routes
                .iter()
                .filter(|r| r.path == "/orders")
                .count(),
            2,
            "{:#?}",
            t.policy.routes
        );
        assert!(t.is_complete(), "{:#?}", t.notes);
    }
    let t = import(&serverless(&format!(
        r#"{{path: orders, method: get, cors: false, authorizer: {{arn: "{POOL}"}}}}"#
    )));
    assert!(
        t.policy
            .routes
            .iter()
            .all(|r| r.methods.as_deref() != Some(&["OPTIONS".to_owned()][..])),
        "{:#?}",
        t.policy.routes
    );
}

#[test]
fn serverless_cors_that_is_not_plainly_on_or_off_denies_the_preflight() {
    for (cors, kind, says) in [
        ("'yes'", NoteKind::Unreadable, "`cors` is a string"),
        ("5", NoteKind::Unreadable, "`cors` is a number"),
        ("[a]", NoteKind::Unreadable, "`cors` is a list"),
        (
            "'${self:custom.unknownLater}'",
            NoteKind::Unresolved,
            "the Serverless variable ${opt:flag}",
        ),
    ] {
        let t = import(&serverless(&format!(
            r#"{{path: orders, method: get, cors: {cors}, authorizer: {{arn: "{POOL}", scopes: [orders/read]}}}}"#
        )));
        assert_denied(
            &t,
            "/orders",
            Some("OPTIONS"),
            kind,
            "functions.f.events[0].http.cors",
            says,
        );
        // The method itself is what its own authorizer says.
        assert_eq!(route(&t, "/orders", Some("GET")).auth, None);
    }
}

#[test]
fn serverless_authorizer_settings_that_cannot_be_read_deny_its_methods() {
    for (settings, kind, says) in [
        (
            "identitySource: method.request.querystring.token",
            NoteKind::Unreadable,
            "is not one request header",
        ),
        (
            "identitySource: [method.request.header.A]",
            NoteKind::Unreadable,
            "identity source is a list",
        ),
        (
            "identitySource: '${opt:header}'",
            NoteKind::Unresolved,
            "identity source (the token header) depends on the Serverless variable ${opt:header}",
        ),
        (
            "identityValidationExpression: '${opt:aud}'",
            NoteKind::Unresolved,
            "identity validation expression depends on",
        ),
        (
            "identityValidationExpression: null",
            NoteKind::Unreadable,
            "identity validation expression is null",
        ),
        // Java's look-behind: this service's regular expressions have none.
        (
            "identityValidationExpression: '(?<=cust)[a-z]+'",
            NoteKind::NotEnforced,
            "is not a regular expression this service can check the same way",
        ),
        (
            "resultTtlInSeconds: 7200",
            NoteKind::Unreadable,
            "result TTL \"7200\" is not a number of seconds from 0 to 3600",
        ),
        (
            "resultTtlInSeconds: -1",
            NoteKind::Unreadable,
            "result TTL \"-1\"",
        ),
    ] {
        let t = import(&serverless(&format!(
            r#"{{path: orders, method: get, authorizer: {{name: shop, arn: "{POOL}", {settings}, scopes: [orders/read]}}}}"#
        )));
        assert_orders_denied(&t, kind, "functions.f.events[0].http", says);
        assert!(
            !t.policy.authorizers.contains_key("shop"),
            "{settings}: {:#?}",
            t.policy
        );
    }
}

#[test]
fn serverless_authorizer_defined_twice_differently_denies_both_methods() {
    // Both inline authorizers are named after the pool, as Serverless names them, and
    // Serverless deploys one of them for both methods: which one is not certain here.
    let t = import(&serverless(&format!(
        r#"{{path: orders, method: get, authorizer: {{arn: "{POOL}", identitySource: method.request.header.X-Other, scopes: [orders/read]}}}}"#
    )));
    for (path, at) in [
        ("/orders", "functions.f.events[0].http"),
        ("/ok", "functions.ok.events[0].http"),
    ] {
        assert_denied(
            &t,
            path,
            Some("GET"),
            NoteKind::NotTranslated,
            at,
            "and again differently",
        );
    }
}

#[test]
fn serverless_name_alone_is_a_lambda_function_not_a_shared_authorizer() {
    let src = format!(
        r#"
service: s
provider: {{name: aws}}
functions:
  f:
    handler: h
    events:
      - http: {{path: orders, method: get, authorizer: {{name: ShopAuthorizer, type: COGNITO_USER_POOLS, scopes: [orders/read]}}}}
      - http: {{path: me, method: get, authorizer: {{name: ShopAuthorizer}}}}
resources:
  Resources:
    ShopAuthorizer:
      Type: AWS::ApiGateway::Authorizer
      Properties: {{Type: COGNITO_USER_POOLS, ProviderARNs: ["{POOL}"]}}
"#
    );
    let t = import(&src);
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "functions.f.events[0].http",
        "write `authorizerId: {Ref: ...}`",
    );
    // Without `type`, Serverless reads it as the Lambda authorizer ShopAuthorizer.
    assert_denied(
        &t,
        "/me",
        Some("GET"),
        NoteKind::NotEnforced,
        "functions.f.events[1].http",
        "Lambda authorizer ShopAuthorizer",
    );
}

#[test]
fn an_authorizer_defined_outside_the_file_denies_its_methods() {
    let t = import(&serverless(
        "{path: orders, method: get, authorizer: {type: COGNITO_USER_POOLS, authorizerId: abc123, scopes: [orders/read]}}",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "functions.f.events[0].http",
        "depends on the authorizer abc123, which is not defined in this file",
    );
    let t = import(&cloudformation(
        "AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: abc123",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.GetOrders",
        "depends on the authorizer abc123, defined outside this template",
    );
}
