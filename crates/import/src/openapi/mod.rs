//! The reader of an API Gateway OpenAPI 3 or Swagger 2 definition (an export, or a
//! template's `Body`): each operation of `paths` a method, requiring what its `security`
//! or the document's says ([`security`]) of the document's security schemes ([`schemes`]);
//! docs/import.md has the table.

mod schemes;
mod security;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::Value;

use super::api::{Access, Api, Method};
use super::intrinsic::{Resolve, shape};
use super::report::NoteKind;
use super::text::Text;
use schemes::{Scheme, read_scheme};
use security::{Security, operation_access};

/// Operation keys of a path item, and the method each stands for.
const OPERATIONS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// Reads an OpenAPI/Swagger document; `at` prefixes every place named in notes.
pub(crate) fn read(doc: &Value, resolve: &dyn Resolve, at: &str) -> Api {
    let mut api = Api::default();
    let swagger = doc.get("swagger").is_some();
    let (schemes_at, schemes) = if swagger {
        ("securityDefinitions", doc.get("securityDefinitions"))
    } else {
        (
            "components.securitySchemes",
            doc.get("components").and_then(|c| c.get("securitySchemes")),
        )
    };
    let mut by_name: HashMap<String, Scheme> = HashMap::new();
    for (name, scheme) in schemes.and_then(Value::as_object).into_iter().flatten() {
        let place = format!("{at}{schemes_at}.{name}");
        let kind = read_scheme(&mut api, name, scheme, resolve, &place);
        by_name.insert(name.clone(), kind);
    }
    base_path_note(&mut api, doc, swagger, at);

    let root = Security::of(doc.as_object(), &ROOT_FIELDS);
    // API Gateway answers CORS preflights itself for every path of an API with
    // `x-amazon-apigateway-cors`; a path's own `options` operation says more.
    let cors = doc.get("x-amazon-apigateway-cors").map(|c| match c {
        Value::Object(_) => Access::Public,
        other => Access::Unreadable(format!(
            "`x-amazon-apigateway-cors` is {}, not a map of CORS settings",
            shape(other)
        )),
    });
    let paths = match doc.get("paths") {
        None => None,
        Some(Value::Object(paths)) => Some(paths),
        Some(other) => {
            api.note(
                NoteKind::Unreadable,
                format!("{at}paths"),
                format!(
                    "`paths` is {}, not a map of paths; no method is read (default deny applies)",
                    shape(other)
                ),
            );
            None
        }
    };
    for (path, item) in paths.into_iter().flatten() {
        let item_at = format!("{at}paths.{path}");
        let Some(item) = item.as_object() else {
            // The path is known, its methods are not: deny them all, so that no broader
            // route answers for them.
            api.methods.push(Method {
                at: item_at,
                name: format!("ANY {path}"),
                path: Text::known(path.as_str()),
                method: Text::known("ANY"),
                access: Access::Unreadable(format!(
                    "the path's entry is {}, not a path item (a map of operations)",
                    shape(item)
                )),
                unenforced_extras: vec![],
                preflight: false,
                api: String::new(),
            });
            continue;
        };
        if let Some(access) = &cors
            && !item.keys().any(|k| k.eq_ignore_ascii_case("options"))
        {
            api.methods.push(Method {
                at: format!("{at}x-amazon-apigateway-cors"),
                name: String::new(),
                path: Text::known(path.as_str()),
                method: Text::known("OPTIONS"),
                access: access.clone(),
                unenforced_extras: vec![],
                preflight: true,
                api: String::new(),
            });
        }
        if item.contains_key("$ref") {
            api.note(
                NoteKind::NotTranslated,
                &item_at,
                "$ref path items are not followed; its methods are left out (default deny applies)",
            );
        }
        for (key, operation) in item {
            let op_at = format!("{item_at}.{key}");
            let Some(&(_, method)) = OPERATIONS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
            else {
                if key.eq_ignore_ascii_case("trace") {
                    api.note(
                        NoteKind::NotTranslated,
                        &op_at,
                        "API Gateway has no TRACE methods; left out (default deny applies)",
                    );
                }
                continue;
            };
            let name = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map_or_else(|| format!("{method} {path}"), str::to_owned);
            let (access, extras) = match operation.as_object() {
                None => (
                    Access::Unreadable(format!(
                        "the operation is {}, not an operation (a map with `security`)",
                        shape(operation)
                    )),
                    vec![],
                ),
                Some(op) => operation_access(&by_name, op, &root, resolve),
            };
            let preflight = method == "OPTIONS"
                && matches!(access, Access::Public)
                && operation
                    .get("x-amazon-apigateway-integration")
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.eq_ignore_ascii_case("mock"));
            api.methods.push(Method {
                at: op_at,
                name,
                path: Text::known(path.as_str()),
                method: Text::known(method),
                access,
                unenforced_extras: extras,
                preflight,
                api: String::new(),
            });
        }
    }
    api
}

/// Fields OpenAPI 3 (3.0 and 3.1) and Swagger 2 define at the top level of a document.
const ROOT_FIELDS: [&str; 20] = [
    "openapi",
    "swagger",
    "info",
    "jsonSchemaDialect",
    "servers",
    "paths",
    "webhooks",
    "components",
    "security",
    "tags",
    "externalDocs",
    "host",
    "basePath",
    "schemes",
    "consumes",
    "produces",
    "definitions",
    "parameters",
    "responses",
    "securityDefinitions",
];

/// Swagger's `basePath` and OpenAPI's `servers` paths (the stage, in an export) are not part
/// of the resource paths; requests reaching Envoy may or may not carry them.
fn base_path_note(api: &mut Api, doc: &Value, swagger: bool, at: &str) {
    let mut bases: Vec<String> = Vec::new();
    if swagger {
        if let Some(b) = doc.get("basePath").and_then(Value::as_str) {
            bases.push(b.to_owned());
        }
    } else {
        for server in doc
            .get("servers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(url) = server.get("url").and_then(Value::as_str) else {
                continue;
            };
            let mut path = url
                .split_once("://")
                .map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]))
                .to_owned();
            for (name, var) in server
                .get("variables")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(default) = var.get("default").and_then(Value::as_str) {
                    path = path.replace(&format!("{{{name}}}"), default);
                }
            }
            bases.push(path);
        }
    }
    for base in bases {
        let base = base.trim_end_matches('/');
        if !base.is_empty() {
            api.note(
                NoteKind::Changed,
                format!("{at}{}", if swagger { "basePath" } else { "servers" }),
                format!(
                    "routes are written without the base path {base:?} (API Gateway's stage or base path mapping); if requests reach Envoy with it, prefix the route paths with it"
                ),
            );
        }
    }
}
