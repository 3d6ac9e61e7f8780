//! API Gateway OpenAPI 3 and Swagger 2 definitions (an export, or a template's `Body`).
//!
//! Authorizers are security schemes carrying `x-amazon-apigateway-authorizer`
//! (`components.securitySchemes` in OpenAPI 3, `securityDefinitions` in Swagger 2); each
//! operation's `security` (or the document's) names one with its scopes, and an empty
//! `security` makes it public. `x-amazon-apigateway-any-method` is API Gateway's ANY.
//! Path templates (`{id}`, `{proxy+}`) are already API Gateway's syntax.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::api::{Access, Api, Authorizer, Method};
use super::intrinsic::Resolve;
use super::report::NoteKind;
use super::text::Text;

/// Operation keys of a path item, and the method each stands for.
const OPERATIONS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// What a security scheme is to API Gateway.
enum Scheme {
    /// A Cognito authorizer: index into the API's authorizers.
    Cognito(usize),
    /// An API key (`x-api-key`): not authorization, but API Gateway requires it.
    ApiKey,
    /// Anything else: what it is.
    Other(String),
}

/// Reads an OpenAPI/Swagger document; `at` prefixes every place named in notes.
pub(crate) fn read(doc: &Value, resolve: &dyn Resolve, at: &str) -> Api {
    let mut api = Api::default();
    let swagger = doc.get("swagger").is_some();
    let (schemes_at, schemes) = if swagger {
        ("securityDefinitions", doc.get("securityDefinitions"))
    } else {
        (
            "components.securitySchemes",
            doc.get("components").and_then(|c| c.get("securitySchemes")),
        )
    };
    let mut by_name: HashMap<String, Scheme> = HashMap::new();
    for (name, scheme) in schemes.and_then(Value::as_object).into_iter().flatten() {
        let place = format!("{at}{schemes_at}.{name}");
        let kind = read_scheme(&mut api, name, scheme, resolve, &place);
        by_name.insert(name.clone(), kind);
    }
    base_path_note(&mut api, doc, swagger, at);

    let default_security = doc.get("security");
    for (path, item) in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let item_at = format!("{at}paths.{path}");
        let Some(item) = item.as_object() else {
            continue;
        };
        if item.contains_key("$ref") {
            api.note(
                NoteKind::NotTranslated,
                &item_at,
                "$ref path items are not followed; its methods are left out (default deny applies)",
            );
        }
        for (key, operation) in item {
            let op_at = format!("{item_at}.{key}");
            let Some(&(_, method)) = OPERATIONS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
            else {
                if key.eq_ignore_ascii_case("trace") {
                    api.note(
                        NoteKind::NotTranslated,
                        &op_at,
                        "API Gateway has no TRACE methods; left out (default deny applies)",
                    );
                }
                continue;
            };
            let security = operation.get("security").or(default_security);
            let (access, extras) = match legacy_auth_type(operation) {
                // The older `x-amazon-apigateway-auth` extension sets IAM per operation.
                Some(kind) if kind == "aws_iam" => (
                    Access::NotEnforceable(
                        "AWS_IAM authorization (x-amazon-apigateway-auth)".to_owned(),
                    ),
                    vec![],
                ),
                _ => access(&by_name, security),
            };
            let name = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{method} {path}"), str::to_owned);
            api.methods.push(Method {
                at: op_at,
                name,
                path: Text::known(path.as_str()),
                method: Text::known(method),
                access,
                unenforced_extras: extras,
            });
        }
    }
    api
}

fn legacy_auth_type(operation: &Value) -> Option<String> {
    operation
        .get("x-amazon-apigateway-auth")?
        .get("type")?
        .as_str()
        .map(str::to_ascii_lowercase)
}

fn read_scheme(
    api: &mut Api,
    name: &str,
    scheme: &Value,
    resolve: &dyn Resolve,
    at: &str,
) -> Scheme {
    let lower = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_ascii_lowercase);
    if let Some(authorizer) = scheme.get("x-amazon-apigateway-authorizer") {
        let kind = lower(authorizer.get("type")).unwrap_or_default();
        return match kind.as_str() {
            "cognito_user_pools" => {
                let identity_source = authorizer
                    .get("identitySource")
                    .map(|v| resolve.text(v))
                    .or_else(|| {
                        (lower(scheme.get("in")).as_deref() == Some("header"))
                            .then(|| scheme.get("name").map(|v| resolve.text(v)))
                            .flatten()
                    });
                let provider_arns = authorizer
                    .get("providerARNs")
                    .map(|v| resolve.list(v))
                    .unwrap_or_default();
                Scheme::Cognito(api.authorizer(Authorizer {
                    name: name.to_owned(),
                    at: at.to_owned(),
                    provider_arns,
                    identity_source,
                }))
            }
            "token" | "request" => {
                Scheme::Other(format!("the Lambda authorizer {name} (type {kind})"))
            }
            "jwt" => Scheme::Other(format!(
                "the JWT authorizer {name} (an HTTP API authorizer)"
            )),
            other => Scheme::Other(format!("the authorizer {name} of type {other:?}")),
        };
    }
    let authtype = lower(scheme.get("x-amazon-apigateway-authtype"));
    if authtype.as_deref() == Some("awssigv4") {
        return Scheme::Other(format!("AWS_IAM authorization (SigV4, scheme {name})"));
    }
    if lower(scheme.get("type")).as_deref() == Some("apikey")
        && lower(scheme.get("name")).as_deref() == Some("x-api-key")
    {
        return Scheme::ApiKey;
    }
    Scheme::Other(format!(
        "the security scheme {name}, which is not an API Gateway Cognito authorizer"
    ))
}

/// The access of an operation from its `security` requirements (any one requirement
/// object suffices; every scheme within one is needed).
fn access(schemes: &HashMap<String, Scheme>, security: Option<&Value>) -> (Access, Vec<String>) {
    let requirements: Vec<&Map<String, Value>> = match security {
        None | Some(Value::Null) => return (Access::Public, vec![]),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_object).collect(),
        Some(other) => {
            return (
                Access::NotEnforceable(format!("a malformed security requirement {other}")),
                vec![],
            );
        }
    };
    // `security: []`, or `- {}`: explicitly public.
    if requirements.is_empty() || requirements.iter().any(|r| r.is_empty()) {
        return (Access::Public, vec![]);
    }
    let mut alternatives: Vec<(Access, Vec<String>)> = requirements
        .iter()
        .map(|r| requirement(schemes, r))
        .collect();
    if alternatives.len() == 1 {
        return alternatives.remove(0);
    }
    // Several alternatives: fine when they are one Cognito authorizer with different
    // scopes (any one scope suffices either way); anything else API Gateway cannot express.
    let mut merged: Option<(usize, Vec<Text>)> = None;
    for alternative in &alternatives {
        match (alternative, &mut merged) {
            ((Access::Cognito { authorizer, scopes }, extras), None) if extras.is_empty() => {
                merged = Some((*authorizer, scopes.clone()));
            }
            ((Access::Cognito { authorizer, scopes }, extras), Some((first, all)))
                if extras.is_empty()
                    && authorizer == first
                    && !scopes.is_empty()
                    && !all.is_empty() =>
            {
                all.extend(scopes.iter().cloned());
            }
            _ => {
                return (
                    Access::NotEnforceable(
                        "alternative security requirements that API Gateway cannot apply to one method".to_owned(),
                    ),
                    vec![],
                );
            }
        }
    }
    let (authorizer, scopes) = merged.expect("at least two alternatives");
    (Access::Cognito { authorizer, scopes }, vec![])
}

fn requirement(
    schemes: &HashMap<String, Scheme>,
    req: &Map<String, Value>,
) -> (Access, Vec<String>) {
    let mut cognito: Vec<(usize, Vec<Text>)> = Vec::new();
    let mut api_key = false;
    let mut other: Vec<String> = Vec::new();
    for (name, scopes) in req {
        match schemes.get(name) {
            Some(Scheme::Cognito(i)) => {
                let scopes = scopes
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .map(|s| match s.as_str() {
                                Some(s) => Text::known(s),
                                None => Text::unknown(format!("the non-string scope {s}")),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                cognito.push((*i, scopes));
            }
            Some(Scheme::ApiKey) => api_key = true,
            Some(Scheme::Other(what)) => other.push(what.clone()),
            None => other.push(format!(
                "the security scheme {name}, which the document does not define"
            )),
        }
    }
    let extras = if api_key {
        vec!["an API key (x-api-key)".to_owned()]
    } else {
        vec![]
    };
    if !other.is_empty() {
        return (Access::NotEnforceable(other.join(" and ")), vec![]);
    }
    match cognito.len() {
        0 => (
            Access::NotEnforceable("an API key alone, without an authorizer".to_owned()),
            vec![],
        ),
        1 => {
            let (authorizer, scopes) = cognito.remove(0);
            (Access::Cognito { authorizer, scopes }, extras)
        }
        _ => (
            Access::NotEnforceable("several Cognito authorizers on one method".to_owned()),
            vec![],
        ),
    }
}

/// Swagger's `basePath` and OpenAPI's `servers` paths (the stage, in an export) are not part
/// of the resource paths; requests reaching Envoy may or may not carry them.
fn base_path_note(api: &mut Api, doc: &Value, swagger: bool, at: &str) {
    let mut bases: Vec<String> = Vec::new();
    if swagger {
        if let Some(b) = doc.get("basePath").and_then(Value::as_str) {
            bases.push(b.to_owned());
        }
    } else {
        for server in doc
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(url) = server.get("url").and_then(Value::as_str) else {
                continue;
            };
            let mut path = url
                .split_once("://")
                .map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]))
                .to_owned();
            for (name, var) in server
                .get("variables")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(default) = var.get("default").and_then(Value::as_str) {
                    path = path.replace(&format!("{{{name}}}"), default);
                }
            }
            bases.push(path);
        }
    }
    for base in bases {
        let base = base.trim_end_matches('/');
        if !base.is_empty() {
            api.note(
                NoteKind::Changed,
                format!("{at}{}", if swagger { "basePath" } else { "servers" }),
                format!(
                    "routes are written without the base path {base:?} (API Gateway's stage or base path mapping); if requests reach Envoy with it, prefix the route paths with it"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::intrinsic::Plain;
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
            Some(Text::known("Authorization"))
        );
        let by_name: HashMap<&str, &Method> =
            api.methods.iter().map(|m| (m.name.as_str(), m)).collect();
        let scopes = |name: &str| match &by_name[name].access {
            Access::Cognito { scopes, .. } => {
                scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            }
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
            Some(Text::known("method.request.header.X-Token"))
        );
        assert!(
            matches!(&api.methods[0].access, Access::Cognito { scopes, .. } if scopes.len() == 1)
        );
    }
}
