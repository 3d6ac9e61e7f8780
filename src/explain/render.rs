//! Writing `check`'s explanation: the request, the route and why it matched, each token
//! check in pipeline order, the decision and the answer Envoy would get.

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{CheckStatus, token_checks};
use crate::answer::Answer;
use crate::credential;
use crate::decision::{AllowReason, Decision, DenyReason};
use crate::path;
use crate::pipeline::Request;
use crate::policy::Policy;
use crate::policy::model::{DefaultAction, TokenUse};
use crate::policy::rules::METHODS;
use crate::policy::table::Route;
use crate::policy::template::{PathTemplate, Segment};
use crate::revocation::Revocation;
use crate::token::TokenError;
use crate::token::access::{now_unix, utc};
use crate::token::verify::TokenCheck;

/// The JSON of a token part (0 header, 1 claims), unverified, for display only.
pub(super) fn decode_part(token: &str, index: usize) -> Option<Map<String, Value>> {
    let part = token.split('.').nth(index)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .as_object()
        .cloned()
}

pub(crate) fn render(
    policy: &Policy,
    request: &Request,
    decision: &Decision,
    notes: &[String],
) -> String {
    let mut out = String::new();
    let host_shown = if request.host().is_empty() {
        "(none)".to_owned()
    } else {
        request.host().to_owned()
    };
    let _ = writeln!(
        out,
        "request: {} {} host {}",
        request.method(),
        path::without_query(request.path()),
        host_shown
    );
    for note in notes {
        let _ = writeln!(out, "{note}");
    }

    // Route.
    let _ = writeln!(out, "\nroute:");
    let mut reached_token = false;
    let mut matched = None;
    let mut authorizer = &policy.authorizers[0];
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
        Decision::Deny {
            reason: DenyReason::UnsafeHost(e),
            ..
        } => {
            let _ = writeln!(
                out,
                "  host cannot be matched safely: {e}; nothing else is looked at"
            );
        }
        Decision::Deny {
            reason: DenyReason::UnsafeMethod,
            ..
        } => {
            let _ = writeln!(
                out,
                "  method is not an HTTP method token; nothing else is looked at"
            );
        }
        _ => match decision.route() {
            Some(name) => {
                let route = policy.routes.routes().iter().find(|r| &*r.name == name);
                matched = route;
                if let Some(r) = route {
                    authorizer = &policy.authorizers[r.authorizer];
                }
                describe_route(&mut out, route, request);
                reached_token = route.is_some_and(|r| r.is_protected());
            }
            None => describe_no_route(&mut out, policy, request),
        },
    }

    // Token.
    if policy.authorizers.len() > 1 {
        let _ = writeln!(out, "\nauthorizer: {}", authorizer.name);
    }
    let _ = writeln!(out, "\ntoken (header {}):", authorizer.token_header);
    let raw = credential::bearer_token(request.headers(), &authorizer.token_header);
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
        if let Some(Err(TokenError::Revoked(entry))) = outcome {
            describe_revocation(&mut out, entry);
        }
    }

    // Scopes and groups.
    if let Some(route) = matched
        && !route.is_public()
        && !route.is_deny()
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
            response,
            dry_run,
            ..
        } => {
            let detail = reason.detail();
            if !detail.is_empty() {
                let _ = writeln!(out, "  cause: {detail}");
            }
            if dry_run.is_some() {
                let _ = writeln!(
                    out,
                    "  dry run: let through; enforced, it would get HTTP {}",
                    response.status
                );
            }
        }
        Decision::Allow { .. } => {}
    }
    match Answer::new(decision, request.headers()) {
        Answer::Respond {
            status,
            headers,
            body,
            ..
        } => {
            let _ = writeln!(out, "response: HTTP {status}");
            for (k, v) in headers.iter().rev() {
                let _ = writeln!(out, "  {k}: {v}");
            }
            let _ = writeln!(out, "  body: {body}");
        }
        Answer::Upstream { set, remove, .. } => {
            let _ = writeln!(out, "response: the request goes upstream");
            for (k, v) in &set {
                let _ = writeln!(out, "  set {k}: {v}");
            }
            if !remove.is_empty() {
                let _ = writeln!(out, "  remove {}", remove.join(", "));
            }
        }
    }
    out
}

/// Which revocation entry matched, and why it is there.
fn describe_revocation(out: &mut String, entry: &Revocation) {
    let _ = write!(
        out,
        "  revoked by {entry}: {} {}",
        entry.kind.name(),
        entry.value
    );
    if let Some(before) = entry.issued_before {
        let _ = write!(out, " issuedBefore {} (iat is earlier)", utc(before));
    }
    if let Some(added) = entry.added_at {
        let _ = write!(out, " addedAt {}", utc(added));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  reason: {}",
        entry.reason.as_deref().unwrap_or("(none given)")
    );
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

fn describe_route(out: &mut String, route: Option<&Route>, request: &Request) {
    let Some(route) = route else {
        let _ = writeln!(
            out,
            "  matched a route that is not in the policy (unexpected)"
        );
        return;
    };
    let _ = writeln!(
        out,
        "  matched route {:?} ({})",
        &*route.name,
        route.place()
    );
    let segments = path::segments(request.path()).unwrap_or_default();
    let _ = writeln!(
        out,
        "  path: template {} matches {}{}",
        route.template,
        path::without_query(request.path()),
        bindings(&route.template, &segments)
    );
    let _ = if route.methods.is_empty() {
        writeln!(out, "  method: the route takes any method")
    } else {
        writeln!(
            out,
            "  method: {} is one of [{}]",
            request.method(),
            route.methods.join(", ")
        )
    };
    let _ = if route.hosts.is_empty() {
        writeln!(out, "  host: the route takes any host")
    } else {
        writeln!(
            out,
            "  host: {} is matched by [{}]",
            crate::host::normalize(request.host().as_bytes()).unwrap_or_default(),
            route.hosts.join(", ")
        )
    };
    if route.is_public() {
        let _ = writeln!(out, "  requires: nothing (auth: none, public)");
    } else if route.is_deny() {
        let _ = writeln!(out, "  requires: nothing can pass (auth: deny, 403)");
    } else {
        let mut needs = match route.token_use {
            TokenUse::Access => "a valid access token of a configured pool",
            TokenUse::Id => "a valid ID token of a configured pool",
        }
        .to_owned();
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

/// The host-bound routes that would take this method and path on one of their own hosts:
/// what a `check` without `--host`, or with the wrong one, most likely meant.
fn routes_on_other_hosts(
    policy: &Policy,
    segments: &[std::borrow::Cow<'_, str>],
    method: &str,
    host: &str,
) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for route in policy.routes.routes() {
        for written in &route.hosts {
            // A wildcard host (`*.example.com`) stands for any one label in front.
            let sample = match written.strip_prefix('*') {
                Some(rest) => format!("x{rest}"),
                None => written.clone(),
            };
            if sample == host {
                continue;
            }
            let hit = policy
                .routes
                .find(segments, method, &sample)
                .is_some_and(|r| r.place() == route.place());
            let line = format!("{:?} (hosts: {})", &*route.name, route.hosts.join(", "));
            if hit && !found.contains(&line) {
                found.push(line);
            }
        }
    }
    found
}

fn describe_no_route(out: &mut String, policy: &Policy, request: &Request) {
    let host = crate::host::normalize(request.host().as_bytes()).unwrap_or_default();
    let _ = writeln!(
        out,
        "  no route matches {} {} on host {}",
        request.method(),
        path::without_query(request.path()),
        if host.is_empty() { "(none)" } else { &host }
    );
    if let Ok(segments) = path::segments(request.path()) {
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
        let elsewhere = routes_on_other_hosts(policy, &segments, request.method(), &host);
        if !elsewhere.is_empty() {
            let _ = writeln!(
                out,
                "  routes for this method and path on other hosts: {}",
                elsewhere.join(", ")
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
        summary(&claims, &SUMMARISED_CLAIMS)
    );
    let now = now_unix();
    for key in TIME_CLAIMS {
        if let Some(t) = claims.get(key).and_then(Value::as_u64) {
            let _ = writeln!(out, "    {key}: {} ({})", utc(t), relative(t, now));
        }
    }
    let others: Vec<&str> = claims
        .keys()
        .map(String::as_str)
        .filter(|k| !SUMMARISED_CLAIMS.contains(k) && !TIME_CLAIMS.contains(k))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "    other claims: {}", others.join(", "));
    }
}

/// The claims shown on the token's summary line, in this order.
const SUMMARISED_CLAIMS: [&str; 9] = [
    "iss",
    "token_use",
    "client_id",
    "sub",
    "username",
    "scope",
    "cognito:groups",
    "jti",
    "origin_jti",
];

/// The time claims, each shown on its own line with how far it is from now.
const TIME_CLAIMS: [&str; 3] = ["exp", "nbf", "iat"];

fn summary(map: &Map<String, Value>, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| map.get(*k).map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ")
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
