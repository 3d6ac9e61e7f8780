//! Process settings from `AUTHZ_*` environment variables.
//!
//! Read with `envy`, then each value parsed here so that a bad one is a startup error naming
//! the variable and what it should look like. Variables with the prefix that we do not know
//! are reported as warnings (a typo should not pass silently, but Kubernetes also injects
//! `AUTHZ_*` service variables for a Service of that name, which must not stop the process).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

const PREFIX: &str = "AUTHZ_";

/// Every variable we read, without the prefix.
const KNOWN: [&str; 10] = [
    "LISTEN_ADDR",
    "ADMIN_ADDR",
    "POLICY_PATH",
    "LOG_FORMAT",
    "DRAIN_SECONDS",
    "JWKS_REFRESH_SECONDS",
    "JWKS_COOLDOWN_SECONDS",
    "JWKS_TIMEOUT_SECONDS",
    "TOKEN_CACHE_ENTRIES",
    "POLICY_POLL_SECONDS",
];

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// The process settings, with their defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// gRPC: ext_authz `Check` and `grpc.health.v1.Health`.
    pub listen_addr: SocketAddr,
    /// HTTP: `/metrics`, `/healthz`, `/readyz`.
    pub admin_addr: SocketAddr,
    pub policy_path: PathBuf,
    pub log_format: LogFormat,
    /// After SIGTERM: how long checks are still answered while health says NOT_SERVING.
    pub drain: Duration,
    /// How often each pool's key set is refetched.
    pub jwks_refresh: Duration,
    /// Least time between two refetches caused by unknown `kid`s, per pool.
    pub jwks_cooldown: Duration,
    /// Timeout of one key set fetch, connecting included.
    pub jwks_timeout: Duration,
    /// Verified tokens kept in the cache (0 disables it).
    pub token_cache_entries: u64,
    /// How often the policy file is re-read even without a change notification.
    pub policy_poll: Duration,
}

#[derive(Deserialize, Default)]
struct Raw {
    listen_addr: Option<String>,
    admin_addr: Option<String>,
    policy_path: Option<String>,
    log_format: Option<String>,
    drain_seconds: Option<String>,
    jwks_refresh_seconds: Option<String>,
    jwks_cooldown_seconds: Option<String>,
    jwks_timeout_seconds: Option<String>,
    token_cache_entries: Option<String>,
    policy_poll_seconds: Option<String>,
}

impl Settings {
    /// Reads the settings from the environment; also returns warnings to log.
    pub fn from_env() -> Result<(Settings, Vec<String>), String> {
        let raw: Raw = envy::prefixed(PREFIX)
            .from_env()
            .map_err(|e| format!("cannot read {PREFIX}* settings: {e}"))?;
        let warnings = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter_map(|k| {
                let rest = k.strip_prefix(PREFIX)?;
                (!KNOWN.contains(&rest)).then(|| {
                    format!(
                        "ignoring unknown setting {k} (known: {})",
                        KNOWN.map(|n| format!("{PREFIX}{n}")).join(", ")
                    )
                })
            })
            .collect();
        Ok((Self::from_raw(raw)?, warnings))
    }

    fn from_raw(raw: Raw) -> Result<Settings, String> {
        Ok(Settings {
            listen_addr: addr("AUTHZ_LISTEN_ADDR", raw.listen_addr, "0.0.0.0:9000")?,
            admin_addr: addr("AUTHZ_ADMIN_ADDR", raw.admin_addr, "0.0.0.0:9090")?,
            policy_path: match raw.policy_path {
                Some(p) if p.trim().is_empty() => {
                    return Err("AUTHZ_POLICY_PATH: must not be empty".to_owned());
                }
                Some(p) => PathBuf::from(p),
                None => PathBuf::from("/etc/cognito-ext-authz/policy.yaml"),
            },
            log_format: match raw.log_format.as_deref().map(str::trim) {
                None | Some("json") => LogFormat::Json,
                Some("text") => LogFormat::Text,
                Some(other) => {
                    return Err(format!(
                        "AUTHZ_LOG_FORMAT: {other:?} is not one of \"json\", \"text\""
                    ));
                }
            },
            drain: seconds("AUTHZ_DRAIN_SECONDS", raw.drain_seconds, 5, 0, 3600)?,
            jwks_refresh: seconds(
                "AUTHZ_JWKS_REFRESH_SECONDS",
                raw.jwks_refresh_seconds,
                3600,
                10,
                86_400,
            )?,
            jwks_cooldown: seconds(
                "AUTHZ_JWKS_COOLDOWN_SECONDS",
                raw.jwks_cooldown_seconds,
                10,
                0,
                3600,
            )?,
            jwks_timeout: seconds(
                "AUTHZ_JWKS_TIMEOUT_SECONDS",
                raw.jwks_timeout_seconds,
                5,
                1,
                60,
            )?,
            token_cache_entries: number(
                "AUTHZ_TOKEN_CACHE_ENTRIES",
                raw.token_cache_entries,
                10_000,
                0,
                10_000_000,
            )?,
            policy_poll: seconds(
                "AUTHZ_POLICY_POLL_SECONDS",
                raw.policy_poll_seconds,
                10,
                1,
                3600,
            )?,
        })
    }
}

fn addr(name: &str, value: Option<String>, default: &str) -> Result<SocketAddr, String> {
    let value = value.unwrap_or_else(|| default.to_owned());
    value.trim().parse().map_err(|_| {
        format!("{name}: {value:?} is not an address with a port (like {default} or [::]:9000)")
    })
}

fn number(
    name: &str,
    value: Option<String>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name}: {value:?} is not a whole number from {min} to {max}"
        )),
    }
}

fn seconds(
    name: &str,
    value: Option<String>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, String> {
    number(name, value, default, min, max).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let s = Settings::from_raw(Raw::default()).unwrap();
        assert_eq!(s.listen_addr, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(s.admin_addr, "0.0.0.0:9090".parse().unwrap());
        assert_eq!(
            s.policy_path,
            PathBuf::from("/etc/cognito-ext-authz/policy.yaml")
        );
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.jwks_cooldown, Duration::from_secs(10));
    }

    #[test]
    fn bad_values_name_the_variable() {
        type Setter = fn(&mut Raw);
        let cases: [(Setter, &str); 4] = [
            (|r| r.listen_addr = Some("9000".into()), "AUTHZ_LISTEN_ADDR"),
            (|r| r.log_format = Some("xml".into()), "AUTHZ_LOG_FORMAT"),
            (
                |r| r.drain_seconds = Some("-1".into()),
                "AUTHZ_DRAIN_SECONDS",
            ),
            (
                |r| r.token_cache_entries = Some("lots".into()),
                "AUTHZ_TOKEN_CACHE_ENTRIES",
            ),
        ];
        for (set, name) in cases {
            let mut raw = Raw::default();
            set(&mut raw);
            let err = Settings::from_raw(raw).unwrap_err();
            assert!(err.starts_with(name), "{err}");
        }
    }
}
