//! Serverless Framework `serverless.yml`: the `http` events of functions (API Gateway REST).
//!
//! An event is `http: 'post my_path'` (no authorizer: public) or the long form with
//! `path`, `method` and `authorizer`. A Cognito authorizer is `type: COGNITO_USER_POOLS`
//! with either an inline user pool `arn` or an `authorizerId` referring to an
//! `AWS::ApiGateway::Authorizer` in `resources.Resources`, and `scopes`. Serverless paths
//! have no leading slash. `${self:...}` variables are resolved within the file; the others
//! (`${opt:...}`, `${env:...}`, `${ssm:...}`, `${cf:...}`, ...) only deployment knows.
//!
//! Over 500 lines: a sixth is unit tests; the rest is one format's reader (events,
//! authorizer forms, `${self:}` variables, CORS), kept together so that format's rules read
//! in one file.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::Value;

use super::api::{Access, Api, GatewayAuthorizer, Method, Setting, with_api_key};
use super::cloudformation::{AuthorizerKind, api_gateway_authorizer, unknown_authorizer};
use super::intrinsic::{Resolve, Template, is_intrinsic, shape, strings};
use super::report::NoteKind;
use super::text::Text;

/// How many variables deep a value may refer (`${self:a}` → `${self:b}` → ...).
const MAX_VARIABLE_DEPTH: usize = 16;

/// Resolves Serverless variables, and CloudFormation intrinsics via `resources`.
struct Serverless<'a> {
    doc: &'a Value,
    resources: Template<'a>,
}

impl<'a> Serverless<'a> {
    /// The value itself, or what a whole-value `${self:...}` refers to (a list of scopes
    /// kept in `custom`, say).
    fn value(&self, v: &'a Value) -> Cow<'a, Value> {
        let mut current = Cow::Borrowed(v);
        for _ in 0..MAX_VARIABLE_DEPTH {
            let Some(s) = current.as_str() else { break };
            let s = s.trim();
            let Some(expr) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) else {
                break;
            };
            if expr.contains("${") {
                break;
            }
            match self.lookup(expr) {
                Some(Ok(found)) => current = Cow::Owned(found),
                _ => break,
            }
        }
        current
    }

    /// `Some(Ok(value))`: resolved; `Some(Err(what))`: only deployment knows; `None`: a
    /// `self:` address the file does not have and no fallback.
    fn lookup(&self, expr: &str) -> Option<Result<Value, String>> {
        for alternative in split_top_level(expr) {
            let alt = alternative.trim();
            if let Some(quoted) = alt
                .strip_prefix('\'')
                .and_then(|a| a.strip_suffix('\''))
                .or_else(|| alt.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
            {
                return Some(Ok(Value::String(quoted.to_owned())));
            }
            if let Ok(n) = alt.parse::<i64>() {
                return Some(Ok(Value::from(n)));
            }
            if let Some(address) = alt.strip_prefix("self:") {
                let mut node = self.doc;
                let mut found = true;
                for key in address.split('.').filter(|k| !k.is_empty()) {
                    match node.get(key) {
                        Some(next) => node = next,
                        None => {
                            found = false;
                            break;
                        }
                    }
                }
                if found {
                    return Some(Ok(node.clone()));
                }
                continue;
            }
            return Some(Err(format!("the Serverless variable ${{{expr}}}")));
        }
        None
    }

    fn interpolate(&self, s: &str, depth: usize) -> Text {
        if depth > MAX_VARIABLE_DEPTH {
            return Text::unknown(format!("{s:?} (variables nested too deep)"));
        }
        let mut out = Text::default();
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push(Text::known(&rest[..start]));
            let Some(len) = closing_brace(&rest[start + 2..]) else {
                out.push(Text::known(&rest[start..]));
                return out;
            };
            let inner = self.interpolate(&rest[start + 2..start + 2 + len], depth + 1);
            let resolved = match inner.as_known() {
                None => Text::unknown(format!("the Serverless variable ${{{inner}}}")),
                Some(expr) => match self.lookup(&expr) {
                    Some(Ok(Value::String(s))) => self.interpolate(&s, depth + 1),
                    Some(Ok(Value::Number(n))) => Text::known(n.to_string()),
                    Some(Ok(Value::Bool(b))) => Text::known(b.to_string()),
                    Some(Ok(other)) => {
                        Text::unknown(format!("${{{expr}}}, which is {other}, not a string"))
                    }
                    Some(Err(what)) => Text::unknown(what),
                    None => Text::unknown(format!("${{{expr}}}, which the file does not define")),
                },
            };
            out.push(resolved);
            rest = &rest[start + 2 + len + 1..];
        }
        out.push(Text::known(rest));
        out
    }
}

/// Splits `a, b, 'c, d'` on top-level commas (not inside quotes or nested `${}`).
fn split_top_level(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None, 0);
    for (i, c) in expr.char_indices() {
        match (c, quote) {
            ('\'' | '"', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            ('{', None) => depth += 1,
            ('}', None) => depth = depth.saturating_sub(1),
            (',', None) if depth == 0 => {
                parts.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&expr[start..]);
    parts
}

/// Length up to the `}` closing a `${` whose content starts `s`.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

impl Resolve for Serverless<'_> {
    /// A whole-value variable (`${opt:scopes}`), or an intrinsic of `resources`.
    fn is_expression(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => {
                let s = s.trim();
                s.starts_with("${") && closing_brace(&s[2..]) == Some(s.len() - 3)
            }
            other => is_intrinsic(other),
        }
    }

    fn strings(&self, value: &Value) -> Result<Vec<Text>, String> {
        strings(self, &self.value(value))
    }

    fn text(&self, value: &Value) -> Text {
        match value {
            Value::String(s) => self.interpolate(s, 0),
            Value::Object(_) => self.resources.text(value),
            Value::Number(n) => Text::known(n.to_string()),
            Value::Bool(b) => Text::known(b.to_string()),
            other => Text::unknown(format!("the value {other}")),
        }
    }

    fn setting(&self, value: &Value) -> Setting {
        let value = self.value(value);
        match value.as_ref() {
            v @ (Value::String(_) | Value::Number(_)) => Ok(self.text(v)),
            v if self.is_expression(v) => Ok(self.text(v)),
            other => Err(shape(other)),
        }
    }

    fn list(&self, value: &Value) -> Vec<Text> {
        match self.value(value).as_ref() {
            Value::Array(items) => items.iter().map(|v| self.text(v)).collect(),
            Value::Null => Vec::new(),
            other => vec![self.text(other)],
        }
    }
}

/// Reads a `serverless.yml`.
pub(crate) fn read(doc: &Value) -> Api {
    let mut api = Api::default();
    let resources = resources(doc, &mut api);
    let sls = Serverless {
        doc,
        resources: Template::new(&resources),
    };
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
    let sls = Serverless {
        doc,
        resources: Template::new(&resources),
    };
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
        Value::String(short) => {
            let text = sls.interpolate(short, 0);
            let (verb, path) = match text.as_known() {
                Some(s) => match s.split_whitespace().collect::<Vec<_>>()[..] {
                    [verb, path] => (Text::known(verb), Text::known(path)),
                    // Not `METHOD PATH`: no path to write a route for, certainly not `/`.
                    _ => {
                        let what = Text::unknown(format!(
                            "the http event {s:?}, which is not 'METHOD PATH'"
                        ));
                        (what.clone(), what)
                    }
                },
                None => (text.clone(), text),
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
fn absolute(path: Text) -> Text {
    match path.as_known() {
        Some(p) => Text::known(format!("/{}", p.trim().trim_start_matches('/'))),
        None => {
            let mut t = Text::known("/");
            t.push(path);
            t
        }
    }
}

/// The access an event's `authorizer` gives, read as Serverless reads it: a string is
/// `aws_iam`, a Lambda function's name or an ARN (Cognito when it is a user pool's); a map
/// with `type` and `authorizerId` names an `AWS::ApiGateway::Authorizer`, one with `arn`
/// defines an authorizer inline (named `name`, else after its pool), and one with only a
/// `name` names a Lambda function of the service.
fn authorizer(sls: &Serverless, api: &mut Api, auth: &Value, at: &str, function: &str) -> Access {
    let lower = |t: &Text| t.as_known().map(|s| s.to_ascii_lowercase());
    let is_cognito_arn = |t: &Text| {
        let (flat, _) = t.with_holes('\0');
        flat.contains(":cognito-idp:")
    };
    match auth {
        Value::String(_) => {
            let text = sls.text(auth);
            let Some(s) = text.as_known() else {
                return Access::Unknown(text.unknowns().join(", "));
            };
            if s.trim().is_empty() {
                Access::Unreadable(format!("`authorizer` is {}", shape(auth)))
            } else if s.eq_ignore_ascii_case("aws_iam") {
                Access::NotEnforceable("AWS_IAM authorization (SigV4)".to_owned())
            } else if is_cognito_arn(&text) {
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
            let cognito = kind.as_ref().and_then(lower).as_deref() == Some("cognito_user_pools")
                || arn.as_ref().is_some_and(is_cognito_arn);
            if kind.as_ref().and_then(lower).as_deref() == Some("aws_iam") {
                return Access::NotEnforceable("AWS_IAM authorization (SigV4)".to_owned());
            }
            if !cognito {
                return match &kind {
                    Some(k) if k.as_known().is_none() => Access::Unknown(k.unknowns().join(", ")),
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

/// The name of an inline Cognito authorizer: its `name`, else its pool id (Serverless names
/// it after the ARN too), else its function's when the ARN is only known at deployment.
fn inline_name(name: Option<&Text>, arn: &Text, function: &str) -> String {
    if let Some(name) = name {
        return name.to_string();
    }
    match arn.as_known().as_deref().and_then(|a| a.rsplit_once('/')) {
        Some((_, pool)) if !pool.trim().is_empty() => pool.trim().to_owned(),
        _ => format!("{function}-authorizer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::document;

    #[test]
    fn resolves_self_variables_and_names_the_rest() {
        let doc = document::parse(
            "custom:\n  pool: eu-west-1_AbC\n  scopes: [a/b, c/d]\n  alias: ${self:custom.pool}\nprovider:\n  stage: ${opt:stage, 'dev'}\n",
        )
        .unwrap();
        let sls = Serverless {
            doc: &doc,
            resources: Template::new(&Value::Null),
        };
        assert_eq!(
            sls.interpolate("userpool/${self:custom.alias}", 0)
                .as_known()
                .as_deref(),
            Some("userpool/eu-west-1_AbC")
        );
        assert_eq!(
            sls.interpolate("${self:custom.missing, 'fallback'}", 0)
                .as_known()
                .as_deref(),
            Some("fallback")
        );
        let stage = sls.interpolate("x-${self:provider.stage}", 0);
        assert_eq!(
            stage.unknowns(),
            ["the Serverless variable ${opt:stage, 'dev'}"]
        );
        let scopes = sls.list(&Value::String("${self:custom.scopes}".into()));
        assert_eq!(scopes, [Text::known("a/b"), Text::known("c/d")]);
        assert!(
            sls.interpolate("${self:custom.nope}", 0)
                .as_known()
                .is_none()
        );
    }

    #[test]
    fn what_is_kept_in_other_files_is_reported() {
        let doc = document::parse(
            r#"
service: s
functions:
  a:
    events: ${file(events.yml)}
  b:
    events:
      - http: {path: x, method: get, authorizer: {type: COGNITO_USER_POOLS, authorizerId: {Ref: Auth}, scopes: [a/b]}}
resources:
  - ${file(resources.yml)}
  - Resources:
      Auth:
        Type: AWS::ApiGateway::Authorizer
        Properties: {Type: COGNITO_USER_POOLS, ProviderARNs: ["arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC"]}
"#,
        )
        .unwrap();
        let api = read(&doc);
        let kinds: Vec<(NoteKind, &str)> =
            api.notes.iter().map(|n| (n.kind, n.at.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (NoteKind::NotTranslated, "resources[0]"),
                (NoteKind::Unresolved, "functions.a.events"),
            ]
        );
        // The second fragment of `resources` is read.
        assert_eq!(api.authorizers[0].name, "Auth");
        assert_eq!(
            api.authorizers[0].provider_arns,
            [Text::known(
                "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC"
            )]
        );
    }

    #[test]
    fn reads_short_and_long_http_events() {
        let doc = document::parse(
            r#"
service: s
functions:
  a:
    events:
      - http: 'post my_path'
      - http: {path: "/users/{id}", method: any, authorizer: aws_iam}
      - http: {path: x, method: get, authorizer: {arn: "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC", scopes: [s/x]}, private: true}
      - http: {path: y, method: get, authorizer: {name: fn, type: token}}
      - httpApi: 'GET /z'
"#,
        )
        .unwrap();
        let api = read(&doc);
        let got: Vec<(String, String)> = api
            .methods
            .iter()
            .map(|m| (m.method.to_string(), m.path.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("post".to_owned(), "/my_path".to_owned()),
                ("any".to_owned(), "/users/{id}".to_owned()),
                ("get".to_owned(), "/x".to_owned()),
                ("get".to_owned(), "/y".to_owned()),
            ]
        );
        assert!(matches!(api.methods[0].access, Access::Public));
        assert!(matches!(api.methods[1].access, Access::NotEnforceable(_)));
        assert!(
            matches!(&api.methods[2].access, Access::Cognito { scopes, .. } if scopes.len() == 1)
        );
        assert_eq!(api.methods[2].unenforced_extras.len(), 1);
        assert!(matches!(api.methods[3].access, Access::NotEnforceable(_)));
        assert_eq!(api.notes.len(), 1);
    }
}
