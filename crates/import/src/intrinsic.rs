//! Resolving values statically: CloudFormation intrinsic functions and stage variables.
//!
//! Whatever can be known from the file alone is resolved (`Fn::Sub` of literals,
//! `Fn::Join`, `Fn::FindInMap` with literal keys, `Fn::Select` of a literal list); whatever
//! only deployment knows (parameters, pseudo parameters, attributes of resources the
//! template creates, imports, conditions, stage variables) becomes a named hole in a
//! [`Text`], so the importer can say exactly what it depends on and never guess.

use serde_json::{Map, Value};

use super::api::{Flag, Setting};
use super::text::Text;

/// What a value is, for notes: `a string "x"`, `null`, `a map`, ...
pub(crate) fn shape(value: &Value) -> String {
    const SHOWN: usize = 60;
    let shown = |s: String| {
        if s.chars().count() > SHOWN {
            format!("{}...", s.chars().take(SHOWN).collect::<String>())
        } else {
            s
        }
    };
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) if s.trim().is_empty() => format!("an empty string {s:?}"),
        Value::String(s) => format!("a string {}", shown(format!("{s:?}"))),
        Value::Array(items) if items.is_empty() => "an empty list".to_owned(),
        Value::Array(_) => format!("a list ({})", shown(value.to_string())),
        Value::Object(o) if o.is_empty() => "an empty map".to_owned(),
        Value::Object(_) => format!("a map ({})", shown(value.to_string())),
    }
}

/// Reads values of one source format into [`Text`].
pub(crate) trait Resolve {
    /// A string value.
    fn text(&self, value: &Value) -> Text;

    /// Whether `value` is an expression this format evaluates (an intrinsic function, a
    /// variable) rather than a literal: an expression of unknown type may stand where a
    /// list or a string belongs, a literal of the wrong type may not.
    fn is_expression(&self, _value: &Value) -> bool {
        false
    }

    /// A value that must be a list of strings (`AuthorizationScopes`, `scopes`): `Err`
    /// says what it is instead. `null`, a lone string, a map or a list holding anything but
    /// strings (or expressions) is not read as a list: a method's scopes are never guessed
    /// from a value of the wrong shape.
    fn strings(&self, value: &Value) -> Result<Vec<Text>, String> {
        strings(self, value)
    }

    /// A yes/no setting. Booleans, and the strings `true`/`false` in any case (as
    /// CloudFormation reads them); anything else is unknown or unreadable, never "no".
    fn flag(&self, value: &Value) -> Flag {
        match value {
            Value::Bool(true) => Flag::Yes,
            Value::Bool(false) => Flag::No,
            Value::String(_) => self.flag_text(value),
            _ if self.is_expression(value) => self.flag_text(value),
            other => Flag::Unreadable(shape(other)),
        }
    }

    /// [`Resolve::flag`] of a string or expression.
    fn flag_text(&self, value: &Value) -> Flag {
        let text = self.text(value);
        match text.as_known() {
            Some(s) if s.trim().eq_ignore_ascii_case("true") => Flag::Yes,
            Some(s) if s.trim().eq_ignore_ascii_case("false") => Flag::No,
            Some(s) => Flag::Unreadable(format!("{s:?}")),
            None => Flag::Unknown(text.unknowns().join(", ")),
        }
    }

    /// One setting of an authorizer (`IdentitySource`, `IdentityValidationExpression`,
    /// `AuthorizerResultTtlInSeconds`): a string, a number or an expression; `Err` says what
    /// it is instead (`null`, a list, a map, a boolean), which is never read as "not set".
    fn setting(&self, value: &Value) -> Setting {
        match value {
            Value::String(_) | Value::Number(_) => Ok(self.text(value)),
            _ if self.is_expression(value) => Ok(self.text(value)),
            other => Err(shape(other)),
        }
    }

    /// A list of strings (`ProviderARNs`, `AuthorizationScopes`).
    fn list(&self, value: &Value) -> Vec<Text> {
        match value {
            Value::Array(items) => items.iter().map(|v| self.text(v)).collect(),
            Value::Null => Vec::new(),
            other => vec![self.text(other)],
        }
    }
}

/// [`Resolve::strings`], for resolvers that look a value up before reading it.
pub(crate) fn strings<R: Resolve + ?Sized>(r: &R, value: &Value) -> Result<Vec<Text>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(_) => Ok(r.text(item)),
                _ if r.is_expression(item) => Ok(r.text(item)),
                other => Err(format!(
                    "a list whose item {i} is {}, not a string",
                    shape(other)
                )),
            })
            .collect(),
        _ if r.is_expression(value) => Ok(r.list(value)),
        other => Err(format!("{}, not a list of strings", shape(other))),
    }
}

/// Values written literally (a standalone OpenAPI export).
pub(crate) struct Plain;

impl Resolve for Plain {
    fn text(&self, value: &Value) -> Text {
        scalar(value).unwrap_or_else(|| Text::unknown(format!("the non-string value {value}")))
    }
}

/// A literal string: API Gateway substitutes `${stageVariables.NAME}` per stage, so those
/// parts are unknown here.
pub(crate) fn literal(s: &str) -> Text {
    const MARK: &str = "${stageVariables.";
    let mut out = Text::default();
    let mut rest = s;
    while let Some(start) = rest.find(MARK) {
        let after = &rest[start + MARK.len()..];
        let Some(end) = after.find('}') else { break };
        out.push(Text::known(&rest[..start]));
        out.push(Text::unknown(format!("stage variable {}", &after[..end])));
        rest = &after[end + 1..];
    }
    out.push(Text::known(rest));
    out
}

fn scalar(value: &Value) -> Option<Text> {
    match value {
        Value::String(s) => Some(literal(s)),
        Value::Number(n) => Some(Text::known(n.to_string())),
        Value::Bool(b) => Some(Text::known(b.to_string())),
        _ => None,
    }
}

/// Pseudo parameters: known only at deployment.
const PSEUDO: [&str; 8] = [
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// A CloudFormation (or SAM, or Serverless `resources`) template.
pub(crate) struct Template<'a> {
    resources: Option<&'a Map<String, Value>>,
    parameters: Option<&'a Map<String, Value>>,
    mappings: Option<&'a Map<String, Value>>,
}

impl<'a> Template<'a> {
    /// The template whose top level is `doc` (`Resources`, `Parameters`, `Mappings`).
    pub(crate) fn new(doc: &'a Value) -> Self {
        Self {
            resources: doc.get("Resources").and_then(Value::as_object),
            parameters: doc.get("Parameters").and_then(Value::as_object),
            mappings: doc.get("Mappings").and_then(Value::as_object),
        }
    }

    /// Every resource, by logical id.
    pub(crate) fn resources(&self) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.resources
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The resource with this logical id.
    pub(crate) fn resource(&self, id: &str) -> Option<&'a Value> {
        self.resources?.get(id)
    }

    /// A resource's `Type`.
    pub(crate) fn type_of(&self, id: &str) -> Option<&'a str> {
        self.resource(id)?.get("Type")?.as_str()
    }

    /// The logical id a `{"Ref": X}` names, when X is a resource of the template.
    pub(crate) fn ref_resource(&self, value: &Value) -> Option<&'a str> {
        let target = value.as_object()?.get("Ref")?.as_str()?;
        self.resources?
            .get_key_value(target)
            .map(|(k, _)| k.as_str())
    }

    /// `(resource, attribute)` of a `{"Fn::GetAtt": ...}`.
    pub(crate) fn get_att<'v>(&self, value: &'v Value) -> Option<(&'v str, &'v str)> {
        match value.as_object()?.get("Fn::GetAtt")? {
            Value::Array(parts) if parts.len() == 2 => {
                Some((parts[0].as_str()?, parts[1].as_str()?))
            }
            Value::String(s) => s.split_once('.'),
            _ => None,
        }
    }

    /// What a `Ref` to `name` depends on.
    fn describe_ref(&self, name: &str) -> String {
        if PSEUDO.contains(&name) {
            return name.to_owned();
        }
        if let Some(p) = self.parameters.and_then(|p| p.get(name)) {
            return match p.get("Default") {
                Some(Value::String(d)) => {
                    format!("parameter {name} (default {d:?}, may be overridden)")
                }
                Some(d) => format!("parameter {name} (default {d}, may be overridden)"),
                None => format!("parameter {name}"),
            };
        }
        match self.type_of(name) {
            Some("AWS::Cognito::UserPool") => {
                format!("the id of user pool {name}, created by this template (!Ref {name})")
            }
            Some(t) => format!("the id of {name} ({t}), created by this template"),
            None => format!("!Ref {name}, which the template does not define"),
        }
    }

    fn describe_get_att(&self, resource: &str, attribute: &str) -> String {
        match self.type_of(resource) {
            Some("AWS::Cognito::UserPool") => format!(
                "the user pool {resource} created by this template (!GetAtt {resource}.{attribute})"
            ),
            Some(t) => format!("!GetAtt {resource}.{attribute} of a {t} created by this template"),
            None => format!("!GetAtt {resource}.{attribute}, which the template does not define"),
        }
    }

    fn sub(&self, template: &str, vars: Option<&Map<String, Value>>) -> Text {
        let mut out = Text::default();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push(Text::known(&rest[..start]));
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push(Text::known(&rest[start..]));
                return out;
            };
            let name = after[..end].trim();
            if let Some(lit) = name.strip_prefix('!') {
                out.push(Text::known(format!("${{{lit}}}")));
            } else if let Some(v) = vars.and_then(|m| m.get(name)) {
                out.push(self.text(v));
            } else if let Some((resource, attribute)) = name.split_once('.') {
                if resource == "stageVariables" {
                    out.push(Text::unknown(format!("stage variable {attribute}")));
                } else {
                    out.push(Text::unknown(self.describe_get_att(resource, attribute)));
                }
            } else {
                out.push(Text::unknown(self.describe_ref(name)));
            }
            rest = &after[end + 1..];
        }
        out.push(Text::known(rest));
        out
    }
}

/// Whether `value` is a CloudFormation intrinsic function (`{"Ref": ...}`, `{"Fn::...": ...}`).
pub(crate) fn is_intrinsic(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        o.len() == 1
            && o.keys()
                .all(|k| k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
    })
}

impl Resolve for Template<'_> {
    fn is_expression(&self, value: &Value) -> bool {
        is_intrinsic(value)
    }

    fn text(&self, value: &Value) -> Text {
        if let Some(t) = scalar(value) {
            return t;
        }
        let Some(obj) = value.as_object().filter(|o| o.len() == 1) else {
            return Text::unknown(format!("the non-string value {value}"));
        };
        let (key, arg) = obj.iter().next().expect("one entry");
        match key.as_str() {
            "Ref" => match arg.as_str() {
                Some(name) => Text::unknown(self.describe_ref(name)),
                None => Text::unknown("a malformed Ref"),
            },
            "Fn::GetAtt" => match self.get_att(value) {
                Some((r, a)) => Text::unknown(self.describe_get_att(r, a)),
                None => Text::unknown("a malformed Fn::GetAtt"),
            },
            "Fn::Sub" => match arg {
                Value::String(s) => self.sub(s, None),
                Value::Array(parts) if parts.len() == 2 => {
                    match (&parts[0], parts[1].as_object()) {
                        (Value::String(s), Some(vars)) => self.sub(s, Some(vars)),
                        _ => Text::unknown("a malformed Fn::Sub"),
                    }
                }
                _ => Text::unknown("a malformed Fn::Sub"),
            },
            "Fn::Join" => match arg.as_array().map(Vec::as_slice) {
                Some([Value::String(delimiter), Value::Array(items)]) => {
                    let mut out = Text::default();
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(Text::known(delimiter.as_str()));
                        }
                        out.push(self.text(item));
                    }
                    out
                }
                _ => Text::unknown(format!("Fn::Join of {arg}, not a literal list")),
            },
            "Fn::Select" => match arg.as_array().map(Vec::as_slice) {
                Some([index, Value::Array(items)]) => {
                    match self
                        .text(index)
                        .as_known()
                        .and_then(|i| i.parse::<usize>().ok())
                    {
                        Some(i) if i < items.len() => self.text(&items[i]),
                        _ => Text::unknown(format!("Fn::Select {arg}")),
                    }
                }
                _ => Text::unknown(format!("Fn::Select of {arg}, not a literal list")),
            },
            "Fn::FindInMap" => self.find_in_map(arg),
            "Fn::ImportValue" => Text::unknown(format!(
                "a value exported by another stack (!ImportValue {})",
                self.text(arg)
            )),
            "Fn::If" => Text::unknown(format!(
                "condition {}",
                arg.get(0).and_then(Value::as_str).unwrap_or("?")
            )),
            other => Text::unknown(format!("{other} (not resolved by import)")),
        }
    }

    fn list(&self, value: &Value) -> Vec<Text> {
        match value {
            Value::Array(items) => items.iter().map(|v| self.text(v)).collect(),
            Value::Null => Vec::new(),
            Value::Object(o) if o.contains_key("Fn::Split") => {
                match o["Fn::Split"].as_array().map(Vec::as_slice) {
                    Some([Value::String(delimiter), source]) if !delimiter.is_empty() => {
                        match self.text(source).as_known() {
                            Some(s) => s.split(delimiter.as_str()).map(Text::known).collect(),
                            None => vec![self.text(source)],
                        }
                    }
                    _ => vec![Text::unknown("a malformed Fn::Split")],
                }
            }
            other => vec![self.text(other)],
        }
    }
}

impl Template<'_> {
    fn find_in_map(&self, arg: &Value) -> Text {
        let Some([map, first, second]) = arg.as_array().map(Vec::as_slice) else {
            return Text::unknown("a malformed Fn::FindInMap");
        };
        let keys = (
            self.text(map).as_known(),
            self.text(first).as_known(),
            self.text(second).as_known(),
        );
        let (Some(map), Some(first), Some(second)) = keys else {
            return Text::unknown(format!(
                "Fn::FindInMap [{}, {}, {}]",
                self.text(map),
                self.text(first),
                self.text(second)
            ));
        };
        match self
            .mappings
            .and_then(|m| m.get(&map))
            .and_then(|m| m.get(&first))
            .and_then(|m| m.get(&second))
        {
            Some(v) => self.text(v),
            None => Text::unknown(format!(
                "Fn::FindInMap [{map}, {first}, {second}], which the template does not define"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Value {
        json!({
            "Parameters": {
                "PoolArn": {"Type": "String", "Default": "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC"},
                "Stage": {"Type": "String"}
            },
            "Mappings": {"Pools": {"prod": {"Id": "eu-west-1_Prod1"}}},
            "Resources": {
                "UserPool": {"Type": "AWS::Cognito::UserPool"},
                "Auth": {"Type": "AWS::ApiGateway::Authorizer"}
            }
        })
    }

    #[test]
    fn resolves_what_the_file_states() {
        let doc = template();
        let t = Template::new(&doc);
        let sub = json!({"Fn::Sub": "arn:aws:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/eu-west-1_X"});
        assert_eq!(
            t.text(&sub).to_string(),
            "arn:aws:cognito-idp:<AWS::Region>:<AWS::AccountId>:userpool/eu-west-1_X"
        );
        let sub_vars = json!({"Fn::Sub": ["a-${Id}-${!Literal}", {"Id": {"Fn::FindInMap": ["Pools", "prod", "Id"]}}]});
        assert_eq!(
            t.text(&sub_vars).as_known().as_deref(),
            Some("a-eu-west-1_Prod1-${Literal}")
        );
        let join = json!({"Fn::Join": [":", ["a", "b", {"Fn::Select": [1, ["x", "y"]]}]]});
        assert_eq!(t.text(&join).as_known().as_deref(), Some("a:b:y"));
        assert_eq!(
            t.list(&json!({"Fn::Split": [",", "a,b"]}))
                .iter()
                .map(|t| t.as_known().unwrap())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(t.ref_resource(&json!({"Ref": "Auth"})), Some("Auth"));
        assert_eq!(t.ref_resource(&json!({"Ref": "Stage"})), None);
    }

    #[test]
    fn names_what_only_deployment_knows() {
        let doc = template();
        let t = Template::new(&doc);
        let unknown = |v: Value| t.text(&v).unknowns().join("; ");
        assert!(unknown(json!({"Ref": "PoolArn"})).contains("parameter PoolArn (default"));
        assert_eq!(unknown(json!({"Ref": "Stage"})), "parameter Stage");
        assert!(
            unknown(json!({"Fn::GetAtt": ["UserPool", "Arn"]}))
                .contains("user pool UserPool created by this template")
        );
        assert!(unknown(json!({"Ref": "UserPool"})).contains("the id of user pool UserPool"));
        assert!(unknown(json!({"Fn::ImportValue": "shared-pool"})).contains("another stack"));
        assert!(unknown(json!({"Fn::Sub": "${Nope.Arn}"})).contains("does not define"));
        assert!(
            unknown(json!({"Fn::Sub": "${stageVariables.pool}"})).contains("stage variable pool")
        );
        assert!(unknown(json!({"Fn::If": ["IsProd", "a", "b"]})).contains("condition IsProd"));
    }

    #[test]
    fn stage_variables_are_unknown() {
        let t = literal("arn:aws:cognito-idp:eu-west-1:1:userpool/${stageVariables.poolId}");
        assert_eq!(t.unknowns(), ["stage variable poolId"]);
        assert_eq!(literal("plain").as_known().as_deref(), Some("plain"));
    }
}
