//! Serverless variables as Serverless resolves them: `${self:...}` within the file (with
//! fallbacks and nesting), the other sources (`${opt:...}`, `${env:...}`, `${ssm:...}`,
//! `${cf:...}`, ...) named as what only deployment knows, and CloudFormation intrinsics
//! through the file's `resources`.

use std::borrow::Cow;

use serde_json::Value;

use super::super::api::Setting;
use super::super::intrinsic::{Resolve, Template, is_intrinsic, shape, strings};
use super::super::pseudo_parameters::PseudoParameters;
use super::super::text::Text;

/// How many variables deep a value may refer (`${self:a}` → `${self:b}` → ...).
const MAX_VARIABLE_DEPTH: usize = 16;

/// Resolves Serverless variables, and CloudFormation intrinsics via `resources`.
pub(super) struct Serverless<'a> {
    pub(super) doc: &'a Value,
    pub(super) resources: Template<'a>,
    /// The `serverless-pseudo-parameters` plugin, when the service lists it.
    pub(super) pseudo: Option<PseudoParameters>,
}

impl<'a> Serverless<'a> {
    /// The resolver of `doc`'s values, `resources` its merged CloudFormation.
    pub(super) fn new(doc: &'a Value, resources: &'a Value) -> Self {
        Serverless {
            doc,
            resources: Template::new(resources),
            pseudo: PseudoParameters::of(doc),
        }
    }

    /// A string as written, its variables resolved, before any plugin rewrites it (what
    /// Serverless itself tests, e.g. whether an `arn` is a user pool's).
    pub(super) fn raw_text(&self, value: &Value) -> Text {
        match value {
            Value::String(s) => self.interpolate(s, 0),
            other => self.text(other),
        }
    }

    /// The value itself, or what a whole-value `${self:...}` refers to (a list of scopes
    /// kept in `custom`, say).
    pub(super) fn value(&self, v: &'a Value) -> Cow<'a, Value> {
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

    pub(super) fn interpolate(&self, s: &str, depth: usize) -> Text {
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
            Value::String(s) => {
                let text = self.interpolate(s, 0);
                match &self.pseudo {
                    Some(plugin) => plugin.apply(&text, &self.resources),
                    None => text,
                }
            }
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
