//! What a token gets: identity headers, metadata, each bad token's 401, any-of scopes and groups, 403 for a missing scope.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_the_scope_is_allowed_with_identity_headers() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let token = key(0).sign(&access_claims("openid user_management_lambdas/api email"));

    for value in [
        format!("Bearer {token}"),
        token.clone(),
        format!("bearer   {token}"),
    ] {
        let forged = [
            ("authorization", value.as_str()),
            ("x-cognito-sub", "forged-sub"),
            ("x-cognito-client-id", "forged-client"),
            ("x-cognito-route", "forged-route"),
        ];
        let a = check(
            &mut client,
            request("POST", "api.example.com", "/users/42?x=1", &forged),
        )
        .await;
        assert_eq!(a.status, 200, "{value:.10}… {a:?}");
        assert_eq!(
            a.headers["x-cognito-sub"],
            "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        );
        assert_eq!(a.headers["x-cognito-client-id"], CLIENT);
        assert_eq!(a.headers["x-cognito-username"], "alice");
        assert_eq!(
            a.headers["x-cognito-scope"],
            "openid user_management_lambdas/api email"
        );
        assert_eq!(a.headers["x-cognito-groups"], "admins");
        assert_eq!(a.headers["x-cognito-route"], "create-user");
        assert!(
            a.overwrites,
            "identity headers must overwrite what the client sent"
        );
        assert!(a.removed.is_empty(), "{:?}", a.removed);
        assert_eq!(a.metadata["sub"], "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        assert_eq!(a.metadata["client_id"], CLIENT);
        assert_eq!(a.metadata["route"], "create-user");
        assert_eq!(a.metadata["decision"], "allow");
        assert_eq!(a.metadata["groups"], "admins");
    }

    // A machine-to-machine token: no username, no groups. Those headers are removed, so a
    // client can never supply them itself.
    let mut m2m = access_claims(SCOPE);
    m2m["sub"] = json!(CLIENT);
    m2m.as_object_mut().unwrap().remove("username");
    m2m.as_object_mut().unwrap().remove("cognito:groups");
    let forged = [
        ("authorization", format!("Bearer {}", key(0).sign(&m2m))),
        ("x-cognito-username", "root".to_owned()),
        ("x-cognito-groups", "admins".to_owned()),
    ];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = check(&mut client, request("POST", "h", "/users/1", &forged)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["x-cognito-sub"], CLIENT);
    assert!(!a.headers.contains_key("x-cognito-username"));
    let mut removed = a.removed.clone();
    removed.sort();
    assert_eq!(removed, ["x-cognito-groups", "x-cognito-username"]);

    // Envoy's `encode_raw_headers: true` form.
    let bearer = format!("Bearer {token}");
    let a = raw_users_1(&mut client, &[("authorization", bearer.as_bytes())]).await;
    assert_eq!(a.status, 200);

    // The token never reaches the logs.
    let logs = service.logs();
    assert!(logs.contains(r#""decision":"allow""#), "{logs}");
    assert!(!logs.contains(token.split('.').nth(2).unwrap()));
    assert!(!logs.contains(token.split('.').nth(1).unwrap()));
    assert!(!logs.contains("x=1"), "query strings are never logged");
}

/// `AUTHZ_DYNAMIC_METADATA` off (its default; the kit turns it on): the same decisions
/// and headers, with nothing in `dynamic_metadata` for Envoy to apply.
#[tokio::test(flavor = "multi_thread")]
async fn dynamic_metadata_only_when_asked_for() {
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_DYNAMIC_METADATA", "false")]).await;
    let mut client = service.client().await;
    let bearer = format!("Bearer {}", key(0).sign(&access_claims(SCOPE)));
    let a = check(
        &mut client,
        request("POST", "h", "/users/1", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["x-cognito-route"], "create-user");
    assert!(a.metadata.is_empty(), "{:?}", a.metadata);
    let a = check(&mut client, request("POST", "h", "/users/1", &[])).await;
    assert_eq!((a.status, a.body.as_str()), (401, UNAUTHORIZED));
    assert!(a.metadata.is_empty(), "{:?}", a.metadata);
    // The decision is still logged.
    assert_eq!(service.decision(2).await["reason"], "no_token");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_token_is_a_401_with_the_right_body() {
    let (keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let good = access_claims(SCOPE);
    let sign = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = good.clone();
        f(&mut c);
        key(0).sign(&c)
    };
    let without = |claim: &str| {
        sign(&|c| {
            c.as_object_mut().unwrap().remove(claim);
        })
    };
    let valid = key(0).sign(&good);
    let [h, c, s]: [&str; 3] = valid.split('.').collect::<Vec<_>>().try_into().unwrap();

    let mut tampered_claims = good.clone();
    tampered_claims["scope"] = json!("user_management_lambdas/api admin/all");
    let tampered = format!("{h}.{}.{s}", b64_json(&tampered_claims));
    let mut bad_sig = s.as_bytes().to_vec();
    bad_sig[10] = if bad_sig[10] == b'A' { b'B' } else { b'A' };
    let bad_signature = format!("{h}.{c}.{}", String::from_utf8(bad_sig).unwrap());
    let none = format!(
        "{}.{c}.",
        b64_json(&json!({"alg": "none", "kid": key(0).kid}))
    );
    let hs256 = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(key(0).kid.clone());
        let secret = jsonwebtoken::EncodingKey::from_secret(key(0).public_pem.as_bytes());
        jsonwebtoken::encode(&header, &good, &secret).unwrap()
    };
    let unknown_key = key(1).sign(&good);
    // `jku`/`x5u`/`jwk` in the header are ignored: keys only ever come from the policy.
    let jku = key(1).sign_with_header(
        &json!({"alg": "RS256", "kid": key(1).kid, "jku": keys.jwks_uri("evil"), "jwk": key(1).jwk}),
        &good,
    );
    let rs256_unknown_kid = key(0).sign_with_header(&json!({"alg": "RS256", "kid": "nope"}), &good);
    let no_kid = key(0).sign_with_header(&json!({"alg": "RS256"}), &good);
    let crit = key(0).sign_with_header(
        &json!({"alg": "RS256", "kid": key(0).kid, "crit": ["exp"]}),
        &good,
    );
    let ps256 = key(0).sign_with_header(&json!({"alg": "PS256", "kid": key(0).kid}), &good);

    let cases: Vec<(&str, String, &str)> = vec![
        ("bad signature", bad_signature, UNAUTHORIZED),
        ("tampered claims", tampered, UNAUTHORIZED),
        (
            "expired",
            sign(&|c| {
                c["exp"] = json!(now() - 10);
                c["iat"] = json!(now() - 3610);
            }),
            EXPIRED,
        ),
        (
            "wrong issuer",
            sign(&|c| c["iss"] = json!(issuer("eu-west-1_zzzzzzzzz"))),
            UNAUTHORIZED,
        ),
        (
            "issuer with trailing slash",
            sign(&|c| c["iss"] = json!(format!("{}/", issuer(POOL)))),
            UNAUTHORIZED,
        ),
        (
            "ID token",
            sign(&|c| {
                c["token_use"] = json!("id");
                c["aud"] = json!(CLIENT);
            }),
            UNAUTHORIZED,
        ),
        ("no token_use", without("token_use"), UNAUTHORIZED),
        (
            "other app client",
            sign(&|c| c["client_id"] = json!("1otherclient234567890")),
            UNAUTHORIZED,
        ),
        ("alg none", none, UNAUTHORIZED),
        ("HS256 signed with the public key", hs256, UNAUTHORIZED),
        ("key the pool does not have", unknown_key, UNAUTHORIZED),
        ("jku and embedded jwk", jku, UNAUTHORIZED),
        ("unknown kid", rs256_unknown_kid, UNAUTHORIZED),
        ("no kid", no_kid, UNAUTHORIZED),
        ("alg PS256", ps256, UNAUTHORIZED),
        ("crit header", crit, UNAUTHORIZED),
        ("no exp", without("exp"), UNAUTHORIZED),
        (
            "exp as a string",
            sign(&|c| c["exp"] = json!("9999999999")),
            UNAUTHORIZED,
        ),
        (
            "nbf in the future",
            sign(&|c| c["nbf"] = json!(now() + 600)),
            UNAUTHORIZED,
        ),
        (
            "iat in the future",
            sign(&|c| c["iat"] = json!(now() + 600)),
            UNAUTHORIZED,
        ),
        ("garbage", "not-a-jwt".into(), UNAUTHORIZED),
        ("two parts", format!("{h}.{c}"), UNAUTHORIZED),
        ("four parts", format!("{valid}.x"), UNAUTHORIZED),
        ("not base64", format!("{h}.!!!.{s}"), UNAUTHORIZED),
        ("huge", "a".repeat(20_000), UNAUTHORIZED),
    ];
    for (name, token, body) in cases {
        let a = check(&mut client, token_request(&token)).await;
        assert_eq!(a.status, 401, "{name}: {a:?}");
        assert_eq!(a.body, body, "{name}");
        assert_eq!(a.headers["www-authenticate"], INVALID, "{name}");
        assert_eq!(a.headers["content-type"], "application/json", "{name}");
        assert_eq!(a.grpc_code, 16, "{name}: UNAUTHENTICATED");
    }

    // No token at all, or nothing usable: 401 with a plain Bearer challenge.
    for headers in [
        vec![],
        vec![("authorization", "")],
        vec![("authorization", "Bearer")],
        vec![("authorization", "Basic dXNlcjpwYXNz")],
        vec![("x-token", valid.as_str())],
    ] {
        let a = check(&mut client, request("POST", "h", "/users/1", &headers)).await;
        assert_eq!(a.status, 401, "{headers:?}");
        assert_eq!(a.headers["www-authenticate"], "Bearer");
        assert_eq!(a.body, UNAUTHORIZED);
    }
    let twice = format!("Bearer {valid}");
    let a = raw_users_1(
        &mut client,
        &[
            ("authorization", twice.as_bytes()),
            ("authorization", twice.as_bytes()),
        ],
    )
    .await;
    assert_eq!(a.status, 401, "a token header sent twice is no token");
    assert_eq!(a.headers["www-authenticate"], "Bearer");

    let logs = service.logs();
    for reason in [
        "bad_signature",
        "expired",
        "unknown_issuer",
        "not_access_token",
        "client_not_allowed",
        "algorithm",
        "no exp claim",
    ] {
        let found = logs
            .lines()
            .any(|l| l.contains(r#""decision":"deny""#) && l.contains(reason));
        assert!(found, "no denial logged with {reason}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_and_groups_are_any_of() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let call = |scope: &str, path: &str| {
        let token = key(0).sign(&access_claims(scope));
        (
            request(
                "POST",
                "h",
                path,
                &[("authorization", &format!("Bearer {token}"))],
            ),
            (),
        )
    };

    let (r, _) = call("openid email", "/users/1");
    let a = check(&mut client, r).await;
    assert_eq!((a.status, a.body.as_str()), (401, UNAUTHORIZED));
    assert_eq!(
        a.headers["www-authenticate"],
        r#"Bearer error="insufficient_scope""#
    );
    // Scope names are matched whole, never as prefixes or substrings.
    let (r, _) = call(
        "user_management_lambdas/api2 user_management_lambdas",
        "/users/1",
    );
    assert_eq!(check(&mut client, r).await.status, 401);
    let (r, _) = call("", "/me");
    assert_eq!(
        check(&mut client, r).await.status,
        200,
        "no scopes: any valid token"
    );
    let (r, _) = call("", "/admin");
    assert_eq!(check(&mut client, r).await.status, 200, "in group admins");
    let (r, _) = call(SCOPE, "/ops");
    let a = check(&mut client, r).await;
    assert_eq!(a.status, 401, "not in group ops");
    assert_eq!(a.metadata["reason"], "insufficient_group");
}

#[tokio::test(flavor = "multi_thread")]
async fn insufficient_scope_can_answer_403() {
    let (_keys, service) =
        keys_and_service(BIN, &format!("insufficientScopeStatus: 403\n{ROUTES}"), &[]).await;
    let mut client = service.client().await;
    let token = key(0).sign(&access_claims("openid"));
    let a = check(&mut client, token_request(&token)).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body, r#"{"message":"Forbidden"}"#);
    assert_eq!(
        a.headers["www-authenticate"],
        r#"Bearer error="insufficient_scope""#
    );
    // Other denials keep their API Gateway status.
    let a = check(&mut client, request("POST", "h", "/users/1", &[])).await;
    assert_eq!(a.status, 401);
}

/// The answer to `POST h/users/1` with `headers` in Envoy's `encode_raw_headers: true` form.
async fn raw_users_1(client: &mut CheckClient, headers: &[(&str, &[u8])]) -> Answer {
    check(client, raw_request("POST", "h", "/users/1", headers)).await
}
