//! `check`: decide one request offline with the real pipeline, and explain the decision.
//!
//! The decision is [`Authorizer::decide`]'s own, over the operator's policy and the pools'
//! real (or `--jwks`) key sets, so `check` can never disagree with `serve`. The explanation
//! is read off that decision, not recomputed: the token checks run in a fixed order (see
//! [`crate::token::verify`]), so the [`TokenError`] the pipeline returned says which check
//! failed, every check before it passed and every one after it was not reached. The only
//! thing decoded here is the token's (unverified) header and claims, for display; the raw
//! token and its signature are never printed.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::active::ActivePolicy;
use crate::credential::{self, Headers};
use crate::decide::{AllowReason, Authorizer, Decision, DenyReason, Request};
use crate::grpc;
use crate::path;
use crate::policy::model::{DefaultAction, PolicyFile};
use crate::policy::template::{PathTemplate, Segment};
use crate::policy::{Policy, PolicyErrors};
use crate::token::TokenError;
use crate::token::keys::{KeyFetcher, PoolKeys, parse_jwks};
use crate::token::verify::{TokenCheck, now_unix};

/// Methods to probe when no route matched, to say which ones the path does have.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Where the token comes from.
#[derive(Debug, Clone)]
pub enum TokenInput {
    /// No token header at all.
    None,
    /// The header value as given (`eyJ...` or `Bearer eyJ...`).
    Value(String),
    /// A file holding it (`-`: standard input); surrounding whitespace is ignored.
    File(PathBuf),
}

/// What `check` is asked.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub policy: PathBuf,
    pub method: String,
    pub path: String,
    pub host: String,
    pub token: TokenInput,
    /// A JWKS file used as every pool's key set; `None` fetches each pool's keys once.
    pub jwks: Option<PathBuf>,
}

/// The outcome of one token check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStatus {
    Pass,
    Fail(String),
    NotReached,
}

/// The outcome of every token check, from how the pipeline's verification ended:
/// `None` not verified at all, `Some(Ok)` verified, `Some(Err(e))` refused with `e`.
pub fn token_checks(outcome: Option<Result<(), &TokenError>>) -> Vec<(TokenCheck, CheckStatus)> {
    let failed = match outcome {
        None => None,
        Some(Ok(())) => Some(None),
        Some(Err(e)) => Some(Some((e.check(), e.to_string()))),
    };
    let mut reached = failed.is_some();
    TokenCheck::ALL
        .iter()
        .map(|&check| {
            let status = match &failed {
                Some(Some((at, why))) if *at == check => {
                    reached = false;
                    CheckStatus::Fail(why.clone())
                }
                _ if reached => CheckStatus::Pass,
                _ => CheckStatus::NotReached,
            };
            (check, status)
        })
        .collect()
}

/// The explained decision.
#[derive(Debug)]
pub struct Explanation {
    pub decision: Decision,
    text: String,
}

impl Explanation {
    /// Whether the request was allowed (exit 0) or denied (exit 1).
    pub fn allowed(&self) -> bool {
        matches!(self.decision, Decision::Allow { .. })
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Loads the policy and key sets, decides the request and explains it. An error is a
/// usage or input problem (exit 2), never a decision.
pub async fn check(options: &CheckOptions) -> Result<Explanation, String> {
    let (file, policy) = load_policy(&options.policy)?;
    let header_value = match &options.token {
        TokenInput::None => None,
        TokenInput::Value(v) => Some(v.clone()),
        TokenInput::File(path) => Some(read_token_file(path)?),
    };
    let mut notes = Vec::new();
    let mut failed_pools: Vec<(usize, String)> = Vec::new();
    let keys: Vec<Arc<PoolKeys>> = match &options.jwks {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let map = parse_jwks(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            notes.push(format!(
                "keys: {} (every pool's key set; nothing fetched)",
                path.display()
            ));
            policy
                .pools
                .iter()
                .map(|p| Arc::new(PoolKeys::fixed(&p.id, map.clone())))
                .collect()
        }
        None => {
            let fetcher = KeyFetcher::new(Duration::from_secs(10)).map_err(|e| e.to_string())?;
            let mut keys = Vec::new();
            for (i, pool) in policy.pools.iter().enumerate() {
                let k = PoolKeys::remote(&pool.id, &pool.jwks_uri, fetcher.clone(), Duration::MAX);
                match k.refresh().await {
                    Ok(n) => {
                        notes.push(format!("keys: {} key(s) fetched from {}", n, pool.jwks_uri))
                    }
                    Err(e) => {
                        notes.push(format!("keys: FAILED to fetch {}: {e}", pool.jwks_uri));
                        failed_pools.push((i, e.to_string()));
                    }
                }
                keys.push(Arc::new(k));
            }
            keys
        }
    };

    let mut headers = std::collections::HashMap::new();
    if let Some(v) = &header_value {
        headers.insert(policy.token_header.clone(), v.clone());
    }
    let request = Request {
        method: options.method.trim().to_ascii_uppercase(),
        host: options.host.clone(),
        path: options.path.clone(),
        headers: Headers::Joined(headers),
    };
    let authorizer = Authorizer::new(
        ActivePolicy {
            policy,
            keys,
            generation: 1,
        },
        0,
    );
    let decision = authorizer.decide(&request).await;
    let active = authorizer.active();

    if let Decision::Deny {
        reason: DenyReason::InvalidToken(TokenError::UnknownKey),
        ..
    } = &decision
    {
        let token = credential::bearer_token(&request.headers, &active.policy.token_header).ok();
        let pool = token
            .and_then(|t| decode_part(t, 1))
            .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
            .and_then(|iss| active.policy.pool_for_issuer(&iss));
        if let Some((_, e)) = failed_pools.iter().find(|(i, _)| Some(*i) == pool) {
            return Err(format!(
                "cannot decide: the key set of the token's pool could not be fetched ({e}); pass --jwks FILE to check offline"
            ));
        }
    }

    let text = render(&file, &active.policy, &request, &decision, &notes);
    Ok(Explanation { decision, text })
}

fn load_policy(path: &Path) -> Result<(PolicyFile, Policy), String> {
    let prefix = |errors: PolicyErrors| {
        errors
            .0
            .iter()
            .map(|e| format!("{}: {e}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let text = crate::policy::read_policy_text(path).map_err(|e| e.to_string())?;
    let file: PolicyFile = serde_saphyr::from_str(&text)
        .map_err(|e| format!("{}: invalid policy YAML: {e}", path.display()))?;
    let policy = Policy::compile(&file).map_err(prefix)?;
    Ok((file, policy))
}

fn read_token_file(path: &Path) -> Result<String, String> {
    let raw = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?
    };
    Ok(raw.trim().to_owned())
}

/// The JSON of a token part (0 header, 1 claims), unverified, for display only.
fn decode_part(token: &str, index: usize) -> Option<Map<String, Value>> {
    let part = token.split('.').nth(index)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .as_object()
        .cloned()
}

fn render(
    file: &PolicyFile,
    policy: &Policy,
    request: &Request,
    decision: &Decision,
    notes: &[String],
) -> String {
    let mut out = String::new();
    let host_shown = if request.host.is_empty() {
        "(none)".to_owned()
    } else {
        request.host.clone()
    };
    let _ = writeln!(
        out,
        "request: {} {} host {}",
        request.method,
        path::without_query(&request.path),
        host_shown
    );
    for note in notes {
        let _ = writeln!(out, "{note}");
    }

    // Route.
    let _ = writeln!(out, "\nroute:");
    let mut reached_token = false;
    let mut route_index = None;
    match decision {
        Decision::Deny {
            reason: DenyReason::UnsafePath(e),
            ..
        } => {
            let _ = writeln!(
                out,
                "  path cannot be matched safely: {e}; nothing else is looked at"
            );
        }
        _ => match decision.route() {
            Some(name) => {
                route_index = policy.routes.routes().iter().position(|r| &*r.name == name);
                describe_route(&mut out, file, policy, route_index, request);
                reached_token = route_index.is_some_and(|i| {
                    let route = &policy.routes.routes()[i];
                    !route.public && !route.deny
                });
            }
            None => describe_no_route(&mut out, policy, request),
        },
    }

    // Token.
    let _ = writeln!(out, "\ntoken (header {}):", policy.token_header);
    let raw = credential::bearer_token(&request.headers, &policy.token_header);
    match (&raw, reached_token) {
        (_, false) => {
            let _ = writeln!(out, "  not read: the decision did not need it");
        }
        (Err(e), true) => {
            let _ = writeln!(out, "  no token: {e}");
        }
        (Ok(token), true) => describe_token(&mut out, token),
    }
    let outcome: Option<Result<(), &TokenError>> = match decision {
        Decision::Deny {
            reason: DenyReason::InvalidToken(e),
            ..
        } => Some(Err(e)),
        Decision::Deny {
            reason: DenyReason::InsufficientScope | DenyReason::InsufficientGroup,
            ..
        }
        | Decision::Allow {
            reason: AllowReason::Authorized,
            ..
        } => Some(Ok(())),
        _ => None,
    };
    if reached_token && let Ok(token) = &raw {
        let claims = decode_part(token, 1);
        let header = decode_part(token, 0);
        let _ = writeln!(out, "  checks, in pipeline order:");
        for (check, status) in token_checks(outcome) {
            let mark = match &status {
                CheckStatus::Pass => {
                    match pass_detail(check, policy, header.as_ref(), claims.as_ref()) {
                        Some(detail) => format!("pass → {detail}"),
                        None => "pass".to_owned(),
                    }
                }
                CheckStatus::Fail(why) => format!("FAIL ({why})"),
                CheckStatus::NotReached => "not reached".to_owned(),
            };
            let _ = writeln!(out, "    {:<42} {mark}", check.describe());
        }
    }

    // Scopes and groups.
    if let Some(route) = route_index.map(|i| &policy.routes.routes()[i])
        && !route.public
        && !route.deny
    {
        let verified = outcome.is_some_and(|o| o.is_ok());
        let claims = raw.as_ref().ok().and_then(|t| decode_part(t, 1));
        let present = |key: &str| -> Vec<String> {
            match claims.as_ref().and_then(|c| c.get(key)) {
                Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_owned).collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let label = if verified { "verified" } else { "unverified" };
        let _ = writeln!(out, "\nrequirements:");
        for (what, required, present) in [
            ("scopes", &route.scopes, present("scope")),
            ("groups", &route.groups, present("cognito:groups")),
        ] {
            if required.is_empty() {
                let _ = writeln!(out, "  {what}: none required");
                continue;
            }
            let matched: Vec<&String> = required.iter().filter(|s| present.contains(s)).collect();
            let _ = writeln!(
                out,
                "  {what}: any one of [{}]; token has [{}] ({label}); {}",
                required.join(", "),
                present.join(", "),
                if matched.is_empty() {
                    "none matches".to_owned()
                } else {
                    format!("{} matches", matched[0])
                }
            );
        }
    }

    // Decision and response.
    let _ = writeln!(
        out,
        "\ndecision: {} ({})",
        decision.result().to_uppercase(),
        decision.reason()
    );
    match decision {
        Decision::Deny {
            reason,
            insufficient_scope_status,
            ..
        } => {
            let detail = reason.detail();
            if !detail.is_empty() {
                let _ = writeln!(out, "  cause: {detail}");
            }
            let answer = reason.response(*insufficient_scope_status);
            let _ = writeln!(out, "response: HTTP {}", answer.status);
            if let Some(w) = answer.www_authenticate {
                let _ = writeln!(out, "  www-authenticate: {w}");
            }
            let _ = writeln!(out, "  content-type: application/json");
            let _ = writeln!(out, "  body: {}", answer.body);
        }
        Decision::Allow { .. } => {
            let _ = writeln!(out, "response: the request goes upstream");
            let response =
                grpc::to_response(decision, &grpc::forged_identity_headers(&request.headers));
            if let Some(
                crate::proto::envoy::service::auth::v3::check_response::HttpResponse::OkResponse(
                    ok,
                ),
            ) = response.http_response
            {
                for h in ok.headers.iter().filter_map(|h| h.header.as_ref()) {
                    let _ = writeln!(out, "  set {}: {}", h.key, h.value);
                }
                if !ok.headers_to_remove.is_empty() {
                    let _ = writeln!(out, "  remove {}", ok.headers_to_remove.join(", "));
                }
            }
        }
    }
    out
}

/// What a passed check found, where it names something worth seeing.
fn pass_detail(
    check: TokenCheck,
    policy: &Policy,
    header: Option<&Map<String, Value>>,
    claims: Option<&Map<String, Value>>,
) -> Option<String> {
    let claim = |k: &str| claims?.get(k)?.as_str();
    match check {
        TokenCheck::Issuer => {
            let pool = policy.pool_for_issuer(claim("iss")?)?;
            Some(format!("pool {}", policy.pools[pool].id))
        }
        TokenCheck::Key => Some(format!("kid {}", header?.get("kid")?.as_str()?)),
        TokenCheck::ClientId => Some(format!("client {}", claim("client_id")?)),
        _ => None,
    }
}

fn describe_route(
    out: &mut String,
    file: &PolicyFile,
    policy: &Policy,
    index: Option<usize>,
    request: &Request,
) {
    let Some(index) = index else {
        let _ = writeln!(
            out,
            "  matched a route that is not in the policy (unexpected)"
        );
        return;
    };
    let route = &policy.routes.routes()[index];
    let _ = writeln!(out, "  matched route {:?} (routes[{index}])", &*route.name);
    let model = file.routes.get(index);
    if let Ok(template) = PathTemplate::parse(&route.template) {
        let segments = path::segments(&request.path).unwrap_or_default();
        let _ = writeln!(
            out,
            "  path: template {} matches {}{}",
            route.template,
            path::without_query(&request.path),
            bindings(&template, &segments)
        );
    }
    let methods = model.and_then(|m| m.methods.clone());
    let _ = match methods {
        Some(list) if !list.iter().any(|m| m.eq_ignore_ascii_case("ANY")) => writeln!(
            out,
            "  method: {} is one of [{}]",
            request.method,
            list.join(", ")
        ),
        _ => writeln!(out, "  method: the route takes any method"),
    };
    let _ = match model.and_then(|m| m.hosts.clone()) {
        Some(list) => writeln!(
            out,
            "  host: {} is matched by [{}]",
            crate::host::normalize(request.host.as_bytes()).unwrap_or_default(),
            list.join(", ")
        ),
        None => writeln!(out, "  host: the route takes any host"),
    };
    if route.public {
        let _ = writeln!(out, "  requires: nothing (auth: none, public)");
    } else if route.deny {
        let _ = writeln!(out, "  requires: nothing can pass (auth: deny, 403)");
    } else {
        let mut needs = "a valid access token of a configured pool".to_owned();
        if !route.scopes.is_empty() {
            let _ = write!(
                needs,
                " with any one scope of [{}]",
                route.scopes.join(", ")
            );
        }
        if !route.groups.is_empty() {
            let _ = write!(needs, " and any one group of [{}]", route.groups.join(", "));
        }
        let _ = writeln!(out, "  requires: {needs}");
    }
}

/// ` ({id} = 42, {proxy+} = a/b)`: what each parameter of the template took.
fn bindings(template: &PathTemplate, segments: &[std::borrow::Cow<'_, str>]) -> String {
    let mut parts = Vec::new();
    for (i, segment) in template.segments().iter().enumerate() {
        match segment {
            Segment::Literal(_) => {}
            Segment::Param(n) => {
                if let Some(s) = segments.get(i) {
                    parts.push(format!("{{{n}}} = {s}"));
                }
            }
            Segment::Greedy(n) => {
                let rest: Vec<&str> = segments.iter().skip(i).map(|s| s.as_ref()).collect();
                parts.push(format!("{{{n}+}} = {}", rest.join("/")));
            }
        }
    }
    if parts.is_empty() {
        " (literal segments)".to_owned()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn describe_no_route(out: &mut String, policy: &Policy, request: &Request) {
    let host = crate::host::normalize(request.host.as_bytes()).unwrap_or_default();
    let _ = writeln!(
        out,
        "  no route matches {} {} on host {}",
        request.method,
        path::without_query(&request.path),
        if host.is_empty() { "(none)" } else { &host }
    );
    if let Ok(segments) = path::segments(&request.path) {
        let others: Vec<String> = METHODS
            .iter()
            .filter_map(|m| {
                policy
                    .routes
                    .find(&segments, m, &host)
                    .map(|r| format!("{m} (route {:?})", &*r.name))
            })
            .collect();
        if !others.is_empty() {
            let _ = writeln!(
                out,
                "  the path has routes for other methods: {}",
                others.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "  default action: {}",
        match policy.default_action {
            DefaultAction::Deny => "deny (403)",
            DefaultAction::Allow => "allow (no identity)",
        }
    );
}

/// The token's header and claims as decoded, unverified: never the raw token or signature.
fn describe_token(out: &mut String, token: &str) {
    let parts = token.split('.').count();
    let _ = writeln!(
        out,
        "  {} bytes, {parts} part(s) (the token and its signature are not shown)",
        token.len()
    );
    match decode_part(token, 0) {
        Some(header) => {
            let _ = writeln!(
                out,
                "  header (unverified): {}",
                summary(&header, &["alg", "kid", "typ"])
            );
            let ignored: Vec<&str> = ["jku", "x5u", "jwk", "x5c"]
                .into_iter()
                .filter(|k| header.contains_key(*k))
                .collect();
            if !ignored.is_empty() {
                let _ = writeln!(
                    out,
                    "    {} present and ignored: keys only come from the policy",
                    ignored.join(", ")
                );
            }
        }
        None => {
            let _ = writeln!(out, "  header: not decodable");
        }
    }
    let Some(claims) = decode_part(token, 1) else {
        let _ = writeln!(out, "  claims: not decodable");
        return;
    };
    let _ = writeln!(
        out,
        "  claims (unverified): {}",
        summary(
            &claims,
            &[
                "iss",
                "token_use",
                "client_id",
                "sub",
                "username",
                "scope",
                "cognito:groups"
            ]
        )
    );
    let now = now_unix();
    for key in ["exp", "nbf", "iat"] {
        if let Some(t) = claims.get(key).and_then(Value::as_u64) {
            let _ = writeln!(out, "    {key}: {} ({})", utc(t), relative(t, now));
        }
    }
    let known = [
        "iss",
        "token_use",
        "client_id",
        "sub",
        "username",
        "scope",
        "cognito:groups",
        "exp",
        "nbf",
        "iat",
    ];
    let others: Vec<&str> = claims
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "    other claims: {}", others.join(", "));
    }
}

fn summary(map: &Map<String, Value>, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| map.get(*k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2026-11-26T06:00:00Z`.
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `in 59m 3s` / `3m 0s ago`.
fn relative(t: u64, now: u64) -> String {
    let span = |d: u64| {
        if d >= 86_400 {
            format!("{}d {}h", d / 86_400, d % 86_400 / 3600)
        } else if d >= 3600 {
            format!("{}h {}m", d / 3600, d % 3600 / 60)
        } else {
            format!("{}m {}s", d / 60, d % 60)
        }
    };
    if t >= now {
        format!("in {}", span(t - now))
    } else {
        format!("{} ago", span(now - t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_marks_earlier_checks_passed_and_later_ones_not_reached() {
        let checks = token_checks(Some(Err(&TokenError::BadSignature)));
        let at = checks
            .iter()
            .position(|(c, _)| *c == TokenCheck::Signature)
            .unwrap();
        assert!(checks[..at].iter().all(|(_, s)| *s == CheckStatus::Pass));
        assert!(matches!(checks[at].1, CheckStatus::Fail(_)));
        assert!(
            checks[at + 1..]
                .iter()
                .all(|(_, s)| *s == CheckStatus::NotReached)
        );
        assert!(
            token_checks(Some(Ok(())))
                .iter()
                .all(|(_, s)| *s == CheckStatus::Pass)
        );
        assert!(
            token_checks(None)
                .iter()
                .all(|(_, s)| *s == CheckStatus::NotReached)
        );
    }

    #[test]
    fn formats_times() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_764_118_800), "2025-11-26T01:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(relative(100, 40), "in 1m 0s");
        assert_eq!(relative(0, 7200), "2h 0m ago");
    }

    #[test]
    fn shows_parameter_bindings() {
        let t = PathTemplate::parse("/users/{id}/files/{proxy+}").unwrap();
        let segments = path::segments("/users/42/files/a/b").unwrap();
        assert_eq!(bindings(&t, &segments), " ({id} = 42, {proxy+} = a/b)");
    }
}
