//! `import` fails closed (docs/import.md): a value of an unexpected type or shape
//! never becomes a public or scope-less route.
//!
//! Each case below is a source a user could plausibly write (or a tool could emit) where
//! the authorization is stated in a shape import cannot read with certainty: a list of
//! scheme names instead of requirement objects, scopes as a string, `null` where a list
//! belongs, a misspelt key, a reference to nothing. Before the fix several of them became
//! `auth: none` or a route any access token passes. Each must now be an `auth: deny` route
//! with a note at the place in the source that says what was not understood, and the
//! import must report itself incomplete (exit 3), so a pipeline does not deploy it.
//!
//! Why one file of this length: one rule (an unreadable authorization is `auth: deny` with a
//! note, exit 3) over every source format, each format's cases beside the source builder they
//! share; the rule itself is checked in one place (`assert_denied`).

use cognito_ext_authz::import::{NoteKind, Translation, translate};
use cognito_ext_authz::policy::model::{AuthMode, RouteConfig, TokenUse};

fn import(source: &str) -> Translation {
    translate(source, None).unwrap_or_else(|e| panic!("{e}\n{source}"))
}

fn route<'a>(t: &'a Translation, path: &str, method: Option<&str>) -> &'a RouteConfig {
    t.policy
        .routes
        .iter()
        .find(|r| {
            r.path == path
                && match method {
                    None => r.methods.is_none(),
                    Some(m) => r.methods.as_deref() == Some(&[m.to_owned()][..]),
                }
        })
        .unwrap_or_else(|| panic!("no route {method:?} {path}: {:#?}", t.policy.routes))
}

/// The route is `auth: deny`, a note of `kind` at a place containing `at` mentions
/// `because`, and the import is incomplete.
fn assert_denied(
    t: &Translation,
    path: &str,
    method: Option<&str>,
    kind: NoteKind,
    at: &str,
    because: &str,
) {
    let r = route(t, path, method);
    assert_eq!(
        r.auth,
        Some(AuthMode::Deny),
        "{method:?} {path} is not denied: {r:#?}\nnotes: {:#?}",
        t.notes
    );
    assert!(
        t.notes.iter().any(|n| n.kind == kind
            && n.at.contains(at)
            && n.message.contains(because)
            && n.message.contains("emitted as `auth: deny`")),
        "no [{}] note at {at:?} saying {because:?}: {:#?}",
        kind.label(),
        t.notes
    );
    if kind == NoteKind::Unreadable || kind == NoteKind::Unresolved {
        assert!(!t.is_complete(), "an unreadable source must exit 3");
    }
}

/// [`assert_denied`] for `GET /orders`, the method every source below is built around.
fn assert_orders_denied(t: &Translation, kind: NoteKind, at: &str, because: &str) {
    assert_denied(t, "/orders", Some("GET"), kind, at, because);
}

// ---- OpenAPI 3 / Swagger 2 ------------------------------------------------------------

const POOL: &str = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbCdEfGhI";

/// An OpenAPI 3 export with one Cognito scheme and the operation `op` at `GET /orders`
/// (JSON text of the operation object), plus a well-formed `GET /ok`.
fn openapi(op: &str, root_extra: &str) -> String {
    format!(
        r#"{{
  "openapi": "3.0.1",
  "info": {{"title": "orders", "version": "1"}},
  {root_extra}
  "components": {{"securitySchemes": {{"CognitoAuth": {{
    "type": "apiKey", "name": "Authorization", "in": "header",
    "x-amazon-apigateway-authtype": "cognito_user_pools",
    "x-amazon-apigateway-authorizer": {{"type": "cognito_user_pools", "providerARNs": ["{POOL}"]}}}}}}}},
  "paths": {{
    "/orders": {{"get": {op}}},
    "/ok": {{"get": {{"security": [{{"CognitoAuth": ["orders/read"]}}]}}}}
  }}
}}"#
    )
}

#[test]
fn openapi_security_as_a_list_of_scheme_names_is_denied() {
    // A defect once found here: this was `auth: none`.
    let t = import(&openapi(r#"{"security": ["CognitoAuth"]}"#, ""));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "paths./orders.get",
        "\"CognitoAuth\"",
    );
    // The well-formed operation next to it is untouched.
    assert_eq!(
        route(&t, "/ok", Some("GET")).scopes.as_deref(),
        Some(&["orders/read".to_owned()][..])
    );
}

#[test]
fn openapi_scopes_that_are_not_a_list_of_strings_are_denied() {
    // Another defect once found here: a string of scopes was a route any token passes.
    for (scopes, says) in [
        (r#""orders/read""#, "a string"),
        ("null", "null"),
        (r#"{"orders/read": true}"#, "a map"),
        (r#"["orders/read", 5]"#, "a number"),
        (r#"["orders/read", null]"#, "null"),
        (r#"[["orders/read"]]"#, "a list"),
    ] {
        let t = import(&openapi(
            &format!(r#"{{"security": [{{"CognitoAuth": {scopes}}}]}}"#),
            "",
        ));
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", says);
    }
}

#[test]
fn openapi_security_of_the_wrong_shape_is_denied() {
    for op in [
        r#"{"security": null}"#,
        r#"{"security": "CognitoAuth"}"#,
        r#"{"security": {"CognitoAuth": []}}"#,
        r#"{"security": [{"CognitoAuth": ["orders/read"]}, "CognitoAuth"]}"#,
        r#"{"security": [null]}"#,
    ] {
        let t = import(&openapi(op, ""));
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", "security");
    }
}

#[test]
fn openapi_top_level_security_of_the_wrong_shape_is_denied() {
    for root in [
        r#""security": ["CognitoAuth"],"#,
        r#""security": {"CognitoAuth": ["orders/read"]},"#,
        r#""security": null,"#,
        r#""security": [{"CognitoAuth": "orders/read"}],"#,
    ] {
        let t = import(&openapi(r#"{"operationId": "listOrders"}"#, root));
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", "security");
    }
}

#[test]
fn openapi_operation_that_is_not_a_map_is_denied() {
    for op in ["null", r#""CognitoAuth""#, "[]", "5"] {
        let t = import(&openapi(op, ""));
        assert_orders_denied(
            &t,
            NoteKind::Unreadable,
            "paths./orders.get",
            "not an operation",
        );
    }
}

#[test]
fn openapi_misspelt_security_does_not_make_a_method_public() {
    // `Security` is not an OpenAPI field: without the rule, no `security` anywhere reads
    // as public.
    let t = import(&openapi(
        r#"{"Security": [{"CognitoAuth": ["orders/read"]}]}"#,
        "",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "paths./orders.get",
        "\"Security\"",
    );
    let t = import(&openapi(
        "{}",
        r#""securty": [{"CognitoAuth": ["orders/read"]}],"#,
    ));
    assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", "\"securty\"");
}

#[test]
fn openapi_plainly_public_and_plainly_scope_less_methods_still_translate() {
    let t = import(&openapi(r#"{"security": []}"#, ""));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
    // No security anywhere, and nothing misspelt: public, as API Gateway reads it.
    let t = import(&openapi(
        r#"{"operationId": "x", "responses": {}, "x-amazon-apigateway-integration": {}}"#,
        "",
    ));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
    let t = import(&openapi(r#"{"security": [{"CognitoAuth": []}]}"#, ""));
    let r = route(&t, "/orders", Some("GET"));
    assert_eq!((r.auth, r.scopes.as_ref()), (None, None));
}

#[test]
fn openapi_optional_security_is_denied() {
    // `{}` next to a requirement makes authorization optional, which API Gateway does not
    // apply to a method.
    let t = import(&openapi(
        r#"{"security": [{"CognitoAuth": ["orders/read"]}, {}]}"#,
        "",
    ));
    assert_orders_denied(&t, NoteKind::NotEnforced, "paths./orders.get", "optional");
}

#[test]
fn openapi_legacy_auth_extension_of_the_wrong_shape_is_denied() {
    for ext in [
        r#""AWS_IAM""#,
        r#"{"type": 5}"#,
        r#"{"type": "cognito"}"#,
        "null",
    ] {
        let t = import(&openapi(
            &format!(r#"{{"security": [], "x-amazon-apigateway-auth": {ext}}}"#),
            "",
        ));
        assert_orders_denied(
            &t,
            NoteKind::Unreadable,
            "paths./orders.get",
            "x-amazon-apigateway-auth",
        );
    }
}

#[test]
fn openapi_path_item_that_is_not_a_map_denies_the_path() {
    let src = openapi("{}", "").replace(
        r#""/ok": {"get""#,
        r#""/admin/keys": "oops", "/admin/{proxy+}": {"get": {"security": []}}, "/ok": {"get""#,
    );
    let t = import(&src);
    assert_denied(
        &t,
        "/admin/keys",
        None,
        NoteKind::Unreadable,
        "paths./admin/keys",
        "not a path item",
    );
}

#[test]
fn swagger_2_security_as_a_list_of_scheme_names_is_denied() {
    let src = format!(
        r#"
swagger: "2.0"
info: {{title: t, version: "1"}}
securityDefinitions:
  pool:
    type: apiKey
    name: Authorization
    in: header
    x-amazon-apigateway-authtype: cognito_user_pools
    x-amazon-apigateway-authorizer: {{type: cognito_user_pools, providerARNs: ["{POOL}"]}}
paths:
  /a:
    get: {{security: [pool]}}
  /b:
    get: {{security: [{{pool: a/b}}]}}
"#
    );
    let t = import(&src);
    for path in ["/a", "/b"] {
        assert_denied(
            &t,
            path,
            Some("GET"),
            NoteKind::Unreadable,
            &format!("paths.{path}.get"),
            "security",
        );
    }
}

// ---- Serverless -----------------------------------------------------------------------

/// A `serverless.yml` whose function `f` has the http event `event` (YAML flow map).
fn serverless(event: &str) -> String {
    format!(
        r#"
service: s
provider: {{name: aws}}
custom:
  unknownLater: ${{opt:flag}}
functions:
  f:
    handler: h
    events:
      - http: {event}
  ok:
    handler: h
    events:
      - http: {{path: ok, method: get, authorizer: {{arn: "{POOL}", scopes: [ok/read]}}}}
resources:
  Resources:
    Pool:
      Type: AWS::Cognito::UserPool
"#
    )
}

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

/// A template with a Cognito authorizer `Auth` and the method `GetOrders` (YAML flow map
/// of its Properties) on `/orders`.
fn cloudformation(properties: &str) -> String {
    format!(
        r#"
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Flag: {{Type: String}}
Resources:
  Api: {{Type: AWS::ApiGateway::RestApi, Properties: {{Name: api}}}}
  Pool: {{Type: AWS::Cognito::UserPool}}
  Auth:
    Type: AWS::ApiGateway::Authorizer
    Properties: {{Type: COGNITO_USER_POOLS, RestApiId: !Ref Api, ProviderARNs: ["{POOL}"]}}
  Orders:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: orders}}
  GetOrders:
    Type: AWS::ApiGateway::Method
    Properties: {{RestApiId: !Ref Api, ResourceId: !Ref Orders, HttpMethod: GET, {properties}}}
"#
    )
}

#[test]
fn cloudformation_scopes_that_are_not_a_list_of_strings_are_denied() {
    for (scopes, says) in [
        ("null", "null"),
        ("orders/read", "a string"),
        ("[orders/read, 5]", "a number"),
        ("[orders/read, true]", "a boolean"),
        ("{a: b}", "a map"),
    ] {
        let t = import(&cloudformation(&format!(
            "AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Auth, AuthorizationScopes: {scopes}"
        )));
        assert_orders_denied(&t, NoteKind::Unreadable, "Resources.GetOrders", says);
    }
}

#[test]
fn cloudformation_cognito_without_a_usable_authorizer_is_denied() {
    for (props, says) in [
        ("AuthorizationType: COGNITO_USER_POOLS", "no AuthorizerId"),
        (
            "AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Pool",
            "not an AWS::ApiGateway::Authorizer",
        ),
        // No AuthorizationType, but an authorizer: not plainly public.
        ("AuthorizerId: !Ref Auth", "AuthorizerId"),
        ("AuthorizationScopes: [a/b]", "AuthorizationScopes"),
    ] {
        let t = import(&cloudformation(props));
        assert_orders_denied(&t, NoteKind::Unreadable, "Resources.GetOrders", says);
    }
}

#[test]
fn cloudformation_misspelt_property_does_not_make_a_method_public() {
    let t = import(&cloudformation("Authorizationtype: COGNITO_USER_POOLS"));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "Resources.GetOrders",
        "\"Authorizationtype\"",
    );
    let t = import(&cloudformation("AuthorizationType: NONE"));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
}

#[test]
fn cloudformation_api_key_flag_only_deployment_knows_is_denied() {
    let t = import(&cloudformation(
        "AuthorizationType: NONE, ApiKeyRequired: !Ref Flag",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.GetOrders",
        "ApiKeyRequired",
    );
    // CloudFormation reads booleans case-insensitively: "True" requires a key.
    let t = import(&cloudformation(
        "AuthorizationType: NONE, ApiKeyRequired: 'True'",
    ));
    assert_orders_denied(
        &t,
        NoteKind::NotEnforced,
        "Resources.GetOrders",
        "API key alone",
    );
}

/// A SAM template with the API `Api` (its `Auth` as given) and the event `E` of function
/// `F` (YAML flow map of its Properties).
fn sam(api_auth: &str, event: &str) -> String {
    format!(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth: {api_auth}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h
      Events:
        E:
          Type: Api
          Properties: {event}
"#
    )
}

const SAM_AUTH: &str = r#"{DefaultAuthorizer: Cog, Authorizers: {Cog: {UserPoolArn: "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"}}}"#;

#[test]
fn sam_auth_of_the_wrong_shape_is_denied() {
    for (api_auth, event, says) in [
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: Cog}",
            "Auth",
        ),
        (
            "Cog",
            "{RestApiId: !Ref Api, Path: /orders, Method: get}",
            "Auth",
        ),
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: {AuthorizationScopes: null}}",
            "null",
        ),
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: {AuthorizationScopes: orders/read}}",
            "a string",
        ),
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: {Authorizer: NONE, ApiKeyRequired: maybe}}",
            "ApiKeyRequired",
        ),
    ] {
        let t = import(&sam(api_auth, event));
        assert_orders_denied(
            &t,
            NoteKind::Unreadable,
            "Resources.F.Properties.Events.E",
            says,
        );
    }
}

#[test]
fn sam_event_on_an_api_defined_elsewhere_is_not_public() {
    let t = import(&sam(
        SAM_AUTH,
        "{RestApiId: !ImportValue shared-api, Path: /orders, Method: get}",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.F.Properties.Events.E",
        "DefaultAuthorizer",
    );
    // Unless the event itself plainly says NONE.
    let t = import(&sam(
        SAM_AUTH,
        "{RestApiId: !ImportValue shared-api, Path: /orders, Method: get, Auth: {Authorizer: NONE}}",
    ));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
}

// ---- Authorizers and CORS ----------------------------------------------------

/// The authorizer the route for `method path` names, with its pools' ids.
fn authorizer_of<'a>(
    t: &'a Translation,
    path: &str,
    method: Option<&str>,
) -> &'a cognito_ext_authz::policy::model::AuthorizerConfig {
    let r = route(t, path, method);
    let name = r
        .authorizer
        .as_deref()
        .unwrap_or_else(|| panic!("{method:?} {path} names no authorizer: {r:#?}"));
    &t.policy.authorizers[name]
}

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

#[test]
fn openapi_identity_source_that_is_not_one_header_denies() {
    for (scheme, says) in [
        (
            r#""type": "apiKey", "name": "token", "in": "query""#,
            "the scheme's `in` is a string \"query\", not header",
        ),
        (
            r#""type": "apiKey", "name": "Authorization", "in": "header", "x-identity": 1"#,
            "",
        ),
    ] {
        let src = openapi(r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#, "").replace(
            r#""type": "apiKey", "name": "Authorization", "in": "header""#,
            scheme,
        );
        let t = import(&src);
        if says.is_empty() {
            // The control: the same document with a header scheme is translated.
            assert_eq!(route(&t, "/orders", Some("GET")).auth, None);
            continue;
        }
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", says);
    }
    // identitySource and the scheme's name naming different headers.
    let src = openapi(r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#, "").replace(
        r#""type": "cognito_user_pools", "providerARNs""#,
        r#""type": "cognito_user_pools", "identitySource": "method.request.header.X-Token", "providerARNs""#,
    );
    let t = import(&src);
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "paths./orders.get",
        "names another header than the scheme's name",
    );
}

#[test]
fn openapi_cors_extension_opens_preflights_only() {
    let t = import(&openapi(
        r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#,
        r#""x-amazon-apigateway-cors": {"allowOrigins": ["https://shop.example.com"]},"#,
    ));
    for path in ["/orders", "/ok"] {
        assert_eq!(
            route(&t, path, Some("OPTIONS")).auth,
            Some(AuthMode::None),
            "{path}"
        );
        let get = route(&t, path, Some("GET"));
        assert_eq!(
            (get.auth, get.authorizer.as_deref()),
            (None, Some("CognitoAuth"))
        );
    }
    assert_eq!(t.policy.routes.len(), 4, "{:#?}", t.policy.routes);
    // Anything but a map of settings: the preflights are denied, the methods untouched.
    let t = import(&openapi(
        r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#,
        r#""x-amazon-apigateway-cors": true,"#,
    ));
    assert_denied(
        &t,
        "/orders",
        Some("OPTIONS"),
        NoteKind::Unreadable,
        "x-amazon-apigateway-cors",
        "not a map of CORS settings",
    );
    assert_eq!(route(&t, "/orders", Some("GET")).auth, None);
}

#[test]
fn cloudformation_authorizer_settings_only_deployment_knows() {
    // An expression only deployment knows: the method is denied.
    let t = import(
        &cloudformation("AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Auth").replace(
            "Properties: {Type: COGNITO_USER_POOLS,",
            "Properties: {IdentityValidationExpression: !Ref Flag, Type: COGNITO_USER_POOLS,",
        ),
    );
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.GetOrders",
        "identity validation expression depends on parameter Flag",
    );
    // A TTL only deployment knows: the route is kept, with nothing reused until it is set.
    let t = import(
        &cloudformation("AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Auth").replace(
            "Properties: {Type: COGNITO_USER_POOLS,",
            "Properties: {AuthorizerResultTtlInSeconds: !Ref Flag, Type: COGNITO_USER_POOLS,",
        ),
    );
    let get = route(&t, "/orders", Some("GET"));
    assert_eq!(get.token_use, Some(TokenUse::Id));
    assert_eq!(
        authorizer_of(&t, "/orders", Some("GET")).result_ttl_seconds,
        Some(0)
    );
    assert!(!t.is_complete());
    assert!(t.notes.iter().any(|n| {
        n.kind == NoteKind::Unresolved
            && n.at == "Resources.Auth"
            && n.message
                .contains("the result TTL depends on parameter Flag")
    }));
}
