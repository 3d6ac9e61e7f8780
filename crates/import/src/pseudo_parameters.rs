//! The `serverless-pseudo-parameters` plugin, as it rewrites a Serverless service.
//!
//! Before Serverless had `${aws:region}`, teams wrote `#{AWS::Region}` and
//! `#{AWS::AccountId}` in `serverless.yml` (most often in a user pool ARN) and listed this
//! plugin, which turns every string of the compiled template holding `#{X}` into
//! `Fn::Sub: ...${X}...`. Read the same way here, an ARN such as
//! `arn:aws:cognito-idp:#{AWS::Region}:#{AWS::AccountId}:userpool/us-east-1_X` names its
//! pool (the id is literal) while region and account stay what only deployment knows. With
//! the plugin's `skipRegionReplace: false`, the first region name in a string becomes
//! `#{AWS::Region}` too, as the plugin does. Without the plugin listed, `#{...}` is literal
//! text, which is what CloudFormation then receives.

use serde_json::{Value, json};

use super::intrinsic::{Resolve, Template};
use super::text::Text;

/// The plugin's name in `plugins`.
const PLUGIN: &str = "serverless-pseudo-parameters";

/// The regions the plugin's `skipRegionReplace: false` recognises (its own list).
const REGIONS: [&str; 15] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// The plugin's settings, when the service lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PseudoParameters {
    /// `custom.pseudoParameters.skipRegionReplace` (default true).
    skip_region_replace: bool,
    /// `custom.pseudoParameters.allowReferences` (default true): any `#{X}`, not only
    /// `#{AWS::...}`.
    allow_references: bool,
}

impl PseudoParameters {
    /// The plugin as `doc` configures it; `None` when `plugins` does not list it (either
    /// form: a list, or `modules` under `plugins`).
    pub(crate) fn of(doc: &Value) -> Option<Self> {
        let plugins = doc.get("plugins")?;
        let list = plugins.get("modules").unwrap_or(plugins).as_array()?;
        if !list
            .iter()
            .any(|p| p.as_str().map(str::trim) == Some(PLUGIN))
        {
            return None;
        }
        let settings = doc.get("custom").and_then(|c| c.get("pseudoParameters"));
        // The plugin reads these as JavaScript truth values, default true.
        let truthy = |key: &str| match settings.and_then(|s| s.get(key)) {
            None => true,
            Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        Some(Self {
            skip_region_replace: truthy("skipRegionReplace"),
            allow_references: truthy("allowReferences"),
        })
    }

    /// `text` as the plugin leaves it in the deployed template: each `#{X}` what
    /// `Fn::Sub: ${X}` resolves to in `template`.
    pub(crate) fn apply(&self, text: &Text, template: &Template) -> Text {
        let text = if self.skip_region_replace {
            text.clone()
        } else {
            match text.as_known() {
                Some(s) => Text::known(replace_first_region(&s)),
                // The plugin rewrites the first region name of the whole string: one in a
                // part only deployment knows may come first.
                None if text.with_holes('\0').0.chars().any(|c| c != '\0') => {
                    Text::unknown(format!(
                        "{text} with its first region name replaced by serverless-pseudo-parameters (skipRegionReplace: false)"
                    ))
                }
                None => text.clone(),
            }
        };
        text.map_known(|s| self.substitute(s, template))
    }

    /// One literal piece: `#{X}` → the value of `${X}`.
    fn substitute(&self, s: &str, template: &Template) -> Text {
        let mut out = Text::default();
        let mut rest = s;
        while let Some(start) = rest.find("#{") {
            let Some(len) = rest[start + 2..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + 2 + len];
            let replaced = !name.is_empty()
                && (self.allow_references
                    || name.strip_prefix("AWS::").is_some_and(|n| {
                        !n.is_empty() && n.chars().all(|c| c.is_ascii_alphabetic())
                    }));
            out.push(Text::known(&rest[..start]));
            if replaced {
                out.push(template.text(&json!({ "Fn::Sub": format!("${{{name}}}") })));
            } else {
                out.push(Text::known(&rest[start..start + 2 + len + 1]));
            }
            rest = &rest[start + 2 + len + 1..];
        }
        out.push(Text::known(rest));
        out
    }
}

/// The first region name in `s` (the leftmost, as the plugin's regular expression finds
/// it) written `#{AWS::Region}`.
fn replace_first_region(s: &str) -> String {
    let first = REGIONS
        .iter()
        .filter_map(|r| s.find(r).map(|at| (at, r.len())))
        .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)));
    match first {
        Some((at, len)) => format!("{}#{{AWS::Region}}{}", &s[..at], &s[at + len..]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document;

    fn plugin(yaml: &str) -> Option<PseudoParameters> {
        PseudoParameters::of(&document::parse(yaml).unwrap())
    }

    const ARN: &str = "arn:aws:cognito-idp:#{AWS::Region}:#{AWS::AccountId}:userpool/us-east-1_X";

    #[test]
    fn only_a_listed_plugin_rewrites() {
        assert_eq!(plugin("service: s\n"), None);
        assert_eq!(plugin("plugins: [serverless-offline]\n"), None);
        let on = plugin("plugins: [serverless-offline, serverless-pseudo-parameters]\n").unwrap();
        assert_eq!(
            plugin("plugins: {modules: [serverless-pseudo-parameters]}\n"),
            Some(on)
        );
        let empty = Value::Null;
        let t = on.apply(&Text::known(ARN), &Template::new(&empty));
        assert_eq!(t.unknowns(), ["AWS::Region", "AWS::AccountId"]);
        assert_eq!(
            t.with_holes('?').0,
            "arn:aws:cognito-idp:?:?:userpool/us-east-1_X"
        );
    }

    #[test]
    fn references_and_region_replacement_follow_the_settings() {
        let empty = Value::Null;
        let template = Template::new(&empty);
        let strict = plugin(
            "plugins: [serverless-pseudo-parameters]\ncustom: {pseudoParameters: {allowReferences: false}}\n",
        )
        .unwrap();
        // Only AWS:: names are rewritten; the rest stays literal.
        let t = strict.apply(&Text::known("#{Pool}/#{AWS::Partition}"), &template);
        assert_eq!(t.with_holes('?').0, "#{Pool}/?");
        let regions = plugin(
            "plugins: [serverless-pseudo-parameters]\ncustom: {pseudoParameters: {skipRegionReplace: false}}\n",
        )
        .unwrap();
        // The first region name is the pool id's: the id becomes unknown.
        let t = regions.apply(&Text::known(ARN), &template);
        assert_eq!(t.with_holes('?').0, "arn:aws:cognito-idp:?:?:userpool/?_X");
        let t = regions.apply(
            &Text::known("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_X"),
            &template,
        );
        assert_eq!(
            t.with_holes('?').0,
            "arn:aws:cognito-idp:?:1:userpool/eu-west-1_X"
        );
    }
}
