//! The reader of a CloudFormation or SAM template (JSON or YAML, short or long intrinsic
//! forms): API Gateway's own resources ([`api_gateway`]), a RestApi's inline OpenAPI `Body`
//! read like an export, and SAM's APIs and function events ([`sam_events`]; what SAM makes
//! of an API's inline body and `Cors` is `super::sam`'s); docs/import.md has the table.

mod api_gateway;
mod sam_events;
#[cfg(test)]
mod tests;

use serde_json::Value;

use super::api::{Api, GatewayAuthorizer};
use super::intrinsic::Template;
use super::openapi;
use super::report::NoteKind;
use super::sam::{sam_api, sam_preflights};
use super::text::Text;
use api_gateway::method;
pub(crate) use api_gateway::{AuthorizerKind, api_gateway_authorizer};
use sam_events::sam_function;
pub(super) use sam_events::{definition_elsewhere, sam_access, sam_auth};

/// SAM's name for the API it creates for events without `RestApiId`.
pub(super) const IMPLICIT_API: &str = "ServerlessRestApi";

/// Reads a CloudFormation or SAM template.
pub(crate) fn read(doc: &Value) -> Api {
    let t = Template::new(doc);
    let mut api = Api::default();
    let mut rest_apis = 0;
    for (id, resource) in t.resources() {
        let at = format!("Resources.{id}");
        let props = resource.get("Properties").unwrap_or(&Value::Null);
        match resource.get("Type").and_then(Value::as_str).unwrap_or("") {
            "AWS::ApiGateway::RestApi" => {
                rest_apis += 1;
                body(&mut api, &t, props, "Body", "BodyS3Location", &at);
            }
            "AWS::ApiGateway::Method" => {
                let method = method(&mut api, &t, id, props);
                api.methods.push(method);
            }
            "AWS::Serverless::Api" => {
                rest_apis += 1;
                sam_api(&mut api, &t, doc, id, props, &at);
            }
            "AWS::Serverless::Function" => sam_function(&mut api, &t, doc, id, props),
            kind @ ("AWS::ApiGatewayV2::Api" | "AWS::Serverless::HttpApi") => api.note(
                NoteKind::NotTranslated,
                &at,
                format!("{kind} is an HTTP API (JWT authorizers), not a REST API with a Cognito authorizer; not translated"),
            ),
            _ => {}
        }
    }
    sam_preflights(&mut api, &t, doc);
    let implicit = api.methods.iter().any(|m| m.at.contains("(implicit API)"));
    if rest_apis + usize::from(implicit) > 1 {
        api.note(
            NoteKind::Changed,
            "Resources",
            format!(
                "the template defines {} REST APIs; their routes are merged into one policy (add `hosts` to routes if the APIs are served on different hosts)",
                rest_apis + usize::from(implicit)
            ),
        );
    }
    api
}

/// An inline OpenAPI definition, read like an export with the template's intrinsics.
fn body(api: &mut Api, t: &Template, props: &Value, inline: &str, external: &str, at: &str) {
    match props.get(inline) {
        Some(Value::Object(o)) if o.contains_key("Fn::Transform") => included(api, at, inline),
        Some(body @ Value::Object(_)) => {
            let mut read = openapi::read(body, t, &format!("{at}.Properties.{inline}."));
            let id = at.trim_start_matches("Resources.");
            for m in &mut read.methods {
                m.api = id.to_owned();
            }
            api.absorb(read);
        }
        _ => {}
    }
    if props.get(external).is_some() {
        elsewhere(api, at, external);
    }
}

/// An API whose definition is in another file: what it requires is not known here, so the
/// import is not complete (it exits 3) even when the template names no method itself.
pub(super) fn elsewhere(api: &mut Api, at: &str, property: &str) {
    api.note(
        NoteKind::Unreadable,
        format!("{at}.Properties.{property}"),
        "the API definition is in another file, so none of its methods is in the policy (the default action, deny, answers them); import that OpenAPI file too",
    );
}

pub(super) fn included(api: &mut Api, at: &str, property: &str) {
    api.note(
        NoteKind::Unreadable,
        format!("{at}.Properties.{property}"),
        "an included definition (Fn::Transform AWS::Include) cannot be read, so none of its methods is in the policy (the default action, deny, answers them); import the OpenAPI file itself",
    );
}

/// A Cognito authorizer the file does not define: its pools, header and validation
/// expression are all unknown (so the methods using it are denied, see `assemble`).
pub(crate) fn unknown_authorizer(name: &str, what: &str) -> GatewayAuthorizer {
    let unknown = || Some(Ok(Text::unknown(what)));
    GatewayAuthorizer {
        name: name.to_owned(),
        at: format!("authorizer {name}"),
        provider_arns: vec![Text::unknown(format!("the provider ARNs of {what}"))],
        identity_source: unknown(),
        validation_expression: unknown(),
        result_ttl: None,
        conflict: None,
    }
}
