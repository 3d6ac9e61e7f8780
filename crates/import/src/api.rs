//! What every source format is read into: API Gateway's own model of a REST API.
//!
//! Serverless, OpenAPI and CloudFormation describe the same thing three ways: methods
//! (path + HTTP method) each with an authorization (none, a Cognito authorizer with scopes,
//! or something else), and authorizers naming user pools by ARN. Each importer only reads
//! its syntax into these types; `assemble` alone decides how they become a policy, so the
//! translation rules (and what is reported) are the same for every format.

use super::report::{Note, NoteKind};
use super::text::Text;

/// A `COGNITO_USER_POOLS` authorizer.
#[derive(Debug, Clone, Default)]
pub(crate) struct GatewayAuthorizer {
    /// Its name in the source (the Serverless authorizer name, the CloudFormation logical
    /// id, the OpenAPI security scheme): the policy's authorizer is named after it.
    pub name: String,
    /// Where it is defined.
    pub at: String,
    /// `providerARNs` / `ProviderARNs` / `UserPoolArn`.
    pub provider_arns: Vec<Text>,
    /// `method.request.header.Authorization`, or just the header name; `None`: the default.
    pub identity_source: Option<Setting>,
    /// `IdentityValidationExpression`; `None`: none.
    pub validation_expression: Option<Setting>,
    /// `AuthorizerResultTtlInSeconds`; `None`: API Gateway's default (300).
    pub result_ttl: Option<Setting>,
    /// Set when the source defines this name again differently: which definition API
    /// Gateway (or the tool deploying it) keeps is not certain, so the methods using it are
    /// denied.
    pub conflict: Option<String>,
}

/// One setting of an authorizer as the source states it: a string or number (possibly
/// known only at deployment), or `Err` saying what else it is.
pub(crate) type Setting = Result<Text, String>;

impl GatewayAuthorizer {
    /// Whether `other` defines the same authorizer (the place aside).
    fn same_definition(&self, other: &GatewayAuthorizer) -> bool {
        self.provider_arns == other.provider_arns
            && self.identity_source == other.identity_source
            && self.validation_expression == other.validation_expression
            && self.result_ttl == other.result_ttl
    }
}

/// How API Gateway authorizes one method.
#[derive(Debug, Clone)]
pub(crate) enum Access {
    /// `AuthorizationType: NONE`, no authorizer, `security: []`.
    Public,
    /// A Cognito authorizer (index into [`Api::authorizers`]) with `AuthorizationScopes`.
    Cognito {
        authorizer: usize,
        scopes: Vec<Text>,
    },
    /// Something this service cannot check (IAM, a Lambda authorizer, an API key alone):
    /// the text says what.
    NotEnforceable(String),
    /// The source does not say statically (`AuthorizationType: !Ref Param`).
    Unknown(String),
    /// The source says it in a type or shape import cannot read with certainty (scopes as a
    /// string, `security: [name]`, a misspelt key): the text says what and where.
    Unreadable(String),
}

/// One API Gateway method.
#[derive(Debug, Clone)]
pub(crate) struct Method {
    /// Where it is defined, for notes.
    pub at: String,
    /// Suggested route name: the function, operation or resource it comes from.
    pub name: String,
    /// Resource path with a leading `/`.
    pub path: Text,
    /// HTTP method as written (`post`, `ANY`, `x-amazon-apigateway-any-method` already `ANY`).
    pub method: Text,
    pub access: Access,
    /// Requirements API Gateway adds that this service does not check (an API key).
    pub unenforced_extras: Vec<String>,
    /// A CORS preflight method API Gateway answers itself, without authorization: an
    /// OPTIONS method with a MOCK integration, or the one Serverless `cors` or OpenAPI
    /// `x-amazon-apigateway-cors` adds. Only changes how it is reported.
    pub preflight: bool,
    /// The REST API it belongs to (a template's logical id), empty when the source
    /// defines one API only: two APIs may each have the method.
    pub api: String,
}

/// A REST API as read from one source file.
#[derive(Debug, Default)]
pub(crate) struct Api {
    pub authorizers: Vec<GatewayAuthorizer>,
    pub methods: Vec<Method>,
    pub notes: Vec<Note>,
}

impl Api {
    /// Adds an authorizer, or finds the one already read under the same name. A second,
    /// different definition under one name marks it conflicting (see
    /// [`GatewayAuthorizer::conflict`]): never is one of them silently kept.
    pub(crate) fn authorizer(&mut self, authorizer: GatewayAuthorizer) -> usize {
        if let Some(i) = self
            .authorizers
            .iter()
            .position(|a| a.name == authorizer.name)
        {
            let known = &mut self.authorizers[i];
            if known.conflict.is_none() && !known.same_definition(&authorizer) {
                known.conflict = Some(format!(
                    "the authorizer {} is defined at {} and again differently at {}",
                    known.name, known.at, authorizer.at
                ));
            }
            return i;
        }
        self.authorizers.push(authorizer);
        self.authorizers.len() - 1
    }

    pub(crate) fn note(
        &mut self,
        kind: NoteKind,
        at: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.notes.push(Note::new(kind, at, message));
    }

    /// Adds everything `other` read (an OpenAPI body inside a template), keeping authorizer
    /// indexes right.
    pub(crate) fn absorb(&mut self, other: Api) {
        let mut index = Vec::with_capacity(other.authorizers.len());
        for a in other.authorizers {
            index.push(self.authorizer(a));
        }
        for mut m in other.methods {
            if let Access::Cognito { authorizer, .. } = &mut m.access {
                *authorizer = index[*authorizer];
            }
            self.methods.push(m);
        }
        self.notes.extend(other.notes);
    }
}

/// A yes/no setting (`ApiKeyRequired`, `private`) as the source states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flag {
    Yes,
    No,
    /// Only deployment knows (a parameter, a variable): what it depends on.
    Unknown(String),
    /// Neither true nor false: what it is.
    Unreadable(String),
}

/// The access of a method that also has the API key setting `flag` (named `what` in the
/// source), and the requirements that this service does not check.
///
/// An API key is not authorization: next to an authorizer it is only reported, but a
/// method protected by nothing else is not public, and one whose setting is unknown or
/// unreadable might not be: both are denied.
pub(crate) fn with_api_key(access: Access, flag: &Flag, what: &str) -> (Access, Vec<String>) {
    let public = matches!(access, Access::Public);
    match (flag, public) {
        (Flag::No, _) => (access, vec![]),
        (Flag::Yes, true) => (
            Access::NotEnforceable(format!(
                "an API key alone ({what}: true), without an authorizer"
            )),
            vec![],
        ),
        (Flag::Unknown(on), true) => (
            Access::Unknown(format!(
                "{on} ({what}: whether an API key alone protects it)"
            )),
            vec![],
        ),
        (Flag::Unreadable(shape), true) => (
            Access::Unreadable(format!("{what} is {shape}, not true or false")),
            vec![],
        ),
        (Flag::Yes, false) => (access, vec![format!("an API key ({what}: true)")]),
        (Flag::Unknown(_) | Flag::Unreadable(_), false) => (
            access,
            vec![format!("an API key, if {what} turns out true")],
        ),
    }
}

/// What a provider ARN tells about the user pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PoolArn {
    /// `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID` with a well-formed id.
    Pool(String),
    /// The pool id depends on something only deployment knows.
    Unresolved(String),
    /// Not a Cognito user pool ARN at all (the message says why).
    Invalid(String),
}

/// Reads the pool id out of a provider ARN. Only the id matters (the issuer and key set
/// follow from it), so an ARN whose region or account is unknown still resolves.
pub(crate) fn pool_arn(arn: &Text) -> PoolArn {
    const HOLE: char = '\u{0}';
    let (flat, unknowns) = arn.with_holes(HOLE);
    let fields: Vec<&str> = flat.splitn(6, ':').collect();
    let whole_unknown = || PoolArn::Unresolved(unknowns.join(", "));
    if fields.len() < 6 {
        return if unknowns.is_empty() {
            PoolArn::Invalid(format!("{arn} is not an ARN"))
        } else {
            whole_unknown()
        };
    }
    if fields[0] != "arn" || fields[2] != "cognito-idp" {
        return if fields[0].contains(HOLE) || fields[2].contains(HOLE) {
            whole_unknown()
        } else {
            PoolArn::Invalid(format!("{arn} is not a Cognito user pool ARN"))
        };
    }
    let Some(id) = fields[5].strip_prefix("userpool/") else {
        return if fields[5].starts_with(HOLE) {
            whole_unknown()
        } else {
            PoolArn::Invalid(format!("{arn} does not name a user pool (userpool/ID)"))
        };
    };
    if id.contains(HOLE) {
        // The id is the end of the ARN: the holes before it belong to other fields.
        let before = flat[..flat.len() - id.len()].matches(HOLE).count();
        let id_unknowns = &unknowns[before.min(unknowns.len())..];
        return PoolArn::Unresolved(id_unknowns.join(", "));
    }
    if cognito_ext_authz_core::policy::pool_region(id).is_none() {
        return PoolArn::Invalid(format!(
            "{arn}: {id:?} is not a user pool id (REGION_ID, e.g. ap-south-1_abcdefghi)"
        ));
    }
    PoolArn::Pool(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(parts: &[(&str, bool)]) -> Text {
        let mut t = Text::default();
        for (s, known) in parts {
            t.push(if *known {
                Text::known(*s)
            } else {
                Text::unknown(*s)
            });
        }
        t
    }

    #[test]
    fn reads_the_pool_id_from_provider_arns() {
        assert_eq!(
            pool_arn(&Text::known(
                "arn:aws:cognito-idp:ap-south-1:1234567890:userpool/ap-south-1_abcdefghi"
            )),
            PoolArn::Pool("ap-south-1_abcdefghi".into())
        );
        // Region and account unknown: the id is all that matters.
        let t = text(&[
            ("arn:", true),
            ("AWS::Partition", false),
            (":cognito-idp:", true),
            ("AWS::Region", false),
            (":", true),
            ("AWS::AccountId", false),
            (":userpool/eu-west-1_AbCdEfGhI", true),
        ]);
        assert_eq!(pool_arn(&t), PoolArn::Pool("eu-west-1_AbCdEfGhI".into()));
    }

    #[test]
    fn unknown_pool_ids_are_unresolved_never_guessed() {
        let t = text(&[
            ("arn:aws:cognito-idp:", true),
            ("AWS::Region", false),
            (":", true),
            ("AWS::AccountId", false),
            (":userpool/", true),
            ("parameter PoolId", false),
        ]);
        assert_eq!(pool_arn(&t), PoolArn::Unresolved("parameter PoolId".into()));
        let t = Text::unknown("!GetAtt UserPool.Arn");
        assert_eq!(
            pool_arn(&t),
            PoolArn::Unresolved("!GetAtt UserPool.Arn".into())
        );
        let t = text(&[
            ("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_", true),
            ("x", false),
        ]);
        assert_eq!(pool_arn(&t), PoolArn::Unresolved("x".into()));
    }

    #[test]
    fn other_arns_are_invalid() {
        for bad in [
            "arn:aws:lambda:eu-west-1:1:function:auth",
            "arn:aws:cognito-idp:eu-west-1:1:identitypool/x",
            "arn:aws:cognito-idp:eu-west-1:1:userpool/not-a-pool",
            "ap-south-1_abcdefghi",
        ] {
            assert!(
                matches!(pool_arn(&Text::known(bad)), PoolArn::Invalid(_)),
                "{bad}"
            );
        }
    }
}
