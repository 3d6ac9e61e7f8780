//! The cases for one method of one route of the imported document: what API Gateway
//! answers each token (or none) the route's authorizer may see, the denials' answers
//! from the service's mapping.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::samples::matching_aud;
use super::{Plan, Target, pool_id};
use cognito_ext_authz_core::credential::NoToken;
use cognito_ext_authz_core::decision::DenyReason;
use cognito_ext_authz_core::policy::model::{AuthMode, AuthorizerConfig, TokenUse};
use cognito_ext_authz_core::policy_tests::{Expect, TestCase, TestRequest, TokenKind, TokenSpec};
use cognito_ext_authz_core::token::TokenError;

/// A scope no imported route asks for.
const OTHER_SCOPE: &str = "cognito-ext-authz-test/not-a-route-scope";
/// `aud` values tried for one an identity validation expression refuses.
const MISMATCHED_AUDS: [&str; 3] = ["cognito-ext-authz-test-aud-mismatch", "0", "-"];

/// The cases of one request, as they are written.
struct Cases<'a> {
    plan: &'a Plan<'a>,
    request: &'a TestRequest,
    /// `METHOD /template`: each case's name starts with it.
    at: String,
    /// The route's name, as answers carry it.
    route: Option<String>,
    out: &'a mut Vec<TestCase>,
}

impl Cases<'_> {
    fn push(&mut self, what: &str, token: Option<TokenSpec>, expect: Expect) {
        self.out.push(TestCase {
            name: Some(format!("{}: {what}", self.at)),
            request: self.request.clone(),
            token,
            expect,
        });
    }

    /// The service's answer to a denial for `reason`.
    fn denied(&self, reason: DenyReason) -> Expect {
        self.plan.denial(&reason, self.route.clone())
    }

    /// The answer to a token this route's authorizer refuses.
    fn invalid(&self) -> Expect {
        self.denied(DenyReason::InvalidToken(TokenError::BadSignature))
    }

    fn allowed(&self, scope: Option<&String>) -> Expect {
        let mut headers = BTreeMap::new();
        headers.insert("x-cognito-route".to_owned(), self.route.clone());
        if let Some(s) = scope {
            headers.insert("x-cognito-scope".to_owned(), Some(s.clone()));
        }
        Expect {
            status: 200,
            route: self.route.clone(),
            reason: Some("authorized".to_owned()),
            headers,
            body: None,
        }
    }
}

/// The cases for one method of one route; what cannot be tested goes to `skipped`.
pub(super) fn cases_for(
    plan: &Plan,
    target: &Target,
    request: &TestRequest,
    out: &mut Vec<TestCase>,
    skipped: &mut Vec<String>,
) {
    let mut cases = Cases {
        plan,
        request,
        at: format!("{} {}", request.method, target.template),
        route: Some(target.name.clone()),
        out,
    };
    match (target.route.auth, &target.authorizer) {
        (Some(AuthMode::Deny), _) => {
            cases.push("deny route, 403", None, cases.denied(DenyReason::DenyRoute));
        }
        (Some(AuthMode::None), _) => {
            let what = if request.method == "OPTIONS" {
                "public (CORS preflight), no token, 200"
            } else {
                "public, no token, 200"
            };
            let expect = Expect {
                status: 200,
                route: cases.route.clone(),
                reason: Some("public_route".to_owned()),
                ..Expect::default()
            };
            cases.push(what, None, expect);
        }
        (_, Some((authorizer, expression))) => {
            protected(&mut cases, target, authorizer, expression.as_ref(), skipped);
        }
        // `Plan::target` gives every protected route its authorizer.
        (_, None) => {}
    }
}

/// A token of the route's authorizer (its first pool) of `kind` (an access token when
/// `None`), with `claims`.
fn token(kind: Option<TokenKind>, claims: Map<String, Value>) -> Option<TokenSpec> {
    Some(TokenSpec {
        kind,
        pool: None,
        claims,
    })
}

/// The cases of a protected route: tokens it takes, tokens it refuses, and no token.
fn protected(
    cases: &mut Cases,
    target: &Target,
    authorizer: &AuthorizerConfig,
    expression: Option<&regex::Regex>,
    skipped: &mut Vec<String>,
) {
    let route = target.route;
    let scopes = route.scopes.as_deref().unwrap_or_default();
    let groups = route.groups.as_deref().unwrap_or_default();
    // With an identity validation expression, the `aud` every allowed token carries.
    let aud = expression.and_then(|expression| {
        let aud = matching_aud(authorizer, expression);
        if aud.is_none() {
            skipped.push(format!(
                "{} ({}): the allowed cases: no sample aud matches the identity validation expression {:?} (add cases with an aud of your app clients)",
                cases.at,
                target.name,
                expression.as_str()
            ));
        }
        aud
    });
    let can_allow = expression.is_none() || aud.is_some();
    // The claims of a token the route takes, but for what a case changes.
    let base = || {
        let mut claims = Map::new();
        if let Some(s) = scopes.first() {
            claims.insert("scope".to_owned(), json!(s));
        }
        if let Some(g) = groups.first() {
            claims.insert("cognito:groups".to_owned(), json!([g]));
        }
        if let Some(aud) = &aud {
            claims.insert("aud".to_owned(), json!(aud));
        }
        claims
    };
    let insufficient = cases.plan.insufficient_scope_status;
    if route.token_use.unwrap_or_default() == TokenUse::Id {
        if can_allow {
            let allowed = cases.allowed(None);
            cases.push(
                "ID token, 200",
                token(Some(TokenKind::IdToken), base()),
                allowed,
            );
        }
        cases.push(
            "access token, 401 (API Gateway takes ID tokens on a method without scopes)",
            token(Some(TokenKind::AccessToken), Map::new()),
            cases.invalid(),
        );
    } else {
        for scope in scopes.iter().take_while(|_| can_allow) {
            let mut claims = base();
            claims.insert("scope".to_owned(), json!(scope));
            let allowed = cases.allowed(Some(scope));
            cases.push(
                &format!("token with scope {scope}, 200"),
                token(None, claims),
                allowed,
            );
        }
        if can_allow {
            let mut claims = base();
            claims.insert("scope".to_owned(), json!(OTHER_SCOPE));
            cases.push(
                &format!("token without the route's scopes, {insufficient}"),
                token(None, claims),
                cases.denied(DenyReason::InsufficientScope),
            );
        }
        if expression.is_some() {
            let mut claims = base();
            claims.remove("aud");
            cases.push(
                "access token without aud, 401 (the identity validation expression)",
                token(None, claims),
                cases.invalid(),
            );
        }
        cases.push(
            "ID token, 401",
            token(Some(TokenKind::IdToken), base()),
            cases.invalid(),
        );
    }
    if !groups.is_empty() && can_allow {
        let mut claims = base();
        claims.insert(
            "cognito:groups".to_owned(),
            json!(["cognito-ext-authz-test-other-group"]),
        );
        cases.push(
            &format!("token outside the route's groups, {insufficient}"),
            token(None, claims),
            cases.denied(DenyReason::InsufficientGroup),
        );
    }
    if route.token_use.unwrap_or_default() == TokenUse::Id
        && let Some(expression) = expression
    {
        match MISMATCHED_AUDS.iter().find(|a| !expression.is_match(a)) {
            Some(other) => {
                let mut claims = base();
                claims.insert("aud".to_owned(), json!(other));
                cases.push(
                    "ID token whose aud the identity validation expression refuses, 401",
                    token(None, claims),
                    cases.invalid(),
                );
            }
            None => skipped.push(format!(
                "{} ({}): an aud the identity validation expression refuses (it matches every sample)",
                cases.at, target.name
            )),
        }
    }
    refused_everywhere(cases, authorizer, base());
}

/// The denials every protected route gives: no token, an expired token, and a token of
/// each pool only other authorizers trust (API Gateway's authorizer of this method knows
/// nothing of them); `base` the claims of a token the route takes.
fn refused_everywhere(cases: &mut Cases, authorizer: &AuthorizerConfig, base: Map<String, Value>) {
    cases.push(
        "no token, 401",
        token(Some(TokenKind::None), Map::new()),
        cases.denied(DenyReason::NoToken(NoToken::Missing)),
    );
    cases.push(
        "expired token, 401",
        token(Some(TokenKind::Expired), base.clone()),
        cases.denied(DenyReason::InvalidToken(TokenError::Expired)),
    );
    let plan = cases.plan;
    for pool in &plan.pools {
        let trusted = authorizer
            .user_pools
            .iter()
            .filter_map(pool_id)
            .any(|id| id == pool);
        if !trusted {
            cases.push(
                &format!("token of pool {pool} (not this authorizer's), 401"),
                Some(TokenSpec {
                    kind: None,
                    pool: Some(pool.clone()),
                    claims: base.clone(),
                }),
                cases.invalid(),
            );
        }
    }
}
