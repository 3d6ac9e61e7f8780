//! `assemble`: from API Gateway's model ([`Api`]) to a policy document, with a note for
//! every difference, by the same rules for every source format (docs/import.md has them):
//! each method becomes a route ([`methods`]), one per path and method ([`merge`]), and the
//! authorizers those routes name are written with their pools ([`pools`]), from what
//! each source authorizer's settings translate to ([`settings`]).

mod merge;
mod methods;
mod pools;
mod settings;
#[cfg(test)]
mod tests;

use super::api::Api;
use super::report::Note;
use cognito_ext_authz_core::policy::Policy;
use cognito_ext_authz_core::policy::model::{PolicyFile, TokenSource};

/// Placeholder pool ids look like `zz-replaceme-1_UNRESOLVED`: a well-formed id (so the
/// policy validates and the rest of it can be reviewed and tested) in a region that does not
/// exist, so its key set can never be fetched: `serve` never reports SERVING with it, and a
/// reload that brings it in trusts no token from it. `import` also exits 3 when it wrote one.
pub const PLACEHOLDER_SUFFIX: &str = "_UNRESOLVED";

/// A placeholder pool written in place of a pool id the source does not state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The placeholder id in the policy.
    pub id: String,
    /// What the real id depends on (`parameter UserPoolArn`, `!GetAtt UserPoolConfig.Arn`, ...).
    pub stands_for: String,
    /// The authorizer (and its place) that names it.
    pub at: String,
}

/// The assembled policy and everything to report about it.
#[derive(Debug)]
pub(crate) struct Assembled {
    pub policy: PolicyFile,
    pub notes: Vec<Note>,
    pub placeholders: Vec<Placeholder>,
}

/// The policy document for `api`, its notes sorted by kind; `Err` only when the result
/// does not compile, which is a bug in import.
pub(crate) fn assemble(api: Api) -> Result<Assembled, String> {
    let Api {
        authorizers,
        methods,
        mut notes,
    } = api;
    let authorizers = settings::Authorizers::new(authorizers);
    let (candidates, referenced) = methods::candidates(methods, &authorizers, &mut notes);
    let routes = merge::dedup_routes(candidates, &mut notes);
    let trusted = pools::trusted(&authorizers, &routes, &referenced, &mut notes);
    let policy = PolicyFile {
        user_pools: trusted.user_pools,
        token_source: TokenSource::default(),
        authorizers: trusted.authorizers,
        default_authorizer: None,
        claim_headers: Default::default(),
        default_action: Default::default(),
        mode: Default::default(),
        dry_run_unsafe_requests: false,
        insufficient_scope_status: None,
        gateway_responses: Default::default(),
        leeway_seconds: None,
        routes,
    };
    Policy::compile(&policy).map_err(|e| {
        format!("the translated policy does not compile (a bug in import; please report it):\n{e}")
    })?;
    notes.sort_by_key(|n| n.kind);
    Ok(Assembled {
        policy,
        notes,
        placeholders: trusted.placeholders,
    })
}
