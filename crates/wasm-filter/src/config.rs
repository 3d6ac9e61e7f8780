//! The plugin configuration: the service's policy file, the Envoy clusters key sets are
//! fetched through, the key-set timings and an optional revocation list. Everything is
//! checked when the plugin loads; a configuration the filter cannot honour exactly as
//! the service would is refused there, with the feature named and why.

use std::collections::BTreeMap;
use std::time::Duration;

use cognito_ext_authz_core::{Policy, RevocationList};
use serde::Deserialize;

/// What the plugin was configured with, checked.
pub(crate) struct Config {
    /// The compiled policy.
    pub(crate) policy: Policy,
    /// The revocation list (empty without one).
    pub(crate) revocations: RevocationList,
    /// Where and how often key sets are fetched.
    pub(crate) keys: KeysConfig,
    /// Verified tokens cached per worker (0: none).
    pub(crate) cache_entries: u64,
}

/// How key sets are fetched.
#[derive(Debug, Clone)]
pub(crate) struct KeysConfig {
    /// For each user pool, index for index with the policy's pools: the cluster, the
    /// `:authority` and the `:path` of its key set.
    pub(crate) targets: Vec<KeyTarget>,
    /// How often a pool's keys are fetched again once they are there.
    pub(crate) refresh: Duration,
    /// The least time between fetches caused by an unknown `kid`, per pool.
    pub(crate) cooldown: Duration,
    /// How long one fetch may take.
    pub(crate) timeout: Duration,
}

/// Where one pool's key set is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyTarget {
    /// The Envoy cluster the HTTP call goes to.
    pub(crate) cluster: String,
    /// The `:authority` of the call (the jwksUri's host, and port when it has one).
    pub(crate) authority: String,
    /// The `:path` of the call (the jwksUri's path and query).
    pub(crate) path: String,
}

/// Either the policy file's text or the same document as a mapping (Istio's and Envoy
/// Gateway's plugin configuration is a structure, not text).
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Text(String),
    Mapping(serde_json::Value),
}

impl Document {
    fn text(self) -> Result<String, String> {
        match self {
            Document::Text(text) => Ok(text),
            // JSON is YAML: the core reads it with its own parser and rules.
            Document::Mapping(value) => serde_json::to_string(&value).map_err(|e| e.to_string()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    policy: Document,
    #[serde(default)]
    revocations: Option<Document>,
    keys: KeysFile,
    #[serde(default = "default_cache_entries")]
    cache_entries: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeysFile {
    /// The cluster every key set is fetched through, unless `clusters` names another for
    /// its host.
    #[serde(default)]
    cluster: Option<String>,
    /// A cluster per jwksUri host.
    #[serde(default)]
    clusters: BTreeMap<String, String>,
    #[serde(default = "default_refresh")]
    refresh_seconds: u64,
    #[serde(default = "default_cooldown")]
    cooldown_seconds: u64,
    #[serde(default = "default_timeout")]
    timeout_seconds: u64,
}

// The service's defaults and bounds (AUTHZ_JWKS_REFRESH_SECONDS, AUTHZ_JWKS_COOLDOWN_SECONDS,
// AUTHZ_JWKS_TIMEOUT_SECONDS, AUTHZ_TOKEN_CACHE_ENTRIES).
fn default_refresh() -> u64 {
    3600
}
fn default_cooldown() -> u64 {
    10
}
fn default_timeout() -> u64 {
    5
}
fn default_cache_entries() -> u64 {
    10_000
}

fn bounded(name: &str, value: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{name}: {value} is outside {min}..={max}"))
    }
}

impl Config {
    /// Reads and checks the plugin configuration (YAML or JSON); every problem found, one
    /// per line, when it cannot be used.
    pub(crate) fn parse(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Err("the plugin configuration is empty: it needs `policy` and `keys`".into());
        }
        let file: File = serde_saphyr::from_str(text)
            .map_err(|e| format!("invalid plugin configuration: {e}"))?;
        let policy_text = file.policy.text().map_err(|e| format!("policy: {e}"))?;
        let policy = Policy::parse(&policy_text).map_err(|e| format!("policy: {e}"))?;
        let revocations = match file.revocations {
            None => RevocationList::empty(),
            Some(doc) => {
                let text = doc.text().map_err(|e| format!("revocations: {e}"))?;
                RevocationList::parse(&text).map_err(|e| format!("revocations: {e}"))?
            }
        };
        let keys = file.keys;
        let refresh = bounded("keys.refreshSeconds", keys.refresh_seconds, 10, 86_400)?;
        let cooldown = bounded("keys.cooldownSeconds", keys.cooldown_seconds, 0, 3600)?;
        let timeout = bounded("keys.timeoutSeconds", keys.timeout_seconds, 1, 60)?;
        let cache_entries = bounded("cacheEntries", file.cache_entries, 0, 10_000_000)?;
        let mut problems = Vec::new();
        let mut targets = Vec::with_capacity(policy.pools.len());
        for pool in policy.pools.iter() {
            match target(&pool.jwks_uri, keys.cluster.as_deref(), &keys.clusters) {
                Ok(t) => targets.push(t),
                Err(e) => problems.push(format!("user pool {}: {e}", pool.id)),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\n"));
        }
        Ok(Config {
            policy,
            revocations,
            keys: KeysConfig {
                targets,
                refresh: Duration::from_secs(refresh),
                cooldown: Duration::from_secs(cooldown),
                timeout: Duration::from_secs(timeout),
            },
            cache_entries,
        })
    }
}

/// Where the key set at `uri` is fetched from: the host's cluster in `clusters`, or
/// `default`. A filter cannot open connections of its own; Envoy's cluster does (and its
/// TLS settings are what protect an `https` key set), so a host without a cluster is
/// refused rather than guessed.
fn target(
    uri: &str,
    default: Option<&str>,
    clusters: &BTreeMap<String, String>,
) -> Result<KeyTarget, String> {
    let url = url::Url::parse(uri).map_err(|e| format!("jwksUri {uri:?}: {e}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("jwksUri {uri:?} has no host"))?;
    let cluster = clusters
        .get(host)
        .map(String::as_str)
        .or(default)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            format!(
                "key fetching: no Envoy cluster for {host} (set keys.cluster, or keys.clusters.{host}): \
                 the filter fetches key sets only through Envoy clusters"
            )
        })?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Ok(KeyTarget {
        cluster: cluster.to_owned(),
        authority,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "userPools:\n  - id: eu-west-1_abcdefghi\n  - id: us-east-1_Other1234\n    jwksUri: http://127.0.0.1:8081/keys?x=1\nroutes:\n  - path: /a\n";

    fn indent(text: &str) -> String {
        text.lines().map(|l| format!("    {l}\n")).collect()
    }

    #[test]
    fn reads_the_policy_as_text_or_mapping_and_finds_each_pools_cluster() {
        let text = format!(
            "policy: |\n{}keys:\n  cluster: jwks\n  clusters: {{127.0.0.1: local}}\n",
            indent(POLICY)
        );
        let config = Config::parse(&text).unwrap();
        assert_eq!(
            config.keys.targets,
            [
                KeyTarget {
                    cluster: "jwks".into(),
                    authority: "cognito-idp.eu-west-1.amazonaws.com".into(),
                    path: "/eu-west-1_abcdefghi/.well-known/jwks.json".into(),
                },
                KeyTarget {
                    cluster: "local".into(),
                    authority: "127.0.0.1:8081".into(),
                    path: "/keys?x=1".into(),
                },
            ]
        );
        assert_eq!(config.keys.cooldown, Duration::from_secs(10));
        assert_eq!(config.cache_entries, 10_000);

        let json = serde_json::json!({
            "policy": {"userPools": [{"id": "eu-west-1_abcdefghi"}], "routes": [{"path": "/a"}]},
            "keys": {"cluster": "jwks", "cooldownSeconds": 0},
            "revocations": {"revocations": [{"jti": "abc"}]},
        });
        let config = Config::parse(&json.to_string()).unwrap();
        assert_eq!(config.keys.cooldown, Duration::ZERO);
    }

    #[test]
    fn refuses_what_it_cannot_honour_naming_it() {
        let no_cluster = format!("policy: |\n{}keys: {{}}\n", indent(POLICY));
        let e = Config::parse(&no_cluster).err().unwrap();
        assert!(
            e.contains("no Envoy cluster for cognito-idp.eu-west-1.amazonaws.com"),
            "{e}"
        );
        assert!(e.contains("no Envoy cluster for 127.0.0.1"), "{e}");

        for (text, want) in [
            ("", "empty"),
            (
                "policy: 'routes: []'\nkeys: {cluster: x}\nextra: 1\n",
                "extra",
            ),
            (
                "policy: 'userPools: []\nroutes: [{path: /a, bogus: 1}]'\nkeys: {cluster: x}\n",
                "policy",
            ),
            (
                "policy: {userPools: [{id: eu-west-1_abcdefghi}], routes: [{path: /a}]}\nkeys: {cluster: x, refreshSeconds: 1}\n",
                "keys.refreshSeconds",
            ),
            (
                "policy: {userPools: [{id: eu-west-1_abcdefghi}], routes: [{path: /a}]}\nkeys: {cluster: x}\nrevocations: '   '\n",
                "revocations",
            ),
        ] {
            let e = Config::parse(text).err().unwrap_or_default();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    /// Each YAML document of a file shipped under deploy/wasm/.
    fn documents(text: &str) -> Vec<serde_json::Value> {
        text.split("\n---\n")
            .filter(|d| {
                d.lines()
                    .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            })
            .map(|d| serde_saphyr::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn the_shipped_examples_configurations_are_accepted() {
        let [envoy] = &documents(include_str!("../../../deploy/wasm/envoy.yaml"))[..] else {
            panic!("one document");
        };
        let filter = &envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
            ["http_filters"][0]["typed_config"]["config"];
        assert_eq!(filter["root_id"], "cognito_ext_authz");
        let text = filter["configuration"]["value"].as_str().unwrap();
        let config = Config::parse(text).unwrap();
        assert_eq!(config.keys.targets[0].cluster, "cognito_jwks");

        let istio = documents(include_str!("../../../deploy/wasm/istio-wasmplugin.yaml"));
        let plugin = istio.iter().find(|d| d["kind"] == "WasmPlugin").unwrap();
        assert_eq!(plugin["spec"]["pluginName"], "cognito_ext_authz");
        let config = Config::parse(&plugin["spec"]["pluginConfig"].to_string()).unwrap();
        assert_eq!(
            config.keys.targets[0].cluster,
            "outbound|443||cognito-idp.eu-west-1.amazonaws.com"
        );

        let gateway = documents(include_str!("../../../deploy/wasm/envoy-gateway.yaml"));
        let policy = gateway
            .iter()
            .find(|d| d["kind"] == "EnvoyExtensionPolicy")
            .unwrap();
        let wasm = &policy["spec"]["wasm"][0];
        assert_eq!(wasm["rootID"], "cognito_ext_authz");
        let config = Config::parse(&wasm["config"].to_string()).unwrap();
        let patch = gateway
            .iter()
            .find(|d| d["kind"] == "EnvoyPatchPolicy")
            .unwrap();
        assert_eq!(
            patch["spec"]["jsonPatches"][0]["name"].as_str(),
            Some(config.keys.targets[0].cluster.as_str()),
            "the patch adds the cluster the filter fetches keys through"
        );
    }
}
