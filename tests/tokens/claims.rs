//! Claims, keys and algorithms: clock skew, missing sub or client_id, x5u, algorithms, issuers, time boundaries, size.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn leeway_tolerates_small_clock_skew() {
    let (_keys, service) =
        keys_and_service(BIN, &format!("leewaySeconds: 120\n{ROUTES}"), &[]).await;
    let mut client = service.client().await;
    let mut claims = access_claims(SCOPE);
    claims["exp"] = json!(now() - 30);
    claims["nbf"] = json!(now() + 30);
    let token = key(0).sign(&claims);
    let a = check(&mut client, token_request(&token)).await;
    assert_eq!(a.status, 200, "{a:?}");
    claims["exp"] = json!(now() - 300);
    let token = key(0).sign(&claims);
    let a = check(&mut client, token_request(&token)).await;
    assert_eq!(a.body, EXPIRED);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_without_sub_or_client_id_are_invalid() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    for (n, claim) in ["sub", "client_id"].into_iter().enumerate() {
        let mut claims = access_claims(SCOPE);
        claims.as_object_mut().unwrap().remove(claim);
        let a = check(&mut client, token_request(&key(0).sign(&claims))).await;
        assert_eq!(a.status, 401, "without {claim}");
        assert_eq!(a.headers["www-authenticate"], INVALID, "without {claim}");
        assert_eq!(a.body, UNAUTHORIZED);
        assert!(
            service.decision(n + 1).await["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("no {claim} claim")),
            "{claim}"
        );
    }
    // The same token with both claims passes: the claims, nothing else, made the difference.
    assert_eq!(
        check(
            &mut client,
            token_request(&key(0).sign(&access_claims(SCOPE)))
        )
        .await
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn x5u_is_never_followed() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    // The x5u URL serves the attacker's key: it must never be fetched nor trusted.
    keys.publish("attacker", key(1));
    let service = Service::ready(BIN, &policy(&keys, ROUTES), &[]).await;
    let mut client = service.client().await;
    let before = keys.fetches();
    let x5u = keys.jwks_uri("attacker");
    let forged = key(1).sign_with_header(
        &json!({"alg": "RS256", "kid": key(1).kid, "x5u": x5u}),
        &access_claims(SCOPE),
    );
    let a = check(&mut client, token_request(&forged)).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.headers["www-authenticate"], INVALID);
    // A genuine token carrying an x5u header is verified with the pool's own keys: the
    // header is ignored, not a reason to refuse.
    let genuine = key(0).sign_with_header(
        &json!({"alg": "RS256", "kid": key(0).kid, "x5u": x5u}),
        &access_claims(SCOPE),
    );
    assert_eq!(
        check(&mut client, token_request(&genuine)).await.status,
        200
    );
    assert_eq!(keys.fetches_of("attacker"), 0);
    assert!(
        keys.fetches() - before <= 1,
        "at most the pool's own refetch for key(1)'s kid"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_algorithms_are_refused_before_any_key_lookup() {
    // No refetch cooldown: any key lookup for an unknown kid would fetch the key set.
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "0")]).await;
    let mut client = service.client().await;
    let claims = access_claims(SCOPE);
    let before = keys.fetches();
    for (n, alg) in ["none", "HS256", "RS512", "PS256", "ES256", "rs256"]
        .into_iter()
        .enumerate()
    {
        let token = key(0).sign_with_header(&json!({"alg": alg, "kid": "unknown-kid"}), &claims);
        let a = check(&mut client, token_request(&token)).await;
        assert_eq!(a.status, 401, "{alg}");
        assert_eq!(a.headers["www-authenticate"], INVALID, "{alg}");
        assert!(
            service.decision(n + 1).await["detail"]
                .as_str()
                .unwrap()
                .starts_with("algorithm"),
            "{alg}"
        );
    }
    assert_eq!(
        keys.fetches(),
        before,
        "no key set was fetched for any of them"
    );
    // The control: RS256 with the same unknown kid does look the key up (one refetch).
    let token = key(0).sign_with_header(&json!({"alg": "RS256", "kid": "unknown-kid"}), &claims);
    assert_eq!(check(&mut client, token_request(&token)).await.status, 401);
    assert_eq!(keys.fetches(), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_issuer_replaces_the_default_one() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let custom = format!("https://issuer-cognito-idp.ap-south-1.amazonaws.com/{POOL}");
    let yaml = format!(
        "userPools:\n  - id: {POOL}\n    issuer: {custom}\n    jwksUri: {}\n{ROUTES}",
        keys.jwks_uri(POOL)
    );
    let service = Service::ready(BIN, &yaml, &[]).await;
    let mut client = service.client().await;
    let mut claims = access_claims(SCOPE);
    claims["iss"] = json!(custom);
    assert_eq!(
        check(&mut client, token_request(&key(0).sign(&claims)))
            .await
            .status,
        200
    );
    // The default issuer of the same pool is no longer accepted.
    let a = check(
        &mut client,
        token_request(&key(0).sign(&access_claims(SCOPE))),
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(
        service.decision(2).await["detail"]
            .as_str()
            .unwrap()
            .starts_with("unknown_issuer"),
    );
}

/// Boundaries of the time claims, at the second: `exp` equal to now is expired; `nbf` and
/// `iat` equal to now are not in the future. Tokens are minted at the current second and
/// checked at once, so the service's clock is at that second or later: each expectation
/// holds whenever the check runs. (Several rounds: a mistake at the boundary shows unless
/// every round crosses a second.)
#[tokio::test(flavor = "multi_thread")]
async fn time_claims_at_the_boundary() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    for round in 0..5 {
        let t = now();
        let mut claims = access_claims(SCOPE);
        claims["jti"] = json!(format!("boundary-{round}"));
        claims["nbf"] = json!(t);
        claims["iat"] = json!(t);
        let a = check(&mut client, token_request(&key(0).sign(&claims))).await;
        assert_eq!(a.status, 200, "nbf = iat = now is valid: {a:?}");
        claims["exp"] = json!(t);
        let a = check(&mut client, token_request(&key(0).sign(&claims))).await;
        assert_eq!(
            (a.status, a.body.as_str()),
            (401, EXPIRED),
            "exp = now is expired"
        );
    }
}

/// A cached token is not accepted once its `exp` is reached: the cache keeps an entry up
/// to a second past `exp` (whole seconds), and the check at the second of `exp` must not
/// use it.
#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_is_refused_from_the_second_of_its_exp() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    // Cache it late in a second (0.85 s in), so that the cache keeps it until 0.85 s past
    // its whole-second exp: the check at the second of exp is then served from the cache,
    // unless the cache rule refuses it.
    let start = now();
    while now() == start {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(850)).await;
    let mut claims = access_claims(SCOPE);
    let exp = now() + 5;
    claims["exp"] = json!(exp);
    let token = key(0).sign(&claims);
    let first = check(&mut client, token_request(&token)).await;
    // Checked four seconds before its exp, however slow the machine: it is cached.
    assert_eq!(first.status, 200, "checked before its exp: {first:?}");
    while now() < exp {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let a = check(&mut client, token_request(&token)).await;
    assert_eq!((a.status, a.body.as_str()), (401, EXPIRED));
}

/// The token size limit (16 KiB): a valid token of exactly the limit is verified, one
/// byte more is refused unread.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_up_to_16_kib_are_read() {
    const LIMIT: usize = 16 * 1024;
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let make = |pad: usize, hpad: usize| {
        let mut claims = access_claims(SCOPE);
        claims["pad"] = json!("x".repeat(pad));
        let header = json!({"alg": "RS256", "kid": key(0).kid, "p": "y".repeat(hpad)});
        key(0).sign_with_header(&header, &claims)
    };
    // Pad a claim (4 token bytes per 3) and a header field until exactly `len` bytes.
    let sized = |len: usize| -> String {
        let estimate = (len - make(0, 0).len()) * 3 / 4;
        for pad in estimate.saturating_sub(8)..estimate + 8 {
            for hpad in 0..4 {
                let token = make(pad, hpad);
                if token.len() == len {
                    return token;
                }
            }
        }
        panic!("no token of {len} bytes");
    };
    let a = check(&mut client, token_request(&sized(LIMIT))).await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = check(&mut client, token_request(&sized(LIMIT + 1))).await;
    assert_eq!(a.status, 401);
    assert!(
        service.decision(2).await["detail"]
            .as_str()
            .unwrap()
            .contains("too long"),
    );
}
