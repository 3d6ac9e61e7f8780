//! Gateway responses: the policy's `gatewayResponses`, API Gateway's way of changing the
//! status, headers and body of the answers it gives without calling the backend.
//!
//! Keyed by API Gateway's response types ([`ResponseType`]), with its fall-back to
//! `DEFAULT_4XX`, and bounded to what can be stated statically and cannot weaken anything:
//! a 4xx status, static headers that no proxy, upstream or this service interprets, a JSON
//! body whose one variable is `$context.error.messageString`. Everything is rendered when
//! the policy is compiled; a denial only clones it. docs/policy.md, "Gateway responses",
//! lists the types and every rule.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rules::is_header_name;
use crate::errors::Located;

/// The HTTP answer for a denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialResponse {
    /// The HTTP status: 400, 401 or 403 as API Gateway answers, or the 4xx a gateway
    /// response sets.
    pub status: u16,
    /// The `www-authenticate` challenge of a token denial (`Bearer`, or `Bearer
    /// error="invalid_token"` or `error="insufficient_scope"`); `None` for the others.
    pub www_authenticate: Option<&'static str>,
    /// The gateway response's static headers (lower-case names), after the built-in ones.
    pub headers: Arc<[(String, String)]>,
    /// The JSON body: `{"message":"..."}`, or the gateway response's.
    pub body: Arc<str>,
}

pub(crate) const UNAUTHORIZED: &str = "Unauthorized";
pub(crate) const EXPIRED: &str = "The incoming token has expired";
pub(crate) const FORBIDDEN: &str = "Forbidden";
pub(crate) const MISSING_TOKEN: &str = "Missing Authentication Token";
pub(crate) const BAD_REQUEST: &str = "Bad Request";

/// API Gateway's default messages (`$context.error.message`) for the answers of this
/// service; the default body is `{"message": MESSAGE}`.
pub const MESSAGES: [&str; 5] = [UNAUTHORIZED, EXPIRED, FORBIDDEN, MISSING_TOKEN, BAD_REQUEST];

/// The only mapping-template variable a body may hold: the default message, quoted.
pub(crate) const MESSAGE_VARIABLE: &str = "$context.error.messageString";
/// Largest body, once rendered.
pub(crate) const MAX_BODY_BYTES: usize = 4096;
/// Most headers one gateway response may set.
pub const MAX_HEADERS: usize = 20;
/// Largest header value.
pub(crate) const MAX_HEADER_VALUE_BYTES: usize = 1024;

/// Statuses a gateway response may give: the 4xx codes Envoy's `HttpStatus` defines, but 407
/// (a proxy's challenge) and 426 (needs `upgrade`).
pub const STATUSES: [u16; 24] = [
    400, 401, 402, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422,
    423, 424, 428, 429, 431,
];

/// Response header names a gateway response may not set: hop-by-hop and framing headers,
/// what Envoy or a proxy acts on (a web server in front serves the file `x-sendfile`
/// names), the body's type, and the challenge this service writes.
const REFUSED_HEADERS: [&str; 14] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "www-authenticate",
    "set-cookie",
    "x-sendfile",
    "x-lighttpd-send-file",
];

/// Prefixes of refused names: Envoy's own headers, gRPC framing, this service's identity,
/// what a proxy reads off a response (`proxy-status`; nginx's `x-accel-redirect` serves an
/// internal location in place of the answer).
const REFUSED_PREFIXES: [&str; 5] = ["x-envoy-", "grpc-", "x-cognito-", "proxy-", "x-accel-"];

/// One gateway response as the policy file states it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayResponseConfig {
    /// The HTTP status (API Gateway's `statusCode`); default: the answer's own, or
    /// `DEFAULT_4XX`'s when that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Static response headers (API Gateway's `gatewayresponse.header.NAME: "'value'"`,
    /// written here without the quotes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body (API Gateway's `application/json` response template); default
    /// `{"message":$context.error.messageString}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// API Gateway's response types this service gives (and `EXPIRED_TOKEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResponseType {
    /// `UNAUTHORIZED`: no token, an invalid or expired one, or a missing scope or group
    /// (401).
    Unauthorized,
    /// `ACCESS_DENIED`: an `auth: deny` route, or a missing scope or group under
    /// `insufficientScopeStatus: 403` (403).
    AccessDenied,
    /// `MISSING_AUTHENTICATION_TOKEN`: no route matches (403).
    MissingAuthenticationToken,
    /// `EXPIRED_TOKEN`: accepted in a policy, as API Gateway accepts it, but never given:
    /// it is for expired AWS credentials, and an expired Cognito token is `UNAUTHORIZED`.
    ExpiredToken,
    /// `DEFAULT_4XX`: the 400 for a request that cannot be matched safely, and the
    /// fall-back of every type not configured.
    Default4xx,
}

impl ResponseType {
    /// Every type a policy may configure.
    pub const ALL: [ResponseType; 5] = [
        ResponseType::Unauthorized,
        ResponseType::AccessDenied,
        ResponseType::MissingAuthenticationToken,
        ResponseType::ExpiredToken,
        ResponseType::Default4xx,
    ];

    /// API Gateway's name.
    pub fn name(self) -> &'static str {
        match self {
            ResponseType::Unauthorized => "UNAUTHORIZED",
            ResponseType::AccessDenied => "ACCESS_DENIED",
            ResponseType::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            ResponseType::ExpiredToken => "EXPIRED_TOKEN",
            ResponseType::Default4xx => "DEFAULT_4XX",
        }
    }

    /// The type named `name` (API Gateway's spelling).
    pub fn parse(name: &str) -> Option<ResponseType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// API Gateway's other response types: real, but never an answer of this service.
pub(crate) const OTHER_TYPES: [&str; 16] = [
    "DEFAULT_5XX",
    "RESOURCE_NOT_FOUND",
    "INVALID_API_KEY",
    "AUTHORIZER_FAILURE",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "INVALID_SIGNATURE",
    "INTEGRATION_FAILURE",
    "INTEGRATION_TIMEOUT",
    "API_CONFIGURATION_ERROR",
    "UNSUPPORTED_MEDIA_TYPE",
    "BAD_REQUEST_PARAMETERS",
    "BAD_REQUEST_BODY",
    "REQUEST_TOO_LARGE",
    "THROTTLED",
    "QUOTA_EXCEEDED",
    "WAF_FILTERED",
];

/// Why a response type name is refused, if it is.
pub fn type_refusal(name: &str) -> Option<String> {
    if ResponseType::parse(name).is_some() {
        return None;
    }
    let ours = ResponseType::ALL.map(ResponseType::name).join(", ");
    Some(if OTHER_TYPES.contains(&name) {
        format!(
            "{name:?} is an API Gateway response type this service never answers with (a policy takes {ours})"
        )
    } else {
        format!("{name:?} is not an API Gateway response type (one of {ours})")
    })
}

/// Why a status code is refused, if it is.
pub fn status_refusal(status: u16) -> Option<String> {
    (!STATUSES.contains(&status)).then(|| {
        format!(
            "{status} is not a status a denial can have here (400-499 as Envoy names them, but 407 and 426)"
        )
    })
}

/// Why a header is refused, if it is; `reserved` are names the policy uses otherwise (its
/// claim headers and token headers), lower case.
pub fn header_refusal(name: &str, value: &str, reserved: &[String]) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    let folded = lower.replace('_', "-");
    if !is_header_name(&lower) || lower.len() > 128 {
        return Some(format!("{name:?} is not a header name"));
    }
    if REFUSED_HEADERS.contains(&folded.as_str())
        || REFUSED_PREFIXES.iter().any(|p| folded.starts_with(p))
    {
        return Some(format!(
            "{name:?} is a header proxies or this service interpret (hop-by-hop, framing, content type, challenge, Envoy's or identity), never set by a gateway response"
        ));
    }
    if reserved.iter().any(|r| r.replace('_', "-") == folded) {
        return Some(format!(
            "{name:?} is a claim or token header of this policy"
        ));
    }
    if value.len() > MAX_HEADER_VALUE_BYTES {
        return Some(format!(
            "the value of {name:?} is longer than {MAX_HEADER_VALUE_BYTES} bytes"
        ));
    }
    if value.trim() != value || value.bytes().any(|b| !(b == b' ' || b.is_ascii_graphic())) {
        return Some(format!(
            "the value of {name:?} is not printable ASCII without leading or trailing space"
        ));
    }
    None
}

/// The body with `$context.error.messageString` replaced by `message` (quoted), or why the
/// template is refused: another variable, a directive, not JSON, too large.
pub fn render_body(template: &str, message: &str) -> Result<String, String> {
    let quoted = serde_json::to_string(message).expect("a string serializes");
    let mut out = String::with_capacity(template.len() + quoted.len());
    let mut rest = template;
    while let Some(at) = rest.find(['$', '#']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let next = tail[1..].chars().next();
        if let Some(after) = tail.strip_prefix(MESSAGE_VARIABLE)
            && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push_str(&quoted);
            rest = after;
            continue;
        }
        let word: String = tail
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | ',' | '}' | ']'))
            .take(40)
            .collect();
        match (tail.as_bytes()[0], next) {
            (b'$', Some(c)) if c.is_ascii_alphabetic() || c == '{' || c == '!' => {
                return Err(format!(
                    "{word} is a mapping-template variable; a body is static but for {MESSAGE_VARIABLE}"
                ));
            }
            (b'#', Some(c)) if c.is_ascii_alphabetic() || matches!(c, '{' | '#' | '*') => {
                return Err(format!(
                    "{word} is a mapping-template directive; a body is static but for {MESSAGE_VARIABLE}"
                ));
            }
            _ => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    if out.len() > MAX_BODY_BYTES {
        return Err(format!("the body is longer than {MAX_BODY_BYTES} bytes"));
    }
    serde_json::from_str::<serde_json::Value>(&out)
        .map_err(|e| format!("the body is not JSON ({e})"))?;
    Ok(out)
}

/// The policy's gateway responses, compiled: per response type, the answer it gives for
/// each default message, fall-back applied.
#[derive(Debug, Clone)]
pub struct GatewayResponses {
    /// By [`ResponseType`] index; `None`: API Gateway's default.
    by_type: [Option<Resolved>; 5],
    /// API Gateway's default body for each of [`MESSAGES`].
    defaults: Vec<(&'static str, Arc<str>)>,
    /// The types the policy configures, for the summary.
    configured: Vec<ResponseType>,
}

/// A response type's answer after fall-back.
#[derive(Debug, Clone)]
struct Resolved {
    status: Option<u16>,
    headers: Arc<[(String, String)]>,
    /// The body for each of [`MESSAGES`]; `None`: the default.
    bodies: Option<Vec<(&'static str, Arc<str>)>>,
}

impl Default for GatewayResponses {
    /// API Gateway's default answers: nothing configured.
    fn default() -> Self {
        Self {
            by_type: Default::default(),
            defaults: MESSAGES
                .iter()
                .map(|m| (*m, Arc::from(default_body(m))))
                .collect(),
            configured: Vec::new(),
        }
    }
}

fn default_body(message: &str) -> String {
    format!(
        "{{\"message\":{}}}",
        serde_json::to_string(message).expect("a string serializes")
    )
}

impl GatewayResponses {
    /// Checks and compiles `gatewayResponses`; every problem goes to `errors` with its place.
    /// `reserved`: the policy's claim and token header names, lower case.
    pub fn compile(
        config: &BTreeMap<String, GatewayResponseConfig>,
        reserved: &[String],
        errors: &mut Vec<Located>,
    ) -> Self {
        let mut out = Self::default();
        let mut checked: [Option<&GatewayResponseConfig>; 5] = Default::default();
        for (name, response) in config {
            let at = format!("gatewayResponses.{name}");
            let before = errors.len();
            let Some(kind) = ResponseType::parse(name) else {
                errors.push(Located::new(at, type_refusal(name).unwrap_or_default()));
                continue;
            };
            if let Some(refusal) = response.status_code.and_then(status_refusal) {
                errors.push(Located::new(
                    format!("{at}.statusCode"),
                    refusal.to_string(),
                ));
            }
            if response.headers.len() > MAX_HEADERS {
                errors.push(Located::new(
                    format!("{at}.headers"),
                    format!("more than {MAX_HEADERS} headers"),
                ));
            }
            let mut seen: Vec<String> = Vec::new();
            for (header, value) in &response.headers {
                let folded = header.trim().to_ascii_lowercase().replace('_', "-");
                if let Some(refusal) = header_refusal(header, value, reserved) {
                    errors.push(Located::new(
                        format!("{at}.headers.{header}"),
                        refusal.to_string(),
                    ));
                } else if seen.contains(&folded) {
                    errors.push(Located::new(
                        format!("{at}.headers.{header}"),
                        "listed twice",
                    ));
                }
                seen.push(folded);
            }
            if let Some(body) = &response.body {
                // The longest default message makes the largest body.
                for message in MESSAGES {
                    if let Err(e) = render_body(body, message) {
                        errors.push(Located::new(format!("{at}.body"), e.to_string()));
                        break;
                    }
                }
            }
            if errors.len() == before {
                checked[kind.index()] = Some(response);
                out.configured.push(kind);
            }
        }
        out.configured.sort();
        let fallback = checked[ResponseType::Default4xx.index()];
        for kind in ResponseType::ALL {
            let own = checked[kind.index()];
            let (status, config) = match own {
                Some(c) => (c.status_code.or(fallback.and_then(|f| f.status_code)), c),
                None => match fallback {
                    Some(f) => (f.status_code, f),
                    None => continue,
                },
            };
            let headers: Vec<(String, String)> = config
                .headers
                .iter()
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.clone()))
                .collect();
            let bodies = config.body.as_ref().map(|b| {
                MESSAGES
                    .iter()
                    .map(|m| (*m, Arc::from(render_body(b, m).unwrap_or_default())))
                    .collect()
            });
            out.by_type[kind.index()] = Some(Resolved {
                status,
                headers: headers.into(),
                bodies,
            });
        }
        out
    }

    /// The answer of type `kind` whose default is `status` with `{"message": message}`
    /// (`message` one of [`MESSAGES`]) and the challenge `www_authenticate`; `kind` `None`:
    /// no gateway response applies.
    pub(crate) fn answer(
        &self,
        kind: Option<ResponseType>,
        status: u16,
        message: &'static str,
        www_authenticate: Option<&'static str>,
    ) -> DenialResponse {
        let body_of = |bodies: &[(&'static str, Arc<str>)]| {
            bodies
                .iter()
                .find(|(m, _)| *m == message)
                .map(|(_, b)| b.clone())
                .unwrap_or_else(|| Arc::from(default_body(message)))
        };
        match kind.and_then(|k| self.by_type[k.index()].as_ref()) {
            None => DenialResponse {
                status,
                www_authenticate,
                headers: Arc::from([]),
                body: body_of(&self.defaults),
            },
            Some(r) => {
                let status = r.status.unwrap_or(status);
                DenialResponse {
                    status,
                    // A 401 always carries a challenge (RFC 9110 15.5.2).
                    www_authenticate: www_authenticate.or((status == 401).then_some("Bearer")),
                    headers: r.headers.clone(),
                    body: body_of(r.bodies.as_deref().unwrap_or(&self.defaults)),
                }
            }
        }
    }

    /// The configured types, by API Gateway name, for `validate`'s summary.
    pub(crate) fn configured(&self) -> Vec<&'static str> {
        self.configured.iter().map(|t| t.name()).collect()
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
