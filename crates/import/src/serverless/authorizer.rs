//! An http event's `authorizer`, read as Serverless reads it: `aws_iam`, a Lambda
//! function, an inline Cognito authorizer (a user pool ARN, with its settings), or an
//! `AWS::ApiGateway::Authorizer` of `resources` named by `authorizerId`.

use serde_json::Value;

use super::super::api::{Access, Api, GatewayAuthorizer};
use super::super::cloudformation::{AuthorizerKind, api_gateway_authorizer, unknown_authorizer};
use super::super::intrinsic::{Resolve, shape};
use super::super::text::Text;
use super::variables::Serverless;

/// The access an event's `authorizer` gives, read as Serverless reads it: a string is
/// `aws_iam`, a Lambda function's name or an ARN (Cognito when it is a user pool's); a map
/// with `type` and `authorizerId` names an `AWS::ApiGateway::Authorizer`, one with `arn`
/// defines an authorizer inline (named `name`, else after its pool), and one with only a
/// `name` names a Lambda function of the service.
pub(super) fn authorizer(
    sls: &Serverless,
    api: &mut Api,
    auth: &Value,
    at: &str,
    function: &str,
) -> Access {
    let lower = |t: &Text| t.as_known().map(|s| s.to_ascii_lowercase());
    match auth {
        Value::String(_) => {
            let raw = sls.raw_text(auth);
            let Some(s) = raw.as_known() else {
                return Access::Unknown(raw.unknowns().join(", "));
            };
            if s.trim().is_empty() {
                Access::Unreadable(format!("`authorizer` is {}", shape(auth)))
            } else if s.eq_ignore_ascii_case("aws_iam") {
                Access::NotEnforceable("AWS_IAM authorization (SigV4)".to_owned())
            } else if s.contains(':') && cognito_arn(&raw) == Some(true) {
                let text = sls.text(auth);
                let index = api.authorizer(GatewayAuthorizer {
                    name: inline_name(None, &text, function),
                    at: format!("{at}.authorizer"),
                    provider_arns: vec![text],
                    ..GatewayAuthorizer::default()
                });
                Access::Cognito {
                    authorizer: index,
                    scopes: Vec::new(),
                }
            } else {
                Access::NotEnforceable(format!("the Lambda authorizer {s}"))
            }
        }
        Value::Object(def) => {
            let field = |k: &str| def.get(k).map(|v| sls.text(&sls.value(v)));
            let kind = field("type");
            let arn = field("arn");
            // Serverless tests a string `arn` (never an intrinsic) as written.
            let arn_is_pool = def
                .get("arn")
                .map(|v| sls.value(v))
                .and_then(|v| match v.as_ref() {
                    Value::String(_) => Some(cognito_arn(&sls.raw_text(&v))),
                    _ => None,
                });
            let cognito = kind.as_ref().and_then(lower).as_deref() == Some("cognito_user_pools")
                || arn_is_pool == Some(Some(true));
            if kind.as_ref().and_then(lower).as_deref() == Some("aws_iam") {
                return Access::NotEnforceable("AWS_IAM authorization (SigV4)".to_owned());
            }
            if !cognito {
                return match (&kind, arn_is_pool) {
                    (Some(k), _) if k.as_known().is_none() => {
                        Access::Unknown(k.unknowns().join(", "))
                    }
                    (None, Some(None)) => Access::Unknown(format!(
                        "whether the authorizer's `arn` is a user pool's or a Lambda function's: it depends on {}",
                        arn.as_ref()
                            .map_or_else(String::new, |a| a.unknowns().join(", "))
                    )),
                    _ => Access::NotEnforceable(format!(
                        "the Lambda authorizer {}",
                        field("name")
                            .or(arn)
                            .map_or_else(|| "(unnamed)".to_owned(), |t| t.to_string())
                    )),
                };
            }
            // Absent: none (plainly stated). Anything but a list of strings: unreadable,
            // never "no scopes".
            let scopes = match def.get("scopes").map(|s| sls.strings(s)) {
                None => Vec::new(),
                Some(Ok(scopes)) => scopes,
                Some(Err(shape)) => {
                    return Access::Unreadable(format!("`scopes` is {shape}"));
                }
            };
            let index = if let Some(id) = def.get("authorizerId") {
                match sls
                    .resources
                    .ref_resource(id)
                    .map(|r| (r, api_gateway_authorizer(&sls.resources, sls, r)))
                {
                    Some((_, Some(AuthorizerKind::Cognito(mut a)))) => {
                        a.at = format!("resources.Resources.{}", a.name);
                        api.authorizer(a)
                    }
                    Some((_, Some(AuthorizerKind::Other(what)))) => {
                        return Access::NotEnforceable(what);
                    }
                    // API Gateway refuses a method naming something else as its authorizer.
                    Some((r, None)) => {
                        return Access::Unreadable(format!(
                            "`authorizerId` is !Ref {r}, which is not an AWS::ApiGateway::Authorizer"
                        ));
                    }
                    None => {
                        let shown = sls.text(id).to_string();
                        api.authorizer(unknown_authorizer(
                            &shown,
                            &format!("the authorizer {shown}, which is not defined in this file"),
                        ))
                    }
                }
            } else if let Some(arn) = arn {
                let name = def.get("name").map(|n| sls.text(&sls.value(n)));
                if name.is_none() && !def.get("arn").is_some_and(Value::is_string) {
                    // Serverless names an inline Cognito authorizer after its ARN, and
                    // refuses one whose ARN is an expression (it cannot name it).
                    return Access::Unreadable(format!(
                        "the Cognito authorizer's `arn` is {}, and it has no `name` (Serverless refuses to deploy it)",
                        shape(&def["arn"])
                    ));
                }
                let setting = |k: &str| def.get(k).map(|v| sls.setting(v));
                api.authorizer(GatewayAuthorizer {
                    name: inline_name(name.as_ref(), &arn, function),
                    at: format!("{at}.authorizer"),
                    provider_arns: vec![arn],
                    identity_source: setting("identitySource"),
                    validation_expression: setting("identityValidationExpression"),
                    result_ttl: setting("resultTtlInSeconds"),
                    conflict: None,
                })
            } else {
                let shown = field("name").map_or_else(|| "(unnamed)".to_owned(), |n| n.to_string());
                let why = if def.contains_key("name") {
                    // `{name: X}` without `arn` is the Lambda function X to Serverless, even
                    // with `type: COGNITO_USER_POOLS`: it deploys no Cognito authorizer.
                    format!(
                        "the Cognito authorizer {shown} names no `arn` nor `authorizerId`; Serverless reads `name` alone as a Lambda function of the service (write `authorizerId: {{Ref: ...}}` to use an AWS::ApiGateway::Authorizer, or repeat its `arn`)"
                    )
                } else {
                    // Serverless refuses to deploy it: no pool to trust, no authorizer to name.
                    format!("the Cognito authorizer {shown} names neither arn nor authorizerId")
                };
                return Access::Unreadable(why);
            };
            Access::Cognito {
                authorizer: index,
                scopes,
            }
        }
        other => Access::Unreadable(format!(
            "`authorizer` is {}, not a name, an ARN or a map",
            shape(other)
        )),
    }
}

/// Serverless's test of a user pool ARN (`^arn:[a-zA-Z-]*:cognito-idp`): `None` when a
/// part only deployment knows decides it.
fn cognito_arn(arn: &Text) -> Option<bool> {
    const HOLE: char = '\0';
    let (flat, _) = arn.with_holes(HOLE);
    let matches = flat.strip_prefix("arn:").is_some_and(|rest| {
        let partition_end = rest
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
            .unwrap_or(rest.len());
        rest[partition_end..].starts_with(":cognito-idp")
    });
    if matches {
        Some(true)
    } else if flat.contains(HOLE) {
        None
    } else {
        Some(false)
    }
}

/// The name of an inline Cognito authorizer: its `name`, else its pool id (Serverless names
/// it after the ARN too), else its function's when the ARN is only known at deployment.
fn inline_name(name: Option<&Text>, arn: &Text, function: &str) -> String {
    if let Some(name) = name {
        return name.to_string();
    }
    let (flat, _) = arn.with_holes('\0');
    match flat.rsplit_once('/') {
        Some((_, pool)) if !pool.trim().is_empty() && !pool.contains('\0') => {
            pool.trim().to_owned()
        }
        _ => format!("{function}-authorizer"),
    }
}
