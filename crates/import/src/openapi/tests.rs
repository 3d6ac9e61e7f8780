//! Unit tests of the OpenAPI and Swagger reader.

use super::*;
use crate::intrinsic::Plain;
use serde_json::json;

const ARN: &str = "arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_AbCdEfGhI";

fn doc() -> Value {
    json!({
        "openapi": "3.0.1",
        "servers": [{"url": "https://abc.execute-api.us-east-1.amazonaws.com/{basePath}",
                     "variables": {"basePath": {"default": "prod"}}}],
        "components": {"securitySchemes": {
            "cognito": {"type": "apiKey", "name": "Authorization", "in": "header",
                        "x-amazon-apigateway-authtype": "cognito_user_pools",
                        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [ARN]}},
            "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
            "lambda": {"type": "apiKey", "name": "Authorization", "in": "header",
                       "x-amazon-apigateway-authorizer": {"type": "token"}},
            "sigv4": {"type": "apiKey", "name": "Authorization", "in": "header",
                      "x-amazon-apigateway-authtype": "awsSigv4"}
        }},
        "security": [{"cognito": ["default/scope"]}],
        "paths": {
            "/items/{id}": {
                "get": {"operationId": "getItem", "security": [{"cognito": ["items/read"]}, {"cognito": ["items/admin"]}]},
                "delete": {"security": [{"cognito": ["items/write"], "api_key": []}]},
                "parameters": []
            },
            "/public": {"get": {"security": []}},
            "/default": {"post": {}},
            "/{proxy+}": {"x-amazon-apigateway-any-method": {"security": [{"lambda": []}]}},
            "/iam": {"put": {"security": [{"sigv4": []}]}, "get": {"x-amazon-apigateway-auth": {"type": "AWS_IAM"}}},
            "/key": {"put": {"security": [{"api_key": []}]}}
        }
    })
}

#[test]
fn reads_operations_and_their_security() {
    let api = read(&doc(), &Plain, "");
    assert_eq!(api.authorizers.len(), 1);
    assert_eq!(
        api.authorizers[0].identity_source,
        Some(Ok(Text::known("Authorization")))
    );
    let by_name: HashMap<&str, &Method> =
        api.methods.iter().map(|m| (m.name.as_str(), m)).collect();
    let scopes = |name: &str| match &by_name[name].access {
        Access::Cognito { scopes, .. } => scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(scopes("getItem"), ["items/read", "items/admin"]);
    assert_eq!(scopes("DELETE /items/{id}"), ["items/write"]);
    assert_eq!(by_name["DELETE /items/{id}"].unenforced_extras.len(), 1);
    assert_eq!(scopes("POST /default"), ["default/scope"]);
    assert!(matches!(by_name["GET /public"].access, Access::Public));
    assert_eq!(by_name["ANY /{proxy+}"].method, Text::known("ANY"));
    for name in ["ANY /{proxy+}", "PUT /iam", "GET /iam", "PUT /key"] {
        assert!(
            matches!(by_name[name].access, Access::NotEnforceable(_)),
            "{name}"
        );
    }
    assert!(api.notes.iter().any(|n| n.message.contains("\"/prod\"")));
}

#[test]
fn swagger_2_security_definitions() {
    let doc = json!({
        "swagger": "2.0",
        "basePath": "/",
        "securityDefinitions": {"pool": {"type": "apiKey", "name": "X-Token", "in": "header",
            "x-amazon-apigateway-authorizer": {"type": "COGNITO_USER_POOLS", "providerARNs": [ARN],
                "identitySource": "method.request.header.X-Token"}}},
        "paths": {"/a": {"get": {"security": [{"pool": ["a/b"]}]}}}
    });
    let api = read(&doc, &Plain, "");
    assert!(api.notes.is_empty(), "{:?}", api.notes);
    assert_eq!(
        api.authorizers[0].identity_source,
        Some(Ok(Text::known("method.request.header.X-Token")))
    );
    assert!(matches!(&api.methods[0].access, Access::Cognito { scopes, .. } if scopes.len() == 1));
}
