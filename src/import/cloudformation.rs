//! CloudFormation and SAM templates (JSON or YAML, short or long intrinsic forms).
//!
//! Plain CloudFormation: `AWS::ApiGateway::Authorizer` (Cognito: `ProviderARNs`,
//! `IdentitySource`), `AWS::ApiGateway::Method` (`AuthorizationType`, `AuthorizerId`,
//! `AuthorizationScopes`, `HttpMethod`), and the `AWS::ApiGateway::Resource` tree
//! (`ParentId` / `PathPart` up to the RestApi's `RootResourceId`) for the paths; a RestApi's
//! inline OpenAPI `Body` is read like an export. SAM: `AWS::Serverless::Api` `Auth`
//! (`Authorizers` with `UserPoolArn`, `DefaultAuthorizer`) and the `Api` events of
//! `AWS::Serverless::Function`, including those of the implicit API (`Globals.Api.Auth`);
//! what SAM makes of an API's inline body, `Cors` and `MergeDefinitions` is in `sam.rs`.
//!
//! Over 500 lines: about one line in ten is unit tests; the rest is one format's reader
//! (resource tree, methods, authorizers, SAM's shapes), kept together so that format's
//! rules read in one file.

use serde_json::{Map, Value};

use super::api::{Access, Api, GatewayAuthorizer, Method, with_api_key};
use super::intrinsic::{Resolve, Template, shape};
use super::openapi;
use super::report::NoteKind;
use super::sam::{events_left_out, sam_api, sam_preflights};
use super::text::Text;

/// How deep a resource tree may go (API Gateway allows far less).
const MAX_DEPTH: usize = 64;

/// SAM's name for the API it creates for events without `RestApiId`.
pub(super) const IMPLICIT_API: &str = "ServerlessRestApi";

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

/// An `AWS::ApiGateway::Method`.
fn method(api: &mut Api, t: &Template, id: &str, props: &Value) -> Method {
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

/// A Cognito authorizer the file does not define: its pools, header and validation
/// expression are all unknown (so the methods using it are denied, see `assemble.rs`).
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

/// The `Auth` of a SAM API: `Globals.Api.Auth` merged under the resource's own (SAM
/// merges maps, the resource's keys winning). `Err` says which is not a map.
pub(super) fn sam_auth(
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
pub(super) fn definition_elsewhere(
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
fn sam_function(api: &mut Api, t: &Template, doc: &Value, id: &str, props: &Value) {
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
pub(super) fn sam_access(
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

#[cfg(test)]
mod tests {
    use super::*;
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
}
