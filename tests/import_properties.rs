//! Property: no mutated source ever imports to a public or scope-less route that it does
//! not plainly state (docs/import.md).
//!
//! Every fixture in tests/fixtures/import/ is read into its tree and mutated at random the
//! ways real files go wrong: a node replaced by a value of another type (a string, a
//! number, a boolean, null, an empty list or map, a list of strings, a map of strings to
//! strings), a key deleted, renamed (a typo, a case change, or another key of the file),
//! a node duplicated under another key or at the end of its list. The importer runs on the
//! mutated tree and must not panic nor fail as a bug (`ImportError::Internal`); and every
//! route it writes that is `auth: none`, or requires a token but names no scopes, must
//! correspond to a method that the mutated source *plainly* states as such, by the small
//! reference reading below (one function per format, written from docs/import.md's rules, not
//! from the importer):
//!
//! - public: OpenAPI `security` (the operation's, else the document's) a list of empty
//!   requirements (`[]`, `[{}]`), or no `security` at either level and no key that looks
//!   like a misspelt one; OPTIONS on a path without an `options` operation of a document
//!   with an `x-amazon-apigateway-cors` map; a Serverless http event `'METHOD PATH'`, or a
//!   map without `authorizer` (nor anything spelt like it) and without `private: true`;
//!   OPTIONS on the path of an http event with `cors: true` or a map of CORS settings; a
//!   CloudFormation method with `AuthorizationType: NONE`, or none and no authorizer, and
//!   no `ApiKeyRequired` other than false; a SAM event whose authorizer (its own, else its
//!   API's default) is `NONE` or absent on an API of the template whose definition is not
//!   in another file (`DefinitionUri`, an included `DefinitionBody`).
//! - scope-less (an ID-token route, `tokenUse: id`, counts as one): a requirement naming a
//!   Cognito scheme with exactly `[]`; a Serverless
//!   Cognito authorizer (an ARN, or a map of type `COGNITO_USER_POOLS` or with a Cognito
//!   `arn`) naming its `arn` or `authorizerId`, with `scopes` absent or `[]`; a
//!   `COGNITO_USER_POOLS` method with an `AuthorizerId` and `AuthorizationScopes` absent or
//!   `[]`; a SAM event whose authorizer has a `UserPoolArn` and scopes absent or `[]`
//!   (on an API whose definition is not in another file).
//!
//! A route matches a source method by path and HTTP method; CloudFormation methods, whose
//! paths come from the resource tree, match by their logical id (the route's name).
//!
//! Why one file of this length: the mutator and the reference reading (one function per
//! format) are one model, and the property needs all of it at once; a split would separate a
//! format's reading from the rule it is written from.

use std::path::Path;

use cognito_ext_authz::import::{Format, ImportError, read_document, translate_document};
use cognito_ext_authz::policy::model::{AuthMode, RouteConfig};
use cognito_ext_authz::policy::template::PathTemplate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

/// Cases per fixture: enough to reach every field of the small fixtures many times, few
/// enough to run in a few seconds.
const CASES: u32 = 256;

// ---- Mutations --------------------------------------------------------------------------

/// One step into a tree.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node's address, the root included.
fn addresses(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(Step::Key(k.clone()));
                addresses(child, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(Step::Index(i));
                addresses(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, at: &[Step]) -> Option<&'a mut Value> {
    let mut node = v;
    for step in at {
        node = match (step, node) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Strings and keys of the fixture, and a few that mean something to an importer: the
/// replacement values are plausible, not noise.
fn vocabulary(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Object(m) => {
            for (k, child) in m {
                out.push(k.clone());
                vocabulary(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|c| vocabulary(c, out)),
        _ => {}
    }
}

const SPECIAL: [&str; 14] = [
    "",
    " ",
    "NONE",
    "none",
    "AWS_IAM",
    "COGNITO_USER_POOLS",
    "CUSTOM",
    "get",
    "ANY",
    "true",
    "false",
    "orders/read",
    "two words",
    "${opt:stage}",
];

/// What a mutation does; numbers pick among the candidates when it is applied.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the node by a value of kind `kind` built from word `word`.
    Replace {
        node: usize,
        kind: u8,
        word: usize,
    },
    Delete {
        node: usize,
    },
    /// Rename a key: `how` picks a typo, a case change or another word.
    Rename {
        node: usize,
        how: u8,
        word: usize,
    },
    /// Copy the node under another key of its map, or to the end of its list.
    Duplicate {
        node: usize,
        word: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = any::<usize>();
    prop_oneof![
        4 => (n, 0u8..10, n).prop_map(|(node, kind, word)| Mutation::Replace { node, kind, word }),
        2 => n.prop_map(|node| Mutation::Delete { node }),
        2 => (n, 0u8..5, n).prop_map(|(node, how, word)| Mutation::Rename { node, how, word }),
        1 => (n, n).prop_map(|(node, word)| Mutation::Duplicate { node, word }),
    ]
}

fn typo(key: &str, how: u8, word: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    match how {
        // Case: `Security`, `authorizer` → `Authorizer`.
        0 => {
            let mut c = chars.clone();
            if let Some(first) = c.first_mut() {
                *first = if first.is_uppercase() {
                    first.to_ascii_lowercase()
                } else {
                    first.to_ascii_uppercase()
                };
            }
            c.into_iter().collect()
        }
        // A letter dropped.
        1 if chars.len() > 1 => {
            let i = word.len() % chars.len();
            chars
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| c)
                .collect()
        }
        // Two letters swapped.
        2 if chars.len() > 2 => {
            let i = word.len() % (chars.len() - 1);
            let mut c = chars.clone();
            c.swap(i, i + 1);
            c.into_iter().collect()
        }
        3 => format!("{key}s"),
        // Another key or string of the file (two keys collide: one replaces the other).
        _ if !word.is_empty() => word.to_owned(),
        _ => format!("{key}_"),
    }
}

fn value_of(kind: u8, word: &str) -> Value {
    match kind {
        0 => Value::String(word.to_owned()),
        1 => Value::from(word.len() as i64 - 3),
        2 => Value::Bool(word.len().is_multiple_of(2)),
        3 => Value::Null,
        4 => Value::Array(vec![]),
        5 => Value::Object(Map::new()),
        6 => Value::Array(vec![Value::String(word.to_owned())]),
        7 => {
            let mut m = Map::new();
            m.insert(word.to_owned(), Value::String(word.to_owned()));
            Value::Object(m)
        }
        8 => {
            let mut m = Map::new();
            m.insert(word.to_owned(), Value::Array(vec![]));
            Value::Object(m)
        }
        _ => Value::Array(vec![Value::String(word.to_owned()), Value::from(1)]),
    }
}

fn apply(doc: &mut Value, m: &Mutation, words: &[String]) {
    let mut all = Vec::new();
    addresses(doc, &mut Vec::new(), &mut all);
    let pick = |i: usize| &all[i % all.len()];
    let word = |i: usize| words[i % words.len()].as_str();
    match m {
        Mutation::Replace {
            node,
            kind,
            word: w,
        } => {
            let at = pick(*node).clone();
            if let Some(n) = node_mut(doc, &at) {
                *n = value_of(*kind, word(*w));
            }
        }
        Mutation::Delete { node } => {
            let at = pick(*node).clone();
            let Some((last, parent)) = at.split_last() else {
                return;
            };
            match (node_mut(doc, parent), last) {
                (Some(Value::Object(map)), Step::Key(k)) => {
                    map.remove(k);
                }
                (Some(Value::Array(items)), Step::Index(i)) if *i < items.len() => {
                    items.remove(*i);
                }
                _ => {}
            }
        }
        Mutation::Rename { node, how, word: w } => {
            let at = pick(*node).clone();
            let Some((Step::Key(k), parent)) = at.split_last() else {
                return;
            };
            if let Some(Value::Object(map)) = node_mut(doc, parent)
                && let Some(v) = map.remove(k)
            {
                map.insert(typo(k, *how, word(*w)), v);
            }
        }
        Mutation::Duplicate { node, word: w } => {
            let at = pick(*node).clone();
            let Some((last, parent)) = at.split_last() else {
                return;
            };
            let Some(copy) = node_mut(doc, &at).map(|n| n.clone()) else {
                return;
            };
            match (node_mut(doc, parent), last) {
                (Some(Value::Object(map)), Step::Key(_)) => {
                    map.insert(word(*w).to_owned(), copy);
                }
                (Some(Value::Array(items)), Step::Index(_)) => items.push(copy),
                _ => {}
            }
        }
    }
}

// ---- The reference reading: what a source plainly states ---------------------------------

/// A source method the reference reading finds plainly public or plainly scope-less.
#[derive(Debug)]
struct Plain {
    /// Upper case, or `ANY`.
    method: String,
    /// The route path, when the reference can tell it (normalised like a policy path).
    path: Option<String>,
    /// Matched against the route name when the path is not known here.
    name: String,
    public: bool,
    scope_less: bool,
}

fn method_name(v: &Value) -> Option<String> {
    let m = v.as_str()?.trim().to_ascii_uppercase();
    Some(if m == "*" { "ANY".to_owned() } else { m })
}

fn policy_path(p: &str) -> Option<String> {
    PathTemplate::parse(p).ok().map(|t| t.to_string())
}

/// `a` is `b` misspelt: the same but for case, or two edits apart.
fn looks_like(a: &str, b: &str) -> bool {
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

fn misspelt(map: &Map<String, Value>, field: &str) -> bool {
    map.keys().any(|k| looks_like(k, field))
}

fn is_false(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

fn empty_list(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Array(a)) if a.is_empty())
}

fn openapi(doc: &Value, out: &mut Vec<Plain>) {
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
            out.push(Plain {
                method: "OPTIONS".to_owned(),
                path: policy_path(path),
                name: String::new(),
                public: true,
                scope_less: false,
            });
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
            let public = legacy_ok
                && match security {
                    Some(Value::Array(reqs)) => reqs
                        .iter()
                        .all(|r| r.as_object().is_some_and(Map::is_empty)),
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
            out.push(Plain {
                method,
                path: policy_path(path),
                name: String::new(),
                public,
                scope_less,
            });
        }
    }
}

/// A whole-value `${self:a.b}`, looked up the way Serverless does.
fn resolve_self<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
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

fn serverless(doc: &Value, out: &mut Vec<Plain>) {
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
                        out.push(Plain {
                            method: verb.to_ascii_uppercase(),
                            path: policy_path(&format!("/{}", path.trim_start_matches('/'))),
                            name: String::new(),
                            public: true,
                            scope_less: false,
                        });
                    }
                }
                Value::Object(def) => {
                    // `cors: true` (or a map of settings) adds the OPTIONS method API
                    // Gateway answers without authorization, whatever the event's method.
                    let cors = def.get("cors").map(|c| resolve_self(doc, c));
                    if matches!(cors, Some(Value::Bool(true) | Value::Object(_)))
                        && let Some(path) = text(def.get("path"))
                    {
                        out.push(Plain {
                            method: "OPTIONS".to_owned(),
                            path: policy_path(&format!("/{}", path.trim().trim_start_matches('/'))),
                            name: String::new(),
                            public: true,
                            scope_less: false,
                        });
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
                    out.push(Plain {
                        method: verb,
                        path: policy_path(&format!("/{}", path.trim().trim_start_matches('/'))),
                        name: String::new(),
                        public,
                        scope_less,
                    });
                }
                _ => {}
            }
        }
    }
}

fn merged(base: Option<&Value>, over: Option<&Value>) -> Option<Value> {
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

fn cloudformation(doc: &Value, out: &mut Vec<Plain>) {
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
                    out.push(Plain {
                        method,
                        path: policy_path(path),
                        name: String::new(),
                        public,
                        scope_less,
                    });
                }
            }
            _ => {}
        }
    }
}

fn plain_methods(doc: &Value, format: Format) -> Vec<Plain> {
    let mut out = Vec::new();
    match format {
        Format::OpenApi => openapi(doc, &mut out),
        Format::Serverless => serverless(doc, &mut out),
        Format::CloudFormation => cloudformation(doc, &mut out),
    }
    out
}

fn matches(route: &RouteConfig, plain: &Plain) -> bool {
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

fn check(doc: &Value, format: Format) -> Result<(), TestCaseError> {
    let t = match translate_document(doc, Some(format)) {
        Ok(t) => t,
        Err(ImportError::Internal(e)) => {
            return Err(TestCaseError::fail(format!("import failed as a bug: {e}")));
        }
        Err(_) => return Ok(()),
    };
    let plain = plain_methods(doc, format);
    for route in &t.policy.routes {
        let public = route.auth == Some(AuthMode::None);
        let scope_less = matches!(route.auth, None | Some(AuthMode::Required))
            && route.scopes.as_ref().is_none_or(Vec::is_empty);
        if public && !plain.iter().any(|p| p.public && matches(route, p)) {
            return Err(TestCaseError::fail(format!(
                "public route the source does not plainly state: {route:?}\nnotes: {:#?}",
                t.notes
            )));
        }
        if scope_less && !plain.iter().any(|p| p.scope_less && matches(route, p)) {
            return Err(TestCaseError::fail(format!(
                "scope-less route the source does not plainly state: {route:?}\nnotes: {:#?}",
                t.notes
            )));
        }
    }
    Ok(())
}

fn fixtures() -> Vec<(String, Value, Format)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("the import fixtures")
        .map(|e| e.expect("a fixture").path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("a readable fixture");
        let doc = read_document(&text).expect("a fixture that parses");
        let format = Format::detect(&doc).expect("a fixture of a known format");
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        out.push((name, doc, format));
    }
    assert!(out.len() >= 9, "fixtures missing: {out:?}");
    out
}

#[test]
fn the_unmutated_fixtures_hold_the_property() {
    // The reference reading agrees with the importer on the well-formed sources, so a
    // failure below is about the mutation, not a disagreement on the rules.
    for (name, doc, format) in fixtures() {
        check(&doc, format).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn mutated_sources_never_import_to_an_unstated_public_or_scope_less_route() {
    // Every fixture is tried, and every failure reported (each shrunk to its smallest).
    let mut failures = Vec::new();
    for (name, doc, format) in fixtures() {
        let mut words = Vec::new();
        vocabulary(&doc, &mut words);
        words.extend(SPECIAL.iter().map(|s| (*s).to_owned()));
        words.sort();
        words.dedup();
        let mut runner = TestRunner::new(Config {
            // `PROPTEST_CASES` runs more (or fewer) cases for a deeper search.
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(CASES),
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&proptest::collection::vec(mutation(), 1..5), |mutations| {
            let mut mutated = doc.clone();
            for m in &mutations {
                apply(&mut mutated, m, &words);
            }
            check(&mutated, format).map_err(|e| {
                TestCaseError::fail(format!(
                    "{e}\nmutated source:\n{}",
                    serde_json::to_string_pretty(&mutated).unwrap_or_default()
                ))
            })
        });
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
