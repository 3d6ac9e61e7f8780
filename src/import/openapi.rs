//! API Gateway OpenAPI 3 and Swagger 2 definitions (an export, or a template's `Body`).
//!
//! Authorizers are security schemes carrying `x-amazon-apigateway-authorizer`
//! (`components.securitySchemes` in OpenAPI 3, `securityDefinitions` in Swagger 2); each
//! operation's `security` (or the document's) names one with its scopes, and an empty
//! `security` makes it public. `x-amazon-apigateway-any-method` is API Gateway's ANY.
//! Path templates (`{id}`, `{proxy+}`) are already API Gateway's syntax.
//!
//! Over 500 lines: a sixth is unit tests; the rest is one format's reader (OpenAPI 3 and
//! Swagger 2 share it), kept together so that format's rules read in one file.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::api::{Access, Api, GatewayAuthorizer, Method, Setting};
use super::intrinsic::{Resolve, shape};
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

    let root = Security::of(doc.as_object(), &ROOT_FIELDS);
    // API Gateway answers CORS preflights itself for every path of an API with
    // `x-amazon-apigateway-cors`; a path's own `options` operation says more.
    let cors = doc.get("x-amazon-apigateway-cors").map(|c| match c {
        Value::Object(_) => Access::Public,
        other => Access::Unreadable(format!(
            "`x-amazon-apigateway-cors` is {}, not a map of CORS settings",
            shape(other)
        )),
    });
    let paths = match doc.get("paths") {
        None => None,
        Some(Value::Object(paths)) => Some(paths),
        Some(other) => {
            api.note(
                NoteKind::Unreadable,
                format!("{at}paths"),
                format!(
                    "`paths` is {}, not a map of paths; no method is read (default deny applies)",
                    shape(other)
                ),
            );
            None
        }
    };
    for (path, item) in paths.into_iter().flatten() {
        let item_at = format!("{at}paths.{path}");
        let Some(item) = item.as_object() else {
            // The path is known, its methods are not: deny them all, so that no broader
            // route answers for them.
            api.methods.push(Method {
                at: item_at,
                name: format!("ANY {path}"),
                path: Text::known(path.as_str()),
                method: Text::known("ANY"),
                access: Access::Unreadable(format!(
                    "the path's entry is {}, not a path item (a map of operations)",
                    shape(item)
                )),
                unenforced_extras: vec![],
                preflight: false,
                api: String::new(),
            });
            continue;
        };
        if let Some(access) = &cors
            && !item.keys().any(|k| k.eq_ignore_ascii_case("options"))
        {
            api.methods.push(Method {
                at: format!("{at}x-amazon-apigateway-cors"),
                name: String::new(),
                path: Text::known(path.as_str()),
                method: Text::known("OPTIONS"),
                access: access.clone(),
                unenforced_extras: vec![],
                preflight: true,
                api: String::new(),
            });
        }
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
            let name = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{method} {path}"), str::to_owned);
            let (access, extras) = match operation.as_object() {
                None => (
                    Access::Unreadable(format!(
                        "the operation is {}, not an operation (a map with `security`)",
                        shape(operation)
                    )),
                    vec![],
                ),
                Some(op) => operation_access(&by_name, op, &root, resolve),
            };
            let preflight = method == "OPTIONS"
                && matches!(access, Access::Public)
                && operation
                    .get("x-amazon-apigateway-integration")
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.eq_ignore_ascii_case("mock"));
            api.methods.push(Method {
                at: op_at,
                name,
                path: Text::known(path.as_str()),
                method: Text::known(method),
                access,
                unenforced_extras: extras,
                preflight,
                api: String::new(),
            });
        }
    }
    api
}

/// Fields OpenAPI 3 (3.0 and 3.1) and Swagger 2 define at the top level of a document.
const ROOT_FIELDS: [&str; 20] = [
    "openapi",
    "swagger",
    "info",
    "jsonSchemaDialect",
    "servers",
    "paths",
    "webhooks",
    "components",
    "security",
    "tags",
    "externalDocs",
    "host",
    "basePath",
    "schemes",
    "consumes",
    "produces",
    "definitions",
    "parameters",
    "responses",
    "securityDefinitions",
];

/// Fields OpenAPI 3 and Swagger 2 define in an operation.
const OPERATION_FIELDS: [&str; 15] = [
    "tags",
    "summary",
    "description",
    "externalDocs",
    "operationId",
    "parameters",
    "requestBody",
    "responses",
    "callbacks",
    "deprecated",
    "security",
    "servers",
    "consumes",
    "produces",
    "schemes",
];

/// The `security` of one object (the document, or an operation), as far as it decides.
enum Security<'a> {
    /// The field is there (whatever its shape).
    Stated(&'a Value),
    /// No `security`, and no field OpenAPI does not define: nothing is stated here.
    Absent,
    /// No `security`, but fields OpenAPI does not define (a misspelt `security`?).
    Doubtful(Vec<String>),
}

impl<'a> Security<'a> {
    fn of(object: Option<&'a Map<String, Value>>, fields: &[&str]) -> Self {
        let Some(object) = object else {
            return Security::Absent;
        };
        if let Some(stated) = object.get("security") {
            return Security::Stated(stated);
        }
        let unknown: Vec<String> = object
            .keys()
            .filter(|k| !k.starts_with("x-") && !fields.contains(&k.as_str()))
            .map(|k| format!("{k:?}"))
            .collect();
        if unknown.is_empty() {
            Security::Absent
        } else {
            Security::Doubtful(unknown)
        }
    }
}

/// The access of one operation: its `x-amazon-apigateway-auth`, then its `security`, else
/// the document's. No `security` at either level is public (API Gateway's reading), but
/// only when neither level has a field OpenAPI does not define: `Security:` or `securty:`
/// must not open a method.
fn operation_access(
    schemes: &HashMap<String, Scheme>,
    op: &Map<String, Value>,
    root: &Security,
    resolve: &dyn Resolve,
) -> (Access, Vec<String>) {
    // The older `x-amazon-apigateway-auth` extension sets IAM (or NONE) per operation.
    if let Some(auth) = op.get("x-amazon-apigateway-auth") {
        let kind = auth.get("type").and_then(Value::as_str);
        match kind.map(str::to_ascii_lowercase).as_deref() {
            Some("aws_iam") => {
                return (
                    Access::NotEnforceable(
                        "AWS_IAM authorization (x-amazon-apigateway-auth)".to_owned(),
                    ),
                    vec![],
                );
            }
            // NONE adds nothing: `security` still decides.
            Some("none") => {}
            _ => {
                return (
                    Access::Unreadable(format!(
                        "`x-amazon-apigateway-auth` is {}, not {{type: AWS_IAM}} or {{type: NONE}}",
                        shape(auth)
                    )),
                    vec![],
                );
            }
        }
    }
    let own = Security::of(Some(op), &OPERATION_FIELDS);
    let (security, level) = match (&own, root) {
        (Security::Stated(v), _) => (*v, "the operation's"),
        (Security::Doubtful(keys), _) => {
            return (
                Access::Unreadable(format!(
                    "the operation has no `security` but the field(s) {} that OpenAPI does not define (a misspelt `security`?)",
                    keys.join(", ")
                )),
                vec![],
            );
        }
        (Security::Absent, Security::Stated(v)) => (*v, "the document's"),
        (Security::Absent, Security::Doubtful(keys)) => {
            return (
                Access::Unreadable(format!(
                    "neither the operation nor the document has `security`, but the document has the field(s) {} that OpenAPI does not define (a misspelt `security`?)",
                    keys.join(", ")
                )),
                vec![],
            );
        }
        (Security::Absent, Security::Absent) => return (Access::Public, vec![]),
    };
    access(schemes, security, level, resolve)
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
                let setting = |k: &str| authorizer.get(k).map(|v| resolve.setting(v));
                let provider_arns = authorizer
                    .get("providerARNs")
                    .map(|v| resolve.list(v))
                    .unwrap_or_default();
                Scheme::Cognito(api.authorizer(GatewayAuthorizer {
                    name: name.to_owned(),
                    at: at.to_owned(),
                    provider_arns,
                    identity_source: identity_source(scheme, authorizer, resolve),
                    validation_expression: setting("identityValidationExpression"),
                    result_ttl: setting("authorizerResultTtlInSeconds"),
                    conflict: None,
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

/// The header a Cognito scheme reads the token from: the authorizer's `identitySource`,
/// the scheme's own `name` (`in: header`), or both when they agree. Two different headers,
/// or a scheme that reads the token from elsewhere (`in: query`), cannot be read as one
/// header with certainty.
fn identity_source(scheme: &Value, authorizer: &Value, resolve: &dyn Resolve) -> Option<Setting> {
    let own = authorizer.get("identitySource").map(|v| resolve.setting(v));
    let location = scheme.get("in").map(|v| match v.as_str() {
        Some(s) if s.eq_ignore_ascii_case("header") => Ok(()),
        _ => Err(format!("the scheme's `in` is {}, not header", shape(v))),
    });
    let named = match (location, scheme.get("name")) {
        (Some(Ok(())), Some(name)) => Some(resolve.setting(name)),
        (Some(Err(why)), _) => Some(Err(why)),
        _ => None,
    };
    match (own, named) {
        (None, named) => named,
        (Some(own), None) => Some(own),
        (Some(Err(why)), _) | (_, Some(Err(why))) => Some(Err(why)),
        (Some(Ok(own)), Some(Ok(named))) => {
            let header = |t: &Text| {
                t.as_known().map(|s| {
                    let s = s.trim().to_ascii_lowercase();
                    s.strip_prefix("method.request.header.")
                        .map_or(s.clone(), str::to_owned)
                })
            };
            match (header(&own), header(&named)) {
                (Some(a), Some(b)) if a != b => Some(Err(format!(
                    "identitySource \"{own}\" names another header than the scheme's name \"{named}\""
                ))),
                _ => Some(Ok(own)),
            }
        }
    }
}

/// The access of an operation from its `security` requirements (any one requirement
/// object suffices; every scheme within one is needed). `level` names whose `security` it
/// is, for notes.
fn access(
    schemes: &HashMap<String, Scheme>,
    security: &Value,
    level: &str,
    resolve: &dyn Resolve,
) -> (Access, Vec<String>) {
    let unreadable = |why: String| {
        (
            Access::Unreadable(format!("{level} `security` is {why}")),
            vec![],
        )
    };
    let Value::Array(list) = security else {
        return unreadable(format!(
            "{}, not a list of security requirements",
            shape(security)
        ));
    };
    let mut requirements: Vec<&Map<String, Value>> = Vec::with_capacity(list.len());
    let no_requirement = Map::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_object() {
            // SAM's marker for a method without authorization (`Authorizer: NONE`), which
            // stays in the bodies it deploys: no requirement, unless the document defines a
            // scheme of that name.
            Some(r) if is_none_marker(r) && !schemes.contains_key("NONE") => {
                requirements.push(&no_requirement);
            }
            Some(r) => requirements.push(r),
            None => {
                return unreadable(format!(
                    "a list whose item {i} is {}, not a security requirement (a map of scheme names to scope lists)",
                    shape(item)
                ));
            }
        }
    }
    // API Gateway applies an API key stated in a requirement of its own together with the
    // authorizer of another (SAM writes `[{Pool: []}, {api_key: []}]`): one method, both
    // required, not alternatives.
    let key_only = |r: &Map<String, Value>| {
        !r.is_empty()
            && r.keys()
                .all(|k| matches!(schemes.get(k), Some(Scheme::ApiKey)))
    };
    if requirements.iter().any(|r| key_only(r)) && requirements.iter().any(|r| !key_only(r)) {
        let rest: Vec<Value> = requirements
            .iter()
            .filter(|r| !key_only(r))
            .map(|r| Value::Object((*r).clone()))
            .collect();
        let (access, mut extras) = access(schemes, &Value::Array(rest), level, resolve);
        return match access {
            Access::Public => (
                Access::NotEnforceable("an API key alone, without an authorizer".to_owned()),
                vec![],
            ),
            cognito @ Access::Cognito { .. } => {
                extras.push("an API key (x-api-key)".to_owned());
                (cognito, extras)
            }
            other => (other, extras),
        };
    }
    // `security: []`, or only `{}`: explicitly public.
    if requirements.iter().all(|r| r.is_empty()) {
        return (Access::Public, vec![]);
    }
    // `{}` next to a requirement: authorization optional, which API Gateway does not apply
    // to a method.
    if requirements.iter().any(|r| r.is_empty()) {
        return (
            Access::NotEnforceable(
                "optional authorization (an empty requirement {} next to others), which API Gateway does not apply to a method"
                    .to_owned(),
            ),
            vec![],
        );
    }
    let mut alternatives: Vec<(Access, Vec<String>)> = requirements
        .iter()
        .map(|r| requirement(schemes, r, level, resolve))
        .collect();
    // The most precise reason first: an alternative that cannot be read or resolved.
    if let Some(i) = alternatives
        .iter()
        .position(|(a, _)| matches!(a, Access::Unreadable(_)))
        .or_else(|| {
            alternatives
                .iter()
                .position(|(a, _)| matches!(a, Access::Unknown(_)))
        })
    {
        return alternatives.swap_remove(i);
    }
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
    match merged {
        Some((authorizer, scopes)) => (Access::Cognito { authorizer, scopes }, vec![]),
        None => unreadable("a list without a requirement".to_owned()),
    }
}

/// `{NONE: []}`: SAM's requirement for a method its default authorizer must not cover.
fn is_none_marker(requirement: &Map<String, Value>) -> bool {
    requirement.len() == 1
        && requirement
            .get("NONE")
            .is_some_and(|scopes| scopes.as_array().is_some_and(Vec::is_empty))
}

fn requirement(
    schemes: &HashMap<String, Scheme>,
    req: &Map<String, Value>,
    level: &str,
    resolve: &dyn Resolve,
) -> (Access, Vec<String>) {
    let mut cognito: Vec<(usize, Vec<Text>)> = Vec::new();
    let mut api_key = false;
    let mut other: Vec<String> = Vec::new();
    for (name, scopes) in req {
        match schemes.get(name) {
            Some(Scheme::Cognito(i)) => match resolve.strings(scopes) {
                Ok(scopes) => cognito.push((*i, scopes)),
                Err(shape) => {
                    return (
                        Access::Unreadable(format!(
                            "{level} `security` gives {name:?} the scopes {shape}"
                        )),
                        vec![],
                    );
                }
            },
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
            Some(Ok(Text::known("Authorization")))
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
            Some(Ok(Text::known("method.request.header.X-Token")))
        );
        assert!(
            matches!(&api.methods[0].access, Access::Cognito { scopes, .. } if scopes.len() == 1)
        );
    }
}
