//! Checking a parsed policy file and compiling it into a [`Policy`]: every error is
//! collected with its place, so one `validate` run shows them all.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::model::{AuthMode, PolicyFile};
use super::rules::{
    METHODS, check_fetch_url, check_issuer, is_header_name, is_scope_name, pool_region,
};
use super::table::{HostPattern, Route, RouteSpec, RouteTable};
use super::template::PathTemplate;
use super::{Policy, PolicyErrors, Pool, Pools};

impl Policy {
    /// Checks a parsed policy file and compiles it.
    pub fn compile(file: &PolicyFile) -> Result<Policy, PolicyErrors> {
        let mut errors = Vec::new();
        let pools = compile_pools(file, &mut errors);
        let mut issuers = HashMap::new();
        for (i, pool) in pools.iter().enumerate() {
            if issuers.insert(pool.issuer.clone(), i).is_some() {
                errors.push(format!(
                    "userPools[{i}]: issuer {:?} is configured twice",
                    pool.issuer
                ));
            }
        }

        let token_header = file.token_source.header.trim().to_ascii_lowercase();
        if !is_header_name(&token_header) {
            errors.push(format!(
                "tokenSource.header: {:?} is not a header name",
                file.token_source.header
            ));
        }
        let insufficient_scope_status = match file.insufficient_scope_status {
            None | Some(401) => 401,
            Some(403) => 403,
            Some(other) => {
                errors.push(format!(
                    "insufficientScopeStatus: {other} must be 401 or 403"
                ));
                401
            }
        };
        let leeway_seconds = file.leeway_seconds.unwrap_or(0);
        if leeway_seconds > 300 {
            errors.push(format!(
                "leewaySeconds: {leeway_seconds} is more than the 300 seconds allowed"
            ));
        }
        let specs = compile_routes(file, &mut errors);

        if !errors.is_empty() {
            return Err(PolicyErrors { file: None, errors });
        }
        Ok(Policy {
            pools: Pools {
                list: pools,
                by_issuer: issuers,
            },
            token_header,
            default_action: file.default_action,
            insufficient_scope_status,
            leeway_seconds,
            routes: RouteTable::new(specs),
        })
    }
}

fn compile_pools(file: &PolicyFile, errors: &mut Vec<String>) -> Vec<Pool> {
    if file.user_pools.is_empty() {
        errors.push("userPools: at least one user pool is required".to_owned());
    }
    let mut seen = HashSet::new();
    let mut pools = Vec::new();
    for (i, pool) in file.user_pools.iter().enumerate() {
        let at = format!("userPools[{i}]");
        let Some(region) = pool_region(&pool.id) else {
            errors.push(format!(
                "{at}.id: {:?} is not a user pool id (REGION_ID, e.g. ap-south-1_abcdefghi)",
                pool.id
            ));
            continue;
        };
        if !seen.insert(pool.id.clone()) {
            errors.push(format!("{at}.id: {:?} is listed twice", pool.id));
        }
        let issuer = pool
            .issuer
            .clone()
            .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/{}", pool.id));
        if let Err(e) = check_issuer(&issuer) {
            errors.push(format!("{at}.issuer: {e}"));
        }
        let jwks_uri = pool
            .jwks_uri
            .clone()
            .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')));
        if let Err(e) = check_fetch_url(&jwks_uri) {
            errors.push(format!("{at}.jwksUri: {e}"));
        }
        let app_clients = match &pool.app_clients {
            None => None,
            Some(list) if list.is_empty() => {
                errors.push(format!(
                    "{at}.appClients: an empty list would refuse every token; omit it to accept any client of the pool"
                ));
                None
            }
            Some(list) => {
                for c in list {
                    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        errors.push(format!("{at}.appClients: {c:?} is not an app client id"));
                    }
                }
                Some(list.iter().cloned().collect())
            }
        };
        pools.push(Pool {
            id: pool.id.clone(),
            issuer,
            jwks_uri,
            app_clients,
        });
    }
    pools
}

fn compile_routes(file: &PolicyFile, errors: &mut Vec<String>) -> Vec<RouteSpec> {
    let mut specs = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    // (shape, host, method) -> route index, to refuse routes that would shadow each other.
    let mut claimed: HashMap<(String, String, String), usize> = HashMap::new();
    for (i, route) in file.routes.iter().enumerate() {
        let at = match &route.name {
            Some(name) => format!("routes[{i}] ({name})"),
            None => format!("routes[{i}] ({})", route.path),
        };
        let before = errors.len();
        let template = match PathTemplate::parse(&route.path) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(format!("{at}.path: {e}"));
                None
            }
        };
        let methods = compile_methods(route.methods.as_deref(), &at, errors);
        let hosts: Vec<HostPattern> = match &route.hosts {
            None => vec![HostPattern::Any],
            Some(list) if list.is_empty() => {
                errors.push(format!(
                    "{at}.hosts: an empty list matches nothing; omit it to match any host"
                ));
                vec![]
            }
            Some(list) => list
                .iter()
                .filter_map(|h| {
                    HostPattern::parse(h)
                        .map_err(|e| errors.push(format!("{at}.hosts: {e}")))
                        .ok()
                })
                .collect(),
        };
        let public = route.auth == Some(AuthMode::None);
        let deny = route.auth == Some(AuthMode::Deny);
        let scopes = compile_names(route.scopes.as_deref(), "scopes", &at, errors);
        let groups = compile_names(route.groups.as_deref(), "groups", &at, errors);
        if public && (!scopes.is_empty() || !groups.is_empty()) {
            errors.push(format!(
                "{at}: `auth: none` makes the route public, so it cannot also require scopes or groups"
            ));
        }
        if deny && (!scopes.is_empty() || !groups.is_empty()) {
            errors.push(format!(
                "{at}: `auth: deny` refuses every request, so it cannot also require scopes or groups"
            ));
        }
        let name = route.name.clone().unwrap_or_else(|| {
            let method = if methods.is_empty() {
                "ANY".to_owned()
            } else {
                methods.join(",")
            };
            format!("{method} {}", route.path)
        });
        if name.is_empty() || name.chars().any(|c| c.is_control()) {
            errors.push(format!("{at}.name: {name:?} is not a usable name"));
        }
        if let Some(first) = names.insert(name.clone(), i) {
            errors.push(format!(
                "{at}.name: {name:?} is already the name of routes[{first}]"
            ));
        }
        let Some(template) = template else { continue };
        if errors.len() > before {
            continue;
        }
        let shape = template.shape();
        let method_keys: Vec<String> = if methods.is_empty() {
            vec!["ANY".to_owned()]
        } else {
            methods.clone()
        };
        'claims: for host in &hosts {
            let host_key = format!("{host:?}");
            for method in &method_keys {
                let key = (shape.clone(), host_key.clone(), method.clone());
                if let Some(first) = claimed.insert(key, i) {
                    errors.push(format!(
                        "{at}: duplicates routes[{first}] (same path {shape}, method {method} and hosts)"
                    ));
                    break 'claims;
                }
            }
        }
        specs.push(RouteSpec {
            route: Route {
                name: Arc::from(name),
                index: i,
                template: template.clone(),
                methods: methods.clone(),
                hosts: route.hosts.clone().unwrap_or_default(),
                public,
                deny,
                scopes,
                groups,
            },
            template,
            hosts,
            methods,
        });
    }
    specs
}

fn compile_methods(methods: Option<&[String]>, at: &str, errors: &mut Vec<String>) -> Vec<String> {
    let Some(list) = methods else {
        return Vec::new();
    };
    if list.is_empty() {
        errors.push(format!(
            "{at}.methods: an empty list matches nothing; omit it to match any method"
        ));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for m in list {
        let upper = m.trim().to_ascii_uppercase();
        if upper == "ANY" || upper == "*" {
            if list.len() > 1 {
                errors.push(format!(
                    "{at}.methods: ANY cannot be combined with other methods"
                ));
            }
            return Vec::new();
        }
        if !METHODS.contains(&upper.as_str()) {
            errors.push(format!(
                "{at}.methods: {m:?} is not one of {} or ANY",
                METHODS.join(", ")
            ));
        } else if out.contains(&upper) {
            errors.push(format!("{at}.methods: {upper} is listed twice"));
        } else {
            out.push(upper);
        }
    }
    out
}

fn compile_names(
    list: Option<&[String]>,
    field: &str,
    at: &str,
    errors: &mut Vec<String>,
) -> Vec<String> {
    let Some(list) = list else {
        return Vec::new();
    };
    if list.is_empty() {
        errors.push(format!(
            "{at}.{field}: an empty list is ambiguous; omit {field} to require only a valid token"
        ));
    }
    for s in list {
        if !is_scope_name(s) {
            errors.push(format!(
                "{at}.{field}: {s:?} is not a valid name (no spaces)"
            ));
        }
    }
    list.to_vec()
}
