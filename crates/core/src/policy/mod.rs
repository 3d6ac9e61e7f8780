//! The policy: which user pools are trusted and what each route requires.
//!
//! [`model`] is the YAML as written; [`Policy::parse`] checks all of it against [`rules`],
//! collecting every error with the place it was found, and builds a [`Policy`] whose
//! [`RouteTable`] the hot path uses. The file itself is read and followed by the service
//! (docs/policy.md describes it).

mod compile;
pub mod folder;
pub mod model;
pub mod responses;
pub mod rules;
pub mod table;
pub mod template;
pub(crate) mod yaml_error;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use model::{DefaultAction, PolicyFile};
use table::RouteTable;

use crate::errors::FileErrors;

pub use rules::{pool_id_of_arn, pool_region};

/// Policy files larger than this are refused (a ConfigMap holds at most 1 MiB).
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// The largest `leewaySeconds` a policy may set.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

/// A Cognito user pool some authorizer trusts, with its issuer and key set location
/// resolved. Authorizers that share a pool share this entry (and its key set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The pool id, `REGION_SUFFIX` (`eu-west-1_abcdefghi`).
    pub id: String,
    /// The `iss` its tokens carry, compared exactly: `issuer`, or
    /// `https://cognito-idp.{region}.amazonaws.com/{id}`.
    pub issuer: String,
    /// Where its key set is fetched: `jwksUri`, or `{issuer}/.well-known/jwks.json`.
    pub jwks_uri: String,
}

/// A pool as one authorizer trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPool {
    /// Index into [`Policy::pools`].
    pub pool: usize,
    /// The app clients accepted (`client_id` of access tokens, `aud` of ID tokens); `None`:
    /// any client of the pool.
    pub app_clients: Option<HashSet<String>>,
}

/// A named authorizer: API Gateway's unit of "which tokens, from which header".
#[derive(Debug)]
pub struct Authorizer {
    /// Its name in `authorizers` (`default` for the policy's top-level `userPools`).
    pub name: Arc<str>,
    /// The pools whose tokens it takes, each with the app clients it accepts.
    pub pools: Vec<TrustedPool>,
    /// Lower-case header name carrying the token.
    pub token_header: String,
    /// Matched against the token's `aud`; a token without `aud` cannot match.
    pub expression: Option<regex::Regex>,
    /// How long a verified token may be reused; zero: verified on every request.
    pub ttl: std::time::Duration,
}

impl Authorizer {
    /// How this authorizer trusts pool `pool`, if it does.
    pub fn trusts(&self, pool: usize) -> Option<&TrustedPool> {
        self.pools.iter().find(|p| p.pool == pool)
    }
}

/// Claim headers: (lower-case header name, claim name).
pub type ClaimHeaders = Arc<[(String, String)]>;

/// The trusted pools, found by index or by their exact issuer.
#[derive(Debug, Default)]
pub struct Pools {
    list: Vec<Pool>,
    by_issuer: HashMap<String, usize>,
}

impl Pools {
    /// The pool whose issuer is exactly `iss`.
    pub(crate) fn for_issuer(&self, iss: &str) -> Option<usize> {
        self.by_issuer.get(iss).copied()
    }

    /// The pools, in index order.
    pub fn iter(&self) -> std::slice::Iter<'_, Pool> {
        self.list.iter()
    }

    /// How many pools the policy trusts.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the policy trusts no pool.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl std::ops::Index<usize> for Pools {
    type Output = Pool;
    fn index(&self, index: usize) -> &Pool {
        &self.list[index]
    }
}

/// A checked, compiled policy.
#[derive(Debug)]
pub struct Policy {
    /// Every pool some authorizer trusts, each once.
    pub pools: Pools,
    /// The authorizers, in name order; routes refer to them by index.
    pub authorizers: Vec<Authorizer>,
    /// `claimHeaders`: headers set upstream from the verified token's claims (removed
    /// when the token lacks the claim).
    pub claim_headers: ClaimHeaders,
    /// `defaultAction`: what a request no route matches gets (deny by default).
    pub default_action: DefaultAction,
    /// `mode: dryRun`: a request no route matches is let through as `would_deny` under
    /// `defaultAction: deny`.
    pub dry_run_no_route: bool,
    /// `dryRunUnsafeRequests`: requests refused before any route are let through too.
    pub dry_run_unsafe: bool,
    /// 401 (API Gateway's behaviour) or 403.
    pub insufficient_scope_status: u16,
    /// `gatewayResponses`: how denials are answered (API Gateway's by default).
    pub gateway_responses: responses::GatewayResponses,
    /// `leewaySeconds`: clock skew allowed on `exp`, `nbf` and `iat`, 0 to 300 seconds.
    pub leeway_seconds: u64,
    /// The routes, compiled for matching.
    pub routes: RouteTable,
}

/// Parses policy YAML into the file as written (not yet checked).
fn parse_yaml(text: &str) -> Result<PolicyFile, FileErrors> {
    serde_saphyr::from_str(text).map_err(|e| {
        FileErrors::one(format!(
            "invalid policy YAML: {}",
            yaml_error::describe(text, &e)
        ))
    })
}

impl Policy {
    /// Parses and compiles policy YAML.
    pub fn parse(text: &str) -> Result<Policy, FileErrors> {
        Self::compile(&parse_yaml(text)?)
    }

    /// The pool whose issuer is exactly `iss`.
    pub fn pool_for_issuer(&self, iss: &str) -> Option<usize> {
        self.pools.for_issuer(iss)
    }

    /// A one-paragraph summary for `validate` and the reload log.
    pub fn summary(&self) -> String {
        let public = self
            .routes
            .routes()
            .iter()
            .filter(|r| r.is_public())
            .count();
        let deny = self.routes.routes().iter().filter(|r| r.is_deny()).count();
        let mut summary = format!(
            "{} user pool(s) [{}], {} route(s) ({} public, {} deny), default action {}, {}",
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
            self.authorizers
                .iter()
                .map(|a| if self.authorizers.len() == 1 {
                    format!("token from header {:?}", a.token_header)
                } else {
                    format!("authorizer {} (header {:?})", a.name, a.token_header)
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        let configured = self.gateway_responses.configured();
        if !configured.is_empty() {
            summary.push_str(&format!("; gateway responses {}", configured.join(", ")));
            if configured.contains(&"EXPIRED_TOKEN") {
                summary.push_str(" (EXPIRED_TOKEN never applies: API Gateway gives it for expired AWS credentials; an expired Cognito token is UNAUTHORIZED)");
            }
        }
        let dry = self.routes.routes().iter().filter(|r| r.dry_run).count();
        if self.dry_run_no_route {
            summary.push_str(&format!(
                "; DRY RUN: policy in mode dryRun, {dry} route(s) dry-run{}",
                if self.dry_run_unsafe {
                    ", unsafe requests too"
                } else {
                    ""
                }
            ));
        } else if dry > 0 {
            summary.push_str(&format!("; DRY RUN: {dry} route(s) dry-run"));
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::rules::check_fetch_url;
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
        assert_eq!(policy.authorizers[0].token_header, "x-access-token");
        assert_eq!(policy.insufficient_scope_status, 403);
        let names: Vec<&str> = policy.routes.routes().iter().map(|r| &*r.name).collect();
        assert_eq!(names, ["create-user", "ANY /files/{proxy+}", "ANY /health"]);
        assert!(policy.routes.routes()[2].is_public());
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
