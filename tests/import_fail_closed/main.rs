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
//! One module per source format, beside the source builders they share; the rule itself (an
//! unreadable authorization is `auth: deny` with a note, exit 3) is checked in one place
//! (`assert_denied`).

use cognito_ext_authz::import::{NoteKind, Translation, translate};
use cognito_ext_authz::policy::model::{AuthMode, RouteConfig, TokenUse};

mod cloudformation;
mod openapi;
mod sam;
mod serverless;

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
