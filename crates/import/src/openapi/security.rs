//! What an operation requires, from its `security` (or the document's) and the older
//! `x-amazon-apigateway-auth`, read as API Gateway applies it; anything it cannot apply to
//! one method, or a `security` that may be misspelt, is never read as public.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::super::api::Access;
use super::super::intrinsic::{Resolve, shape};
use super::super::text::Text;
use super::schemes::Scheme;

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
pub(super) enum Security<'a> {
    /// The field is there (whatever its shape).
    Stated(&'a Value),
    /// No `security`, and no field OpenAPI does not define: nothing is stated here.
    Absent,
    /// No `security`, but fields OpenAPI does not define (a misspelt `security`?).
    Doubtful(Vec<String>),
}

impl<'a> Security<'a> {
    pub(super) fn of(object: Option<&'a Map<String, Value>>, fields: &[&str]) -> Self {
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
pub(super) fn operation_access(
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
