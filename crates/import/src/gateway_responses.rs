//! Gateway responses: the policy's `gatewayResponses` from every place a source states
//! them, read on their own (they change answers, never who is let through).
//!
//! Read from `AWS::ApiGateway::GatewayResponse` resources (CloudFormation, CDK output and
//! Serverless `resources`), SAM's `GatewayResponses` of an `AWS::Serverless::Api` (and
//! `Globals.Api`), and `x-amazon-apigateway-gateway-responses` (an OpenAPI export, or a
//! template's inline `Body`/`DefinitionBody`). What the policy can state is translated one
//! to one: the status, each header whose value is a static `'quoted'` string, and the
//! `application/json` template when it is static JSON but for
//! `$context.error.messageString`. Everything else is a note and left out: a header filled
//! from the request (`method.request.header.origin`), a template with other variables, a
//! type this service never answers with, a value only deployment knows. A type left
//! configured but empty still counts: as in API Gateway, it no longer falls back to
//! `DEFAULT_4XX`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Format;
use super::intrinsic::{Plain, Resolve, Template, shape};
use super::report::{Note, NoteKind};
use cognito_ext_authz_core::decision::MESSAGES;
use cognito_ext_authz_core::policy::model::PolicyFile;
use cognito_ext_authz_core::policy::responses::{
    GatewayResponseConfig, MAX_HEADERS, ResponseType, header_refusal, render_body, status_refusal,
    type_refusal,
};

const OPENAPI_KEY: &str = "x-amazon-apigateway-gateway-responses";
const HEADER_PREFIX: &str = "gatewayresponse.header.";

/// One gateway response as a source states it, in API Gateway's own model.
struct Stated<'a> {
    /// The API it belongs to (its logical id, or a description).
    api: String,
    at: String,
    /// The response type, as written (a key, or a resource's `ResponseType`).
    kind: Value,
    status: Option<&'a Value>,
    /// `gatewayresponse.header.NAME` (and other) keys, with their values.
    parameters: Vec<(String, &'a Value)>,
    templates: Option<&'a Value>,
}

/// The gateway responses of `doc` for `policy` (whose token headers they may not set), and
/// the notes on what could not be translated.
pub(crate) fn read(
    doc: &Value,
    format: Format,
    policy: &PolicyFile,
) -> (BTreeMap<String, GatewayResponseConfig>, Vec<Note>) {
    let mut notes = Vec::new();
    let reserved: Vec<String> = policy
        .authorizers
        .values()
        .map(|a| a.token_source.header.to_ascii_lowercase())
        .chain([policy.token_source.header.to_ascii_lowercase()])
        .collect();
    let translated = match format {
        Format::OpenApi => {
            let stated = openapi_responses(doc, "the API", "", &mut notes);
            translate(stated, &Plain, &reserved, &mut notes)
        }
        Format::CloudFormation => {
            let t = Template::new(doc);
            let stated = template_responses(doc, &t, "Resources", &mut notes);
            translate(stated, &t, &reserved, &mut notes)
        }
        Format::Serverless => super::serverless::with_resources(doc, |t, resolve| {
            let stated = template_responses(&Value::Null, t, "resources.Resources", &mut notes);
            translate(stated, resolve, &reserved, &mut notes)
        }),
    };
    (translated, notes)
}

/// `x-amazon-apigateway-gateway-responses` of an OpenAPI document.
fn openapi_responses<'a>(
    doc: &'a Value,
    api: &str,
    at: &str,
    notes: &mut Vec<Note>,
) -> Vec<Stated<'a>> {
    let Some(responses) = doc.get(OPENAPI_KEY) else {
        return Vec::new();
    };
    let at = format!("{at}{OPENAPI_KEY}");
    let Some(responses) = responses.as_object() else {
        notes.push(unreadable(&at, responses));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (kind, response) in responses {
        let at = format!("{at}.{kind}");
        let Some(r) = response.as_object() else {
            notes.push(unreadable(&at, response));
            continue;
        };
        let parameters = parameters(r.get("responseParameters"), &at, notes);
        out.push(Stated {
            api: api.to_owned(),
            kind: Value::String(kind.clone()),
            at,
            status: r.get("statusCode"),
            parameters,
            templates: r.get("responseTemplates"),
        });
    }
    out
}

/// Every gateway response of a CloudFormation template (or Serverless `resources`):
/// `AWS::ApiGateway::GatewayResponse` resources, SAM `GatewayResponses` (with
/// `Globals.Api`'s), and the inline OpenAPI bodies' extension.
fn template_responses<'a>(
    doc: &'a Value,
    t: &Template<'a>,
    place: &str,
    notes: &mut Vec<Note>,
) -> Vec<Stated<'a>> {
    let mut out = Vec::new();
    let globals = doc.pointer("/Globals/Api/GatewayResponses");
    let mut implicit_api = false;
    for (id, resource) in t.resources() {
        let at = format!("{place}.{id}");
        let props = resource.get("Properties").unwrap_or(&Value::Null);
        match resource.get("Type").and_then(Value::as_str).unwrap_or("") {
            "AWS::ApiGateway::GatewayResponse" => {
                let Some(p) = props.as_object() else {
                    notes.push(unreadable(&format!("{at}.Properties"), props));
                    continue;
                };
                let parameters = parameters(p.get("ResponseParameters"), &at, notes);
                out.push(Stated {
                    api: api_of(p.get("RestApiId")),
                    at,
                    kind: p.get("ResponseType").cloned().unwrap_or(Value::Null),
                    status: p.get("StatusCode"),
                    parameters,
                    templates: p.get("ResponseTemplates"),
                });
            }
            "AWS::ApiGateway::RestApi" => {
                if let Some(body) = props.get("Body") {
                    out.extend(openapi_responses(
                        body,
                        id,
                        &format!("{at}.Properties.Body."),
                        notes,
                    ));
                }
            }
            "AWS::Serverless::Api" => {
                if let Some(body) = props.get("DefinitionBody") {
                    let at = format!("{at}.Properties.DefinitionBody.");
                    out.extend(openapi_responses(body, id, &at, notes));
                }
                let own = props.get("GatewayResponses");
                sam_responses(id, own, globals, &at, notes, &mut out);
            }
            "AWS::Serverless::Function" => {
                let events = props.get("Events").and_then(Value::as_object);
                implicit_api |= events.into_iter().flatten().any(|(_, e)| {
                    e.get("Type").and_then(Value::as_str) == Some("Api")
                        && e.pointer("/Properties/RestApiId").is_none()
                });
            }
            _ => {}
        }
    }
    if implicit_api {
        sam_responses(
            "ServerlessRestApi",
            None,
            globals,
            "the implicit API",
            notes,
            &mut out,
        );
    }
    out
}

/// SAM's `GatewayResponses`: `Globals.Api`'s, each type replaced by the API's own.
fn sam_responses<'a>(
    api: &str,
    own: Option<&'a Value>,
    globals: Option<&'a Value>,
    at: &str,
    notes: &mut Vec<Note>,
    out: &mut Vec<Stated<'a>>,
) {
    let mut merged: BTreeMap<&'a str, (String, &'a Value)> = BTreeMap::new();
    for (source, place) in [
        (globals, "Globals.Api.GatewayResponses".to_owned()),
        (own, format!("{at}.Properties.GatewayResponses")),
    ] {
        let Some(source) = source else { continue };
        let Some(map) = source.as_object() else {
            notes.push(unreadable(&place, source));
            continue;
        };
        for (kind, response) in map {
            merged.insert(kind, (format!("{place}.{kind}"), response));
        }
    }
    for (kind, (at, response)) in merged {
        let Some(r) = response.as_object() else {
            notes.push(unreadable(&at, response));
            continue;
        };
        // SAM's `ResponseParameters: {Headers, Paths, QueryStrings}` become
        // `gatewayresponse.header.NAME`, `.path.NAME`, `.querystring.NAME`.
        let mut parameters = Vec::new();
        if let Some(p) = r.get("ResponseParameters") {
            match p.as_object() {
                None => notes.push(unreadable(&format!("{at}.ResponseParameters"), p)),
                Some(p) => {
                    for (group, prefix) in [
                        ("Headers", "header"),
                        ("Paths", "path"),
                        ("QueryStrings", "querystring"),
                    ] {
                        match p.get(group).map(|g| (g, g.as_object())) {
                            None => {}
                            Some((g, None)) => notes
                                .push(unreadable(&format!("{at}.ResponseParameters.{group}"), g)),
                            Some((_, Some(map))) => parameters.extend(
                                map.iter()
                                    .map(|(k, v)| (format!("gatewayresponse.{prefix}.{k}"), v)),
                            ),
                        }
                    }
                }
            }
        }
        out.push(Stated {
            api: api.to_owned(),
            kind: Value::String(kind.to_owned()),
            at,
            status: r.get("StatusCode"),
            parameters,
            templates: r.get("ResponseTemplates"),
        });
    }
}

/// The API a `RestApiId` names: the logical id of a `Ref`, or the value as written.
fn api_of(id: Option<&Value>) -> String {
    match id {
        Some(Value::Object(o)) if o.get("Ref").and_then(Value::as_str).is_some() => {
            o["Ref"].as_str().unwrap_or_default().to_owned()
        }
        Some(other) => other.to_string(),
        None => "(no RestApiId)".to_owned(),
    }
}

/// A `responseParameters` map's entries (a note when it is not a map).
fn parameters<'a>(
    value: Option<&'a Value>,
    at: &str,
    notes: &mut Vec<Note>,
) -> Vec<(String, &'a Value)> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Some(other) => {
            notes.push(unreadable(&format!("{at}.responseParameters"), other));
            Vec::new()
        }
    }
}

fn unreadable(at: &str, value: &Value) -> Note {
    Note::new(
        NoteKind::Unreadable,
        at,
        format!(
            "gateway response settings are {}, not a map; not translated (API Gateway's default answers stand)",
            shape(value)
        ),
    )
}

/// Each stated response translated; a type stated differently for two APIs (or twice for
/// one) is left out, since one policy answers for every API of the source.
fn translate(
    stated: Vec<Stated<'_>>,
    r: &dyn Resolve,
    reserved: &[String],
    notes: &mut Vec<Note>,
) -> BTreeMap<String, GatewayResponseConfig> {
    let mut by_type: BTreeMap<String, Vec<(String, String, GatewayResponseConfig)>> =
        BTreeMap::new();
    for s in stated {
        let Some(kind) = r.text(&s.kind).as_known() else {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &s.at,
                format!(
                    "the response type depends on {}; not translated",
                    r.text(&s.kind).unknowns().join(", ")
                ),
            ));
            continue;
        };
        let kind = kind.trim().to_owned();
        if let Some(refusal) = type_refusal(&kind) {
            notes.push(Note::new(
                NoteKind::NotTranslated,
                &s.at,
                format!("{refusal}; not translated"),
            ));
            continue;
        }
        if ResponseType::parse(&kind) == Some(ResponseType::ExpiredToken) {
            notes.push(Note::new(
                NoteKind::NotTranslated,
                &s.at,
                "EXPIRED_TOKEN: API Gateway gives it for expired AWS credentials (IAM), never for a Cognito token (an expired one is UNAUTHORIZED, here as there); not translated",
            ));
            continue;
        }
        let config = translate_one(&s, r, reserved, notes);
        by_type.entry(kind).or_default().push((s.api, s.at, config));
    }
    let mut out = BTreeMap::new();
    for (kind, stated) in by_type {
        let (first_api, first_at, first) = &stated[0];
        if let Some((api, at, _)) = stated[1..].iter().find(|(_, _, c)| c != first) {
            notes.push(Note::new(
                NoteKind::Changed,
                at,
                format!(
                    "{kind} differs from the one at {first_at}{}; one policy answers for every API, so it is left out (API Gateway's default answer stands): write the one you want in gatewayResponses",
                    if api == first_api { String::new() } else { format!(" (API {first_api}, this is API {api})") }
                ),
            ));
            continue;
        }
        // The same response stated for several APIs (or twice) is one entry.
        out.insert(kind, first.clone());
    }
    out
}

/// One response's status, static headers and JSON body; the rest is a note.
fn translate_one(
    s: &Stated<'_>,
    r: &dyn Resolve,
    reserved: &[String],
    notes: &mut Vec<Note>,
) -> GatewayResponseConfig {
    let mut config = GatewayResponseConfig::default();
    let mut note = |kind, at: String, message: String| notes.push(Note::new(kind, at, message));
    if let Some(v) = s.status.filter(|v| !v.is_null()) {
        let text = r.text(v);
        match text.as_known().map(|t| t.trim().parse::<u16>()) {
            None => note(
                NoteKind::Unresolved,
                format!("{}.statusCode", s.at),
                format!(
                    "the status depends on {}; left out (the default status answers)",
                    text.unknowns().join(", ")
                ),
            ),
            Some(Ok(status)) => match status_refusal(status) {
                None => config.status_code = Some(status),
                Some(refusal) => note(
                    NoteKind::Changed,
                    format!("{}.statusCode", s.at),
                    format!("{refusal}; left out (the default status answers)"),
                ),
            },
            Some(Err(_)) => note(
                NoteKind::Unreadable,
                format!("{}.statusCode", s.at),
                format!("{} is not a status code; left out", shape(v)),
            ),
        }
    }
    for (key, value) in &s.parameters {
        let at = format!("{}.responseParameters.{key}", s.at);
        let Some(name) = key.strip_prefix(HEADER_PREFIX) else {
            note(
                NoteKind::NotTranslated,
                at,
                "only response headers (gatewayresponse.header.NAME) are answers' parts; not translated".to_owned(),
            );
            continue;
        };
        let raw = match known(
            r,
            value,
            &at,
            &format!("header {name}"),
            "left out until you write it in gatewayResponses",
        ) {
            Ok(raw) => raw,
            Err(Note { kind, at, message }) => {
                note(kind, at, message);
                continue;
            }
        };
        let raw = raw.trim();
        let Some(static_value) = raw
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .filter(|_| raw.len() >= 2)
        else {
            note(
                NoteKind::Changed,
                at,
                format!(
                    "header {name} is {raw:?}, which API Gateway fills from each request; only static values ('quoted') can be stated here, so it is left out"
                ),
            );
            continue;
        };
        if let Some(refusal) = header_refusal(name, static_value, reserved) {
            note(NoteKind::Changed, at, format!("{refusal}; left out"));
            continue;
        }
        let folded = |h: &str| h.trim().to_ascii_lowercase().replace('_', "-");
        if config.headers.keys().any(|k| folded(k) == folded(name)) {
            note(
                NoteKind::Unreadable,
                at,
                format!("header {name} is stated twice; the first is kept"),
            );
            continue;
        }
        if config.headers.len() == MAX_HEADERS {
            note(
                NoteKind::Changed,
                at,
                format!("more than {MAX_HEADERS} headers; header {name} is left out"),
            );
            continue;
        }
        config
            .headers
            .insert(name.to_owned(), static_value.to_owned());
    }
    match s.templates.filter(|v| !v.is_null()) {
        None => {}
        Some(Value::Object(templates)) => translate_templates(s, templates, r, &mut config, notes),
        Some(other) => notes.push(unreadable(&format!("{}.responseTemplates", s.at), other)),
    }
    config
}

/// The text of `value` when it is known; else the note that `what` depends on what only
/// deployment knows and is `left_out`.
fn known(
    r: &dyn Resolve,
    value: &Value,
    at: &str,
    what: &str,
    left_out: &str,
) -> Result<String, Note> {
    let text = r.text(value);
    text.as_known().ok_or_else(|| {
        Note::new(
            NoteKind::Unresolved,
            at,
            format!(
                "{what} depends on {}; {left_out}",
                text.unknowns().join(", ")
            ),
        )
    })
}

fn translate_templates(
    s: &Stated<'_>,
    templates: &Map<String, Value>,
    r: &dyn Resolve,
    config: &mut GatewayResponseConfig,
    notes: &mut Vec<Note>,
) {
    for (content_type, template) in templates {
        let at = format!("{}.responseTemplates.{content_type}", s.at);
        if !content_type.trim().eq_ignore_ascii_case("application/json") {
            notes.push(Note::new(
                NoteKind::NotTranslated,
                at,
                "this service's answers are application/json; a template for another type is not translated",
            ));
            continue;
        }
        let body = match known(
            r,
            template,
            &at,
            "the body",
            "left out (the default body answers)",
        ) {
            Ok(body) => body,
            Err(unresolved) => {
                notes.push(unresolved);
                continue;
            }
        };
        match MESSAGES
            .iter()
            .map(|m| render_body(&body, m))
            .find(Result::is_err)
        {
            Some(Err(why)) => notes.push(Note::new(
                NoteKind::Changed,
                at,
                format!("{why}; the body is left out (the default body answers)"),
            )),
            _ => config.body = Some(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read_cfn(doc: Value) -> (BTreeMap<String, GatewayResponseConfig>, Vec<Note>) {
        let policy: PolicyFile = serde_saphyr::from_str("routes: []\n").unwrap();
        read(&doc, Format::CloudFormation, &policy)
    }

    fn response(api: &str, kind: &str, origin: &str) -> Value {
        json!({"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {
            "RestApiId": {"Ref": api}, "ResponseType": kind,
            "ResponseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": origin}}})
    }

    #[test]
    fn a_type_two_apis_state_differently_is_left_out_with_a_note() {
        let (out, notes) = read_cfn(json!({"Resources": {
            "A4xx": response("ApiA", "DEFAULT_4XX", "'https://a.example.com'"),
            "B4xx": response("ApiB", "DEFAULT_4XX", "'https://b.example.com'"),
            "AUnauth": response("ApiA", "UNAUTHORIZED", "'*'"),
            "BUnauth": response("ApiB", "UNAUTHORIZED", "'*'"),
        }}));
        assert_eq!(out.keys().collect::<Vec<_>>(), ["UNAUTHORIZED"]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].kind, NoteKind::Changed);
        assert!(
            notes[0].message.contains("DEFAULT_4XX differs"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn sam_api_responses_replace_globals_type_by_type() {
        let (out, notes) = read_cfn(json!({
            "Globals": {"Api": {"GatewayResponses": {
                "DEFAULT_4XX": {"ResponseParameters": {"Headers": {"X-Global": "'g'"}}},
                "UNAUTHORIZED": {"StatusCode": "401", "ResponseParameters": {"Headers": {"X-Global": "'g'"}}},
            }}},
            "Resources": {"Api": {"Type": "AWS::Serverless::Api", "Properties": {
                "GatewayResponses": {"UNAUTHORIZED": {"ResponseParameters": {"Headers": {"X-Own": "'o'"}}}},
            }}},
        }));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(out["DEFAULT_4XX"].headers["X-Global"], "g");
        let unauthorized = &out["UNAUTHORIZED"];
        assert_eq!(unauthorized.status_code, None);
        assert_eq!(unauthorized.headers.keys().collect::<Vec<_>>(), ["X-Own"]);
    }

    #[test]
    fn shapes_that_cannot_be_read_are_notes_never_guesses() {
        let (out, notes) = read_cfn(json!({"Resources": {
            "R": {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {
                "RestApiId": {"Ref": "Api"}, "ResponseType": "DEFAULT_4XX",
                "StatusCode": "four hundred",
                "ResponseParameters": ["gatewayresponse.header.X"],
                "ResponseTemplates": "{}"}},
        }}));
        // The type is still configured (it stops falling back), with nothing it could not read.
        assert_eq!(out["DEFAULT_4XX"], GatewayResponseConfig::default());
        let kinds: Vec<NoteKind> = notes.iter().map(|n| n.kind).collect();
        assert_eq!(kinds, [NoteKind::Unreadable; 3], "{notes:?}");
    }
}
