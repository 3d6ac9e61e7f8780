//! The cases for one method of one route of the imported document: what API Gateway
//! answers each token (or none) the route's authorizer may see, the denials' answers
//! from the service's mapping.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::samples::matching_aud;
use super::{Plan, Target, pool_id};
use crate::credential::NoToken;
use crate::decision::DenyReason;
use crate::policy::model::{AuthMode, TokenUse};
use crate::policytest::{Expect, TestCase, TestRequest, TokenKind, TokenSpec};
use crate::token::TokenError;

/// A scope no imported route asks for.
const OTHER_SCOPE: &str = "cognito-ext-authz-test/not-a-route-scope";
/// `aud` values tried for one an identity validation expression refuses.
const MISMATCHED_AUDS: [&str; 3] = ["cognito-ext-authz-test-aud-mismatch", "0", "-"];

/// The cases for one method of one route; what cannot be tested goes to `skipped`.
pub(super) fn cases_for(
    plan: &Plan,
    target: &Target,
    request: &TestRequest,
    out: &mut Vec<TestCase>,
    skipped: &mut Vec<String>,
) {
    let route = target.route;
    let at = format!("{} {}", request.method, target.template);
    let name = Some(target.name.clone());
    let case = |what: &str, token: Option<TokenSpec>, expect: Expect| TestCase {
        name: Some(format!("{at}: {what}")),
        request: request.clone(),
        token,
        expect,
    };
    let denied = |reason: DenyReason| plan.denial(&reason, name.clone());
    if route.auth == Some(AuthMode::Deny) {
        out.push(case("deny route, 403", None, denied(DenyReason::DenyRoute)));
        return;
    }
    if route.auth == Some(AuthMode::None) {
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
    // A protected route: `Plan::target` gave it its authorizer.
    let Some((authorizer, expression)) = &target.authorizer else {
        return;
    };
    let id_route = route.token_use.unwrap_or_default() == TokenUse::Id;
    let scopes = route.scopes.as_deref().unwrap_or_default();
    let groups = route.groups.as_deref().unwrap_or_default();
    let token = |kind: Option<TokenKind>, claims: Map<String, Value>| {
        Some(TokenSpec {
            kind,
            pool: None,
            claims,
        })
    };
    let invalid = || denied(DenyReason::InvalidToken(TokenError::BadSignature));
    let insufficient = plan.insufficient_scope_status;
    // With an identity validation expression, the `aud` every allowed token carries.
    let aud = match expression {
        None => None,
        Some(expression) => match matching_aud(authorizer, expression) {
            Some(aud) => Some(aud),
            None => {
                skipped.push(format!(
                    "{at} ({}): the allowed cases: no sample aud matches the identity validation expression {:?} (add cases with an aud of your app clients)",
                    target.name,
                    expression.as_str()
                ));
                None
            }
        },
    };
    let can_allow = expression.is_none() || aud.is_some();
    // The claims of a token the route takes, but for what a case changes.
    let good_scope = scopes.first().cloned();
    let base = || {
        let mut claims = Map::new();
        if let Some(s) = &good_scope {
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
        for scope in scopes {
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
        if expression.is_some() {
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
    if !groups.is_empty() && can_allow {
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
    if id_route && let Some(expression) = expression {
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
                target.name
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
    for pool in &plan.pools {
        if !authorizer
            .user_pools
            .iter()
            .filter_map(pool_id)
            .any(|id| id == pool)
        {
            out.push(case(
                &format!("token of pool {pool} (not this authorizer's), 401"),
                Some(TokenSpec {
                    kind: None,
                    pool: Some(pool.clone()),
                    claims: base(),
                }),
                invalid(),
            ));
        }
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
