//! `import --tests FILE`: the policy tests that pin an imported policy to API Gateway's
//! answers (docs/policy.md), run with `cognito-ext-authz test`.
//!
//! Per route of the imported policy, on a request built to match it (a sample value in
//! each path parameter, the first host, each method), with tokens of the route's own
//! authorizer (its pools, its header):
//! - with scopes: a token holding each scope (200), one holding none of them (API Gateway's
//!   401, or the policy's `insufficientScopeStatus`), an ID token (401);
//! - without scopes (`tokenUse: id`, API Gateway's rule for a Cognito method without
//!   scopes): an ID token (200), an access token (401);
//! - with an identity validation expression: the token's `aud` made to match it (200), an
//!   ID token whose `aud` does not match, or an access token without `aud` (401);
//! - every protected route: no token (401), an expired token (401 with the expired body), a
//!   token of a pool only another authorizer trusts (401);
//! - a public route (a CORS preflight among them) 200 without a token; a deny route 403.
//!
//! A denial's expected status, body and headers are API Gateway's answer as the imported
//! gateway responses (if any) change it.
//!
//! Each request is checked against the compiled route table first, so a case never silently
//! tests a different route than the one it names.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::{ImportError, Translation, one_line};
use crate::credential::NoToken;
use crate::decision::DenyReason;
use crate::policy::model::{DefaultAction, TokenUse};
use crate::policy::table::Route;
use crate::policy::template::Segment;
use crate::policy::{Authorizer, Policy};
use crate::policytest::{Expect, TestCase, TestFile, TestRequest, TokenKind, TokenSpec};
use crate::token::TokenError;

/// A scope no imported route asks for.
const OTHER_SCOPE: &str = "cognito-ext-authz-test/not-a-route-scope";
/// A path no route should take, for the default action.
const NO_ROUTE_PATH: &str = "/cognito-ext-authz-test/no-such-resource";
/// `aud` values tried for one an identity validation expression refuses.
const MISMATCHED_AUDS: [&str; 3] = ["cognito-ext-authz-test-aud-mismatch", "0", "-"];
/// The `aud` of a `policytest` token of a pool without `appClients`.
const DEFAULT_AUD: &str = "testclient0000000000000000";

/// Characters escaped in a sample path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'\\');

impl Translation {
    /// The tests YAML for the imported policy, and how many cases it holds.
    pub fn to_tests_yaml(&self, source: &str) -> Result<(String, usize), ImportError> {
        let yaml = serde_saphyr::to_string(&self.policy)
            .map_err(|e| ImportError::Internal(format!("cannot write the policy YAML: {e}")))?;
        let policy = Policy::parse(&yaml).map_err(|e| {
            ImportError::Internal(format!("the imported policy does not compile: {e}"))
        })?;
        let (file, skipped) = tests_for(&policy);
        let body = serde_saphyr::to_string(&file)
            .map_err(|e| ImportError::Internal(format!("cannot write the tests YAML: {e}")))?;
        let mut out = format!(
            "# cognito-ext-authz policy tests imported from {} ({}): API Gateway's answer\n\
             # for each imported method. Run: cognito-ext-authz test POLICY THIS_FILE\n",
            one_line(source),
            self.format
        );
        for s in &skipped {
            out.push_str(&format!("# not tested: {}\n", one_line(s)));
        }
        out.push_str(&body);
        Ok((out, file.tests.len()))
    }
}

/// The cases for every route of `policy`, and the routes no sample request reaches.
pub(crate) fn tests_for(policy: &Policy) -> (TestFile, Vec<String>) {
    let mut tests = Vec::new();
    let mut skipped = Vec::new();
    for route in policy.routes.routes() {
        let methods = if route.methods.is_empty() {
            vec!["GET".to_owned()]
        } else {
            route.methods.clone()
        };
        let host = route
            .hosts
            .first()
            .map(|h| sample_host(h))
            .unwrap_or_default();
        for method in methods {
            match sample_path(policy, route, &method, &host) {
                Some(path) => {
                    let request = TestRequest {
                        method: method.clone(),
                        path,
                        host: host.clone(),
                        headers: BTreeMap::new(),
                    };
                    cases_for(policy, route, &request, &mut tests, &mut skipped);
                }
                None => skipped.push(format!(
                    "{method} {} ({}): no sample request reaches this route",
                    route.template, route.name
                )),
            }
        }
    }
    if policy.default_action == DefaultAction::Deny
        && finds(policy, NO_ROUTE_PATH, "GET", "").is_none()
    {
        tests.push(TestCase {
            name: Some("no route: 403 (API Gateway's missing resource)".to_owned()),
            request: request("GET", NO_ROUTE_PATH, ""),
            token: None,
            expect: denial(policy, &DenyReason::NoRoute, None),
        });
    }
    (TestFile { tests }, skipped)
}

/// What `test` expects of a denial for `reason`: the policy's answer (API Gateway's, as the
/// gateway responses change it), its headers included.
fn denial(policy: &Policy, reason: &DenyReason, route: Option<String>) -> Expect {
    let answer = reason.response(policy.insufficient_scope_status, &policy.gateway_responses);
    Expect {
        status: answer.status,
        route,
        reason: Some(reason.label().to_owned()),
        headers: answer
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
        body: Some(answer.body.to_string()),
    }
}

fn request(method: &str, path: &str, host: &str) -> TestRequest {
    TestRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        host: host.to_owned(),
        headers: BTreeMap::new(),
    }
}

/// The cases for one method of one route; what cannot be tested goes to `skipped`.
fn cases_for(
    policy: &Policy,
    route: &Route,
    request: &TestRequest,
    out: &mut Vec<TestCase>,
    skipped: &mut Vec<String>,
) {
    let at = format!("{} {}", request.method, route.template);
    let name = Some(route.name.to_string());
    let case = |what: &str, token: Option<TokenSpec>, expect: Expect| TestCase {
        name: Some(format!("{at}: {what}")),
        request: request.clone(),
        token,
        expect,
    };
    let denied = |reason: DenyReason| denial(policy, &reason, name.clone());
    if route.is_deny() {
        out.push(case("deny route, 403", None, denied(DenyReason::DenyRoute)));
        return;
    }
    if route.is_public() {
        let what = if request.method == "OPTIONS" {
            "public (CORS preflight), no token, 200"
        } else {
            "public, no token, 200"
        };
        out.push(case(
            what,
            None,
            Expect {
                status: 200,
                route: name.clone(),
                reason: Some("public_route".to_owned()),
                ..Expect::default()
            },
        ));
        return;
    }
    let authorizer = &policy.authorizers[route.authorizer];
    let id_route = route.token_use == TokenUse::Id;
    let token = |kind: Option<TokenKind>, claims: Map<String, Value>| {
        Some(TokenSpec {
            kind,
            pool: None,
            claims,
        })
    };
    let invalid = || denied(DenyReason::InvalidToken(TokenError::BadSignature));
    let insufficient = policy.insufficient_scope_status;
    // With an identity validation expression, the `aud` every allowed token carries.
    let aud = match &authorizer.expression {
        None => None,
        Some(expression) => match matching_aud(authorizer, expression) {
            Some(aud) => Some(aud),
            None => {
                skipped.push(format!(
                    "{at} ({}): the allowed cases: no sample aud matches the identity validation expression {:?} (add cases with an aud of your app clients)",
                    route.name,
                    expression.as_str()
                ));
                None
            }
        },
    };
    let can_allow = authorizer.expression.is_none() || aud.is_some();
    // The claims of a token the route takes, but for what a case changes.
    let good_scope = route.scopes.first().cloned();
    let base = || {
        let mut claims = Map::new();
        if let Some(s) = &good_scope {
            claims.insert("scope".to_owned(), json!(s));
        }
        if let Some(g) = route.groups.first() {
            claims.insert("cognito:groups".to_owned(), json!([g]));
        }
        if let Some(aud) = &aud {
            claims.insert("aud".to_owned(), json!(aud));
        }
        claims
    };
    if id_route {
        if can_allow {
            out.push(case(
                "ID token, 200",
                token(Some(TokenKind::IdToken), base()),
                allowed(&name, None),
            ));
        }
        out.push(case(
            "access token, 401 (API Gateway takes ID tokens on a method without scopes)",
            token(Some(TokenKind::AccessToken), Map::new()),
            invalid(),
        ));
    } else {
        for scope in &route.scopes {
            if !can_allow {
                break;
            }
            let mut claims = base();
            claims.insert("scope".to_owned(), json!(scope));
            out.push(case(
                &format!("token with scope {scope}, 200"),
                token(None, claims),
                allowed(&name, Some(scope)),
            ));
        }
        if can_allow {
            let mut claims = base();
            claims.insert("scope".to_owned(), json!(OTHER_SCOPE));
            out.push(case(
                &format!("token without the route's scopes, {insufficient}"),
                token(None, claims),
                denied(DenyReason::InsufficientScope),
            ));
        }
        if authorizer.expression.is_some() {
            let mut claims = base();
            claims.remove("aud");
            out.push(case(
                "access token without aud, 401 (the identity validation expression)",
                token(None, claims),
                invalid(),
            ));
        }
        out.push(case(
            "ID token, 401",
            token(Some(TokenKind::IdToken), base()),
            invalid(),
        ));
    }
    if !route.groups.is_empty() && can_allow {
        let mut claims = base();
        claims.insert(
            "cognito:groups".to_owned(),
            json!(["cognito-ext-authz-test-other-group"]),
        );
        out.push(case(
            &format!("token outside the route's groups, {insufficient}"),
            token(None, claims),
            denied(DenyReason::InsufficientGroup),
        ));
    }
    if id_route && let Some(expression) = &authorizer.expression {
        match MISMATCHED_AUDS.iter().find(|a| !expression.is_match(a)) {
            Some(other) => {
                let mut claims = base();
                claims.insert("aud".to_owned(), json!(other));
                out.push(case(
                    "ID token whose aud the identity validation expression refuses, 401",
                    token(None, claims),
                    invalid(),
                ));
            }
            None => skipped.push(format!(
                "{at} ({}): an aud the identity validation expression refuses (it matches every sample)",
                route.name
            )),
        }
    }
    out.push(case(
        "no token, 401",
        token(Some(TokenKind::None), Map::new()),
        denied(DenyReason::NoToken(NoToken::Missing)),
    ));
    out.push(case(
        "expired token, 401",
        token(Some(TokenKind::Expired), base()),
        denied(DenyReason::InvalidToken(TokenError::Expired)),
    ));
    // Tokens of the pools only other authorizers trust: API Gateway's authorizer of this
    // method knows nothing of them.
    for (i, pool) in policy.pools.iter().enumerate() {
        if authorizer.trusts(i).is_none() {
            out.push(case(
                &format!("token of pool {} (not this authorizer's), 401", pool.id),
                Some(TokenSpec {
                    kind: None,
                    pool: Some(pool.id.clone()),
                    claims: base(),
                }),
                invalid(),
            ));
        }
    }
}

/// An `aud` the authorizer's identity validation expression takes: one of its first pool's
/// app clients, the test tokens' default, or one built from the expression itself; and the
/// pool's `appClients` must take it too.
fn matching_aud(authorizer: &Authorizer, expression: &regex::Regex) -> Option<String> {
    let clients: Option<Vec<String>> = authorizer
        .pools
        .first()
        .and_then(|p| p.app_clients.as_ref())
        .map(|c| {
            let mut c: Vec<String> = c.iter().cloned().collect();
            c.sort();
            c
        });
    let candidates = match clients {
        Some(clients) => clients,
        None => [Some(DEFAULT_AUD.to_owned()), sample_of(expression)]
            .into_iter()
            .flatten()
            .collect(),
    };
    candidates
        .into_iter()
        .find(|c| !c.is_empty() && expression.is_match(c))
}

/// A string the expression matches, built from its syntax tree: the first branch of each
/// alternation, the first character of each class, each repetition its least count (at
/// least once). `None` when the result does not match after all.
fn sample_of(expression: &regex::Regex) -> Option<String> {
    use regex_syntax::hir::{Class, Hir, HirKind};

    fn build(hir: &Hir, out: &mut String, depth: usize) -> Option<()> {
        if depth > 64 || out.len() > 512 {
            return None;
        }
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
            HirKind::Class(Class::Unicode(class)) => {
                let ranges = class.ranges();
                let pick = ranges
                    .iter()
                    .flat_map(|r| (r.start()..=r.end()).take(128))
                    .find(char::is_ascii_alphanumeric)
                    .or_else(|| ranges.first().map(|r| r.start()))?;
                out.push(pick);
            }
            HirKind::Class(Class::Bytes(class)) => {
                let pick = class
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .find(|b| b.is_ascii_alphanumeric())?;
                out.push(char::from(pick));
            }
            HirKind::Repetition(rep) => {
                let count = match rep.max {
                    Some(0) => 0,
                    _ => rep.min.max(1),
                };
                for _ in 0..count.min(256) {
                    build(&rep.sub, out, depth + 1)?;
                }
            }
            HirKind::Capture(capture) => build(&capture.sub, out, depth + 1)?,
            HirKind::Concat(parts) => {
                for part in parts {
                    build(part, out, depth + 1)?;
                }
            }
            HirKind::Alternation(branches) => build(branches.first()?, out, depth + 1)?,
        }
        Some(())
    }

    let hir = regex_syntax::parse(expression.as_str()).ok()?;
    let mut out = String::new();
    build(&hir, &mut out, 0)?;
    expression.is_match(&out).then_some(out)
}

fn allowed(route: &Option<String>, scope: Option<&String>) -> Expect {
    let mut headers = BTreeMap::new();
    headers.insert("x-cognito-route".to_owned(), route.clone());
    if let Some(s) = scope {
        headers.insert("x-cognito-scope".to_owned(), Some(s.clone()));
    }
    Expect {
        status: 200,
        route: route.clone(),
        reason: Some("authorized".to_owned()),
        headers,
        body: None,
    }
}

/// A host a route's host pattern takes.
fn sample_host(pattern: &str) -> String {
    match pattern.strip_prefix("*.") {
        Some(rest) => format!("test.{rest}"),
        None => pattern.to_owned(),
    }
}

/// A path the route takes for `method` and `host` (checked with the route table), with
/// sample values in its parameters; `None` when a more specific route takes every sample.
fn sample_path(policy: &Policy, route: &Route, method: &str, host: &str) -> Option<String> {
    for value in ["example", "example-2", "cognito-ext-authz-test"] {
        let mut path = String::new();
        for segment in route.template.segments() {
            path.push('/');
            match segment {
                Segment::Literal(l) => path.extend(utf8_percent_encode(l, SEGMENT)),
                Segment::Param(_) => path.push_str(value),
                Segment::Greedy(_) => {
                    path.push_str(value);
                    path.push_str("/more");
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        if finds(policy, &path, method, host).is_some_and(|r| r.name == route.name) {
            return Some(path);
        }
    }
    None
}

fn finds<'p>(policy: &'p Policy, path: &str, method: &str, host: &str) -> Option<&'p Route> {
    let segments = crate::path::segments(path).ok()?;
    let host = crate::host::normalize(host.as_bytes()).ok()?;
    policy.routes.find(&segments, method, &host)
}
