//! Checking a parsed policy file and compiling it into a [`Policy`]: every error is
//! collected with its place, so one `validate` run shows them all.
//! One function per part of the file (authorizers, pools, claim headers, routes); the
//! rules it applies live in `rules.rs`, the result in `mod.rs` and `table.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use std::time::Duration;

mod routes;

use super::model::{
    AuthorizerConfig, DEFAULT_INSUFFICIENT_SCOPE_STATUS, Mode, PolicyFile, UserPoolConfig,
};
use super::responses::GatewayResponses;
use super::rules::{
    check_fetch_url, check_issuer, is_header_name, pool_id_of_arn, pool_region, reserved_header,
    whole_match_expression,
};
use super::table::{RoutePlace, RouteTable};
use super::{Authorizer, Policy, Pool, Pools, TrustedPool};
use crate::errors::{FileErrors, Located};

impl Policy {
    /// Checks a parsed policy file and compiles it.
    pub fn compile(file: &PolicyFile) -> Result<Policy, FileErrors> {
        let places: Vec<RoutePlace> = (0..file.routes.len())
            .map(|index| RoutePlace { file: None, index })
            .collect();
        Self::compile_placed(file, &places)
    }

    /// Compiles `file`, whose `routes[i]` was written at `places[i]` (a policy folder
    /// merges several files' routes into one list; errors and `check` name the file).
    pub(super) fn compile_placed(
        file: &PolicyFile,
        places: &[RoutePlace],
    ) -> Result<Policy, FileErrors> {
        let mut errors = Vec::new();
        let mut pools = PoolList::default();
        let authorizers = compile_authorizers(file, &mut pools, &mut errors);
        let default_authorizer = match &file.default_authorizer {
            Some(name) => {
                let found = authorizers.iter().position(|a| &*a.name == name.as_str());
                if found.is_none() {
                    errors.push(Located::new(
                        "defaultAuthorizer",
                        format!("{name:?} is not one of the authorizers"),
                    ));
                }
                found
            }
            None if authorizers.len() == 1 => Some(0),
            None => None,
        };
        let insufficient_scope_status = match file.insufficient_scope_status {
            None => DEFAULT_INSUFFICIENT_SCOPE_STATUS,
            Some(401) => 401,
            Some(403) => 403,
            Some(other) => {
                errors.push(Located::new(
                    "insufficientScopeStatus",
                    format!("{other} must be 401 or 403"),
                ));
                401
            }
        };
        let leeway_seconds = file.leeway_seconds.unwrap_or(0);
        if leeway_seconds > super::MAX_LEEWAY_SECONDS {
            errors.push(Located::new(
                "leewaySeconds",
                format!(
                    "{leeway_seconds} is more than the {} seconds allowed",
                    super::MAX_LEEWAY_SECONDS
                ),
            ));
        }
        let dry_run = file.mode == Mode::DryRun;
        if file.dry_run_unsafe_requests && !dry_run {
            errors.push(Located::new(
                "dryRunUnsafeRequests",
                "only takes effect with mode: dryRun",
            ));
        }
        let claim_headers = compile_claim_headers(file, &authorizers, &mut errors);
        let specs =
            routes::compile_routes(file, places, &authorizers, default_authorizer, &mut errors);
        let gateway_responses =
            compile_gateway_responses(file, &authorizers, &claim_headers, &mut errors);

        if !errors.is_empty() {
            return Err(FileErrors { file: None, errors });
        }
        Ok(Policy {
            pools: Pools {
                list: pools.list,
                by_issuer: pools.by_issuer,
            },
            authorizers,
            claim_headers: claim_headers.into(),
            default_action: file.default_action,
            dry_run_no_route: dry_run,
            dry_run_unsafe: file.dry_run_unsafe_requests,
            insufficient_scope_status,
            gateway_responses,
            leeway_seconds,
            routes: RouteTable::new(specs),
        })
    }
}

/// The pools of every authorizer, each once (by issuer), as they are compiled.
#[derive(Default)]
struct PoolList {
    list: Vec<Pool>,
    by_issuer: HashMap<String, usize>,
}

/// `gatewayResponses`, checked against the names the policy already uses for claims and
/// tokens (a gateway response never sets those).
fn compile_gateway_responses(
    file: &PolicyFile,
    authorizers: &[Authorizer],
    claim_headers: &[(String, String)],
    errors: &mut Vec<Located>,
) -> GatewayResponses {
    let reserved: Vec<String> = authorizers
        .iter()
        .map(|a| a.token_header.clone())
        .chain(claim_headers.iter().map(|(h, _)| h.clone()))
        .collect();
    GatewayResponses::compile(&file.gateway_responses, &reserved, errors)
}

/// Every authorizer, in either form: the single-authorizer form (top-level `userPools` and
/// `tokenSource`) is one authorizer named `default`.
fn compile_authorizers(
    file: &PolicyFile,
    pools: &mut PoolList,
    errors: &mut Vec<Located>,
) -> Vec<Authorizer> {
    let single = !file.user_pools.is_empty() || !file.token_source.is_default();
    if !file.authorizers.is_empty() {
        if single {
            errors.push(Located::new(
                "userPools/tokenSource and authorizers",
                "a policy uses the single-authorizer form (top-level userPools, tokenSource) or named authorizers, never both",
            ));
        }
        return file
            .authorizers
            .iter()
            .map(|(name, config)| {
                let at = format!("authorizers.{name}");
                if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    errors.push(Located::new(
                        at.to_string(),
                        format!("{name:?} is not a usable name"),
                    ));
                }
                compile_authorizer(name, config, &at, "", pools, errors)
            })
            .collect();
    }
    let config = AuthorizerConfig {
        user_pools: file.user_pools.clone(),
        token_source: file.token_source.clone(),
        ..AuthorizerConfig::default()
    };
    vec![compile_authorizer(
        "default", &config, "", "", pools, errors,
    )]
}

fn compile_authorizer(
    name: &str,
    config: &AuthorizerConfig,
    at: &str,
    _unused: &str,
    pools: &mut PoolList,
    errors: &mut Vec<Located>,
) -> Authorizer {
    let field = |f: &str| {
        if at.is_empty() {
            f.to_owned()
        } else {
            format!("{at}.{f}")
        }
    };
    let token_header = config.token_source.header.trim().to_ascii_lowercase();
    if !is_header_name(&token_header) {
        errors.push(Located::new(
            field("tokenSource.header").to_string(),
            format!("{:?} is not a header name", config.token_source.header),
        ));
    }
    let expression = config
        .identity_validation_expression
        .as_ref()
        .and_then(|e| {
            whole_match_expression(e)
                .map_err(|err| {
                    errors.push(Located::new(
                        field("identityValidationExpression").to_string(),
                        err.to_string(),
                    ))
                })
                .ok()
        });
    let ttl = config
        .result_ttl_seconds
        .unwrap_or(DEFAULT_RESULT_TTL_SECONDS);
    if ttl > 3600 {
        errors.push(Located::new(
            field("resultTtlSeconds").to_string(),
            format!("{ttl} is more than the 3600 seconds API Gateway allows"),
        ));
    }
    let trusted = compile_pools(&config.user_pools, &field("userPools"), pools, errors);
    Authorizer {
        name: Arc::from(name),
        pools: trusted,
        token_header,
        expression,
        ttl: Duration::from_secs(ttl),
    }
}

/// API Gateway's default `authorizerResultTtlInSeconds`.
const DEFAULT_RESULT_TTL_SECONDS: u64 = 300;

fn compile_pools(
    configs: &[UserPoolConfig],
    at_list: &str,
    list: &mut PoolList,
    errors: &mut Vec<Located>,
) -> Vec<TrustedPool> {
    if configs.is_empty() {
        errors.push(Located::new(
            at_list.to_string(),
            "at least one user pool is required",
        ));
    }
    let mut seen = HashSet::new();
    let mut issuers_here = HashSet::new();
    let mut trusted = Vec::new();
    for (i, pool) in configs.iter().enumerate() {
        let at = format!("{at_list}[{i}]");
        let id = match (pool.id.as_str(), pool.arn.as_deref()) {
            ("", Some(arn)) => match pool_id_of_arn(arn) {
                Some(id) => id.to_owned(),
                None => {
                    errors.push(Located::new(format!("{at}.arn"), format!("{arn:?} is not a user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/REGION_ID)")));
                    continue;
                }
            },
            (id, None) if !id.is_empty() => id.to_owned(),
            ("", None) => {
                errors.push(Located::new(at.to_string(), "give the pool's id or arn"));
                continue;
            }
            _ => {
                errors.push(Located::new(
                    at.to_string(),
                    "give the pool's id or its arn, not both",
                ));
                continue;
            }
        };
        let Some(region) = pool_region(&id) else {
            errors.push(Located::new(
                format!("{at}.id"),
                format!("{id:?} is not a user pool id (REGION_ID, e.g. ap-south-1_abcdefghi)"),
            ));
            continue;
        };
        if !seen.insert(id.clone()) {
            errors.push(Located::new(
                format!("{at}.id"),
                format!("{id:?} is listed twice"),
            ));
        }
        let issuer = pool
            .issuer
            .clone()
            .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/{id}"));
        if let Err(e) = check_issuer(&issuer) {
            errors.push(Located::new(format!("{at}.issuer"), e.to_string()));
        }
        let jwks_uri = pool
            .jwks_uri
            .clone()
            .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')));
        if let Err(e) = check_fetch_url(&jwks_uri) {
            errors.push(Located::new(format!("{at}.jwksUri"), e.to_string()));
        }
        let app_clients = match &pool.app_clients {
            None => None,
            Some(list) if list.is_empty() => {
                errors.push(Located::new(format!("{at}.appClients"), "an empty list would refuse every token; omit it to accept any client of the pool"));
                None
            }
            Some(list) => {
                for c in list {
                    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        errors.push(Located::new(
                            format!("{at}.appClients"),
                            format!("{c:?} is not an app client id"),
                        ));
                    }
                }
                Some(list.iter().cloned().collect())
            }
        };
        if !issuers_here.insert(issuer.clone()) {
            errors.push(Located::new(
                at.to_string(),
                format!("issuer {issuer:?} is configured twice"),
            ));
            continue;
        }
        // Authorizers may share a pool: one key set, one entry, by issuer.
        let index = match list.by_issuer.get(&issuer) {
            Some(&index) => {
                let known = &list.list[index];
                if known.jwks_uri != jwks_uri || known.id != id {
                    errors.push(Located::new(
                        at.to_string(),
                        format!(
                            "issuer {issuer:?} is configured elsewhere with another id or jwksUri"
                        ),
                    ));
                }
                index
            }
            None => {
                list.list.push(Pool {
                    id,
                    issuer: issuer.clone(),
                    jwks_uri,
                });
                list.by_issuer.insert(issuer, list.list.len() - 1);
                list.list.len() - 1
            }
        };
        trusted.push(TrustedPool {
            pool: index,
            app_clients,
        });
    }
    trusted
}

fn compile_claim_headers(
    file: &PolicyFile,
    authorizers: &[Authorizer],
    errors: &mut Vec<Located>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (header, claim) in &file.claim_headers {
        let at = format!("claimHeaders.{header}");
        let name = header.trim().to_ascii_lowercase();
        let folded = name.replace('_', "-");
        if authorizers
            .iter()
            .any(|a| a.token_header.replace('_', "-") == folded)
        {
            errors.push(Located::new(
                at.to_string(),
                format!("{header:?} is a token header"),
            ));
        } else if let Some(why) = reserved_header(&folded) {
            errors.push(Located::new(at.to_string(), format!("{header:?} is {why}, which proxies or the upstream interpret, and cannot carry a claim")));
        } else if !is_header_name(&name) {
            errors.push(Located::new(
                at.to_string(),
                format!("{header:?} is not a header name"),
            ));
        } else if crate::answer::IDENTITY_HEADERS.contains(&folded.as_str()) {
            errors.push(Located::new(
                at.to_string(),
                format!("{header:?} is a built-in identity header"),
            ));
        } else if out
            .iter()
            .any(|(h, _): &(String, String)| h.replace('_', "-") == folded)
        {
            errors.push(Located::new(
                at.to_string(),
                format!("{header:?} is listed twice"),
            ));
        }
        if claim.is_empty() || claim.chars().any(|c| c.is_control()) {
            errors.push(Located::new(
                at.to_string(),
                format!("{claim:?} is not a claim name"),
            ));
        }
        out.push((name, claim.clone()));
    }
    out
}
