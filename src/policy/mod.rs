//! The policy: which user pools are trusted and what each route requires.
//!
//! [`model`] is the YAML as written; [`Policy::parse`] checks all of it, collecting every
//! error with the place it was found, and compiles it into a [`Policy`] whose
//! [`RouteTable`] the hot path uses. [`watch`] keeps the live policy in step with the file.

pub mod model;
pub mod table;
pub mod template;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use model::{AuthMode, DefaultAction, PolicyFile};
use table::{HostPattern, Route, RouteSpec, RouteTable};
use template::PathTemplate;

/// Policy files larger than this are refused (a ConfigMap holds at most 1 MiB).
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// Methods a route may name (API Gateway's set); `ANY` means every method.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// A trusted Cognito user pool, with its issuer and key set location resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: String,
    pub issuer: String,
    pub jwks_uri: String,
    /// `None`: any app client of the pool.
    pub app_clients: Option<HashSet<String>>,
}

/// A checked, compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub pools: Vec<Pool>,
    issuers: HashMap<String, usize>,
    /// Lower-case header name carrying the token.
    pub token_header: String,
    pub default_action: DefaultAction,
    /// 401 (API Gateway's behaviour) or 403.
    pub insufficient_scope_status: u16,
    pub leeway_seconds: u64,
    pub routes: RouteTable,
}

/// Every problem found in a policy file, each with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<String>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(e)?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

impl Policy {
    /// Reads and compiles a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyErrors> {
        let text = read_policy_text(path)?;
        Self::parse(&text).map_err(|e| {
            PolicyErrors(
                e.0.into_iter()
                    .map(|m| format!("{}: {m}", path.display()))
                    .collect(),
            )
        })
    }

    /// Parses and compiles policy YAML.
    pub fn parse(text: &str) -> Result<Policy, PolicyErrors> {
        let file: PolicyFile = serde_saphyr::from_str(text)
            .map_err(|e| PolicyErrors(vec![format!("invalid policy YAML: {e}")]))?;
        Self::compile(&file)
    }

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
        if token_header.is_empty()
            || !token_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
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
            return Err(PolicyErrors(errors));
        }
        Ok(Policy {
            pools,
            issuers,
            token_header,
            default_action: file.default_action,
            insufficient_scope_status,
            leeway_seconds,
            routes: RouteTable::new(specs),
        })
    }

    /// The pool whose issuer is exactly `iss`.
    pub fn pool_for_issuer(&self, iss: &str) -> Option<usize> {
        self.issuers.get(iss).copied()
    }

    /// A one-paragraph summary for `validate` and the reload log.
    pub fn summary(&self) -> String {
        let public = self.routes.routes().iter().filter(|r| r.public).count();
        let deny = self.routes.routes().iter().filter(|r| r.deny).count();
        format!(
            "{} user pool(s) [{}], {} route(s) ({} public, {} deny), default action {}, token from header {:?}",
            self.pools.len(),
            self.pools
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.routes.routes().len(),
            public,
            deny,
            match self.default_action {
                DefaultAction::Deny => "deny",
                DefaultAction::Allow => "allow",
            },
            self.token_header,
        )
    }
}

/// Reads a policy file: a regular file, refused unread past [`MAX_POLICY_BYTES`].
pub fn read_policy_text(path: &Path) -> Result<String, PolicyErrors> {
    crate::files::read_text(path, MAX_POLICY_BYTES)
        .map_err(|e| PolicyErrors(vec![format!("{}: {e}", path.display())]))
}

/// `REGION_SUFFIX`, where the region looks like `ap-south-1` or `us-gov-west-1`.
pub fn pool_region(id: &str) -> Option<&str> {
    let (region, suffix) = id.split_once('_')?;
    let parts: Vec<&str> = region.split('-').collect();
    let region_ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    let suffix_ok = !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok && suffix_ok).then_some(region)
}

/// Whether a URL may be used to fetch keys: HTTPS, or plain HTTP to a loopback address.
pub fn check_fetch_url(raw: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if url.host_str().is_none() {
        return Err(format!("{raw:?} has no host"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "{raw:?} uses plain http; only https is allowed, except for loopback addresses"
        )),
        other => Err(format!("{raw:?} uses {other}:, not https:")),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
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

fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("{issuer:?} is not an http(s) URL"));
    }
    Ok(())
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
                template: template.to_string(),
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
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(format!(
                "{at}.{field}: {s:?} is not a valid name (no spaces)"
            ));
        }
    }
    list.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
userPools:
  - id: ap-south-1_abcdefghi
    appClients: [4example23456789abc]
  - id: us-east-1_0123456789abcdef0123456789abcdef
    jwksUri: http://127.0.0.1:8080/keys.json
tokenSource:
  header: X-Access-Token
defaultAction: deny
insufficientScopeStatus: 403
routes:
  - name: create-user
    hosts: [api.example.com, "*.example.com"]
    methods: [POST]
    path: /users/{id}
    scopes: [user_management_lambdas/api]
  - path: /files/{proxy+}
    scopes: [files/read, files/write]
  - path: /health
    auth: none
"#;

    #[test]
    fn compiles_the_documented_example() {
        let policy = Policy::parse(GOOD).unwrap();
        assert_eq!(policy.pools.len(), 2);
        assert_eq!(
            policy.pools[0].issuer,
            "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_abcdefghi"
        );
        assert_eq!(
            policy.pools[0].jwks_uri,
            "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_abcdefghi/.well-known/jwks.json"
        );
        assert_eq!(policy.pools[1].jwks_uri, "http://127.0.0.1:8080/keys.json");
        assert_eq!(
            policy.pool_for_issuer(
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_0123456789abcdef0123456789abcdef"
            ),
            Some(1)
        );
        assert_eq!(policy.token_header, "x-access-token");
        assert_eq!(policy.insufficient_scope_status, 403);
        let names: Vec<&str> = policy.routes.routes().iter().map(|r| &*r.name).collect();
        assert_eq!(names, ["create-user", "ANY /files/{proxy+}", "ANY /health"]);
        assert!(policy.routes.routes()[2].public);
        assert!(policy.summary().contains("3 route(s) (1 public, 0 deny)"));
    }

    fn errors_of(yaml: &str) -> String {
        Policy::parse(yaml).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = errors_of(
            "userPools: [{id: ap-south-1_abc}]\nroutes:\n  - path: /x\n    scope: [a/b]\n",
        );
        assert!(err.contains("scope"), "{err}");
        let err = errors_of("userPools: [{id: ap-south-1_abc}]\ndefaultActon: allow\n");
        assert!(err.contains("defaultActon"), "{err}");
    }

    #[test]
    fn every_error_is_reported_with_its_place() {
        let err = errors_of(
            r#"
userPools:
  - id: not-a-pool
  - id: eu-west-1_abc
    jwksUri: http://keys.example.com/jwks.json
    appClients: []
insufficientScopeStatus: 404
routes:
  - path: /users/{id
  - name: dup
    path: /a
    methods: [GETT]
  - name: dup
    path: /b
    scopes: []
  - path: /c
    auth: none
    scopes: [x/y]
  - path: /c2
    auth: deny
    groups: [g]
  - path: /d/{id}
    methods: [GET]
  - path: /d/{other}
    methods: [get, POST]
  - path: /e
    hosts: ["api.example.com:443"]
"#,
        );
        for want in [
            "userPools[0].id: \"not-a-pool\" is not a user pool id",
            "userPools[1].jwksUri",
            "only https is allowed",
            "userPools[1].appClients: an empty list",
            "insufficientScopeStatus: 404",
            "routes[0] (/users/{id).path",
            "routes[1] (dup).methods: \"GETT\"",
            "routes[2] (dup).name: \"dup\" is already the name of routes[1]",
            "routes[2] (dup).scopes: an empty list",
            "routes[3] (/c): `auth: none`",
            "routes[4] (/c2): `auth: deny`",
            "routes[6] (/d/{other}): duplicates routes[5]",
            "routes[7] (/e).hosts",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
    }

    #[test]
    fn pool_ids_follow_cognito_shapes() {
        assert_eq!(pool_region("ap-south-1_abcdefghi"), Some("ap-south-1"));
        assert_eq!(
            pool_region("us-gov-west-1_AbCdEfGhI"),
            Some("us-gov-west-1")
        );
        assert_eq!(
            pool_region("us-east-1_0123456789abcdef0123456789abcdef"),
            Some("us-east-1")
        );
        for bad in [
            "",
            "ap-south-1",
            "ap-south-1_",
            "_abc",
            "apsouth1_abc",
            "AP-south-1_x",
            "ap-south-x_abc",
            "ap-south-1_a/b",
        ] {
            assert_eq!(pool_region(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_urls_must_be_https_or_loopback() {
        assert!(
            check_fetch_url("https://cognito-idp.us-east-1.amazonaws.com/x/.well-known/jwks.json")
                .is_ok()
        );
        assert!(check_fetch_url("http://127.0.0.1:9/jwks.json").is_ok());
        assert!(check_fetch_url("http://localhost:9/jwks.json").is_ok());
        assert!(check_fetch_url("http://[::1]:9/jwks.json").is_ok());
        assert!(check_fetch_url("http://10.0.0.1/jwks.json").is_err());
        assert!(check_fetch_url("http://localhost.evil.com/jwks.json").is_err());
        assert!(check_fetch_url("file:///etc/passwd").is_err());
        assert!(check_fetch_url("not a url").is_err());
    }
}
