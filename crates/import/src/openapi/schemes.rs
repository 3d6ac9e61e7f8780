//! The security schemes of an OpenAPI document as API Gateway reads them: a scheme with a
//! Cognito `x-amazon-apigateway-authorizer` is an authorizer of the API (its pools, token
//! header, validation expression and TTL), an `x-api-key` scheme an API key, and any other
//! one something this service cannot check.

use serde_json::Value;

use super::super::api::{Api, GatewayAuthorizer, Setting};
use super::super::intrinsic::{Resolve, shape};
use super::super::text::Text;

/// What a security scheme is to API Gateway.
pub(super) enum Scheme {
    /// A Cognito authorizer: index into the API's authorizers.
    Cognito(usize),
    /// An API key (`x-api-key`): not authorization, but API Gateway requires it.
    ApiKey,
    /// Anything else: what it is.
    Other(String),
}

/// What the scheme `name` is; a Cognito authorizer is added to `api`.
pub(super) fn read_scheme(
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
