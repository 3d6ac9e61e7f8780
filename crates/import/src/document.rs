//! Reading a source file (JSON or YAML) into one JSON tree.
//!
//! CloudFormation and SAM templates written in YAML use short-form tags (`!Ref X`,
//! `!GetAtt A.B`, `!Sub "..."`) that plain YAML-to-JSON conversion would lose. Here every
//! tag becomes the long form it stands for (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`,
//! `{"Fn::Sub": "..."}`), so the importers see one shape whatever the source's syntax, and
//! a JSON template and its YAML twin translate identically.

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

/// Source files larger than this are refused unread (the largest CloudFormation template
/// is 1 MB; this leaves room for a Serverless file with comments).
pub(crate) const MAX_SOURCE_BYTES: usize = 8 * 1024 * 1024;

/// Parses `text` as JSON when it looks like JSON, as YAML otherwise.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(format!(
            "{} bytes is larger than the {MAX_SOURCE_BYTES} allowed",
            text.len()
        ));
    }
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON: {e}"));
    }
    // serde_json stops at 128 levels by itself; libyaml must be stopped before it starts.
    cognito_ext_authz_core::nesting::check_nesting(
        trimmed,
        cognito_ext_authz_core::nesting::MAX_NESTING,
    )
    .map_err(|e| e.to_string())?;
    let mut yaml: Yaml =
        serde_yaml_ng::from_str(trimmed).map_err(|e| format!("invalid YAML: {e}"))?;
    yaml.apply_merge()
        .map_err(|e| format!("invalid YAML merge key: {e}"))?;
    to_json(yaml, 0)
}

/// YAML nesting deeper than this is refused (no real template comes close).
const MAX_DEPTH: usize = 128;

fn to_json(yaml: Yaml, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested more than {MAX_DEPTH} levels deep"));
    }
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(|v| to_json(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Null => "null".to_owned(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                out.insert(key, to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let inner = to_json(tagged.value, depth + 1)?;
            long_form(name, inner)
        }
    })
}

/// The long form of a CloudFormation short-form tag.
fn long_form(tag: &str, value: Value) -> Value {
    let (key, value) = match tag {
        "Ref" | "Condition" => (tag.to_owned(), value),
        // `!GetAtt Resource.Attribute`: the logical id never contains a dot, the attribute
        // may (`Endpoint.Address`).
        "GetAtt" => match value {
            Value::String(s) => match s.split_once('.') {
                Some((resource, attribute)) => (
                    "Fn::GetAtt".to_owned(),
                    Value::Array(vec![resource.into(), attribute.into()]),
                ),
                None => ("Fn::GetAtt".to_owned(), Value::String(s)),
            },
            other => ("Fn::GetAtt".to_owned(), other),
        },
        other => (format!("Fn::{other}"), value),
    };
    let mut map = Map::new();
    map.insert(key, value);
    Value::Object(map)
}

fn number(n: &serde_yaml_ng::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_long_forms() {
        let doc = parse(
            r#"
A: !Ref Param
B: !GetAtt Pool.Arn
C: !GetAtt [Pool, Arn]
D: !Sub "arn:aws:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${Id}"
E: !Join ["", [a, !Ref B]]
F: !Condition IsProd
"#,
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "A": {"Ref": "Param"},
                "B": {"Fn::GetAtt": ["Pool", "Arn"]},
                "C": {"Fn::GetAtt": ["Pool", "Arn"]},
                "D": {"Fn::Sub": "arn:aws:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/${Id}"},
                "E": {"Fn::Join": ["", ["a", {"Ref": "B"}]]},
                "F": {"Condition": "IsProd"},
            })
        );
    }

    #[test]
    fn json_and_yaml_read_the_same() {
        let json = parse(r#"{"a": [1, "x", true, null], "b": {"c": 1.5}}"#).unwrap();
        let yaml = parse("a: [1, x, true, null]\nb:\n  c: 1.5\n").unwrap();
        assert_eq!(json, yaml);
    }

    #[test]
    fn merge_keys_and_numeric_keys_are_handled() {
        let doc = parse("base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\nr:\n  200: ok\n").unwrap();
        assert_eq!(doc["d"], json!({"x": 1, "y": 2}));
        assert_eq!(doc["r"], json!({"200": "ok"}));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse("{not json").unwrap_err().contains("invalid JSON"));
        assert!(parse("a: [").unwrap_err().contains("invalid YAML"));
        assert!(parse(&"x".repeat(MAX_SOURCE_BYTES + 1)).is_err());
    }
}
