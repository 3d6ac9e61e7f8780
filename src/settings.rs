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

/// A setting that cannot be used: which variable, and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The variable (`AUTHZ_MAX_CONNECTIONS`), or `AUTHZ_*` when the environment as a
    /// whole could not be read.
    pub setting: &'static str,
    pub problem: Problem,
}

/// What is wrong with a setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The environment could not be read at all.
    Unreadable(String),
    /// Set, but empty.
    Empty {
        hint: &'static str,
    },
    NotOneOf {
        value: String,
        allowed: &'static [&'static str],
    },
    NotAnAddress {
        value: String,
        example: &'static str,
    },
    OutOfRange {
        value: String,
        min: u64,
        max: u64,
    },
    /// Not set, but `because` is, which needs it.
    Missing {
        because: &'static str,
        why: &'static str,
    },
    /// Only usable together with `with`, which is not set.
    Needs {
        with: &'static str,
        why: &'static str,
    },
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.setting;
        match &self.problem {
            Problem::Unreadable(e) => write!(f, "cannot read {PREFIX}* settings: {e}"),
            Problem::Empty { hint } => write!(f, "{name}: must not be empty{hint}"),
            Problem::NotOneOf { value, allowed } => {
                let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
                write!(f, "{name}: {value:?} is not one of {}", allowed.join(", "))
            }
            Problem::NotAnAddress { value, example } => write!(
                f,
                "{name}: {value:?} is not an address with a port (like {example} or [::]:9000)"
            ),
            Problem::OutOfRange { value, min, max } => write!(
                f,
                "{name}: {value:?} is not a whole number from {min} to {max}"
            ),
            Problem::Missing { because, why } => {
                write!(f, "{name}: not set, but {because} is ({why})")
            }
            Problem::Needs { with, why } => write!(f, "{name}: needs {with} ({why})"),
        }
    }
}

impl std::error::Error for SettingsError {}

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

fn fail<T>(setting: &'static str, problem: Problem) -> Result<T, SettingsError> {
    Err(SettingsError { setting, problem })
}

const PREFIX: &str = "AUTHZ_";

/// The default `AUTHZ_REQUEST_TIMEOUT_SECONDS`: longer than a check can take when it must
/// wait for a key fetch (`AUTHZ_JWKS_TIMEOUT_SECONDS`, 5), far shorter than a stalled
/// stream should be allowed to hold memory.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 7;

/// The default `AUTHZ_MAX_REQUEST_BYTES`: twice the largest `CheckRequest` Envoy's default
/// header limit (`max_request_headers_kb: 60`) allows.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 128 * 1024;

/// The default `AUTHZ_MAX_CONNECTIONS`, `AUTHZ_MAX_STREAMS_PER_CONNECTION` and
/// `AUTHZ_MAX_IN_FLIGHT`: with `AUTHZ_MAX_REQUEST_BYTES` they keep the most a client can
/// make the service hold under 128 MiB (docs/security.md, "Memory budget"). A connection
/// once at its stream limit keeps the HTTP/2 library's state for that many streams while it
/// lives; Envoy opens another connection when one is at the limit.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 512;
/// See [`DEFAULT_MAX_CONNECTIONS`].
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u64 = 32;
/// See [`DEFAULT_MAX_CONNECTIONS`]: each check in flight may hold a message of up to
/// `AUTHZ_MAX_REQUEST_BYTES`.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 256;

/// Every variable we read, without the prefix.
const KNOWN: [&str; 26] = [
    "LISTEN_ADDR",
    "ADMIN_ADDR",
    "POLICY_PATH",
    "REVOCATIONS_PATH",
    "LOG_FORMAT",
    "DRAIN_SECONDS",
    "JWKS_REFRESH_SECONDS",
    "JWKS_COOLDOWN_SECONDS",
    "JWKS_TIMEOUT_SECONDS",
    "TOKEN_CACHE_ENTRIES",
    "POLICY_POLL_SECONDS",
    "POLICY_QUIET_MS",
    "MAX_REQUEST_BYTES",
    "MAX_CONNECTIONS",
    "MAX_STREAMS_PER_CONNECTION",
    "MAX_IN_FLIGHT",
    "REQUEST_TIMEOUT_SECONDS",
    "IDLE_TIMEOUT_SECONDS",
    "WORKER_THREADS",
    "ADMIN_MAX_CONNECTIONS",
    "LOG_QUEUE_LINES",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_CA_FILE",
    "REFLECTION",
    "DYNAMIC_METADATA",
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
    /// TLS (and mTLS) on the gRPC port; `None`: plaintext.
    pub tls: Option<TlsFiles>,
    /// Serve gRPC reflection (`grpc.reflection.v1` and `v1alpha`) on the gRPC port.
    pub reflection: bool,
    /// Put the decision in `CheckResponse.dynamic_metadata` (for Envoy's access logs and
    /// RBAC); off, Envoy has less to apply on every request.
    pub dynamic_metadata: bool,
}

/// The PEM files of TLS on the gRPC port (`src/tls.rs` reads and follows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `AUTHZ_TLS_CERT_FILE`: the serving certificate, then its intermediates.
    pub cert: PathBuf,
    /// `AUTHZ_TLS_KEY_FILE`: the certificate's private key.
    pub key: PathBuf,
    /// `AUTHZ_TLS_CLIENT_CA_FILE`: clients must present a certificate from these CAs (mTLS).
    pub client_ca: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
struct Raw {
    listen_addr: Option<String>,
    admin_addr: Option<String>,
    policy_path: Option<String>,
    revocations_path: Option<String>,
    log_format: Option<String>,
    drain_seconds: Option<String>,
    jwks_refresh_seconds: Option<String>,
    jwks_cooldown_seconds: Option<String>,
    jwks_timeout_seconds: Option<String>,
    token_cache_entries: Option<String>,
    policy_poll_seconds: Option<String>,
    policy_quiet_ms: Option<String>,
    max_request_bytes: Option<String>,
    max_connections: Option<String>,
    max_streams_per_connection: Option<String>,
    max_in_flight: Option<String>,
    request_timeout_seconds: Option<String>,
    idle_timeout_seconds: Option<String>,
    worker_threads: Option<String>,
    reflection: Option<String>,
    dynamic_metadata: Option<String>,
    admin_max_connections: Option<String>,
    log_queue_lines: Option<String>,
    tls_cert_file: Option<String>,
    tls_key_file: Option<String>,
    tls_client_ca_file: Option<String>,
}

impl Default for Settings {
    /// Every setting at its default.
    fn default() -> Self {
        Self::from_raw(Raw::default()).expect("the defaults are valid")
    }
}

impl Settings {
    /// Reads the settings from the environment; also returns warnings to log.
    pub fn from_env() -> Result<(Settings, Vec<String>), SettingsError> {
        Self::from_vars(text_vars(std::env::vars_os())?)
    }

    /// Reads the settings from `vars` (the environment, or a test's); also returns a
    /// warning for each unknown `AUTHZ_*` variable.
    fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Settings, Vec<String>), SettingsError> {
        let (known, unknown): (Vec<_>, Vec<_>) = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX))
            .partition(|(k, _)| KNOWN.contains(&&k[PREFIX.len()..]));
        let warnings = unknown
            .into_iter()
            .map(|(k, _)| {
                format!(
                    "ignoring unknown setting {k} (known: {})",
                    KNOWN.map(|n| format!("{PREFIX}{n}")).join(", ")
                )
            })
            .collect();
        // Only the known names reach envy: it matches names without regard to case, so
        // `AUTHZ_drain_seconds` would otherwise be used while warned about as ignored.
        let raw: Raw = envy::prefixed(PREFIX)
            .from_iter(known)
            .map_err(|e| SettingsError {
                setting: "AUTHZ_*",
                problem: Problem::Unreadable(e.to_string()),
            })?;
        Ok((Self::from_raw(raw)?, warnings))
    }

    fn from_raw(raw: Raw) -> Result<Settings, SettingsError> {
        Ok(Settings {
            listen_addr: addr("AUTHZ_LISTEN_ADDR", raw.listen_addr, "0.0.0.0:9000")?,
            admin_addr: addr("AUTHZ_ADMIN_ADDR", raw.admin_addr, "0.0.0.0:9090")?,
            policy_path: match raw.policy_path {
                Some(p) if p.trim().is_empty() => {
                    return fail("AUTHZ_POLICY_PATH", Problem::Empty { hint: "" });
                }
                Some(p) => PathBuf::from(p),
                None => PathBuf::from("/etc/cognito-ext-authz/policy.yaml"),
            },
            revocations_path: match raw.revocations_path {
                Some(p) if p.trim().is_empty() => {
                    return fail(
                        "AUTHZ_REVOCATIONS_PATH",
                        Problem::Empty {
                            hint: " (unset it for no revocation list)",
                        },
                    );
                }
                Some(p) => Some(PathBuf::from(p)),
                None => None,
            },
            log_format: match raw.log_format.as_deref().map(str::trim) {
                None | Some("json") => LogFormat::Json,
                Some("text") => LogFormat::Text,
                Some(other) => {
                    return fail(
                        "AUTHZ_LOG_FORMAT",
                        Problem::NotOneOf {
                            value: other.to_owned(),
                            allowed: &["json", "text"],
                        },
                    );
                }
            },
            reflection: flag("AUTHZ_REFLECTION", raw.reflection, true)?,
            dynamic_metadata: flag("AUTHZ_DYNAMIC_METADATA", raw.dynamic_metadata, false)?,
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
            policy_quiet: Duration::from_millis(number(
                "AUTHZ_POLICY_QUIET_MS",
                raw.policy_quiet_ms,
                2000,
                0,
                60_000,
            )?),
            max_request_bytes: number(
                "AUTHZ_MAX_REQUEST_BYTES",
                raw.max_request_bytes,
                DEFAULT_MAX_REQUEST_BYTES,
                4096,
                16 * 1024 * 1024,
            )? as usize,
            max_connections: number(
                "AUTHZ_MAX_CONNECTIONS",
                raw.max_connections,
                DEFAULT_MAX_CONNECTIONS,
                1,
                1_000_000,
            )? as usize,
            max_streams_per_connection: number(
                "AUTHZ_MAX_STREAMS_PER_CONNECTION",
                raw.max_streams_per_connection,
                DEFAULT_MAX_STREAMS_PER_CONNECTION,
                1,
                10_000,
            )? as u32,
            max_in_flight: number(
                "AUTHZ_MAX_IN_FLIGHT",
                raw.max_in_flight,
                DEFAULT_MAX_IN_FLIGHT,
                1,
                100_000,
            )? as usize,
            request_timeout: seconds(
                "AUTHZ_REQUEST_TIMEOUT_SECONDS",
                raw.request_timeout_seconds,
                DEFAULT_REQUEST_TIMEOUT_SECONDS,
                1,
                600,
            )?,
            idle_timeout: match number(
                "AUTHZ_IDLE_TIMEOUT_SECONDS",
                raw.idle_timeout_seconds,
                600,
                0,
                86_400,
            )? {
                0 => None,
                n => Some(Duration::from_secs(n)),
            },
            worker_threads: match number("AUTHZ_WORKER_THREADS", raw.worker_threads, 0, 0, 1024)? {
                0 => None,
                n => Some(n as usize),
            },
            admin_max_connections: number(
                "AUTHZ_ADMIN_MAX_CONNECTIONS",
                raw.admin_max_connections,
                64,
                1,
                10_000,
            )? as usize,
            log_queue_lines: number(
                "AUTHZ_LOG_QUEUE_LINES",
                raw.log_queue_lines,
                16_384,
                16,
                1_000_000,
            )? as usize,
            tls: tls_files(raw.tls_cert_file, raw.tls_key_file, raw.tls_client_ca_file)?,
        })
    }
}

/// Cert and key both or neither; a client CA only with both.
fn tls_files(
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
) -> Result<Option<TlsFiles>, SettingsError> {
    let path = |name: &'static str, value: Option<String>| match value {
        Some(v) if v.trim().is_empty() => fail(name, Problem::Empty { hint: "" }),
        Some(v) => Ok(Some(PathBuf::from(v))),
        None => Ok(None),
    };
    let cert = path("AUTHZ_TLS_CERT_FILE", cert)?;
    let key = path("AUTHZ_TLS_KEY_FILE", key)?;
    let client_ca = path("AUTHZ_TLS_CLIENT_CA_FILE", client_ca)?;
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsFiles {
            cert,
            key,
            client_ca,
        })),
        (Some(_), None) => fail(
            "AUTHZ_TLS_KEY_FILE",
            Problem::Missing {
                because: "AUTHZ_TLS_CERT_FILE",
                why: "TLS needs both or neither",
            },
        ),
        (None, Some(_)) => fail(
            "AUTHZ_TLS_CERT_FILE",
            Problem::Missing {
                because: "AUTHZ_TLS_KEY_FILE",
                why: "TLS needs both or neither",
            },
        ),
        (None, None) if client_ca.is_some() => fail(
            "AUTHZ_TLS_CLIENT_CA_FILE",
            Problem::Needs {
                with: "AUTHZ_TLS_CERT_FILE and AUTHZ_TLS_KEY_FILE",
                why: "mTLS is TLS with client certificates",
            },
        ),
        (None, None) => Ok(None),
    }
}

fn addr(
    name: &'static str,
    value: Option<String>,
    default: &'static str,
) -> Result<SocketAddr, SettingsError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    match value.trim().parse() {
        Ok(a) => Ok(a),
        Err(_) => fail(
            name,
            Problem::NotAnAddress {
                value,
                example: default,
            },
        ),
    }
}

fn number(
    name: &'static str,
    value: Option<String>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, SettingsError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => fail(name, Problem::OutOfRange { value, min, max }),
    }
}

/// `true` or `false` (spaces around ignored), `default` when unset.
fn flag(name: &'static str, value: Option<String>, default: bool) -> Result<bool, SettingsError> {
    match value.as_deref().map(str::trim) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => fail(
            name,
            Problem::NotOneOf {
                value: other.to_owned(),
                allowed: &["true", "false"],
            },
        ),
    }
}

fn seconds(
    name: &'static str,
    value: Option<String>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, SettingsError> {
    number(name, value, default, min, max).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_that_are_not_utf8_are_skipped_unless_they_are_ours() {
        use std::os::unix::ffi::OsStringExt;
        let os = |b: &[u8]| std::ffi::OsString::from_vec(b.to_vec());
        let vars = vec![
            (os(b"LANG_\xff"), os(b"x")),
            (os(b"OTHER"), os(b"caf\xe9")),
            (os(b"AUTHZ_\xff"), os(b"1")),
            (os(b"AUTHZ_DRAIN_SECONDS"), os(b"9")),
        ];
        assert_eq!(
            text_vars(vars).unwrap(),
            vec![("AUTHZ_DRAIN_SECONDS".to_owned(), "9".to_owned())]
        );
        let e = text_vars(vec![(os(b"AUTHZ_POLICY_PATH"), os(b"/etc/p\xe9.yaml"))])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "cannot read AUTHZ_* settings: the value of AUTHZ_POLICY_PATH is not UTF-8 text"
        );
    }

    /// The settings `vars` make, and the warnings.
    fn from_vars(vars: &[(&str, &str)]) -> Result<(Settings, Vec<String>), SettingsError> {
        Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// What a numeric setting became, as a number in the variable's unit (`0` for "off" or
    /// "one per CPU", as the variable spells them).
    type Reads = fn(&Settings) -> u64;

    /// Every numeric setting: the variable, what it became, and the documented default (docs/running.md),
    /// lowest and highest value.
    fn numeric_settings() -> [(&'static str, Reads, u64, u64, u64); 16] {
        [
            ("AUTHZ_DRAIN_SECONDS", |s| s.drain.as_secs(), 5, 0, 3600),
            (
                "AUTHZ_JWKS_REFRESH_SECONDS",
                |s| s.jwks_refresh.as_secs(),
                3600,
                10,
                86_400,
            ),
            (
                "AUTHZ_JWKS_COOLDOWN_SECONDS",
                |s| s.jwks_cooldown.as_secs(),
                10,
                0,
                3600,
            ),
            (
                "AUTHZ_JWKS_TIMEOUT_SECONDS",
                |s| s.jwks_timeout.as_secs(),
                5,
                1,
                60,
            ),
            (
                "AUTHZ_TOKEN_CACHE_ENTRIES",
                |s| s.token_cache_entries,
                10_000,
                0,
                10_000_000,
            ),
            (
                "AUTHZ_POLICY_POLL_SECONDS",
                |s| s.policy_poll.as_secs(),
                10,
                1,
                3600,
            ),
            (
                "AUTHZ_POLICY_QUIET_MS",
                |s| s.policy_quiet.as_millis() as u64,
                2000,
                0,
                60_000,
            ),
            (
                "AUTHZ_MAX_REQUEST_BYTES",
                |s| s.max_request_bytes as u64,
                131_072,
                4096,
                16_777_216,
            ),
            (
                "AUTHZ_MAX_CONNECTIONS",
                |s| s.max_connections as u64,
                512,
                1,
                1_000_000,
            ),
            (
                "AUTHZ_MAX_STREAMS_PER_CONNECTION",
                |s| s.max_streams_per_connection.into(),
                32,
                1,
                10_000,
            ),
            (
                "AUTHZ_MAX_IN_FLIGHT",
                |s| s.max_in_flight as u64,
                256,
                1,
                100_000,
            ),
            (
                "AUTHZ_REQUEST_TIMEOUT_SECONDS",
                |s| s.request_timeout.as_secs(),
                7,
                1,
                600,
            ),
            (
                "AUTHZ_IDLE_TIMEOUT_SECONDS",
                |s| s.idle_timeout.map_or(0, |d| d.as_secs()),
                600,
                0,
                86_400,
            ),
            (
                "AUTHZ_WORKER_THREADS",
                |s| s.worker_threads.map_or(0, |n| n as u64),
                0,
                0,
                1024,
            ),
            (
                "AUTHZ_ADMIN_MAX_CONNECTIONS",
                |s| s.admin_max_connections as u64,
                64,
                1,
                10_000,
            ),
            (
                "AUTHZ_LOG_QUEUE_LINES",
                |s| s.log_queue_lines as u64,
                16_384,
                16,
                1_000_000,
            ),
        ]
    }

    /// Whether an on/off setting became on.
    type ReadsFlag = fn(&Settings) -> bool;

    /// Every on/off setting: the variable, what it became, and the documented default (docs/running.md).
    fn flag_settings() -> [(&'static str, ReadsFlag, bool); 2] {
        [
            ("AUTHZ_REFLECTION", |s| s.reflection, true),
            ("AUTHZ_DYNAMIC_METADATA", |s| s.dynamic_metadata, false),
        ]
    }

    #[test]
    fn every_number_and_flag_has_its_documented_default_and_range() {
        let unset = from_vars(&[]).unwrap().0;
        for (name, reads, default, min, max) in numeric_settings() {
            assert_eq!(reads(&unset), default, "{name} unset");
            for accepted in [min, max] {
                let (s, _) = from_vars(&[(name, &accepted.to_string())])
                    .unwrap_or_else(|e| panic!("{name}={accepted} refused: {e}"));
                assert_eq!(reads(&s), accepted, "{name}={accepted}");
            }
            // One past each end; below 0 is "-1", which is no whole number either.
            let below = min
                .checked_sub(1)
                .map_or("-1".to_owned(), |n| n.to_string());
            for refused in [below, (max + 1).to_string()] {
                let err = from_vars(&[(name, &refused)]).unwrap_err();
                assert_eq!(err.setting, name, "{err}");
                assert_eq!(
                    err.to_string(),
                    format!("{name}: \"{refused}\" is not a whole number from {min} to {max}")
                );
            }
        }
        for (name, reads, default) in flag_settings() {
            assert_eq!(reads(&unset), default, "{name} unset");
            for (spelling, value) in [("true", true), ("false", false), (" true ", true)] {
                let (s, _) = from_vars(&[(name, spelling)]).unwrap();
                assert_eq!(reads(&s), value, "{name}={spelling:?}");
            }
            let err = from_vars(&[(name, "yes")]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{name}: \"yes\" is not one of \"true\", \"false\"")
            );
        }
        // The two tables hold every number and flag the service reads.
        let mut covered: Vec<&str> = numeric_settings().iter().map(|s| s.0).collect();
        covered.extend(flag_settings().iter().map(|s| s.0));
        covered.extend([
            "AUTHZ_LISTEN_ADDR",
            "AUTHZ_ADMIN_ADDR",
            "AUTHZ_POLICY_PATH",
            "AUTHZ_REVOCATIONS_PATH",
            "AUTHZ_LOG_FORMAT",
            "AUTHZ_TLS_CERT_FILE",
            "AUTHZ_TLS_KEY_FILE",
            "AUTHZ_TLS_CLIENT_CA_FILE",
        ]);
        covered.sort();
        let mut known = KNOWN.map(|n| format!("{PREFIX}{n}")).to_vec();
        known.sort();
        assert_eq!(covered, known);
    }

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
        assert_eq!(s.tls, None);
        assert_eq!(s.revocations_path, None);
        // Numbers and flags: every_number_and_flag_has_its_documented_default_and_range.
    }

    #[test]
    fn unknown_authz_variables_are_named_in_a_warning_and_ignored() {
        let (s, warnings) = from_vars(&[
            ("AUTHZ_TOKEN_CACHE_ENTRYS", "5"),
            ("AUTHZ_TOKEN_CACHE_ENTRIES", "7"),
            // Only the exact name is read: envy alone would take this one as
            // AUTHZ_DRAIN_SECONDS (it ignores case) while it is warned about as ignored.
            ("AUTHZ_drain_seconds", "60"),
            ("PATH", "/usr/bin"),
            ("XAUTHZ_TOKEN_CACHE_ENTRYS", "5"),
            ("authz_token_cache_entrys", "5"),
        ])
        .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        for (warning, name) in warnings
            .iter()
            .zip(["AUTHZ_TOKEN_CACHE_ENTRYS", "AUTHZ_drain_seconds"])
        {
            let known = KNOWN.map(|n| format!("{PREFIX}{n}")).join(", ");
            assert_eq!(
                warning,
                &format!("ignoring unknown setting {name} (known: {known})")
            );
            assert!(warning.contains("AUTHZ_TOKEN_CACHE_ENTRIES, "));
        }
        assert_eq!(s.token_cache_entries, 7);
        assert_eq!(s.drain, Duration::from_secs(5), "AUTHZ_drain_seconds used");
    }

    #[test]
    fn known_variables_give_no_warning() {
        let mut vars: Vec<(&str, String)> = numeric_settings()
            .iter()
            .map(|&(name, _, _, min, _)| (name, min.to_string()))
            .collect();
        vars.extend(flag_settings().map(|(name, _, _)| (name, "false".to_owned())));
        vars.extend(
            [
                ("AUTHZ_LISTEN_ADDR", "127.0.0.1:9000"),
                ("AUTHZ_ADMIN_ADDR", "127.0.0.1:9090"),
                ("AUTHZ_POLICY_PATH", "/p/policy.yaml"),
                ("AUTHZ_REVOCATIONS_PATH", "/p/revocations.yaml"),
                ("AUTHZ_LOG_FORMAT", "text"),
                ("AUTHZ_TLS_CERT_FILE", "/tls/tls.crt"),
                ("AUTHZ_TLS_KEY_FILE", "/tls/tls.key"),
                ("AUTHZ_TLS_CLIENT_CA_FILE", "/tls/ca.crt"),
            ]
            .map(|(k, v)| (k, v.to_owned())),
        );
        assert_eq!(vars.len(), KNOWN.len());
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, warnings) = from_vars(&vars).unwrap();
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(s.log_format, LogFormat::Text, "the variables were read");
    }

    #[test]
    fn a_revocation_list_is_optional() {
        let raw = Raw {
            revocations_path: Some("/etc/cognito-ext-authz/revocations.yaml".into()),
            ..Raw::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap().revocations_path,
            Some(PathBuf::from("/etc/cognito-ext-authz/revocations.yaml"))
        );
    }

    #[test]
    fn tls_takes_cert_and_key_and_optionally_a_client_ca() {
        let raw = Raw {
            tls_cert_file: Some("/tls/tls.crt".into()),
            tls_key_file: Some("/tls/tls.key".into()),
            ..Raw::default()
        };
        let tls = Settings::from_raw(raw).unwrap().tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/tls/tls.crt"));
        assert_eq!(tls.key, PathBuf::from("/tls/tls.key"));
        assert_eq!(tls.client_ca, None);
        let raw = Raw {
            tls_cert_file: Some("/tls/tls.crt".into()),
            tls_key_file: Some("/tls/tls.key".into()),
            tls_client_ca_file: Some("/tls/ca.crt".into()),
            ..Raw::default()
        };
        let tls = Settings::from_raw(raw).unwrap().tls.unwrap();
        assert_eq!(tls.client_ca, Some(PathBuf::from("/tls/ca.crt")));
    }

    #[test]
    fn zero_turns_timeouts_and_worker_choice_off() {
        let raw = Raw {
            idle_timeout_seconds: Some("0".into()),
            worker_threads: Some("3".into()),
            ..Raw::default()
        };
        let s = Settings::from_raw(raw).unwrap();
        assert_eq!(s.idle_timeout, None);
        assert_eq!(s.worker_threads, Some(3));
    }

    #[test]
    fn bad_values_name_the_variable() {
        type Setter = fn(&mut Raw);
        let cases: [(Setter, &str); 15] = [
            (|r| r.listen_addr = Some("9000".into()), "AUTHZ_LISTEN_ADDR"),
            (
                |r| r.dynamic_metadata = Some("yes".into()),
                "AUTHZ_DYNAMIC_METADATA",
            ),
            (|r| r.log_format = Some("xml".into()), "AUTHZ_LOG_FORMAT"),
            (
                |r| r.revocations_path = Some(" ".into()),
                "AUTHZ_REVOCATIONS_PATH",
            ),
            (
                |r| r.drain_seconds = Some("-1".into()),
                "AUTHZ_DRAIN_SECONDS",
            ),
            (
                |r| r.token_cache_entries = Some("lots".into()),
                "AUTHZ_TOKEN_CACHE_ENTRIES",
            ),
            (
                |r| r.max_request_bytes = Some("100".into()),
                "AUTHZ_MAX_REQUEST_BYTES",
            ),
            (
                |r| r.max_connections = Some("0".into()),
                "AUTHZ_MAX_CONNECTIONS",
            ),
            (
                |r| r.policy_quiet_ms = Some("60001".into()),
                "AUTHZ_POLICY_QUIET_MS",
            ),
            (
                |r| r.log_queue_lines = Some("1".into()),
                "AUTHZ_LOG_QUEUE_LINES",
            ),
            (
                |r| r.tls_cert_file = Some("/tls/tls.crt".into()),
                "AUTHZ_TLS_KEY_FILE",
            ),
            (
                |r| r.tls_key_file = Some("/tls/tls.key".into()),
                "AUTHZ_TLS_CERT_FILE",
            ),
            (
                |r| r.tls_client_ca_file = Some("/tls/ca.crt".into()),
                "AUTHZ_TLS_CLIENT_CA_FILE",
            ),
            (
                |r| {
                    r.tls_cert_file = Some(" ".into());
                    r.tls_key_file = Some("/tls/tls.key".into());
                },
                "AUTHZ_TLS_CERT_FILE",
            ),
            (
                |r| {
                    r.tls_cert_file = Some("/tls/tls.crt".into());
                    r.tls_key_file = Some("/tls/tls.key".into());
                    r.tls_client_ca_file = Some("".into());
                },
                "AUTHZ_TLS_CLIENT_CA_FILE",
            ),
        ];
        for (set, name) in cases {
            let mut raw = Raw::default();
            set(&mut raw);
            let err = Settings::from_raw(raw).unwrap_err();
            assert_eq!(err.setting, name, "{err}");
        }
    }

    #[test]
    fn errors_say_what_the_value_should_be() {
        let raw = Raw {
            max_connections: Some("0".into()),
            ..Raw::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap_err().to_string(),
            r#"AUTHZ_MAX_CONNECTIONS: "0" is not a whole number from 1 to 1000000"#
        );
        let raw = Raw {
            log_format: Some("xml".into()),
            ..Raw::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap_err().to_string(),
            r#"AUTHZ_LOG_FORMAT: "xml" is not one of "json", "text""#
        );
        let on = Raw {
            dynamic_metadata: Some(" true".into()),
            ..Raw::default()
        };
        assert!(Settings::from_raw(on).unwrap().dynamic_metadata);
        let raw = Raw {
            tls_cert_file: Some("/tls/tls.crt".into()),
            ..Raw::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap_err().to_string(),
            "AUTHZ_TLS_KEY_FILE: not set, but AUTHZ_TLS_CERT_FILE is (TLS needs both or neither)"
        );
        let raw = Raw {
            listen_addr: Some("9000".into()),
            ..Raw::default()
        };
        assert_eq!(
            Settings::from_raw(raw).unwrap_err().to_string(),
            r#"AUTHZ_LISTEN_ADDR: "9000" is not an address with a port (like 0.0.0.0:9000 or [::]:9000)"#
        );
    }
}
