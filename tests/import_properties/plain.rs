//! What a source plainly says: the methods it states public or scope-less, per format.

use super::*;

pub(crate) fn method_name(v: &Value) -> Option<String> {
    let m = v.as_str()?.trim().to_ascii_uppercase();
    Some(if m == "*" { "ANY".to_owned() } else { m })
}

pub(crate) fn policy_path(p: &str) -> Option<String> {
    PathTemplate::parse(p).ok().map(|t| t.to_string())
}

impl Plain {
    /// A method at the source path `path`, whose route the reference can tell.
    fn at(method: String, path: &str, public: bool, scope_less: bool) -> Plain {
        Plain {
            method,
            path: policy_path(path),
            name: String::new(),
            public,
            scope_less,
        }
    }
}

/// `a` is `b` misspelt: the same but for case, or two edits apart.
pub(crate) fn looks_like(a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    let (a, b): (Vec<char>, Vec<char>) = (
        a.to_lowercase().chars().collect(),
        b.to_lowercase().chars().collect(),
    );
    // Levenshtein distance, small strings only.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = row;
    }
    prev[b.len()] <= 2
}

pub(crate) fn misspelt(map: &Map<String, Value>, field: &str) -> bool {
    map.keys().any(|k| looks_like(k, field))
}

pub(crate) fn is_false(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

pub(crate) fn empty_list(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Array(a)) if a.is_empty())
}

pub(crate) fn openapi(doc: &Value, out: &mut Vec<Plain>) {
    let Some(root) = doc.as_object() else { return };
    let schemes = if root.contains_key("swagger") {
        root.get("securityDefinitions")
    } else {
        root.get("components")
            .and_then(|c| c.get("securitySchemes"))
    };
    let cognito = |name: &str| {
        schemes
            .and_then(|s| s.get(name))
            .and_then(|s| s.get("x-amazon-apigateway-authorizer"))
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("cognito_user_pools"))
    };
    let Some(paths) = root.get("paths").and_then(Value::as_object) else {
        return;
    };
    // `x-amazon-apigateway-cors`: API Gateway answers the preflight of every path that
    // does not define its own OPTIONS operation.
    let cors = root
        .get("x-amazon-apigateway-cors")
        .is_some_and(Value::is_object);
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        if cors && !item.keys().any(|k| k.eq_ignore_ascii_case("options")) {
            out.push(Plain::at("OPTIONS".to_owned(), path, true, false));
        }
        for (key, op) in item {
            let method = match key.to_ascii_lowercase().as_str() {
                "get" | "put" | "post" | "delete" | "options" | "head" | "patch" => {
                    key.to_ascii_uppercase()
                }
                "x-amazon-apigateway-any-method" => "ANY".to_owned(),
                _ => continue,
            };
            let Some(op) = op.as_object() else { continue };
            let legacy_ok = match op.get("x-amazon-apigateway-auth") {
                None => true,
                Some(a) => a
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("none")),
            };
            let security = op.get("security").or_else(|| root.get("security"));
            // `{NONE: []}` is SAM's marker for a method without authorization (`Authorizer:
            // NONE`), which stays in the bodies the translator deploys: no requirement,
            // unless the document defines a scheme of that name.
            let none_marker = |r: &Map<String, Value>| {
                r.len() == 1
                    && r.get("NONE")
                        .is_some_and(|s| s.as_array().is_some_and(Vec::is_empty))
                    && schemes.and_then(|s| s.get("NONE")).is_none()
            };
            let public = legacy_ok
                && match security {
                    Some(Value::Array(reqs)) => reqs.iter().all(|r| {
                        r.as_object()
                            .is_some_and(|r| r.is_empty() || none_marker(r))
                    }),
                    Some(_) => false,
                    None => !misspelt(op, "security") && !misspelt(root, "security"),
                };
            let scope_less = legacy_ok
                && match security {
                    Some(Value::Array(reqs)) => reqs.iter().any(|r| {
                        r.as_object().is_some_and(|r| {
                            r.iter()
                                .any(|(name, scopes)| cognito(name) && empty_list(Some(scopes)))
                        })
                    }),
                    _ => false,
                };
            out.push(Plain::at(method, path, public, scope_less));
        }
    }
}

/// A whole-value `${self:a.b}`, looked up the way Serverless does.
pub(crate) fn resolve_self<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(address) = v
            .as_str()
            .map(str::trim)
            .and_then(|s| s.strip_prefix("${self:"))
            .and_then(|s| s.strip_suffix('}'))
            .filter(|a| !a.contains(['$', ',', '{']))
        else {
            break;
        };
        let mut node = doc;
        for key in address.split('.').filter(|k| !k.is_empty()) {
            match node.get(key) {
                Some(next) => node = next,
                None => return v,
            }
        }
        v = node;
    }
    v
}

pub(crate) fn serverless(doc: &Value, out: &mut Vec<Plain>) {
    let functions: Vec<&Value> = match doc.get("functions") {
        Some(Value::Object(m)) => m.values().collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.values())
            .collect(),
        _ => vec![],
    };
    let text = |v: Option<&Value>| match v.map(|v| resolve_self(doc, v)) {
        Some(Value::String(s)) if !s.contains("${") => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    // An ARN may hold variables only deployment resolves: the pool is then a placeholder,
    // but the authorizer is still plainly a Cognito one.
    let cognito_arn = |v: Option<&Value>| {
        v.map(|v| resolve_self(doc, v))
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains(":cognito-idp:"))
    };
    for f in functions {
        let Some(events) = f.get("events").map(|e| resolve_self(doc, e)) else {
            continue;
        };
        for event in events.as_array().into_iter().flatten() {
            let Some(http) = event.get("http").map(|h| resolve_self(doc, h)) else {
                continue;
            };
            match http {
                Value::String(s) if !s.contains("${") => {
                    if let [verb, path] = s.split_whitespace().collect::<Vec<_>>()[..] {
                        out.push(Plain::at(
                            verb.to_ascii_uppercase(),
                            &format!("/{}", path.trim_start_matches('/')),
                            true,
                            false,
                        ));
                    }
                }
                Value::Object(def) => {
                    // `cors: true` (or a map of settings) adds the OPTIONS method API
                    // Gateway answers without authorization, whatever the event's method.
                    let cors = def.get("cors").map(|c| resolve_self(doc, c));
                    if matches!(cors, Some(Value::Bool(true) | Value::Object(_)))
                        && let Some(path) = text(def.get("path"))
                    {
                        out.push(Plain::at(
                            "OPTIONS".to_owned(),
                            &format!("/{}", path.trim().trim_start_matches('/')),
                            true,
                            false,
                        ));
                    }
                    let (Some(verb), Some(path)) = (
                        text(def.get("method")).and_then(|m| method_name(&Value::String(m))),
                        text(def.get("path")),
                    ) else {
                        continue;
                    };
                    let public = !def.contains_key("authorizer")
                        && !misspelt(def, "authorizer")
                        && is_false(def.get("private").map(|p| resolve_self(doc, p)));
                    let scope_less = match def.get("authorizer").map(|a| resolve_self(doc, a)) {
                        Some(a @ Value::String(_)) => cognito_arn(Some(a)),
                        Some(Value::Object(a)) => {
                            let kind_cognito = text(a.get("type"))
                                .is_some_and(|t| t.eq_ignore_ascii_case("cognito_user_pools"));
                            (kind_cognito || cognito_arn(a.get("arn")))
                                && (a.contains_key("arn") || a.contains_key("authorizerId"))
                                && match a.get("scopes") {
                                    None => true,
                                    Some(s) => empty_list(Some(resolve_self(doc, s))),
                                }
                        }
                        _ => false,
                    };
                    out.push(Plain::at(
                        verb,
                        &format!("/{}", path.trim().trim_start_matches('/')),
                        public,
                        scope_less,
                    ));
                }
                _ => {}
            }
        }
    }
}

pub(crate) fn merged(base: Option<&Value>, over: Option<&Value>) -> Option<Value> {
    match (base, over) {
        (Some(Value::Object(b)), Some(Value::Object(o))) => {
            let mut out = b.clone();
            for (k, v) in o {
                let m = merged(out.get(k), Some(v)).unwrap_or(Value::Null);
                out.insert(k.clone(), m);
            }
            Some(Value::Object(out))
        }
        (_, Some(o)) => Some(o.clone()),
        (b, None) => b.cloned(),
    }
}

pub(crate) fn cloudformation(doc: &Value, out: &mut Vec<Plain>) {
    let Some(resources) = doc.get("Resources").and_then(Value::as_object) else {
        return;
    };
    let kind = |id: &str| {
        resources
            .get(id)
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str)
    };
    let global_auth = doc
        .get("Globals")
        .and_then(|g| g.get("Api"))
        .and_then(|a| a.get("Auth"));
    let global_uri = doc
        .get("Globals")
        .and_then(|g| g.get("Api"))
        .and_then(|a| a.get("DefinitionUri"))
        .is_some();
    for (id, resource) in resources {
        let props = resource.get("Properties");
        let get = |k: &str| props.and_then(|p| p.get(k));
        match resource.get("Type").and_then(Value::as_str) {
            Some("AWS::ApiGateway::RestApi") => {
                if let Some(body) = get("Body") {
                    openapi(body, out);
                }
            }
            Some("AWS::Serverless::Api") => {
                if let Some(body) = get("DefinitionBody") {
                    openapi(body, out);
                }
            }
            Some("AWS::ApiGateway::Method") => {
                let Some(p) = props.and_then(Value::as_object) else {
                    continue;
                };
                let Some(method) = get("HttpMethod").and_then(method_name) else {
                    continue;
                };
                let kind = get("AuthorizationType").and_then(Value::as_str);
                let spelt = ["AuthorizationType", "AuthorizerId", "AuthorizationScopes"]
                    .iter()
                    .any(|f| misspelt(p, f));
                let public = !spelt
                    && is_false(get("ApiKeyRequired"))
                    && match kind {
                        Some(k) => k.eq_ignore_ascii_case("none"),
                        None => {
                            get("AuthorizerId").is_none() && get("AuthorizationScopes").is_none()
                        }
                    };
                let scope_less = kind.is_some_and(|k| k.eq_ignore_ascii_case("cognito_user_pools"))
                    && get("AuthorizerId").is_some()
                    && (get("AuthorizationScopes").is_none()
                        || empty_list(get("AuthorizationScopes")));
                out.push(Plain {
                    method,
                    path: None,
                    name: id.clone(),
                    public,
                    scope_less,
                });
            }
            Some("AWS::Serverless::Function") => {
                let events = get("Events").and_then(Value::as_object);
                for (_, event) in events.into_iter().flatten() {
                    if event.get("Type").and_then(Value::as_str) != Some("Api") {
                        continue;
                    }
                    let ep = event.get("Properties");
                    let eget = |k: &str| ep.and_then(|p| p.get(k));
                    let (Some(method), Some(path)) = (
                        eget("Method").and_then(method_name),
                        eget("Path").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    // The API's Auth: its own over the globals, when the template has it.
                    let api = match eget("RestApiId") {
                        None => Some(None),
                        Some(r) => r
                            .get("Ref")
                            .and_then(Value::as_str)
                            .filter(|id| kind(id) == Some("AWS::Serverless::Api"))
                            .map(|id| resources[id].get("Properties").and_then(|p| p.get("Auth"))),
                    };
                    let api_auth = api.map(|own| merged(global_auth, own));
                    // An API whose definition is in another file: SAM adds no event to it,
                    // so the template states nothing about the method.
                    let elsewhere = eget("RestApiId")
                        .and_then(|r| r.get("Ref"))
                        .and_then(Value::as_str)
                        .filter(|id| kind(id) == Some("AWS::Serverless::Api"))
                        .is_some_and(|id| {
                            let p = resources[id].get("Properties");
                            match p.and_then(|p| p.get("DefinitionBody")) {
                                Some(body) => body.get("Fn::Transform").is_some(),
                                None => {
                                    p.and_then(|p| p.get("DefinitionUri")).is_some() || global_uri
                                }
                            }
                        });
                    let event_auth = eget("Auth");
                    let chosen = event_auth.and_then(|a| a.get("Authorizer")).or_else(|| {
                        api_auth
                            .as_ref()
                            .and_then(|a| a.as_ref())
                            .and_then(|a| a.get("DefaultAuthorizer"))
                    });
                    let api_key = event_auth
                        .and_then(|a| a.get("ApiKeyRequired"))
                        .or_else(|| {
                            api_auth
                                .as_ref()
                                .and_then(|a| a.as_ref())
                                .and_then(|a| a.get("ApiKeyRequired"))
                        });
                    let auth_maps = event_auth.is_none_or(Value::is_object)
                        && api_auth
                            .as_ref()
                            .is_none_or(|a| a.as_ref().is_none_or(Value::is_object));
                    let public = !elsewhere
                        && auth_maps
                        && is_false(api_key)
                        && match chosen {
                            None => api_auth.is_some(),
                            Some(c) => c.as_str() == Some("NONE"),
                        };
                    let def = chosen.and_then(Value::as_str).and_then(|name| {
                        api_auth
                            .as_ref()
                            .and_then(|a| a.as_ref())
                            .and_then(|a| a.get("Authorizers"))
                            .and_then(|a| a.get(name))
                    });
                    let scope_less = !elsewhere
                        && auth_maps
                        && def.is_some_and(|d| {
                            d.get("UserPoolArn").is_some()
                                && match event_auth
                                    .and_then(|a| a.get("AuthorizationScopes"))
                                    .or_else(|| d.get("AuthorizationScopes"))
                                {
                                    None => true,
                                    s => empty_list(s),
                                }
                        });
                    out.push(Plain::at(method, path, public, scope_less));
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn plain_methods(doc: &Value, format: Format) -> Vec<Plain> {
    let mut out = Vec::new();
    match format {
        Format::OpenApi => openapi(doc, &mut out),
        Format::Serverless => serverless(doc, &mut out),
        Format::CloudFormation => cloudformation(doc, &mut out),
    }
    out
}

pub(crate) fn matches(route: &RouteConfig, plain: &Plain) -> bool {
    let method_ok = match &route.methods {
        None => plain.method == "ANY",
        Some(m) => m.len() == 1 && m[0] == plain.method,
    };
    let place_ok = match &plain.path {
        Some(p) => route.path == *p,
        // Names are trimmed; a blank one (or one with control characters) is not written.
        None => {
            let base = plain.name.trim();
            match route.name.as_deref() {
                Some(n) => n == base || n.starts_with(&format!("{base} ")),
                None => base.is_empty() || base.chars().any(char::is_control),
            }
        }
    };
    method_ok && place_ok
}

// ---- The property -----------------------------------------------------------------------
