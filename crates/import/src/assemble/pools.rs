//! The third phase of assembling: the authorizers the written routes name, each with its
//! pools (a pool id only deployment knows becomes a placeholder, never a guess), and the
//! placeholder pool a policy without any Cognito route trusts.

use std::collections::{BTreeMap, BTreeSet};

use super::super::api::{GatewayAuthorizer, PoolArn, pool_arn};
use super::super::report::{Note, NoteKind};
use super::super::text::Text;
use super::settings::Authorizers;
use super::{PLACEHOLDER_SUFFIX, Placeholder};
use cognito_ext_authz_core::policy::model::{
    AuthorizerConfig, RouteConfig, TokenSource, UserPoolConfig,
};

/// The policy's authorizers and pools.
pub(super) struct Trusted {
    /// The named authorizers, each with its pools.
    pub authorizers: BTreeMap<String, AuthorizerConfig>,
    /// The top-level pools: a placeholder when no authorizer is written (a policy trusts
    /// at least one pool), else none.
    pub user_pools: Vec<UserPoolConfig>,
    pub placeholders: Vec<Placeholder>,
}

/// The authorizers `routes` name; `referenced`: those some method named (an authorizer no
/// method named is reported as unused).
pub(super) fn trusted(
    authorizers: &Authorizers,
    routes: &[RouteConfig],
    referenced: &BTreeSet<usize>,
    notes: &mut Vec<Note>,
) -> Trusted {
    let mut placeholders: Vec<Placeholder> = Vec::new();
    let mut written: BTreeMap<String, AuthorizerConfig> = BTreeMap::new();
    let names = &authorizers.names;
    for (i, a) in authorizers.list.iter().enumerate() {
        let in_use = routes
            .iter()
            .any(|r| r.authorizer.as_deref() == Some(names[i].as_str()));
        let Ok(settings) = &authorizers.settings[i] else {
            continue;
        };
        if !in_use {
            if !referenced.contains(&i) {
                notes.push(Note::new(
                    NoteKind::NotTranslated,
                    &a.at,
                    format!(
                        "authorizer {} is not used by any translated method; it is not written and its user pools are not trusted",
                        a.name
                    ),
                ));
            }
            continue;
        }
        if let Some(what) = &settings.ttl_unknown {
            notes.push(Note::new(
                NoteKind::Unresolved,
                &a.at,
                format!(
                    "authorizer {}: the result TTL depends on {what}; written as resultTtlSeconds: 0 (every request verified, nothing reused) until you set it",
                    a.name
                ),
            ));
        }
        let user_pools = authorizer_pools(a, &mut placeholders, notes);
        written.insert(
            names[i].clone(),
            AuthorizerConfig {
                user_pools,
                token_source: TokenSource {
                    header: settings.header.clone(),
                },
                identity_validation_expression: settings.expression.clone(),
                result_ttl_seconds: settings.ttl,
            },
        );
    }
    let user_pools = if written.is_empty() {
        let what = unused_pool(&authorizers.list);
        let id = placeholder(&mut placeholders, &what, "(source)", notes);
        vec![pool_config(id)]
    } else {
        Vec::new()
    };
    Trusted {
        authorizers: written,
        user_pools,
        placeholders,
    }
}

/// What the placeholder pool of a policy without authorizers stands for.
fn unused_pool(authorizers: &[GatewayAuthorizer]) -> String {
    if authorizers.is_empty() {
        "a user pool: no method of the source uses a Cognito authorizer".to_owned()
    } else {
        // The source has Cognito authorizers, but no method using one could be translated
        // (see their notes): not "no Cognito authorizer".
        format!(
            "a user pool: the source's Cognito authorizer(s) {} are used by no method that could be translated (each such method is denied or left out, see its note), so none is written",
            authorizers
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The placeholder id standing for `what` (one per distinct `what`), reported at `at`.
fn placeholder(
    placeholders: &mut Vec<Placeholder>,
    what: &str,
    at: &str,
    notes: &mut Vec<Note>,
) -> String {
    if let Some(p) = placeholders.iter().find(|p| p.stands_for == what) {
        return p.id.clone();
    }
    let id = format!(
        "zz-replaceme-{}{PLACEHOLDER_SUFFIX}",
        placeholders.len() + 1
    );
    notes.push(Note::new(
        NoteKind::Unresolved,
        at,
        format!(
            "the user pool id depends on {what}; the policy has the placeholder pool {id}: replace it with the real pool id before deploying (until then no token of it is accepted and `serve` never becomes ready)"
        ),
    ));
    placeholders.push(Placeholder {
        id: id.clone(),
        stands_for: what.to_owned(),
        at: at.to_owned(),
    });
    id
}

/// The pools of one authorizer: each provider ARN's pool once, placeholders for the ones
/// only deployment knows. An ARN that names no user pool is reported and not trusted; an
/// authorizer left with none trusts a placeholder (no token passes until it is replaced).
fn authorizer_pools(
    a: &GatewayAuthorizer,
    placeholders: &mut Vec<Placeholder>,
    notes: &mut Vec<Note>,
) -> Vec<UserPoolConfig> {
    let mut pools: Vec<UserPoolConfig> = Vec::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for arn in &a.provider_arns {
        let (id, config) = match pool_arn(arn) {
            PoolArn::Pool(id) => (id.clone(), pool_of_arn(arn, id)),
            PoolArn::Unresolved(what) => {
                let id = placeholder(placeholders, &what, &a.at, notes);
                (id.clone(), pool_config(id))
            }
            PoolArn::Invalid(why) => {
                notes.push(Note::new(
                    NoteKind::NotTranslated,
                    &a.at,
                    format!("authorizer {}: provider ARN ignored: {why}", a.name),
                ));
                continue;
            }
        };
        if ids.insert(id) {
            pools.push(config);
        }
    }
    if pools.is_empty() {
        let what = format!(
            "a user pool ARN for authorizer {} (it has none usable)",
            a.name
        );
        pools.push(pool_config(placeholder(placeholders, &what, &a.at, notes)));
    }
    pools
}

/// The pool as the policy names it: by its provider ARN when the ARN is fully known and
/// consistent (its region is the pool id's), else by id.
fn pool_of_arn(arn: &Text, id: String) -> UserPoolConfig {
    let consistent = arn.as_known().filter(|s| {
        s.split(':')
            .nth(3)
            .is_some_and(|region| cognito_ext_authz_core::policy::pool_region(&id) == Some(region))
    });
    match consistent {
        Some(arn) => UserPoolConfig {
            arn: Some(arn),
            ..pool_config(String::new())
        },
        None => pool_config(id),
    }
}

fn pool_config(id: String) -> UserPoolConfig {
    UserPoolConfig {
        id,
        arn: None,
        app_clients: None,
        jwks_uri: None,
        issuer: None,
    }
}
