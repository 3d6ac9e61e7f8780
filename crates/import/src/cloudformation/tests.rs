//! Unit tests of the CloudFormation and SAM reader.

use super::*;
use crate::api::Access;
use serde_json::json;

fn path_of(doc: &Value, method: &str) -> String {
    let api = read(doc);
    api.methods
        .iter()
        .find(|m| m.name == method)
        .map(|m| m.path.to_string())
        .unwrap()
}

#[test]
fn events_on_an_api_defined_by_globals_in_another_file_are_unreadable() {
    let template = |globals: Value| {
        json!({"Globals": globals, "Resources": {
            "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "prod"}},
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
                "Get": {"Type": "Api", "Properties": {
                    "RestApiId": {"Ref": "Api"}, "Path": "/x", "Method": "get"}}}}}
        }})
    };
    let access = |doc: &Value| read(doc).methods.remove(0).access;
    // SAM makes the definition of an API without Auth: the method is public.
    assert!(matches!(access(&template(json!({}))), Access::Public));
    // Globals give the API a definition in another file, which alone says.
    let from_globals = access(&template(
        json!({"Api": {"DefinitionUri": "s3://example/openapi.yaml"}}),
    ));
    assert!(
        matches!(&from_globals, Access::Unreadable(why) if why.contains("in another file (Globals.Api.DefinitionUri)")),
        "{from_globals:?}"
    );
}

#[test]
fn rebuilds_paths_from_the_resource_tree() {
    let doc = json!({"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi"},
        "Users": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}, "PathPart": "users"}},
        "User": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "ParentId": {"Ref": "Users"}, "PathPart": "{id}"}},
        "Loop": {"Type": "AWS::ApiGateway::Resource", "Properties": {
            "ParentId": {"Ref": "Loop"}, "PathPart": "x"}},
        "GetUser": {"Type": "AWS::ApiGateway::Method", "Properties": {"ResourceId": {"Ref": "User"}, "HttpMethod": "GET"}},
        "Root": {"Type": "AWS::ApiGateway::Method", "Properties": {"ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]}, "HttpMethod": "GET"}},
        "Looping": {"Type": "AWS::ApiGateway::Method", "Properties": {"ResourceId": {"Ref": "Loop"}, "HttpMethod": "GET"}},
        "Outside": {"Type": "AWS::ApiGateway::Method", "Properties": {"ResourceId": "abc123", "HttpMethod": "GET"}}
    }});
    assert_eq!(path_of(&doc, "GetUser"), "/users/{id}");
    assert_eq!(path_of(&doc, "Root"), "/");
    assert!(path_of(&doc, "Looping").contains("deeper"));
    assert_eq!(path_of(&doc, "Outside"), "<the resource abc123>");
}

#[test]
fn classifies_method_authorization() {
    let doc = json!({"Resources": {
        "Cog": {"Type": "AWS::ApiGateway::Authorizer", "Properties": {"Type": "COGNITO_USER_POOLS",
            "ProviderARNs": ["arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC"]}},
        "Fn": {"Type": "AWS::ApiGateway::Authorizer", "Properties": {"Type": "TOKEN"}},
        "A": {"Type": "AWS::ApiGateway::Method", "Properties": {"AuthorizationType": "COGNITO_USER_POOLS",
            "AuthorizerId": {"Ref": "Cog"}, "AuthorizationScopes": ["a/b"]}},
        "B": {"Type": "AWS::ApiGateway::Method", "Properties": {"AuthorizationType": "CUSTOM", "AuthorizerId": {"Ref": "Fn"}}},
        "C": {"Type": "AWS::ApiGateway::Method", "Properties": {"AuthorizationType": "AWS_IAM"}},
        "D": {"Type": "AWS::ApiGateway::Method", "Properties": {"AuthorizationType": "NONE", "ApiKeyRequired": true}},
        "E": {"Type": "AWS::ApiGateway::Method", "Properties": {"AuthorizationType": {"Ref": "AuthType"}}},
        "F": {"Type": "AWS::ApiGateway::Method", "Properties": {"AuthorizationType": "COGNITO_USER_POOLS", "AuthorizerId": "x1y2z3"}}
    }});
    let api = read(&doc);
    let access = |name: &str| &api.methods.iter().find(|m| m.name == name).unwrap().access;
    assert!(matches!(access("A"), Access::Cognito { scopes, .. } if scopes.len() == 1));
    assert!(matches!(access("B"), Access::NotEnforceable(w) if w.contains("Lambda")));
    assert!(matches!(access("C"), Access::NotEnforceable(w) if w.contains("AWS_IAM")));
    assert!(matches!(access("D"), Access::NotEnforceable(w) if w.contains("API key")));
    assert!(matches!(access("E"), Access::Unknown(_)));
    let Access::Cognito { authorizer, .. } = access("F") else {
        panic!()
    };
    assert!(
        api.authorizers[*authorizer].provider_arns[0]
            .to_string()
            .contains("outside this template")
    );
}
