//! The answer to a request, protocol-free: what Envoy should do with it.
//!
//! An allow sends the request upstream with the identity headers the verified token
//! supplies set (overwriting any the client sent) and every other identity header removed,
//! including spellings an upstream framework would read as ours (`x_cognito_sub`: WSGI,
//! CGI and Rack fold `_` into `-`), so the upstream can trust `x-cognito-*` without
//! condition. A denial answers the client directly with API Gateway's status and body, and
//! the static headers of the policy's gateway response (CORS headers, say).
//! Both carry the decision's fields for access logs and RBAC. The gRPC adapter turns this
//! into a `CheckResponse`; `check` prints it.

use crate::credential::Headers;
use crate::decision::Decision;
use crate::policy::ClaimHeaders;
use crate::token::VerifiedToken;

/// Identity headers set on allowed requests; any the token does not supply are removed.
pub(crate) const IDENTITY_HEADERS: [&str; 6] = [
    "x-cognito-sub",
    "x-cognito-client-id",
    "x-cognito-username",
    "x-cognito-scope",
    "x-cognito-groups",
    "x-cognito-route",
];

/// A metadata value: text, or a list of texts (`groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaValue {
    /// One text (`decision`, `reason`, `sub`, ...).
    Text(String),
    /// Several texts (the token's `groups`).
    List(Vec<String>),
}

/// What Envoy should do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Send the request upstream with these header changes.
    Upstream {
        /// Headers to set, overwriting what the client sent.
        set: Vec<(String, String)>,
        /// Headers to remove.
        remove: Vec<String>,
        /// The decision's fields for Envoy's dynamic metadata (access logs, RBAC); empty
        /// unless asked for.
        metadata: Vec<(&'static str, MetaValue)>,
    },
    /// Answer the client.
    Respond {
        /// The HTTP status the client gets.
        status: u16,
        /// The decision's reason label (`no_token`, ...).
        reason: &'static str,
        /// `content-type`, `www-authenticate`, then the gateway response's headers.
        headers: Vec<(String, String)>,
        /// The JSON body.
        body: std::sync::Arc<str>,
        /// The decision's fields for Envoy's dynamic metadata, as for an allow.
        metadata: Vec<(&'static str, MetaValue)>,
    },
}

impl Answer {
    /// The answer for `decision` on a request with `request_headers`, its metadata
    /// included.
    pub fn new(decision: &Decision, request_headers: &Headers) -> Answer {
        Answer::build(decision, request_headers, true)
    }

    /// The answer, with the decision's metadata only when `with_metadata` (empty
    /// otherwise: nothing for Envoy to apply).
    pub fn build(decision: &Decision, request_headers: &Headers, with_metadata: bool) -> Answer {
        let metadata = if with_metadata {
            metadata(decision)
        } else {
            Vec::new()
        };
        match decision {
            Decision::Allow {
                route,
                token,
                claim_headers,
                ..
            } => upstream(
                route.as_deref(),
                token.as_deref(),
                claim_headers,
                request_headers,
                metadata,
            ),
            // Without a verified token no identity header is set, `x-cognito-route`
            // included: the upstream must not read a dry run's denial as an allow.
            Decision::Deny {
                route,
                dry_run: Some(dry_run),
                ..
            } => upstream(
                route.as_deref().filter(|_| dry_run.token.is_some()),
                dry_run.token.as_deref(),
                &dry_run.claim_headers,
                request_headers,
                metadata,
            ),
            Decision::Deny {
                reason, response, ..
            } => {
                let mut headers = Vec::with_capacity(2 + response.headers.len());
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                if let Some(w) = response.www_authenticate {
                    headers.push(("www-authenticate".to_owned(), w.to_owned()));
                }
                headers.extend(response.headers.iter().cloned());
                Answer::Respond {
                    status: response.status,
                    reason: reason.label(),
                    headers,
                    body: response.body.clone(),
                    metadata,
                }
            }
        }
    }
}

/// The request goes upstream: identity headers set from `token` (none without one), every
/// other identity header and forged spelling removed.
fn upstream(
    route: Option<&str>,
    token: Option<&VerifiedToken>,
    claim_headers: &ClaimHeaders,
    request_headers: &Headers,
    metadata: Vec<(&'static str, MetaValue)>,
) -> Answer {
    let mut set: Vec<(String, String)> =
        Vec::with_capacity(IDENTITY_HEADERS.len() + claim_headers.len());
    let mut put = |name: &str, value: String| set.push((name.to_owned(), value));
    if let Some(t) = token {
        put("x-cognito-sub", t.sub.clone());
        put("x-cognito-client-id", t.client_id.clone());
        if let Some(u) = &t.username {
            put("x-cognito-username", u.clone());
        }
        if !t.scopes.is_empty() {
            put("x-cognito-scope", t.scopes.join(" "));
        }
        if !t.groups.is_empty() {
            put("x-cognito-groups", t.groups.join(","));
        }
        for (header, claim) in claim_headers.iter() {
            if let Some((_, v)) = t.claims.iter().find(|(c, _)| c == claim) {
                put(header, v.clone());
            }
        }
    }
    if let Some(r) = route {
        put("x-cognito-route", r.to_string());
    }
    // A value Envoy could not carry safely is dropped (and so removed).
    set.retain(|(_, v)| !v.is_empty() && !v.chars().any(|c| c.is_control()));
    let extra: Vec<&str> = claim_headers.iter().map(|(h, _)| h.as_str()).collect();
    let remove = IDENTITY_HEADERS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .filter(|h| !set.iter().any(|(s, _)| s == h))
        .map(str::to_owned)
        .chain(forged_headers(request_headers, &extra))
        .collect();
    Answer::Upstream {
        set,
        remove,
        metadata,
    }
}

/// Request headers that are an identity header (built-in, or one of `extra`: the policy's
/// claim headers) once lower-cased with `_` read as `-` (`x_cognito_sub`,
/// `X-Cognito_Groups`), other than the identity header itself: WSGI, CGI and Rack fold `_`
/// into `-`, so an upstream would read them as ours.
fn forged_headers(headers: &Headers, extra: &[&str]) -> Vec<String> {
    let mut forged = Vec::new();
    headers.for_each_name(|name| {
        if name.contains('_')
            && IDENTITY_HEADERS.iter().chain(extra.iter()).any(|h| {
                h.len() == name.len()
                    && h.bytes()
                        .zip(name.bytes())
                        .all(|(a, b)| a == b.to_ascii_lowercase() || (a == b'-' && b == b'_'))
            })
            && !forged.iter().any(|f: &String| f == name)
        {
            forged.push(name.to_owned());
        }
    });
    forged
}

/// The decision for Envoy's access logs and RBAC.
fn metadata(decision: &Decision) -> Vec<(&'static str, MetaValue)> {
    let text = |s: &str| MetaValue::Text(s.to_owned());
    let mut fields = vec![
        ("decision", text(decision.result())),
        ("reason", text(decision.reason())),
    ];
    if let Decision::Deny {
        response,
        dry_run: Some(_),
        ..
    } = decision
    {
        fields.push(("would_status", text(&response.status.to_string())));
    }
    if let Some(route) = decision.route() {
        fields.push(("route", text(route)));
    }
    if let Some(authorizer) = decision.authorizer() {
        fields.push(("authorizer", text(authorizer)));
    }
    if let Some(t) = decision.token() {
        fields.push(("token_use", text(t.token_use.as_str())));
        fields.push(("sub", text(&t.sub)));
        fields.push(("client_id", text(&t.client_id)));
        if let Some(u) = &t.username {
            fields.push(("username", text(u)));
        }
        fields.push(("scope", MetaValue::Text(t.scopes.join(" "))));
        fields.push(("groups", MetaValue::List(t.groups.clone())));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::AllowReason;

    #[test]
    fn identity_headers_spelled_with_underscores_are_removed() {
        let headers = Headers::Raw(
            [
                "x_cognito_sub",
                "x-cognito_groups",
                "x_cognito_route",
                "x-cognito-sub",
                "x_cognito_subject",
                "x_other",
                "x_cognito_sub",
                // Same length as `x-cognito-sub`, but `x` where the `-` is: not ours.
                "x_cognitoxsub",
            ]
            .iter()
            .map(|n| (n.to_string(), b"v".to_vec()))
            .collect(),
        );
        let forged = forged_headers(&headers, &[]);
        assert_eq!(
            forged,
            ["x_cognito_sub", "x-cognito_groups", "x_cognito_route"]
        );
        let allow = Decision::Allow {
            reason: AllowReason::PublicRoute,
            route: None,
            authorizer: None,
            token: None,
            claim_headers: Vec::new().into(),
        };
        let Answer::Upstream { remove, set, .. } = Answer::new(&allow, &headers) else {
            panic!("an allow goes upstream");
        };
        assert!(set.is_empty());
        for name in IDENTITY_HEADERS
            .iter()
            .copied()
            .chain(forged.iter().map(String::as_str))
        {
            assert!(remove.iter().any(|h| h == name), "{name}");
        }
    }

    #[test]
    fn claim_values_envoy_cannot_carry_are_removed_not_set() {
        let token = VerifiedToken {
            token_use: crate::policy::model::TokenUse::Access,
            sub: "s".into(),
            client_id: "c".into(),
            username: Some(String::new()),
            aud: None,
            claims: vec![
                ("email".into(), "a@example.com\r\nx-admin: 1".into()),
                ("custom:tenant".into(), "t1".into()),
            ],
            scopes: vec!["a/b".into()],
            groups: vec!["g1".into(), "g2".into()],
            exp: 0,
            pool: 0,
            kid: "k".into(),
            jti: None,
            origin_jti: None,
            iat: None,
        };
        let claim_headers: ClaimHeaders = vec![
            ("x-user-email".to_owned(), "email".to_owned()),
            ("x-tenant".to_owned(), "custom:tenant".to_owned()),
        ]
        .into();
        let allow = Decision::Allow {
            reason: AllowReason::Authorized,
            route: Some("r".into()),
            authorizer: Some("default".into()),
            token: Some(std::sync::Arc::new(token)),
            claim_headers,
        };
        let Answer::Upstream { set, remove, .. } = Answer::new(&allow, &Headers::default()) else {
            panic!("an allow goes upstream");
        };
        let set: Vec<(&str, &str)> = set.iter().map(|(h, v)| (h.as_str(), v.as_str())).collect();
        assert_eq!(
            set,
            [
                ("x-cognito-sub", "s"),
                ("x-cognito-client-id", "c"),
                ("x-cognito-scope", "a/b"),
                ("x-cognito-groups", "g1,g2"),
                ("x-tenant", "t1"),
                ("x-cognito-route", "r"),
            ]
        );
        // An empty username and a claim with CR LF are not sent: removed instead.
        for name in ["x-cognito-username", "x-user-email"] {
            assert!(remove.iter().any(|h| h == name), "{name} removed");
        }
    }
}
