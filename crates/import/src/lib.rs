//! `import`: the policy equivalent to an API Gateway definition (docs/import.md).
//!
//! Teams already state their Cognito authorizer policy in a Serverless `serverless.yml`,
//! an API Gateway OpenAPI export or a CloudFormation/SAM template; writing it a second time
//! by hand is how the two drift apart. Each importer ([`serverless`], [`openapi`],
//! [`cloudformation`]) only reads its syntax into API Gateway's model ([`api`]); one set of
//! rules ([`assemble`]) turns that into a [`PolicyFile`] and a [`Note`] for everything that
//! is not a one-to-one translation. The translation is exact where it can be: each API
//! Gateway authorizer becomes a named authorizer (its pools, header, validation expression
//! and result TTL), each method a route naming it, a Cognito method without scopes an
//! ID-token route, each CORS preflight API Gateway answers a public OPTIONS route. Nothing
//! is dropped silently, nothing is guessed: a pool
//! id only deployment knows becomes a placeholder that cannot be used by accident (see
//! [`PLACEHOLDER_SUFFIX`]), and a method this service cannot enforce becomes an
//! `auth: deny` route (403, even under a broader route).
//!
//! Import fails closed: a value of a type or shape it does not expect (a string where a
//! list of scopes belongs, `null`, a misspelt key, a reference to nothing) never degrades
//! to "no authorization" or "no scopes". Only what a source plainly states as public
//! becomes `auth: none`, and only a plainly stated Cognito authorizer without scopes a
//! scope-less route; everything else becomes `auth: deny` with a note
//! ([`NoteKind::Unreadable`]), because a policy that is wrong in the open direction is the
//! one failure an authorizer cannot afford. `docs/import.md` has the translation table.

mod api;
mod assemble;
mod cloudformation;
mod document;
mod gateway_responses;
mod intrinsic;
mod openapi;
mod pseudo_parameters;
mod report;
mod sam;
mod serverless;
mod tests_writer;
mod text;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use thiserror::Error;

pub use assemble::{PLACEHOLDER_SUFFIX, Placeholder};
use cognito_ext_authz_core::policy::model::PolicyFile;
pub use report::{Note, NoteKind};

/// The kinds of source `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Serverless Framework `serverless.yml`.
    Serverless,
    /// API Gateway OpenAPI 3 or Swagger 2 (an export, JSON or YAML).
    OpenApi,
    /// CloudFormation or SAM template (JSON or YAML).
    CloudFormation,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Serverless => "serverless",
            Format::OpenApi => "openapi",
            Format::CloudFormation => "cloudformation",
        }
    }

    /// Recognises a parsed source by its top-level keys.
    pub fn detect(doc: &Value) -> Option<Format> {
        let has = |k: &str| doc.get(k).is_some();
        if has("openapi") || has("swagger") {
            Some(Format::OpenApi)
        } else if has("Resources") || has("AWSTemplateFormatVersion") || has("Transform") {
            Some(Format::CloudFormation)
        } else if has("service") && (has("functions") || has("provider")) {
            Some(Format::Serverless)
        } else {
            None
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "serverless" => Ok(Format::Serverless),
            "openapi" | "swagger" => Ok(Format::OpenApi),
            "cloudformation" | "sam" => Ok(Format::CloudFormation),
            other => Err(format!(
                "unknown format {other:?}: serverless, openapi or cloudformation"
            )),
        }
    }
}

/// Why a source could not be translated at all.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot read the source: {0}")]
    Parse(String),
    #[error(
        "cannot tell the format (no `openapi`/`swagger`, `Resources`/`AWSTemplateFormatVersion`, or `service` + `functions` at the top level); pass --format"
    )]
    UnknownFormat,
    #[error("{0}")]
    Internal(String),
}

/// The translated policy and its report.
#[derive(Debug)]
pub struct Translation {
    pub format: Format,
    pub policy: PolicyFile,
    /// Everything not translated one to one, the ones to fix first.
    pub notes: Vec<Note>,
    /// Placeholder pools written in place of ids the source does not state.
    pub placeholders: Vec<Placeholder>,
}

/// Translates the source `text`; `format` `None` detects it.
pub fn translate(text: &str, format: Option<Format>) -> Result<Translation, ImportError> {
    translate_document(&read_document(text)?, format)
}

/// The largest source file `import` reads.
pub const MAX_SOURCE_BYTES: usize = document::MAX_SOURCE_BYTES;

/// Reads a source (JSON or YAML, CloudFormation short-form tags as their long forms) into
/// the one tree every reader works on.
pub fn read_document(text: &str) -> Result<Value, ImportError> {
    document::parse(text).map_err(ImportError::Parse)
}

/// Translates an already read source (see [`read_document`]); `format` `None` detects it.
/// Property tests mutate the tree and call this directly.
pub fn translate_document(doc: &Value, format: Option<Format>) -> Result<Translation, ImportError> {
    if !doc.is_object() {
        return Err(ImportError::Parse(
            "the top level is not a mapping".to_owned(),
        ));
    }
    let format = format
        .or_else(|| Format::detect(doc))
        .ok_or(ImportError::UnknownFormat)?;
    let api = match format {
        Format::Serverless => serverless::read(doc),
        Format::OpenApi => openapi::read(doc, &intrinsic::Plain, ""),
        Format::CloudFormation => cloudformation::read(doc),
    };
    let mut assembled = assemble::assemble(api).map_err(ImportError::Internal)?;
    let (responses, notes) = gateway_responses::read(doc, format, &assembled.policy);
    if !responses.is_empty() {
        assembled.policy.gateway_responses = responses;
        cognito_ext_authz_core::policy::Policy::compile(&assembled.policy).map_err(|e| {
            ImportError::Internal(format!(
                "the translated gateway responses do not compile (a bug in import; please report it):\n{e}"
            ))
        })?;
    }
    assembled.notes.extend(notes);
    Ok(Translation {
        format,
        policy: assembled.policy,
        notes: assembled.notes,
        placeholders: assembled.placeholders,
    })
}

impl Translation {
    /// Whether everything needed was resolved and read: no placeholder, no method denied or
    /// left out for an unknown value or one of the wrong shape. `import` exits 3 otherwise.
    pub fn is_complete(&self) -> bool {
        !self
            .notes
            .iter()
            .any(|n| matches!(n.kind, NoteKind::Unresolved | NoteKind::Unreadable))
    }

    /// How many distinct user pools the policy trusts, over all its authorizers.
    pub fn pool_count(&self) -> usize {
        cognito_ext_authz_core::policy::Policy::compile(&self.policy).map_or(0, |p| p.pools.len())
    }

    /// The policy YAML, headed by the report as comments, with a comment on each
    /// placeholder pool saying what to put there.
    pub fn to_yaml(&self, source: &str) -> Result<String, ImportError> {
        let body = serde_saphyr::to_string(&self.policy)
            .map_err(|e| ImportError::Internal(format!("cannot write the policy YAML: {e}")))?;
        let mut out = String::new();
        out.push_str(&format!(
            "# cognito-ext-authz policy imported from {} ({}).\n",
            one_line(source),
            self.format
        ));
        if self.notes.is_empty() {
            out.push_str("# Every method translated one to one.\n");
        } else {
            out.push_str(&format!(
                "# {} note(s) from the import; review them before deploying:\n",
                self.notes.len()
            ));
            for note in &self.notes {
                out.push_str(&format!("#   {}\n", one_line(&note.to_string())));
            }
        }
        for line in body.lines() {
            if let Some(p) = self.placeholders.iter().find(|p| {
                line.trim_start().trim_start_matches("- ").trim() == format!("id: {}", p.id)
            }) {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&format!(
                    "{indent}# PLACEHOLDER: replace with the real pool id (REGION_ID) of {}\n",
                    one_line(&p.stands_for)
                ));
            }
            out.push_str(line);
            out.push('\n');
        }
        Ok(out)
    }
}

/// Comments are one line each, whatever a source string holds.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_ext_authz_core::policy::Policy;

    const SERVERLESS: &str = r#"
service: users
provider: {name: aws}
functions:
  my_func:
    events:
      - http:
          path: my_path
          method: post
          authorizer:
            type: COGNITO_USER_POOLS
            authorizerId: {Ref: ApiGatewayAuthorizer}
            scopes: [user_management_lambdas/api]
resources:
  Resources:
    ApiGatewayAuthorizer:
      Type: AWS::ApiGateway::Authorizer
      Properties:
        Type: COGNITO_USER_POOLS
        IdentitySource: method.request.header.Authorization
        ProviderARNs: [arn:aws:cognito-idp:ap-south-1:1234567890:userpool/ap-south-1_abcdefghi]
"#;

    #[test]
    fn detects_formats() {
        let detect = |s: &str| Format::detect(&document::parse(s).unwrap());
        assert_eq!(detect(SERVERLESS), Some(Format::Serverless));
        assert_eq!(detect("openapi: 3.0.1\npaths: {}\n"), Some(Format::OpenApi));
        assert_eq!(detect("{\"swagger\": \"2.0\"}"), Some(Format::OpenApi));
        assert_eq!(detect("Resources: {}\n"), Some(Format::CloudFormation));
        assert_eq!(detect("a: 1\n"), None);
        assert_eq!("SAM".parse::<Format>(), Ok(Format::CloudFormation));
        assert!("terraform".parse::<Format>().is_err());
    }

    #[test]
    fn the_yaml_round_trips_and_compiles() {
        let t = translate(SERVERLESS, None).unwrap();
        assert!(t.is_complete(), "{:?}", t.notes);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        let yaml = t.to_yaml("serverless.yml").unwrap();
        let back: PolicyFile = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, t.policy);
        let policy = Policy::parse(&yaml).unwrap();
        assert_eq!(policy.pools[0].id, "ap-south-1_abcdefghi");
        assert_eq!(
            policy.routes.routes()[0].scopes,
            ["user_management_lambdas/api"]
        );
    }

    #[test]
    fn placeholders_are_commented_and_still_compile() {
        let src = SERVERLESS.replace(
            "[arn:aws:cognito-idp:ap-south-1:1234567890:userpool/ap-south-1_abcdefghi]",
            "[!GetAtt UserPool.Arn]",
        );
        let t = translate(&src, None).unwrap();
        assert!(!t.is_complete());
        let yaml = t.to_yaml("x\ny").unwrap();
        assert!(
            yaml.contains("# PLACEHOLDER: replace with the real pool id"),
            "{yaml}"
        );
        assert!(yaml.contains("zz-replaceme-1_UNRESOLVED"), "{yaml}");
        assert!(yaml.starts_with("# cognito-ext-authz policy imported from x y"));
        Policy::parse(&yaml).unwrap();
    }

    #[test]
    fn refuses_unreadable_sources() {
        assert!(matches!(
            translate("a: [", None),
            Err(ImportError::Parse(_))
        ));
        assert!(matches!(
            translate("- a\n- b\n", None),
            Err(ImportError::Parse(_))
        ));
        assert!(matches!(
            translate("a: 1\n", None),
            Err(ImportError::UnknownFormat)
        ));
    }
}
