//! Hosts, paths, headers, tokens and bytes an attacker writes into a request.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn host_forms_envoy_routes_elsewhere_are_refused_and_the_same_host_matches_the_same_route() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let files_only = bearer(&access_claims("files/read"));
    let auth = [("authorization", files_only.as_str())];

    // Before: `admin.example.com:abc` matched the any-host route and a files/read token
    // reached the admin virtual host.
    for host in [
        "admin.example.com:abc",
        "admin.example.com:443.",
        "admin.example.com:",
        "admin.example.com:99999",
        "user@admin.example.com",
        "admin.example.com.",
        "admin.example.com ",
        "admin.example.com,other.example.com",
        "admin..example.com",
    ] {
        let a = check(&mut client, request("GET", host, "/files/report", &auth)).await;
        assert_eq!(a.status, 400, "{host:?}: {a:?}");
        assert_eq!(a.body, r#"{"message":"Bad Request"}"#);
        assert_eq!(a.metadata["reason"], "unsafe_host");
    }
    // Forms that are the same host as admin.example.com take its route.
    for host in [
        "admin.example.com",
        "ADMIN.Example.COM",
        "admin.example.com:443",
        "admin.example.com:8443",
    ] {
        let a = check(&mut client, request("GET", host, "/files/report", &auth)).await;
        assert_eq!(a.status, 401, "{host:?}: {a:?}");
        assert_eq!(a.metadata["route"], "admin-files");
        assert_eq!(a.metadata["reason"], "insufficient_scope");
    }
    let a = check(
        &mut client,
        request("GET", "api.example.com:8443", "/files/report", &auth),
    )
    .await;
    assert_eq!(a.status_and("route"), (200, "files"));
}

#[tokio::test(flavor = "multi_thread")]
async fn path_parameters_are_refused_before_any_route() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let files = bearer(&access_claims("files/read"));
    let auth = [("authorization", files.as_str())];
    // Tomcat, Jetty and Spring serve /files/admin/secret for these, behind `auth: deny`.
    for path in [
        "/files/admin;x/secret",
        "/files/admin%3Bx/secret",
        "/files;jsessionid=1/admin/secret",
        "/health;x",
        "/files/a#/../admin/secret",
    ] {
        let a = check(&mut client, request("GET", "api.example.com", path, &auth)).await;
        assert_eq!(a.status, 400, "{path}: {a:?}");
        assert_eq!(a.metadata["reason"], "unsafe_path");
    }
    let a = check(
        &mut client,
        request("GET", "api.example.com", "/files/a?x=1;y=2", &auth),
    )
    .await;
    assert_eq!(
        a.status, 200,
        "a ';' in the query string is no path parameter"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_headers_with_underscores_never_reach_the_upstream() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let files = bearer(&access_claims("files/read"));
    let forged = [
        ("x_cognito_sub", "forged"),
        ("X_Cognito_Groups", "admins"),
        ("x-cognito_username", "root"),
        ("x_cognito_client_id", "forged"),
        ("x_cognito_scope", "admin/all"),
        ("x_cognito_route", "admin"),
    ];
    let variants: Vec<String> = forged.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
    let mut authorized: Vec<(&str, &str)> = forged.to_vec();
    authorized.push(("authorization", files.as_str()));
    for (what, req) in [
        (
            "authorized",
            request("GET", "api.example.com", "/files/x", &authorized),
        ),
        (
            "public",
            request("GET", "api.example.com", "/health", &forged),
        ),
    ] {
        let a = check(&mut client, req).await;
        assert_eq!(a.status, 200, "{what}: {a:?}");
        for v in &variants {
            assert!(a.removed.contains(v), "{what}: {v} not removed: {a:?}");
            assert!(!a.headers.contains_key(v), "{what}: {v} set");
        }
    }
    // With encode_raw_headers, the same.
    let raw: Vec<(&str, &[u8])> = vec![
        ("x_cognito_sub", b"forged"),
        ("authorization", files.as_bytes()),
    ];
    let a = check(
        &mut client,
        raw_request("GET", "api.example.com", "/files/x", &raw),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.removed.contains(&"x_cognito_sub".to_owned()), "{a:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_sub_or_client_id_is_an_invalid_token() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    for claim in ["sub", "client_id"] {
        let mut claims = access_claims("files/read");
        claims[claim] = json!("");
        let token = bearer(&claims);
        let a = files_x(&mut client, &token).await;
        assert_eq!(a.status, 401, "{claim}: {a:?}");
        assert_eq!(a.metadata["reason"], "invalid_token", "{claim}");
        assert_eq!(
            a.headers["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_are_split_on_the_space_character_only() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    for scope in [
        "openid\tfiles/read",
        "openid\nfiles/read",
        "openid\u{a0}files/read",
    ] {
        let token = bearer(&access_claims(scope));
        let a = files_x(&mut client, &token).await;
        assert_eq!(a.status, 401, "{scope:?}: {a:?}");
        assert_eq!(a.metadata["reason"], "insufficient_scope");
    }
    let token = bearer(&access_claims("openid  files/read "));
    let a = files_x(&mut client, &token).await;
    assert_eq!(a.status, 200, "{a:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_token_from_a_clock_slightly_ahead_is_accepted_but_exp_stays_exact() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let decide = |claims: serde_json::Value| {
        let token = bearer(&claims);
        request(
            "GET",
            "api.example.com",
            "/files/x",
            &[("authorization", token.as_str())],
        )
    };
    // Issued 2 s "in the future" (Cognito's clock ahead of this pod's): accepted.
    for claim in ["iat", "nbf"] {
        let mut claims = access_claims("files/read");
        claims[claim] = json!(now() + 2);
        let a = check(&mut client, decide(claims)).await;
        assert_eq!(a.status, 200, "{claim}: {a:?}");
    }
    // A minute ahead is not skew.
    for (claim, reason) in [("iat", "invalid_token"), ("nbf", "invalid_token")] {
        let mut claims = access_claims("files/read");
        claims[claim] = json!(now() + 60);
        let a = check(&mut client, decide(claims)).await;
        assert_eq!(a.status_and("reason"), (401, reason), "{claim}");
    }
    // exp gets no skew: a token that expired a second ago is expired.
    let mut claims = access_claims("files/read");
    claims["exp"] = json!(now() - 1);
    let a = check(&mut client, decide(claims)).await;
    assert_eq!(a.body, r#"{"message":"The incoming token has expired"}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_that_are_not_utf8_get_a_decision_not_a_grpc_error() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let channel = Channel::from_shared(format!("http://{}", service.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let files = bearer(&access_claims("files/read"));
    let base = view_of(&request(
        "GET",
        "api.example.com",
        "/files/x",
        &[("authorization", &files)],
    ));
    let with = |f: &dyn Fn(&mut cognito_ext_authz::grpc::HttpRequestView)| {
        let mut v = base.clone();
        f(http_mut!(v));
        v
    };
    let bad = vec![b'G', 0xff, b'T'];
    let cases: Vec<(&str, CheckRequestView, u16)> = vec![
        ("method", with(&|h| h.method = bad.clone()), 400),
        ("host", with(&|h| h.host = bad.clone()), 400),
        ("path", with(&|h| h.path = vec![b'/', 0xc3, 0x28]), 400),
        (
            "token header",
            with(&|h| {
                for e in &mut h.headers {
                    if e.key == b"authorization" {
                        e.value = bad.clone();
                    }
                }
            }),
            401,
        ),
        (
            "another header",
            with(&|h| {
                h.headers.push(cognito_ext_authz::grpc::HeaderEntryView {
                    key: b"x-junk".to_vec(),
                    value: vec![0xff; 10],
                })
            }),
            200,
        ),
        (
            "a header name",
            with(&|h| {
                h.headers.push(cognito_ext_authz::grpc::HeaderEntryView {
                    key: vec![0xff; 4],
                    value: b"v".to_vec(),
                })
            }),
            200,
        ),
    ];
    for (what, view, want) in cases {
        let response = check_bytes(channel.clone(), view)
            .await
            .unwrap_or_else(|e| panic!("{what}: a gRPC error instead of a decision: {e}"));
        assert_eq!(denied_status(&response), want, "{what}");
    }
}

/// `GET api.example.com/files/x` with `authorization: {authorization}`.
async fn files_x(client: &mut CheckClient, authorization: &str) -> Answer {
    check(
        client,
        request(
            "GET",
            "api.example.com",
            "/files/x",
            &[("authorization", authorization)],
        ),
    )
    .await
}
