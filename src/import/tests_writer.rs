//! `import --tests FILE`: the policy tests that pin an imported policy to API Gateway's
//! answers (SPEC 9), run with `cognito-ext-authz test`.
//!
//! Per route of the imported policy, on a request built to match it (a sample value in
//! each path parameter, the first host, each method): with scopes, a token holding each
//! scope (200), one holding none of them (API Gateway's 401, or the policy's
//! `insufficientScopeStatus`), no token (401), an expired token (401 with the expired
//! body) and an ID token (401: API Gateway refuses ID tokens where scopes are set); without
//! scopes, a valid access token (200), no token and an expired one; a public route 200
//! without a token; a deny route 403. Each request is checked against the compiled route
//! table first, so a case never silently tests a different route than the one it names.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::{ImportError, Translation, one_line};
use crate::policy::Policy;
use crate::policy::model::DefaultAction;
use crate::policy::table::Route;
use crate::policy::template::Segment;
use crate::policytest::{Expect, TestCase, TestFile, TestRequest, TokenKind, TokenSpec};

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
const EXPIRED: &str = r#"{"message":"The incoming token has expired"}"#;
const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
/// A scope no imported route asks for.
const OTHER_SCOPE: &str = "cognito-ext-authz-test/not-a-route-scope";
/// A path no route should take, for the default action.
const NO_ROUTE_PATH: &str = "/cognito-ext-authz-test/no-such-resource";

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
             # for each imported method. Run: cognito-ext-authz test POLICY THIS_FILE\n\
             # Methods without scopes get no ID-token case: API Gateway accepts ID tokens\n\
             # there, this service never does (see the README).\n",
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
                    cases_for(policy, route, &request, &mut tests);
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
            expect: Expect {
                status: 403,
                reason: Some("no_route".to_owned()),
                body: Some(FORBIDDEN.to_owned()),
                ..Expect::default()
            },
        });
    }
    (TestFile { tests }, skipped)
}

fn request(method: &str, path: &str, host: &str) -> TestRequest {
    TestRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        host: host.to_owned(),
        headers: BTreeMap::new(),
    }
}

/// The cases for one method of one route.
fn cases_for(policy: &Policy, route: &Route, request: &TestRequest, out: &mut Vec<TestCase>) {
    let at = format!("{} {}", request.method, route.template);
    let name = Some(route.name.to_string());
    let case = |what: &str, token: Option<TokenSpec>, expect: Expect| TestCase {
        name: Some(format!("{at}: {what}")),
        request: request.clone(),
        token,
        expect,
    };
    let denied = |status: u16, reason: &str, body: &str| Expect {
        status,
        route: name.clone(),
        reason: Some(reason.to_owned()),
        headers: BTreeMap::new(),
        body: Some(body.to_owned()),
    };
    if route.deny {
        out.push(case(
            "deny route, 403",
            None,
            denied(403, "deny_route", FORBIDDEN),
        ));
        return;
    }
    if route.public {
        out.push(case(
            "public, no token, 200",
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
    let token = |kind: Option<TokenKind>, claims: Map<String, Value>| {
        Some(TokenSpec {
            kind,
            pool: None,
            claims,
        })
    };
    let group_claim = |claims: &mut Map<String, Value>| {
        if let Some(g) = route.groups.first() {
            claims.insert("cognito:groups".to_owned(), json!([g]));
        }
    };
    let insufficient = policy.insufficient_scope_status;
    let insufficient_body = if insufficient == 403 {
        FORBIDDEN
    } else {
        UNAUTHORIZED
    };
    // A scope the route takes, for the cases about something else.
    let good_scope = route.scopes.first().cloned();
    let base = |claims: &mut Map<String, Value>| {
        if let Some(s) = &good_scope {
            claims.insert("scope".to_owned(), json!(s));
        }
        group_claim(claims);
    };
    if route.scopes.is_empty() {
        let mut claims = Map::new();
        group_claim(&mut claims);
        out.push(case(
            "valid access token, 200",
            token(None, claims),
            allowed(&name, None),
        ));
    } else {
        for scope in &route.scopes {
            let mut claims = Map::new();
            claims.insert("scope".to_owned(), json!(scope));
            group_claim(&mut claims);
            out.push(case(
                &format!("token with scope {scope}, 200"),
                token(None, claims),
                allowed(&name, Some(scope)),
            ));
        }
        let mut claims = Map::new();
        claims.insert("scope".to_owned(), json!(OTHER_SCOPE));
        group_claim(&mut claims);
        out.push(case(
            &format!("token without the route's scopes, {insufficient}"),
            token(None, claims),
            denied(insufficient, "insufficient_scope", insufficient_body),
        ));
    }
    if !route.groups.is_empty() {
        let mut claims = Map::new();
        base(&mut claims);
        claims.insert(
            "cognito:groups".to_owned(),
            json!(["cognito-ext-authz-test-other-group"]),
        );
        out.push(case(
            &format!("token outside the route's groups, {insufficient}"),
            token(None, claims),
            denied(insufficient, "insufficient_group", insufficient_body),
        ));
    }
    out.push(case(
        "no token, 401",
        token(Some(TokenKind::None), Map::new()),
        denied(401, "no_token", UNAUTHORIZED),
    ));
    let mut claims = Map::new();
    base(&mut claims);
    out.push(case(
        "expired token, 401",
        token(Some(TokenKind::Expired), claims),
        denied(401, "expired_token", EXPIRED),
    ));
    if !route.scopes.is_empty() {
        out.push(case(
            "ID token, 401",
            token(Some(TokenKind::IdToken), Map::new()),
            denied(401, "invalid_token", UNAUTHORIZED),
        ));
    }
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
