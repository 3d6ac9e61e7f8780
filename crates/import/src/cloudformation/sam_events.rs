//! SAM's shapes in a template: the `Api` events of an `AWS::Serverless::Function` and the
//! access each gets from its own `Auth` or its API's (`Globals.Api.Auth` merged under the
//! API's own), and where an API's definition is when it is not in the template.

use serde_json::{Map, Value};

use super::super::api::{Access, Api, GatewayAuthorizer, Method, with_api_key};
use super::super::intrinsic::{Resolve, Template, shape};
use super::super::report::NoteKind;
use super::super::sam::events_left_out;
use super::super::text::Text;
use super::IMPLICIT_API;

/// The `Auth` of a SAM API: `Globals.Api.Auth` merged under the resource's own (SAM
/// merges maps, the resource's keys winning). `Err` says which is not a map.
pub(crate) fn sam_auth(
    t: &Template,
    doc: &Value,
    api_id: &str,
) -> Result<Option<Map<String, Value>>, String> {
    fn map<'v>(v: Option<&'v Value>, what: &str) -> Result<Option<&'v Map<String, Value>>, String> {
        match v {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(other) => Err(format!("{what} is {}, not a map", shape(other))),
        }
    }
    let own = map(
        t.resource(api_id)
            .filter(|_| t.type_of(api_id) == Some("AWS::Serverless::Api"))
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("Auth")),
        &format!("the Auth of {api_id}"),
    )?;
    let global = map(
        doc.get("Globals")
            .and_then(|g| g.get("Api"))
            .and_then(|a| a.get("Auth")),
        "Globals.Api.Auth",
    )?;
    Ok(match (global, own) {
        (None, None) => None,
        (Some(g), None) => Some(g.clone()),
        (None, Some(o)) => Some(o.clone()),
        (Some(g), Some(o)) => Some(merge(g, o)),
    })
}

/// Where the definition of the `AWS::Serverless::Api` `api_id` is, when it is not in this
/// template: its own `DefinitionUri` or included `DefinitionBody`, else
/// `Globals.Api.DefinitionUri`.
pub(crate) fn definition_elsewhere(
    t: &Template,
    doc: &Value,
    api_id: &str,
) -> Option<&'static str> {
    if t.type_of(api_id) != Some("AWS::Serverless::Api") {
        return None;
    }
    let own = t.resource(api_id)?.get("Properties");
    match own.and_then(|p| p.get("DefinitionBody")) {
        Some(Value::Object(o)) if o.contains_key("Fn::Transform") => {
            Some("included from another file (Fn::Transform AWS::Include)")
        }
        Some(_) => None,
        None if own.and_then(|p| p.get("DefinitionUri")).is_some() => {
            Some("in another file (DefinitionUri)")
        }
        None => doc
            .get("Globals")
            .and_then(|g| g.get("Api"))
            .and_then(|a| a.get("DefinitionUri"))
            .map(|_| "in another file (Globals.Api.DefinitionUri)"),
    }
}

fn merge(base: &Map<String, Value>, over: &Map<String, Value>) -> Map<String, Value> {
    let mut out = base.clone();
    for (k, v) in over {
        let merged = match (out.get(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => Value::Object(merge(a, b)),
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    out
}

/// The `Api` events of an `AWS::Serverless::Function`.
pub(super) fn sam_function(api: &mut Api, t: &Template, doc: &Value, id: &str, props: &Value) {
    for (event, def) in props
        .get("Events")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let at = format!("Resources.{id}.Properties.Events.{event}");
        let eprops = def.get("Properties").unwrap_or(&Value::Null);
        match def.get("Type").and_then(Value::as_str) {
            Some("Api") => {}
            Some("HttpApi") => {
                api.note(
                    NoteKind::NotTranslated,
                    &at,
                    "an HttpApi event (HTTP API, JWT authorizers) is not a REST API method; not translated",
                );
                continue;
            }
            _ => continue,
        }
        let (api_id, label) = match eprops.get("RestApiId") {
            None => (IMPLICIT_API.to_owned(), format!("{at} (implicit API)")),
            Some(r) => match t.ref_resource(r) {
                Some(api_id) => (api_id.to_owned(), at.clone()),
                None => (t.text(r).to_string(), at.clone()),
            },
        };
        let path = eprops.get("Path").map_or_else(
            || Text::unknown("a Path (the event has none)"),
            |v| t.text(v),
        );
        let verb = eprops.get("Method").map_or_else(
            || Text::unknown("a Method (the event has none)"),
            |v| t.text(v),
        );
        // An API this template defines (or the implicit one) has its `Auth` here; for any
        // other, only the event's own `Auth` is known.
        let known_api = match eprops.get("RestApiId") {
            None => true,
            Some(r) => t
                .ref_resource(r)
                .is_some_and(|id| t.type_of(id) == Some("AWS::Serverless::Api")),
        };
        let auth = if known_api {
            sam_auth(t, doc, &api_id)
        } else {
            Ok(None)
        };
        if known_api && events_left_out(t, doc, &api_id) {
            api.note(
                NoteKind::NotTranslated,
                &at,
                format!(
                    "SAM does not add this event ({} {}) to the inline DefinitionBody of {api_id} (MergeDefinitions is not set): API Gateway has only the body's methods, so it is left out (the body's own method on that path, if any, is translated)",
                    eprops.get("Method").map_or_else(String::new, |v| t.text(v).to_string()).to_ascii_uppercase(),
                    eprops.get("Path").map_or_else(String::new, |v| t.text(v).to_string()),
                ),
            );
            continue;
        }
        let elsewhere = known_api
            .then(|| definition_elsewhere(t, doc, &api_id))
            .flatten();
        let (access, extras) = match (elsewhere, auth, eprops.get("Auth")) {
            // SAM adds no event to a definition in another file (and the file may define
            // the method itself): only that file says what the method requires.
            (Some(place), _, _) => (
                Access::Unreadable(format!(
                    "the definition of the API {api_id} is {place}, which decides what this method requires; import that OpenAPI file too"
                )),
                vec![],
            ),
            (None, Err(why), _) => (Access::Unreadable(why), vec![]),
            (None, _, Some(other)) if !other.is_object() => (
                Access::Unreadable(format!("the event's Auth is {}, not a map", shape(other))),
                vec![],
            ),
            (None, Ok(auth), event_auth) => {
                let auth = auth.as_ref();
                let access = sam_access(api, t, &api_id, known_api, auth, event_auth);
                let api_key = event_auth
                    .and_then(|a| a.get("ApiKeyRequired"))
                    .or_else(|| auth.and_then(|a| a.get("ApiKeyRequired")));
                match api_key {
                    None => (access, vec![]),
                    Some(v) => with_api_key(access, &t.flag(v), "ApiKeyRequired"),
                }
            }
        };
        api.methods.push(Method {
            at: label,
            name: event.clone(),
            path,
            method: verb,
            access,
            unenforced_extras: extras,
            preflight: false,
            api: api_id,
        });
    }
}

/// The access of a SAM event: the event's `Auth.GatewayAuthorizer`, else the API's
/// `DefaultAuthorizer`, else none. `known_api`: the API is defined in this template (or is
/// the implicit one), so a missing `DefaultAuthorizer` plainly means none.
pub(crate) fn sam_access(
    api: &mut Api,
    t: &Template,
    api_id: &str,
    known_api: bool,
    auth: Option<&Map<String, Value>>,
    event_auth: Option<&Value>,
) -> Access {
    let chosen = event_auth
        .and_then(|a| a.get("Authorizer"))
        .or_else(|| auth.and_then(|a| a.get("DefaultAuthorizer")));
    let Some(chosen) = chosen else {
        return if known_api {
            Access::Public
        } else {
            Access::Unknown(format!(
                "the DefaultAuthorizer of the API {api_id}, which this template does not define"
            ))
        };
    };
    let Some(name) = t.text(chosen).as_known() else {
        return Access::Unknown(t.text(chosen).unknowns().join(", "));
    };
    match name.as_str() {
        "NONE" => return Access::Public,
        "AWS_IAM" => return Access::NotEnforceable("AWS_IAM authorization (SigV4)".to_owned()),
        _ => {}
    }
    let Some(def) = auth
        .and_then(|a| a.get("Authorizers"))
        .and_then(|a| a.get(&name))
    else {
        return Access::Unknown(format!(
            "the authorizer {name}, which API {api_id} does not define"
        ));
    };
    if let Some(pool) = def.get("UserPoolArn") {
        let scopes = match event_auth
            .and_then(|a| a.get("AuthorizationScopes"))
            .or_else(|| def.get("AuthorizationScopes"))
            .map(|v| t.strings(v))
        {
            None => Vec::new(),
            Some(Ok(scopes)) => scopes,
            Some(Err(shape)) => {
                return Access::Unreadable(format!("AuthorizationScopes is {shape}"));
            }
        };
        let identity = |k: &str| {
            def.get("Identity")
                .and_then(|i| i.get(k))
                .map(|v| t.setting(v))
        };
        let authorizer = api.authorizer(GatewayAuthorizer {
            name: format!("{api_id}.{name}"),
            at: format!("Resources.{api_id}.Properties.Auth.Authorizers.{name}"),
            provider_arns: t.list(pool),
            identity_source: identity("Header"),
            validation_expression: identity("ValidationExpression"),
            result_ttl: identity("ReauthorizeEvery"),
            conflict: None,
        });
        return Access::Cognito { authorizer, scopes };
    }
    if def.get("FunctionArn").is_some() {
        return Access::NotEnforceable(format!("the Lambda authorizer {name}"));
    }
    Access::NotEnforceable(format!("the authorizer {name}, neither Cognito nor Lambda"))
}
