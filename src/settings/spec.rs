//! Every `AUTHZ_*` setting, written once: its variable, default, what it accepts and one
//! line of help. Parsing, the unknown-variable warning, `serve --help` and the tests that
//! hold docs/running.md to these values all read [`ALL`].

use std::net::SocketAddr;
use std::path::PathBuf;

use super::error::{Problem, SettingsError, fail};

/// What every kind of setting tells about itself.
pub trait Setting: Sync {
    /// The variable, `AUTHZ_...`.
    fn name(&self) -> &'static str;
    /// The default as docs/running.md writes it (`unset` when there is none).
    fn default_text(&self) -> String;
    /// The whole numbers accepted, for numeric settings.
    fn range(&self) -> Option<(u64, u64)> {
        None
    }
    /// One line of help.
    fn help(&self) -> &'static str;
}

/// An address with a port.
pub struct Address {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// An address with a port that is unset by default (the port it names is off).
pub struct OptionalAddress {
    pub name: &'static str,
    /// Shown in the error for a value that is not an address.
    pub example: &'static str,
    /// Said after "must not be empty" (how to turn it off).
    pub empty_hint: &'static str,
    pub help: &'static str,
}

/// A file path; `default: None` means unset.
pub struct Path {
    pub name: &'static str,
    pub default: Option<&'static str>,
    /// Said after "must not be empty" (how to turn it off, where that is possible).
    pub empty_hint: &'static str,
    pub help: &'static str,
}

/// A whole number from `min` to `max`.
pub struct Number {
    pub name: &'static str,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    pub help: &'static str,
}

/// `true` or `false`.
pub struct Flag {
    pub name: &'static str,
    pub default: bool,
    pub help: &'static str,
}

/// One word of a fixed list.
pub struct OneOf {
    pub name: &'static str,
    pub default: &'static str,
    pub allowed: &'static [&'static str],
    pub help: &'static str,
}

/// The value a setting was given, if any (spaces around it are the parser's concern).
pub(super) type Given<'a> = Option<&'a str>;

impl Address {
    pub(super) fn parse(&self, given: Given) -> Result<SocketAddr, SettingsError> {
        let value = given.unwrap_or(self.default);
        value.trim().parse().or_else(|_| {
            fail(
                self.name,
                Problem::NotAnAddress {
                    value: value.to_owned(),
                    example: self.default,
                },
            )
        })
    }
}

impl OptionalAddress {
    pub(super) fn parse(&self, given: Given) -> Result<Option<SocketAddr>, SettingsError> {
        match given {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => fail(
                self.name,
                Problem::Empty {
                    hint: self.empty_hint,
                },
            ),
            Some(v) => v.trim().parse().map(Some).or_else(|_| {
                fail(
                    self.name,
                    Problem::NotAnAddress {
                        value: v.to_owned(),
                        example: self.example,
                    },
                )
            }),
        }
    }
}

impl Path {
    pub(super) fn parse(&self, given: Given) -> Result<Option<PathBuf>, SettingsError> {
        match given {
            Some(v) if v.trim().is_empty() => fail(
                self.name,
                Problem::Empty {
                    hint: self.empty_hint,
                },
            ),
            Some(v) => Ok(Some(PathBuf::from(v))),
            None => Ok(self.default.map(PathBuf::from)),
        }
    }
}

impl Number {
    pub(super) fn parse(&self, given: Given) -> Result<u64, SettingsError> {
        let Some(value) = given else {
            return Ok(self.default);
        };
        match value.trim().parse::<u64>() {
            Ok(n) if (self.min..=self.max).contains(&n) => Ok(n),
            _ => fail(
                self.name,
                Problem::OutOfRange {
                    value: value.to_owned(),
                    min: self.min,
                    max: self.max,
                },
            ),
        }
    }
}

impl Flag {
    pub(super) fn parse(&self, given: Given) -> Result<bool, SettingsError> {
        match given.map(str::trim) {
            None => Ok(self.default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => fail(
                self.name,
                Problem::NotOneOf {
                    value: other.to_owned(),
                    allowed: &["true", "false"],
                },
            ),
        }
    }
}

impl OneOf {
    pub(super) fn parse(&self, given: Given) -> Result<&'static str, SettingsError> {
        let value = given.map_or(self.default, str::trim);
        self.allowed
            .iter()
            .find(|a| **a == value)
            .copied()
            .map_or_else(
                || {
                    fail(
                        self.name,
                        Problem::NotOneOf {
                            value: value.to_owned(),
                            allowed: self.allowed,
                        },
                    )
                },
                Ok,
            )
    }
}

macro_rules! describe {
    ($kind:ty, $default:expr, $range:expr) => {
        impl Setting for $kind {
            fn name(&self) -> &'static str {
                self.name
            }
            fn default_text(&self) -> String {
                #[allow(clippy::redundant_closure_call)]
                ($default)(self)
            }
            fn range(&self) -> Option<(u64, u64)> {
                #[allow(clippy::redundant_closure_call)]
                ($range)(self)
            }
            fn help(&self) -> &'static str {
                self.help
            }
        }
    };
}
describe!(Address, |s: &Address| s.default.to_owned(), |_| None);
describe!(OptionalAddress, |_| "unset".to_owned(), |_| None);
describe!(
    Path,
    |s: &Path| s.default.unwrap_or("unset").to_owned(),
    |_| None
);
describe!(Number, |s: &Number| s.default.to_string(), |s: &Number| {
    Some((s.min, s.max))
});
describe!(Flag, |s: &Flag| s.default.to_string(), |_| None);
describe!(OneOf, |s: &OneOf| s.default.to_owned(), |_| None);

pub const LISTEN_ADDR: Address = Address {
    name: "AUTHZ_LISTEN_ADDR",
    default: "0.0.0.0:9000",
    help: "gRPC: ext_authz Check, grpc.health.v1.Health, reflection",
};
pub const ADMIN_ADDR: Address = Address {
    name: "AUTHZ_ADMIN_ADDR",
    default: "0.0.0.0:9090",
    help: "HTTP: /metrics, /healthz, /readyz",
};
pub const HTTP_AUTH_ADDR: OptionalAddress = OptionalAddress {
    name: "AUTHZ_HTTP_AUTH_ADDR",
    example: "0.0.0.0:9001",
    empty_hint: " (unset it to keep the HTTP authorization port off)",
    help: "HTTP authorization subrequests (nginx, Traefik, Envoy http_service); unset: off",
};
pub const POLICY_PATH: Path = Path {
    name: "AUTHZ_POLICY_PATH",
    default: Some("/etc/cognito-ext-authz/policy.yaml"),
    empty_hint: "",
    help: "the policy file, or a folder of policy files (one per team), followed as they change",
};
pub const REVOCATIONS_PATH: Path = Path {
    name: "AUTHZ_REVOCATIONS_PATH",
    default: None,
    empty_hint: " (unset it for no revocation list)",
    help: "the revocation list, followed like the policy; unset: none",
};
pub const LOG_FORMAT: OneOf = OneOf {
    name: "AUTHZ_LOG_FORMAT",
    default: "json",
    allowed: &["json", "text"],
    help: "log lines as JSON or text (to stderr)",
};
pub const DRAIN_SECONDS: Number = Number {
    name: "AUTHZ_DRAIN_SECONDS",
    default: 5,
    min: 0,
    max: 3600,
    help: "after SIGTERM, checks still answered while health says NOT_SERVING",
};
pub const JWKS_REFRESH_SECONDS: Number = Number {
    name: "AUTHZ_JWKS_REFRESH_SECONDS",
    default: 3600,
    min: 10,
    max: 86_400,
    help: "how often each user pool's keys are refetched",
};
pub const JWKS_COOLDOWN_SECONDS: Number = Number {
    name: "AUTHZ_JWKS_COOLDOWN_SECONDS",
    default: 10,
    min: 0,
    max: 3600,
    help: "least time between refetches caused by unknown key ids, per pool",
};
pub const JWKS_TIMEOUT_SECONDS: Number = Number {
    name: "AUTHZ_JWKS_TIMEOUT_SECONDS",
    default: 5,
    min: 1,
    max: 60,
    help: "timeout of one key fetch, connecting included",
};
pub const TOKEN_CACHE_ENTRIES: Number = Number {
    name: "AUTHZ_TOKEN_CACHE_ENTRIES",
    default: 10_000,
    min: 0,
    max: 10_000_000,
    help: "verified tokens cached (never past their expiry); 0 disables the cache",
};
pub const POLICY_POLL_SECONDS: Number = Number {
    name: "AUTHZ_POLICY_POLL_SECONDS",
    default: 10,
    min: 1,
    max: 3600,
    help: "the policy, revocation list and TLS files are checked this often without an event",
};
pub const POLICY_QUIET_MS: Number = Number {
    name: "AUTHZ_POLICY_QUIET_MS",
    default: 2000,
    min: 0,
    max: 60_000,
    help: "a file rewritten in place is read once unchanged this long",
};
/// Twice the largest `CheckRequest` Envoy's default header limit
/// (`max_request_headers_kb: 60`) allows.
pub const MAX_REQUEST_BYTES: Number = Number {
    name: "AUTHZ_MAX_REQUEST_BYTES",
    default: 128 * 1024,
    min: 4096,
    max: 16 * 1024 * 1024,
    help: "largest CheckRequest; larger: gRPC RESOURCE_EXHAUSTED",
};
/// With [`MAX_STREAMS_PER_CONNECTION`], [`MAX_IN_FLIGHT`] and [`MAX_REQUEST_BYTES`], the
/// most a client can make the service hold stays under 128 MiB (docs/security.md, "Memory
/// budget"): a connection once at its stream limit keeps the HTTP/2 library's state for
/// that many streams while it lives.
pub const MAX_CONNECTIONS: Number = Number {
    name: "AUTHZ_MAX_CONNECTIONS",
    default: 512,
    min: 1,
    max: 1_000_000,
    help: "open gRPC connections; more wait in the listen backlog",
};
/// See [`MAX_CONNECTIONS`]; Envoy opens another connection when one is at the limit.
pub const MAX_STREAMS_PER_CONNECTION: Number = Number {
    name: "AUTHZ_MAX_STREAMS_PER_CONNECTION",
    default: 32,
    min: 1,
    max: 10_000,
    help: "concurrent checks on one gRPC connection",
};
/// See [`MAX_CONNECTIONS`]: each check in flight may hold a message of up to
/// [`MAX_REQUEST_BYTES`].
pub const MAX_IN_FLIGHT: Number = Number {
    name: "AUTHZ_MAX_IN_FLIGHT",
    default: 256,
    min: 1,
    max: 100_000,
    help: "checks read or decided at once, an eighth at most for one connection",
};
/// Longer than a check can take when it must wait for a key fetch
/// ([`JWKS_TIMEOUT_SECONDS`], 5), far shorter than a stalled stream should hold memory.
pub const REQUEST_TIMEOUT_SECONDS: Number = Number {
    name: "AUTHZ_REQUEST_TIMEOUT_SECONDS",
    default: 7,
    min: 1,
    max: 600,
    help: "longest time one check may take, reading it included",
};
pub const IDLE_TIMEOUT_SECONDS: Number = Number {
    name: "AUTHZ_IDLE_TIMEOUT_SECONDS",
    default: 600,
    min: 0,
    max: 86_400,
    help: "a gRPC connection without a request this long is closed; 0: never",
};
pub const WORKER_THREADS: Number = Number {
    name: "AUTHZ_WORKER_THREADS",
    default: 0,
    min: 0,
    max: 1024,
    help: "Tokio worker threads; 0: one per CPU the process may use",
};
pub const ADMIN_MAX_CONNECTIONS: Number = Number {
    name: "AUTHZ_ADMIN_MAX_CONNECTIONS",
    default: 64,
    min: 1,
    max: 10_000,
    help: "open admin HTTP connections",
};
pub const LOG_QUEUE_LINES: Number = Number {
    name: "AUTHZ_LOG_QUEUE_LINES",
    default: 16_384,
    min: 16,
    max: 1_000_000,
    help: "log lines queued for the writer; more are dropped and counted",
};
pub const TLS_CERT_FILE: Path = Path {
    name: "AUTHZ_TLS_CERT_FILE",
    default: None,
    empty_hint: "",
    help: "PEM certificate chain: TLS on the gRPC port, with AUTHZ_TLS_KEY_FILE",
};
pub const TLS_KEY_FILE: Path = Path {
    name: "AUTHZ_TLS_KEY_FILE",
    default: None,
    empty_hint: "",
    help: "PEM private key of that certificate",
};
pub const TLS_CLIENT_CA_FILE: Path = Path {
    name: "AUTHZ_TLS_CLIENT_CA_FILE",
    default: None,
    empty_hint: "",
    help: "PEM CA certificates: mTLS, clients must present a certificate from them",
};
pub const REFLECTION: Flag = Flag {
    name: "AUTHZ_REFLECTION",
    default: true,
    help: "gRPC reflection on the gRPC port",
};
pub const DYNAMIC_METADATA: Flag = Flag {
    name: "AUTHZ_DYNAMIC_METADATA",
    default: false,
    help: "the decision in CheckResponse.dynamic_metadata (Envoy access logs, RBAC)",
};

/// Every setting the service reads.
pub static ALL: [&dyn Setting; 27] = [
    &LISTEN_ADDR,
    &ADMIN_ADDR,
    &HTTP_AUTH_ADDR,
    &POLICY_PATH,
    &REVOCATIONS_PATH,
    &LOG_FORMAT,
    &DRAIN_SECONDS,
    &JWKS_REFRESH_SECONDS,
    &JWKS_COOLDOWN_SECONDS,
    &JWKS_TIMEOUT_SECONDS,
    &TOKEN_CACHE_ENTRIES,
    &POLICY_POLL_SECONDS,
    &POLICY_QUIET_MS,
    &MAX_REQUEST_BYTES,
    &MAX_CONNECTIONS,
    &MAX_STREAMS_PER_CONNECTION,
    &MAX_IN_FLIGHT,
    &REQUEST_TIMEOUT_SECONDS,
    &IDLE_TIMEOUT_SECONDS,
    &WORKER_THREADS,
    &ADMIN_MAX_CONNECTIONS,
    &LOG_QUEUE_LINES,
    &TLS_CERT_FILE,
    &TLS_KEY_FILE,
    &TLS_CLIENT_CA_FILE,
    &REFLECTION,
    &DYNAMIC_METADATA,
];

/// The settings as `serve --help` lists them: one line each, with the default.
pub fn help_text() -> String {
    let mut text = String::from("Settings (environment variables; flags override them):\n");
    for s in ALL.iter() {
        let range = s
            .range()
            .map(|(min, max)| format!(", {min} to {max}"))
            .unwrap_or_default();
        let default = match s.default_text().as_str() {
            "unset" => "unset by default".to_owned(),
            d => format!("default {d}{range}"),
        };
        text.push_str(&format!("  {}  {} ({default})\n", s.name(), s.help()));
    }
    text
}
