//! Plain CloudFormation's REST API resources: an `AWS::ApiGateway::Authorizer` classified
//! (Cognito, with its settings, or what else it is), and an `AWS::ApiGateway::Method` with
//! its path from the `AWS::ApiGateway::Resource` tree and the access its
//! `AuthorizationType` gives.

use serde_json::Value;

use super::super::api::{Access, Api, GatewayAuthorizer, Method, with_api_key};
use super::super::intrinsic::{Resolve, Template};
use super::super::text::Text;
use super::unknown_authorizer;

/// How deep a resource tree may go (API Gateway allows far less).
const MAX_DEPTH: usize = 64;

/// An `AWS::ApiGateway::Authorizer`, classified.
pub(crate) enum AuthorizerKind {
    Cognito(GatewayAuthorizer),
    /// Not Cognito: what it is.
    Other(String),
}

/// Classifies the `AWS::ApiGateway::Authorizer` with logical id `id`, if there is one;
/// `values` resolves its properties (a Serverless file's variables reach into `resources`).
pub(crate) fn api_gateway_authorizer(
    t: &Template,
    values: &dyn Resolve,
    id: &str,
) -> Option<AuthorizerKind> {
    if t.type_of(id)? != "AWS::ApiGateway::Authorizer" {
        return None;
    }
    let props = t.resource(id)?.get("Properties").unwrap_or(&Value::Null);
    let kind = props.get("Type").map(|v| values.text(v));
    Some(match kind.as_ref().and_then(Text::as_known).as_deref() {
        Some("COGNITO_USER_POOLS") => {
            let setting = |k: &str| props.get(k).map(|v| values.setting(v));
            AuthorizerKind::Cognito(GatewayAuthorizer {
                name: id.to_owned(),
                at: format!("Resources.{id}"),
                provider_arns: props
                    .get("ProviderARNs")
                    .map(|v| values.list(v))
                    .unwrap_or_default(),
                identity_source: setting("IdentitySource"),
                validation_expression: setting("IdentityValidationExpression"),
                result_ttl: setting("AuthorizerResultTtlInSeconds"),
                conflict: None,
            })
        }
        Some(other) => AuthorizerKind::Other(format!("the Lambda authorizer {id} (Type {other})")),
        None => AuthorizerKind::Other(format!(
            "the authorizer {id}, whose Type depends on {}",
            kind.map_or_else(
                || "nothing (it has none)".to_owned(),
                |k| k.unknowns().join(", ")
            )
        )),
    })
}

/// An `AWS::ApiGateway::Method`.
pub(super) fn method(api: &mut Api, t: &Template, id: &str, props: &Value) -> Method {
    let at = format!("Resources.{id}");
    let path = match props.get("ResourceId") {
        Some(r) => resource_path(t, r, 0),
        None => Text::unknown("a ResourceId (the method has none)"),
    };
    let verb = props.get("HttpMethod").map_or_else(
        || Text::unknown("an HttpMethod (the method has none)"),
        |v| t.text(v),
    );
    let authorization = props.get("AuthorizationType").map(|v| t.text(v));
    let unknown_properties: Vec<String> = props
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .filter(|k| !METHOD_PROPERTIES.contains(&k.as_str()))
        .map(|k| format!("{k:?}"))
        .collect();
    let access = if !unknown_properties.is_empty() {
        // CloudFormation refuses the template; a misspelt `AuthorizationType` would
        // otherwise read as public.
        Access::Unreadable(format!(
            "the method has the propert(ies) {}, which AWS::ApiGateway::Method does not define",
            unknown_properties.join(", ")
        ))
    } else {
        match authorization.as_ref().map(|a| a.as_known()) {
            None => match ["AuthorizerId", "AuthorizationScopes"]
                .into_iter()
                .find(|k| props.get(k).is_some())
            {
                // No AuthorizationType is NONE, unless the method names an authorizer.
                None => Access::Public,
                Some(k) => {
                    Access::Unreadable(format!("the method has {k} but no AuthorizationType"))
                }
            },
            Some(None) => Access::Unknown(
                authorization
                    .as_ref()
                    .map(|a| a.unknowns().join(", "))
                    .unwrap_or_default(),
            ),
            Some(Some(kind)) => match kind.to_ascii_uppercase().as_str() {
                "NONE" => Access::Public,
                "AWS_IAM" => Access::NotEnforceable("AWS_IAM authorization (SigV4)".to_owned()),
                "CUSTOM" => Access::NotEnforceable(format!(
                    "a Lambda authorizer ({})",
                    props
                        .get("AuthorizerId")
                        .map_or_else(|| "unnamed".to_owned(), |v| t.text(v).to_string())
                )),
                "COGNITO_USER_POOLS" => cognito_method(api, t, props),
                other => Access::NotEnforceable(format!("AuthorizationType {other}")),
            },
        }
    };
    let (access, extras) = match props.get("ApiKeyRequired") {
        None => (access, vec![]),
        Some(v) => with_api_key(access, &t.flag(v), "ApiKeyRequired"),
    };
    let preflight = matches!(access, Access::Public)
        && verb
            .as_known()
            .is_some_and(|v| v.eq_ignore_ascii_case("OPTIONS"))
        && props
            .get("Integration")
            .and_then(|i| i.get("Type"))
            .and_then(|k| t.text(k).as_known())
            .is_some_and(|k| k.eq_ignore_ascii_case("MOCK"));
    Method {
        at,
        name: id.to_owned(),
        path,
        method: verb,
        access,
        unenforced_extras: extras,
        preflight,
        api: props
            .get("RestApiId")
            .and_then(|r| t.ref_resource(r))
            .unwrap_or("")
            .to_owned(),
    }
}

/// The properties of `AWS::ApiGateway::Method`: CloudFormation refuses any other.
const METHOD_PROPERTIES: [&str; 13] = [
    "ApiKeyRequired",
    "AuthorizationScopes",
    "AuthorizationType",
    "AuthorizerId",
    "HttpMethod",
    "Integration",
    "MethodResponses",
    "OperationName",
    "RequestModels",
    "RequestParameters",
    "RequestValidatorId",
    "ResourceId",
    "RestApiId",
];

/// A `COGNITO_USER_POOLS` method: its `AuthorizationScopes` (absent: none; anything but a
/// list of strings: unreadable) and the authorizer its `AuthorizerId` names.
fn cognito_method(api: &mut Api, t: &Template, props: &Value) -> Access {
    let scopes = match props.get("AuthorizationScopes").map(|v| t.strings(v)) {
        None => Vec::new(),
        Some(Ok(scopes)) => scopes,
        Some(Err(shape)) => {
            return Access::Unreadable(format!("AuthorizationScopes is {shape}"));
        }
    };
    let Some(id) = props.get("AuthorizerId") else {
        // API Gateway refuses a Cognito method without an authorizer.
        return Access::Unreadable(
            "AuthorizationType is COGNITO_USER_POOLS but the method has no AuthorizerId".to_owned(),
        );
    };
    let authorizer = if let Some(logical) = t.ref_resource(id) {
        match api_gateway_authorizer(t, t, logical) {
            Some(AuthorizerKind::Cognito(a)) => api.authorizer(a),
            Some(AuthorizerKind::Other(what)) => return Access::NotEnforceable(what),
            None => {
                return Access::Unreadable(format!(
                    "AuthorizerId is !Ref {logical}, which is not an AWS::ApiGateway::Authorizer"
                ));
            }
        }
    } else {
        let shown = t.text(id).to_string();
        api.authorizer(unknown_authorizer(
            &shown,
            &format!("the authorizer {shown}, defined outside this template"),
        ))
    };
    Access::Cognito { authorizer, scopes }
}

/// The path of the resource `reference` points at: `!GetAtt Api.RootResourceId` is `/`,
/// `!Ref Resource` is its parent's path plus its `PathPart`.
fn resource_path(t: &Template, reference: &Value, depth: usize) -> Text {
    if depth > MAX_DEPTH {
        return Text::unknown("a resource tree deeper than import follows (a ParentId cycle?)");
    }
    if let Some((_, "RootResourceId")) = t.get_att(reference) {
        return Text::known("/");
    }
    let Some(id) = t.ref_resource(reference) else {
        return Text::unknown(format!("the resource {}", t.text(reference)));
    };
    if t.type_of(id) != Some("AWS::ApiGateway::Resource") {
        return Text::unknown(format!("{id}, which is not an AWS::ApiGateway::Resource"));
    }
    let props = t
        .resource(id)
        .and_then(|r| r.get("Properties"))
        .unwrap_or(&Value::Null);
    let mut path = match props.get("ParentId") {
        Some(parent) => resource_path(t, parent, depth + 1),
        None => Text::unknown(format!("the parent of {id} (it has no ParentId)")),
    };
    if path.as_known().as_deref() != Some("/") {
        path.push(Text::known("/"));
    }
    match props.get("PathPart") {
        Some(part) => path.push(t.text(part)),
        None => path.push(Text::unknown(format!("the PathPart of {id} (it has none)"))),
    }
    path
}
