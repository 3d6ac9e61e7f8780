//! Process settings from `AUTHZ_*` environment variables.
//!
//! Each setting is described once in [`spec`]; a bad value is a startup error naming the
//! variable and what it should look like. `AUTHZ_*` variables we do not know are warnings
//! (a typo should not pass silently, but Kubernetes also injects `AUTHZ_*` service
//! variables for a Service of that name, which must not stop the process).

mod error;
pub mod spec;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use error::fail;
pub use error::{Problem, SettingsError};
use spec::ALL;

const PREFIX: &str = "AUTHZ_";

/// The default `AUTHZ_REQUEST_TIMEOUT_SECONDS`.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = spec::REQUEST_TIMEOUT_SECONDS.default;

/// The default `AUTHZ_MAX_REQUEST_BYTES`.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = spec::MAX_REQUEST_BYTES.default;

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
    /// HTTP authorization subrequests (`src/http_auth/`); `None`: the port is off.
    pub http_auth_addr: Option<SocketAddr>,
    pub policy_path: PathBuf,
    /// The revocation list (`None`: no list, nothing revoked); followed like the policy.
    pub revocations_path: Option<PathBuf>,
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
    /// How often the policy (and revocation list) file is re-read even without a change
    /// notification.
    pub policy_poll: Duration,
    /// A policy (or revocation list) file rewritten in place is read only once it has not
    /// changed for this long.
    pub policy_quiet: Duration,
    /// Largest `CheckRequest` accepted (larger: `RESOURCE_EXHAUSTED`).
    pub max_request_bytes: usize,
    /// Most gRPC connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Most concurrent checks (HTTP/2 streams) on one gRPC connection.
    pub max_streams_per_connection: u32,
    /// Most checks being read or decided at once, over all connections.
    pub max_in_flight: usize,
    /// Longest time one check may take, reading it included.
    pub request_timeout: Duration,
    /// A gRPC connection that sends nothing for this long is closed (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Tokio worker threads (`None`: one per CPU the process may use).
    pub worker_threads: Option<usize>,
    /// Most admin HTTP connections open at once.
    pub admin_max_connections: usize,
    /// Log lines queued for the writer; past that, lines are dropped and counted.
    pub log_queue_lines: usize,
    /// TLS (and mTLS) on the gRPC port and the HTTP authorization port; `None`: plaintext.
    pub tls: Option<TlsFiles>,
    /// Serve gRPC reflection (`grpc.reflection.v1` and `v1alpha`) on the gRPC port.
    pub reflection: bool,
    /// Put the decision in `CheckResponse.dynamic_metadata` (for Envoy's access logs and
    /// RBAC); off, Envoy has less to apply on every request.
    pub dynamic_metadata: bool,
}

/// The PEM files of TLS on the gRPC port (`src/tls/` reads and follows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `AUTHZ_TLS_CERT_FILE`: the serving certificate, then its intermediates.
    pub cert: PathBuf,
    /// `AUTHZ_TLS_KEY_FILE`: the certificate's private key.
    pub key: PathBuf,
    /// `AUTHZ_TLS_CLIENT_CA_FILE`: clients must present a certificate from these CAs (mTLS).
    pub client_ca: Option<PathBuf>,
}

/// The `AUTHZ_*` variables of `vars` as text. `std::env::vars` panics on the first variable
/// that is not UTF-8, whoever set it; here a name that is not UTF-8 cannot be one of ours
/// and is skipped, like every other variable, and an `AUTHZ_*` value that is not UTF-8 is
/// an error naming the variable.
fn text_vars(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Vec<(String, String)>, SettingsError> {
    let mut ours = Vec::new();
    for (name, value) in vars {
        let Some(name) = name.to_str().filter(|n| n.starts_with(PREFIX)) else {
            continue;
        };
        match value.into_string() {
            Ok(value) => ours.push((name.to_owned(), value)),
            Err(_) => {
                return fail(
                    "AUTHZ_*",
                    Problem::Unreadable(format!("the value of {name} is not UTF-8 text")),
                );
            }
        }
    }
    Ok(ours)
}

/// The values given to known settings, by variable.
struct Given(HashMap<&'static str, String>);

impl Given {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    fn number(&self, s: &spec::Number) -> Result<u64, SettingsError> {
        s.parse(self.get(s.name))
    }
    fn count(&self, s: &spec::Number) -> Result<usize, SettingsError> {
        // Every range fits a usize on the 64- and 32-bit targets the service builds for.
        self.number(s).map(|n| n as usize)
    }
    fn seconds(&self, s: &spec::Number) -> Result<Duration, SettingsError> {
        self.number(s).map(Duration::from_secs)
    }
    fn path(&self, s: &spec::Path) -> Result<Option<PathBuf>, SettingsError> {
        s.parse(self.get(s.name))
    }
}

impl Default for Settings {
    /// Every setting at its default.
    fn default() -> Self {
        Self::from_given(&Given(HashMap::new())).expect("the defaults are valid")
    }
}

impl Settings {
    /// Reads the settings from the environment; also returns warnings to log.
    pub fn from_env() -> Result<(Settings, Vec<String>), SettingsError> {
        Self::from_vars(text_vars(std::env::vars_os())?)
    }

    /// Reads the settings from `vars` (the environment, or a test's); also returns a
    /// warning for each unknown `AUTHZ_*` variable. Names are matched exactly: a known name
    /// in other than upper case is unknown.
    fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Vec<String>), SettingsError> {
        let mut given = HashMap::new();
        let mut warnings = Vec::new();
        for (name, value) in vars.into_iter().filter(|(k, _)| k.starts_with(PREFIX)) {
            match ALL.iter().find(|s| s.name() == name) {
                Some(s) => {
                    given.insert(s.name(), value);
                }
                None => warnings.push(format!(
                    "ignoring unknown setting {name} (known: {})",
                    ALL.map(|s| s.name()).join(", ")
                )),
            }
        }
        Ok((Self::from_given(&Given(given))?, warnings))
    }

    fn from_given(g: &Given) -> Result<Settings, SettingsError> {
        use spec::*;
        Ok(Settings {
            listen_addr: LISTEN_ADDR.parse(g.get(LISTEN_ADDR.name))?,
            admin_addr: ADMIN_ADDR.parse(g.get(ADMIN_ADDR.name))?,
            http_auth_addr: HTTP_AUTH_ADDR.parse(g.get(HTTP_AUTH_ADDR.name))?,
            policy_path: g
                .path(&POLICY_PATH)?
                .expect("the policy path has a default"),
            revocations_path: g.path(&REVOCATIONS_PATH)?,
            log_format: match LOG_FORMAT.parse(g.get(LOG_FORMAT.name))? {
                "text" => LogFormat::Text,
                _ => LogFormat::Json,
            },
            reflection: REFLECTION.parse(g.get(REFLECTION.name))?,
            dynamic_metadata: DYNAMIC_METADATA.parse(g.get(DYNAMIC_METADATA.name))?,
            drain: g.seconds(&DRAIN_SECONDS)?,
            jwks_refresh: g.seconds(&JWKS_REFRESH_SECONDS)?,
            jwks_cooldown: g.seconds(&JWKS_COOLDOWN_SECONDS)?,
            jwks_timeout: g.seconds(&JWKS_TIMEOUT_SECONDS)?,
            token_cache_entries: g.number(&TOKEN_CACHE_ENTRIES)?,
            policy_poll: g.seconds(&POLICY_POLL_SECONDS)?,
            policy_quiet: Duration::from_millis(g.number(&POLICY_QUIET_MS)?),
            max_request_bytes: g.count(&MAX_REQUEST_BYTES)?,
            max_connections: g.count(&MAX_CONNECTIONS)?,
            max_streams_per_connection: g.number(&MAX_STREAMS_PER_CONNECTION)? as u32,
            max_in_flight: g.count(&MAX_IN_FLIGHT)?,
            request_timeout: g.seconds(&REQUEST_TIMEOUT_SECONDS)?,
            idle_timeout: Some(g.seconds(&IDLE_TIMEOUT_SECONDS)?).filter(|d| !d.is_zero()),
            worker_threads: Some(g.count(&WORKER_THREADS)?).filter(|n| *n > 0),
            admin_max_connections: g.count(&ADMIN_MAX_CONNECTIONS)?,
            log_queue_lines: g.count(&LOG_QUEUE_LINES)?,
            tls: tls_files(
                g.path(&TLS_CERT_FILE)?,
                g.path(&TLS_KEY_FILE)?,
                g.path(&TLS_CLIENT_CA_FILE)?,
            )?,
        })
    }
}

/// Cert and key both or neither; a client CA only with both.
fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
) -> Result<Option<TlsFiles>, SettingsError> {
    let (cert_name, key_name) = (spec::TLS_CERT_FILE.name, spec::TLS_KEY_FILE.name);
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert,
            key,
            client_ca,
        })),
        (Some(_), None) => fail(
            key_name,
            Problem::Missing {
                because: cert_name,
                why: "TLS needs both or neither",
            },
        ),
        (None, Some(_)) => fail(
            cert_name,
            Problem::Missing {
                because: key_name,
                why: "TLS needs both or neither",
            },
        ),
        (None, None) if client_ca.is_some() => fail(
            spec::TLS_CLIENT_CA_FILE.name,
            Problem::Needs {
                with: "AUTHZ_TLS_CERT_FILE and AUTHZ_TLS_KEY_FILE",
                why: "mTLS is TLS with client certificates",
            },
        ),
        (None, None) => Ok(None),
    }
}
