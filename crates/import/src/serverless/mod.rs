//! The reader of a Serverless Framework `serverless.yml`: the `http` events of its
//! functions (API Gateway REST methods, and the CORS preflights `cors` adds) as methods of
//! an [`Api`], with their authorizers ([`authorizer`]) and `${...}` variables
//! ([`variables`]) read as Serverless deploys them; docs/import.md has the table.

mod authorizer;
#[cfg(test)]
mod tests;
mod variables;

use std::collections::HashSet;

use serde_json::Value;

use super::api::{Access, Api, Method, with_api_key};
use super::intrinsic::{Resolve, Template, shape};
use super::report::NoteKind;
use super::text::Text;
use authorizer::authorizer;
use variables::Serverless;

/// Reads a `serverless.yml`.
pub(crate) fn read(doc: &Value) -> Api {
    let mut api = Api::default();
    let resources = resources(doc, &mut api);
    let sls = Serverless::new(doc, &resources);
    let functions: Vec<(&String, &Value)> = match doc.get("functions") {
        Some(Value::Object(map)) => map.iter().collect(),
        // Older files list functions as a sequence of one-entry maps.
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter())
            .collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            api.note(
                NoteKind::Unresolved,
                "functions",
                format!(
                    "the functions are {}, not in this file; import a file with them inline",
                    sls.text(other)
                ),
            );
            Vec::new()
        }
    };
    let mut preflight_paths: HashSet<String> = HashSet::new();
    for (name, function) in functions {
        let events = match function.get("events").map(|e| sls.value(e)) {
            None => continue,
            Some(events) => events,
        };
        let Value::Array(events) = events.as_ref() else {
            api.note(
                NoteKind::Unresolved,
                format!("functions.{name}.events"),
                format!(
                    "the events are {}, not a list in this file; the function's methods are left out (default deny applies)",
                    sls.text(&events)
                ),
            );
            continue;
        };
        for (i, event) in events.iter().enumerate() {
            let at = format!("functions.{name}.events[{i}]");
            if let Some(http) = event.get("http") {
                let (method, preflight) = http_event(
                    &sls,
                    &mut api,
                    name,
                    &sls.value(http),
                    &format!("{at}.http"),
                );
                api.methods.push(method);
                // Serverless adds one preflight method per path, whatever number of
                // events on it have `cors`.
                if let Some(preflight) = preflight {
                    let public = matches!(preflight.access, Access::Public);
                    let key = preflight.path.as_known();
                    let first = match (&key, public) {
                        (Some(path), true) => preflight_paths.insert(path.clone()),
                        _ => true,
                    };
                    if first {
                        api.methods.push(preflight);
                    }
                }
            }
            for (kind, what) in [
                ("httpApi", "an HTTP API event (JWT authorizers)"),
                ("websocket", "a WebSocket API event"),
                ("alb", "an Application Load Balancer event"),
            ] {
                if event.get(kind).is_some() {
                    api.note(
                        NoteKind::NotTranslated,
                        format!("{at}.{kind}"),
                        format!("{what} is not a REST API method; not translated"),
                    );
                }
            }
        }
    }
    api
}

/// `read` given `doc`'s `resources` as a CloudFormation template and the resolver of its
/// values (`${self:}` variables, intrinsics): for readers of other parts of `resources`
/// (gateway responses). Notes on `resources` itself are [`read`]'s.
pub(crate) fn with_resources<T>(doc: &Value, read: impl FnOnce(&Template, &dyn Resolve) -> T) -> T {
    let resources = resources(doc, &mut Api::default());
    let sls = Serverless::new(doc, &resources);
    read(&Template::new(&resources), &sls)
}

/// The CloudFormation of `resources`: one fragment, or a list of them that Serverless
/// merges (entries kept in another file are reported).
fn resources(doc: &Value, api: &mut Api) -> Value {
    let mut merged = serde_json::Map::new();
    let fragments: Vec<&Value> = match doc.get("resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
    };
    for (i, fragment) in fragments.into_iter().enumerate() {
        let Some(fragment) = fragment.as_object() else {
            api.note(
                NoteKind::NotTranslated,
                format!("resources[{i}]"),
                format!("{fragment} is kept in another file and not read; authorizers defined there are unknown"),
            );
            continue;
        };
        for (section, entries) in fragment {
            match (merged.get_mut(section), entries) {
                (Some(Value::Object(into)), Value::Object(from)) => {
                    into.extend(from.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                _ => {
                    merged.insert(section.clone(), entries.clone());
                }
            }
        }
    }
    Value::Object(merged)
}

/// The method of an `http` event, and the CORS preflight method its `cors` adds.
fn http_event(
    sls: &Serverless,
    api: &mut Api,
    function: &str,
    http: &Value,
    at: &str,
) -> (Method, Option<Method>) {
    let mut preflight = None;
    let (verb, path, access, extras) = match http {
        Value::String(_) => {
            let text = sls.text(http);
            // Serverless splits the string on single spaces and takes the first two
            // fields: `GET  /x` (two spaces) is `GET` on the root, `POST /x extra` is
            // `POST /x`; with fewer than two fields it deploys nothing.
            let (verb, path) = match text.first_two_fields() {
                Some((verb, path)) => (Text::known(verb), path),
                None => {
                    let what =
                        Text::unknown(format!("the http event {text}, which is not 'METHOD PATH'"));
                    (what.clone(), what)
                }
            };
            (verb, path, Access::Public, Vec::new())
        }
        Value::Object(def) => {
            // A path or method is a string (a number is a path segment as YAML reads
            // `path: 2024`); anything else is no path at all, not its JSON text.
            let field = |k: &str| {
                def.get(k).map(|v| match sls.value(v).as_ref() {
                    v @ (Value::String(_) | Value::Number(_)) => sls.text(v),
                    v if sls.is_expression(v) => sls.text(v),
                    other => {
                        Text::unknown(format!("`{k}` {}, which is not a string", shape(other)))
                    }
                })
            };
            let verb =
                field("method").unwrap_or_else(|| Text::unknown("a method (the event has none)"));
            let path =
                field("path").unwrap_or_else(|| Text::unknown("a path (the event has none)"));
            let access = match def.get("authorizer") {
                // No authorizer: public, as Serverless reads it, unless a key it does not
                // define (`GatewayAuthorizer:`, `authoriser:`) may be one misspelt.
                None => {
                    let unknown: Vec<String> = def
                        .keys()
                        .filter(|k| !HTTP_EVENT_FIELDS.contains(&k.as_str()))
                        .map(|k| format!("{k:?}"))
                        .collect();
                    if unknown.is_empty() {
                        Access::Public
                    } else {
                        Access::Unreadable(format!(
                            "the event has no `authorizer` but the key(s) {} that Serverless does not define for http events (a misspelt `authorizer`?)",
                            unknown.join(", ")
                        ))
                    }
                }
                Some(a) => authorizer(sls, api, &sls.value(a), at, function),
            };
            let (access, extras) = match def.get("private") {
                None => (access, Vec::new()),
                Some(p) => with_api_key(access, &sls.flag(&sls.value(p)), "private"),
            };
            if let Some(cors) = def.get("cors") {
                preflight = cors_preflight(sls, &sls.value(cors), &path, &format!("{at}.cors"));
            }
            (verb, path, access, extras)
        }
        other => (
            Text::unknown(format!("an http event of the form {other}")),
            Text::unknown(format!("an http event of the form {other}")),
            Access::Unknown("an unreadable http event".to_owned()),
            Vec::new(),
        ),
    };
    let method = Method {
        at: at.to_owned(),
        name: function.to_owned(),
        path: absolute(path),
        method: verb,
        access,
        unenforced_extras: extras,
        preflight: false,
        api: String::new(),
    };
    (method, preflight)
}

/// The OPTIONS method Serverless adds for `cors` on an http event: `true` or a map of
/// settings is a MOCK method API Gateway answers without authorization (so the preflight
/// needs no token); `false` is none. Any other value (a string, a number, a variable only
/// deployment resolves) does not say for certain: that OPTIONS method is denied, never
/// opened on a guess.
fn cors_preflight(sls: &Serverless, cors: &Value, path: &Text, at: &str) -> Option<Method> {
    let access = match cors {
        Value::Bool(false) | Value::Null => return None,
        Value::Bool(true) | Value::Object(_) => Access::Public,
        v if sls.is_expression(v) => {
            let text = sls.text(v);
            Access::Unknown(format!(
                "whether `cors` is on ({})",
                text.unknowns().join(", ")
            ))
        }
        other => Access::Unreadable(format!(
            "`cors` is {}, not true, false or a map of CORS settings",
            shape(other)
        )),
    };
    Some(Method {
        at: at.to_owned(),
        // No name of its own: the policy's default, `OPTIONS /path`.
        name: String::new(),
        path: absolute(path.clone()),
        method: Text::known("OPTIONS"),
        access,
        unenforced_extras: Vec::new(),
        preflight: true,
        api: String::new(),
    })
}

/// The keys Serverless defines for an `http` event (and `documentation`, which the
/// documentation plugins add): any other key on an event without `authorizer` may be a
/// misspelt one.
const HTTP_EVENT_FIELDS: [&str; 13] = [
    "path",
    "method",
    "authorizer",
    "cors",
    "private",
    "integration",
    "request",
    "response",
    "async",
    "operationId",
    "connectionId",
    "connectionType",
    "documentation",
];

/// Serverless paths have no leading slash (`my_path`, `users/{id}`); an empty one is `/`.
/// Serverless drops one leading and one trailing slash (`/restaurants/` is the resource
/// `/restaurants`), and nothing else.
fn absolute(path: Text) -> Text {
    let mut t = Text::known("/");
    t.push(path.strip_once('/'));
    t
}
