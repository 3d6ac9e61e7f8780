//! `import` fails closed (SPEC 7, issue 9 item 5): a value of an unexpected type or shape
//! never becomes a public or scope-less route.
//!
//! Each case below is a source a user could plausibly write (or a tool could emit) where
//! the authorization is stated in a shape import cannot read with certainty: a list of
//! scheme names instead of requirement objects, scopes as a string, `null` where a list
//! belongs, a misspelt key, a reference to nothing. Before the fix several of them became
//! `auth: none` or a route any access token passes. Each must now be an `auth: deny` route
//! with a note at the place in the source that says what was not understood, and the
//! import must report itself incomplete (exit 3), so a pipeline does not deploy it.

use cognito_ext_authz::import::{NoteKind, Translation, translate};
use cognito_ext_authz::policy::model::{AuthMode, RouteConfig};

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
    // The defect of issue 9: this was `auth: none`.
    let t = import(&openapi(r#"{"security": ["CognitoAuth"]}"#, ""));
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
    // The other defect of issue 9: a string of scopes was a route any token passes.
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "paths./orders.get",
            says,
        );
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "paths./orders.get",
            "security",
        );
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "paths./orders.get",
            "security",
        );
    }
}

#[test]
fn openapi_operation_that_is_not_a_map_is_denied() {
    for op in ["null", r#""CognitoAuth""#, "[]", "5"] {
        let t = import(&openapi(op, ""));
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
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
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
        NoteKind::Unreadable,
        "paths./orders.get",
        "\"Security\"",
    );
    let t = import(&openapi(
        "{}",
        r#""securty": [{"CognitoAuth": ["orders/read"]}],"#,
    ));
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
        NoteKind::Unreadable,
        "paths./orders.get",
        "\"securty\"",
    );
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
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
        NoteKind::NotEnforced,
        "paths./orders.get",
        "optional",
    );
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "functions.f.events[0].http",
            says,
        );
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "functions.f.events[0].http",
            says,
        );
    }
}

#[test]
fn serverless_misspelt_authorizer_does_not_make_a_method_public() {
    let t = import(&serverless(&format!(
        r#"{{path: orders, method: get, Authorizer: {{arn: "{POOL}"}}}}"#
    )));
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
        NoteKind::Unresolved,
        "functions.f.events[0].http",
        "private",
    );
    let t = import(&serverless("{path: orders, method: get, private: maybe}"));
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "Resources.GetOrders",
            says,
        );
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
            NoteKind::Unreadable,
            "Resources.GetOrders",
            says,
        );
    }
}

#[test]
fn cloudformation_misspelt_property_does_not_make_a_method_public() {
    let t = import(&cloudformation("Authorizationtype: COGNITO_USER_POOLS"));
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
        NoteKind::Unresolved,
        "Resources.GetOrders",
        "ApiKeyRequired",
    );
    // CloudFormation reads booleans case-insensitively: "True" requires a key.
    let t = import(&cloudformation(
        "AuthorizationType: NONE, ApiKeyRequired: 'True'",
    ));
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
        assert_denied(
            &t,
            "/orders",
            Some("GET"),
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
    assert_denied(
        &t,
        "/orders",
        Some("GET"),
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
