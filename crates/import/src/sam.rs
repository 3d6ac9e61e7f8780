//! What SAM makes of an `AWS::Serverless::Api`: the OpenAPI body API Gateway receives.
//!
//! `aws-sam-translator` (AWS's own SAM-to-CloudFormation translator) is the authority here;
//! each rule below is what it does, checked against its output by the import oracle tests
//! (tests/python/import_oracle):
//! - `Cors` (the API's, else `Globals.Api.Cors`) adds a MOCK `OPTIONS` method to every
//!   path of the body that has none;
//! - `Auth.Authorizers` become the body's security schemes, replacing any of the same name;
//! - `Auth.DefaultAuthorizer` is applied to every operation of the body that has an
//!   integration and names none of those authorizers: `security: []` does not keep it out,
//!   only `{NONE: []}` does (the marker stays in the body; API Gateway reads it as no
//!   authorization); the preflights too unless `AddDefaultAuthorizerToCorsPreflight: false`;
//! - `Auth.ApiKeyRequired` adds the API key to every operation (the preflights too unless
//!   `AddApiKeyRequiredToCorsPreflight: false`);
//! - the functions' `Api` events are added to an inline `DefinitionBody` only with
//!   `MergeDefinitions: true` (`cloudformation` decides that; events are read as methods
//!   there, with the same rules).
//!
//! The second half applies these rules to a template: [`sam_api`] reads an API's body as
//! SAM deploys it, [`sam_preflights`] adds the preflights of the events' paths, and
//! [`events_left_out`] says when SAM ignores an API's events.

use serde_json::{Map, Value, json};

use super::api::{Access, Api, Method, with_api_key};
use super::cloudformation::{
    IMPLICIT_API, definition_elsewhere, elsewhere, included, sam_access, sam_auth,
};
use super::intrinsic::{Resolve, Template};
use super::openapi;
use super::text::Text;

/// Operation keys SAM applies authorization to (its `_ALL_HTTP_METHODS` and ANY).
const OPERATIONS: [&str; 8] = [
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "x-amazon-apigateway-any-method",
];

/// The SAM settings of one API that shape its body.
pub(crate) struct SamApi<'a> {
    /// `Auth`, `Globals.Api.Auth` merged under the API's own.
    pub auth: Option<&'a Map<String, Value>>,
    /// `Cors` is set (the API's own or `Globals.Api.Cors`).
    pub cors: bool,
}

impl SamApi<'_> {
    /// `Auth.<key>` is anything but `false` (SAM's reading of an optional flag whose default
    /// is true).
    fn flag_on(&self, key: &str) -> bool {
        !matches!(self.auth.and_then(|a| a.get(key)), Some(Value::Bool(false)))
            && !matches!(
                self.auth.and_then(|a| a.get(key)).and_then(Value::as_str),
                Some(s) if s.eq_ignore_ascii_case("false")
            )
    }

    fn authorizers(&self) -> Option<&Map<String, Value>> {
        self.auth
            .and_then(|a| a.get("Authorizers"))
            .and_then(Value::as_object)
    }

    /// `Auth.DefaultAuthorizer`, when it is a name.
    pub(crate) fn default_authorizer(&self) -> Option<&str> {
        self.auth
            .and_then(|a| a.get("DefaultAuthorizer"))
            .and_then(Value::as_str)
    }

    /// `Auth.DefaultAuthorizer` is there but not a name (an intrinsic, a map): what it is.
    pub(crate) fn unreadable_default(&self) -> Option<String> {
        let v = self.auth.and_then(|a| a.get("DefaultAuthorizer"))?;
        (!v.is_string()).then(|| {
            format!(
                "Auth.DefaultAuthorizer is {}, not the name of an authorizer",
                super::intrinsic::shape(v)
            )
        })
    }

    /// Whether SAM puts the default authorizer on its CORS preflights (a default that is
    /// not a plain name counts: the preflights are then denied, never public).
    pub(crate) fn authorizes_preflights(&self) -> bool {
        self.auth.and_then(|a| a.get("DefaultAuthorizer")).is_some()
            && self.flag_on("AddDefaultAuthorizerToCorsPreflight")
    }

    /// Whether SAM requires the API key on its CORS preflights (`ApiKeyRequired` set, and
    /// `AddApiKeyRequiredToCorsPreflight` not false): what the value is, for `flag`.
    pub(crate) fn preflight_api_key(&self) -> Option<&Value> {
        let v = self.auth.and_then(|a| a.get("ApiKeyRequired"))?;
        self.flag_on("AddApiKeyRequiredToCorsPreflight")
            .then_some(v)
    }
}

/// The body SAM deploys for an inline `DefinitionBody`: preflights added, authorizers
/// defined, the default authorizer and API key applied, as the module doc says.
pub(crate) fn body(definition: &Value, sam: &SamApi) -> Value {
    let mut body = definition.clone();
    let openapi3 = body.get("openapi").is_some();
    if sam.cors
        && let Some(paths) = body.get_mut("paths").and_then(Value::as_object_mut)
    {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            if !item.keys().any(|k| k.eq_ignore_ascii_case("options")) {
                item.insert(
                    "options".to_owned(),
                    json!({"summary": "CORS support", "x-amazon-apigateway-integration": {"type": "mock"}}),
                );
            }
        }
    }
    let mut names: Vec<String> = vec!["AWS_IAM".to_owned()];
    if let Some(authorizers) = sam.authorizers() {
        let schemes = if openapi3 {
            body.as_object_mut().map(|b| {
                b.entry("components")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|c| c.entry("securitySchemes").or_insert_with(|| json!({})))
            })
        } else {
            body.as_object_mut()
                .map(|b| Some(b.entry("securityDefinitions").or_insert_with(|| json!({}))))
        };
        if let Some(Some(Value::Object(schemes))) = schemes {
            for (name, def) in authorizers {
                schemes.insert(name.clone(), scheme(def));
                names.push(name.clone());
            }
        }
    }
    let default = sam.default_authorizer().map(|name| {
        let scopes = sam
            .authorizers()
            .and_then(|a| a.get(name))
            .and_then(|d| d.get("AuthorizationScopes"))
            .cloned()
            .unwrap_or_else(|| json!([]));
        (name.to_owned(), scopes)
    });
    if default.as_ref().is_some_and(|(n, _)| n == "AWS_IAM") {
        add_scheme(
            &mut body,
            openapi3,
            "AWS_IAM",
            json!({"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}),
        );
    }
    let api_key = sam.auth.and_then(|a| a.get("ApiKeyRequired")).cloned();
    if api_key.is_some() {
        add_scheme(
            &mut body,
            openapi3,
            "api_key",
            json!({"type": "apiKey", "name": "x-api-key", "in": "header"}),
        );
    }
    let preflight_default = sam.authorizes_preflights();
    let preflight_key = sam.preflight_api_key().is_some();
    if let Some(paths) = body.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for (key, op) in item.iter_mut() {
                let key = key.to_ascii_lowercase();
                if !OPERATIONS.contains(&key.as_str()) {
                    continue;
                }
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                if !op.contains_key("x-amazon-apigateway-integration") {
                    continue;
                }
                let preflight = key == "options";
                if let Some((name, scopes)) = &default
                    && (!preflight || preflight_default)
                {
                    apply_default(op, &names, name, scopes);
                }
                if let Some(flag) = &api_key
                    && (!preflight || preflight_key)
                {
                    apply_api_key(op, flag);
                }
            }
        }
    }
    body
}

/// SAM's security scheme for one of its `Auth.Authorizers`.
fn scheme(def: &Value) -> Value {
    if let Some(pool) = def.get("UserPoolArn") {
        let mut authorizer = json!({
            "type": "cognito_user_pools",
            "providerARNs": match pool { Value::Array(_) => pool.clone(), other => json!([other]) },
        });
        let identity = def.get("Identity");
        if let Some(v) = identity.and_then(|i| i.get("ValidationExpression")) {
            authorizer["identityValidationExpression"] = v.clone();
        }
        if let Some(v) = identity.and_then(|i| i.get("ReauthorizeEvery")) {
            authorizer["authorizerResultTtlInSeconds"] = v.clone();
        }
        let mut scheme = json!({
            "type": "apiKey",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": authorizer,
        });
        if let Some(header) = identity.and_then(|i| i.get("Header")) {
            scheme["in"] = json!("header");
            scheme["name"] = header.clone();
        }
        return scheme;
    }
    if def.get("FunctionArn").is_some() {
        let kind = match def.get("FunctionPayloadType").and_then(Value::as_str) {
            Some(k) if k.eq_ignore_ascii_case("REQUEST") => "request",
            _ => "token",
        };
        return json!({"type": "apiKey", "x-amazon-apigateway-authorizer": {"type": kind}});
    }
    // Neither: SAM refuses the template; a scheme that is no authorizer denies its methods.
    json!({"type": "apiKey", "name": "Authorization", "in": "header"})
}

fn add_scheme(body: &mut Value, openapi3: bool, name: &str, scheme: Value) {
    let Some(b) = body.as_object_mut() else {
        return;
    };
    let schemes = if openapi3 {
        b.entry("components")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|c| c.entry("securitySchemes").or_insert_with(|| json!({})))
    } else {
        Some(b.entry("securityDefinitions").or_insert_with(|| json!({})))
    };
    if let Some(Value::Object(s)) = schemes {
        s.entry(name.to_owned()).or_insert(scheme);
    }
}

/// SAM's `set_path_default_authorizer` on one operation: a `{NONE: []}` requirement keeps
/// the default out (and stays when nothing else is left); one naming an authorizer of the
/// API (or AWS_IAM) is kept; otherwise the default is added to what is there.
fn apply_default(op: &mut Map<String, Value>, names: &[String], default: &str, scopes: &Value) {
    let existing = match op.get("security") {
        None => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        // SAM refuses a `security` that is not a list: leave it for the reader to refuse.
        Some(_) => return,
    };
    if existing.iter().any(|r| !r.is_object()) {
        return;
    }
    let names_authorizer = |r: &Value| {
        r.as_object()
            .is_some_and(|m| m.keys().any(|k| names.contains(k)))
    };
    let (mut others, authorizers): (Vec<Value>, Vec<Value>) =
        existing.into_iter().partition(|r| !names_authorizer(r));
    let none = others
        .iter()
        .position(|r| r.as_object().is_some_and(|m| m.contains_key("NONE")));
    let added = if let Some(i) = none {
        others.remove(i);
        Vec::new()
    } else if !authorizers.is_empty() {
        authorizers
    } else {
        vec![json!({ default: scopes })]
    };
    let security: Vec<Value> = others.into_iter().chain(added).collect();
    if !security.is_empty() {
        op.insert("security".to_owned(), Value::Array(security));
    }
}

/// SAM's `set_path_default_apikey_required` on one operation, as far as authorization
/// goes: the API key joins every requirement (an operation without one gets it alone),
/// unless the operation already says `api_key_false`.
fn apply_api_key(op: &mut Map<String, Value>, flag: &Value) {
    if matches!(flag, Value::Bool(false)) {
        return;
    }
    let security = op.entry("security".to_owned()).or_insert_with(|| json!([]));
    let Value::Array(list) = security else {
        return;
    };
    if list.iter().any(|r| {
        r.as_object()
            .is_some_and(|m| m.contains_key("api_key_false"))
    }) {
        return;
    }
    if list.is_empty() {
        list.push(json!({"api_key": []}));
        return;
    }
    for r in list.iter_mut() {
        if let Value::Object(m) = r
            && !m.contains_key("NONE")
        {
            m.entry("api_key".to_owned()).or_insert_with(|| json!([]));
        }
    }
}

// ---- Reading a template's SAM APIs with these rules ----------------------------------

/// A SAM property of the API `props` (`Cors`, `MergeDefinitions`), else of `Globals.Api`.
pub(super) fn sam_property<'v>(
    doc: &'v Value,
    props: Option<&'v Value>,
    key: &str,
) -> Option<&'v Value> {
    props.and_then(|p| p.get(key)).or_else(|| {
        doc.get("Globals")
            .and_then(|g| g.get("Api"))
            .and_then(|a| a.get(key))
    })
}

/// SAM's (Python's) truth of an optional flag such as `MergeDefinitions`.
pub(super) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// The SAM API `api_id` of this template has an inline `DefinitionBody` and no
/// `MergeDefinitions`: SAM adds none of the functions' events to it.
pub(crate) fn events_left_out(t: &Template, doc: &Value, api_id: &str) -> bool {
    if t.type_of(api_id) != Some("AWS::Serverless::Api") {
        return false;
    }
    let props = t.resource(api_id).and_then(|r| r.get("Properties"));
    let inline = matches!(
        props.and_then(|p| p.get("DefinitionBody")),
        Some(Value::Object(o)) if !o.contains_key("Fn::Transform")
    );
    inline && !truthy(sam_property(doc, props, "MergeDefinitions"))
}

/// An `AWS::Serverless::Api`: its inline `DefinitionBody` as SAM deploys it (see
/// `sam.rs`), or the note that its definition is elsewhere.
pub(crate) fn sam_api(api: &mut Api, t: &Template, doc: &Value, id: &str, props: &Value, at: &str) {
    match props.get("DefinitionBody") {
        Some(Value::Object(o)) if o.contains_key("Fn::Transform") => {
            included(api, at, "DefinitionBody");
        }
        Some(definition @ Value::Object(_)) => {
            let auth = sam_auth(t, doc, id);
            let auth_map = auth.as_ref().ok().and_then(Option::as_ref);
            let settings = SamApi {
                auth: auth_map,
                cors: sam_property(doc, Some(props), "Cors").is_some(),
            };
            let body = body(definition, &settings);
            let mut read = openapi::read(&body, t, &format!("{at}.Properties.DefinitionBody."));
            let sam_names: Vec<&String> = auth_map
                .and_then(|a| a.get("Authorizers"))
                .and_then(Value::as_object)
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            // Named as the events name them, so that both share one policy authorizer.
            for a in &mut read.authorizers {
                if sam_names.contains(&&a.name) {
                    a.at = format!("{at}.Properties.Auth.Authorizers.{}", a.name);
                    a.name = format!("{id}.{}", a.name);
                }
            }
            let unreadable = auth.clone().err().or_else(|| settings.unreadable_default());
            for m in &mut read.methods {
                m.api = id.to_owned();
                if let Some(why) = &unreadable {
                    m.access = Access::Unreadable(why.clone());
                }
            }
            api.absorb(read);
        }
        _ => {}
    }
    if props.get("DefinitionUri").is_some() {
        elsewhere(api, at, "DefinitionUri");
    }
}

/// The CORS preflights SAM adds for the functions' events: an OPTIONS method on every path
/// of an API with `Cors` that has none, carrying the default authorizer unless
/// `AddDefaultAuthorizerToCorsPreflight` is false (a body's own paths got theirs in
/// [`sam::body`]).
pub(crate) fn sam_preflights(api: &mut Api, t: &Template, doc: &Value) {
    let mut apis: Vec<String> = Vec::new();
    for m in &api.methods {
        if m.at.contains(".Properties.Events.") && !apis.contains(&m.api) {
            apis.push(m.api.clone());
        }
    }
    for api_id in apis {
        let explicit = t.type_of(&api_id) == Some("AWS::Serverless::Api");
        let props = t.resource(&api_id).and_then(|r| r.get("Properties"));
        if !explicit && api_id != IMPLICIT_API {
            continue;
        }
        if explicit && definition_elsewhere(t, doc, &api_id).is_some() {
            continue;
        }
        let Some(_) = sam_property(doc, props.filter(|_| explicit), "Cors") else {
            continue;
        };
        let at = if explicit && props.and_then(|p| p.get("Cors")).is_some() {
            format!("Resources.{api_id}.Properties.Cors")
        } else {
            "Globals.Api.Cors".to_owned()
        };
        let auth = sam_auth(t, doc, &api_id);
        let (access, extras) = match &auth {
            Err(why) => (Access::Unreadable(why.clone()), vec![]),
            Ok(auth) => {
                let settings = SamApi {
                    auth: auth.as_ref(),
                    cors: true,
                };
                let access = if settings.authorizes_preflights() {
                    sam_access(api, t, &api_id, true, auth.as_ref(), None)
                } else {
                    Access::Public
                };
                match settings.preflight_api_key() {
                    None => (access, vec![]),
                    Some(v) => with_api_key(access, &t.flag(v), "ApiKeyRequired"),
                }
            }
        };
        let mut paths: Vec<Text> = Vec::new();
        for m in api.methods.iter().filter(|m| m.api == api_id) {
            if m.path.as_known().is_some() && !paths.contains(&m.path) {
                paths.push(m.path.clone());
            }
        }
        for path in paths {
            let has_options = api.methods.iter().any(|m| {
                m.api == api_id
                    && m.path == path
                    && m.method
                        .as_known()
                        .is_some_and(|v| v.eq_ignore_ascii_case("OPTIONS"))
            });
            if has_options {
                continue;
            }
            api.methods.push(Method {
                at: at.clone(),
                name: String::new(),
                path,
                method: Text::known("OPTIONS"),
                access: access.clone(),
                unenforced_extras: extras.clone(),
                preflight: true,
                api: api_id.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sam(auth: Value, cors: bool) -> (Map<String, Value>, bool) {
        (auth.as_object().unwrap().clone(), cors)
    }

    #[test]
    fn the_default_authorizer_covers_operations_without_one_of_the_apis_authorizers() {
        let (auth, cors) = sam(
            json!({"DefaultAuthorizer": "Cog", "Authorizers": {"Cog": {"UserPoolArn": "arn", "AuthorizationScopes": ["a/b"]}}}),
            true,
        );
        let api = SamApi {
            auth: Some(&auth),
            cors,
        };
        let i = json!({"type": "mock"});
        let out = body(
            &json!({"swagger": "2.0", "paths": {
                "/a": {"get": {"x-amazon-apigateway-integration": i}},
                "/b": {"get": {"security": [], "x-amazon-apigateway-integration": i}},
                "/c": {"get": {"security": [{"NONE": []}], "x-amazon-apigateway-integration": i}},
                "/d": {"get": {"security": [{"Cog": ["x/y"]}], "x-amazon-apigateway-integration": i}},
                "/e": {"get": {}}
            }}),
            &api,
        );
        let sec = |p: &str, m: &str| out["paths"][p][m].get("security").cloned();
        assert_eq!(sec("/a", "get"), Some(json!([{"Cog": ["a/b"]}])));
        // `security: []` does not keep the default out; `{NONE: []}` does, and stays.
        assert_eq!(sec("/b", "get"), Some(json!([{"Cog": ["a/b"]}])));
        assert_eq!(sec("/c", "get"), Some(json!([{"NONE": []}])));
        assert_eq!(sec("/d", "get"), Some(json!([{"Cog": ["x/y"]}])));
        // No integration: SAM leaves the operation alone.
        assert_eq!(sec("/e", "get"), None);
        // Preflights added, with the default authorizer (AddDefaultAuthorizerToCorsPreflight).
        assert_eq!(sec("/a", "options"), Some(json!([{"Cog": ["a/b"]}])));
        assert!(out["securityDefinitions"]["Cog"]["x-amazon-apigateway-authorizer"].is_object());
    }

    #[test]
    fn preflights_stay_public_when_the_flag_is_false() {
        let (auth, _) = sam(
            json!({"DefaultAuthorizer": "Cog", "AddDefaultAuthorizerToCorsPreflight": false,
                   "Authorizers": {"Cog": {"UserPoolArn": "arn"}}}),
            true,
        );
        let api = SamApi {
            auth: Some(&auth),
            cors: true,
        };
        let out = body(
            &json!({"openapi": "3.0.1", "paths": {"/a": {"get": {"x-amazon-apigateway-integration": {}}}}}),
            &api,
        );
        assert_eq!(out["paths"]["/a"]["options"].get("security"), None);
        assert_eq!(out["paths"]["/a"]["get"]["security"], json!([{"Cog": []}]));
        assert!(out["components"]["securitySchemes"]["Cog"].is_object());
    }
}
