//! The list in force while serving: each kind of entry, the cache, reloads, start-up.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_entry_revokes_its_tokens_and_nothing_else() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let signed_out = now() - 100;
    let list = format!(
        "revocations:\n  - jti: 6F1C0000-0000-4000-8000-00000000000A\n    reason: leaked in a log\n  - originJti: 0b7e0000-0000-4000-8000-00000000000b\n  - sub: user-signed-out\n    issuedBefore: {signed_out}\n"
    );
    let mut service = Service::start_with_revocations(BIN, &policy(&keys, ROUTES), &list, &[]);
    service.wait_ready().await;
    let fresh = |n: u32| format!("fresh-{n}");
    let mut n = 0;

    // jti (listed in upper case; Cognito's are lower case): one token.
    let (revoked, line) = decided(
        &service,
        &token(
            "6f1c0000-0000-4000-8000-00000000000a",
            &fresh(1),
            "u1",
            now(),
        ),
        &mut n,
    )
    .await;
    assert_eq!(line["reason"], "revoked");
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .starts_with("revoked: revoked by revocations[0] (jti)"),
        "{line}"
    );
    // Answered exactly as any other invalid token.
    let (forged, line) = decided(&service, &key(1).sign(&access_claims(SCOPE)), &mut n).await;
    assert_eq!(line["reason"], "invalid_token");
    assert_eq!(
        (revoked.status, &revoked.headers, &revoked.body),
        (forged.status, &forged.headers, &forged.body)
    );
    assert_eq!(revoked.status, 401);
    assert_eq!(
        revoked.headers["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );

    // originJti: every token of the session, whatever its jti.
    for i in 2..4 {
        let t = token(
            &fresh(i),
            "0b7e0000-0000-4000-8000-00000000000b",
            "u1",
            now(),
        );
        let (answer, line) = decided(&service, &t, &mut n).await;
        assert_eq!((answer.status, &line["reason"]), (401, &json!("revoked")));
        assert!(
            line["detail"]
                .as_str()
                .unwrap()
                .contains("revocations[1] (originJti)")
        );
    }

    // sub + issuedBefore: iat before is revoked, iat equal or after is not.
    let before = token(&fresh(4), &fresh(4), "user-signed-out", signed_out - 1);
    assert_eq!(service.check_token(&before).await.status, 401);
    let at = token(&fresh(5), &fresh(5), "user-signed-out", signed_out);
    assert_eq!(
        service.check_token(&at).await.status,
        200,
        "iat == issuedBefore"
    );
    let after = token(&fresh(6), &fresh(6), "user-signed-out", now());
    assert_eq!(service.check_token(&after).await.status, 200);
    // A token without iat of a listed sub: nothing shows it is newer.
    let mut claims = access_claims(SCOPE);
    claims["sub"] = json!("user-signed-out");
    claims.as_object_mut().unwrap().remove("iat");
    assert_eq!(service.check_token(&key(0).sign(&claims)).await.status, 401);

    // Controls: other ids and subs pass; a token without jti/origin_jti too.
    let other = token(&fresh(7), &fresh(7), "u2", signed_out - 1);
    assert_eq!(service.check_token(&other).await.status, 200);
    let mut bare = access_claims(SCOPE);
    bare.as_object_mut().unwrap().remove("jti");
    bare.as_object_mut().unwrap().remove("origin_jti");
    assert_eq!(service.check_token(&key(0).sign(&bare)).await.status, 200);

    assert_eq!(
        service
            .metric(
                DECISIONS,
                &[r#"reason="revoked""#, r#"route="create-user""#]
            )
            .await,
        5.0
    );
    assert_eq!(service.metric(SIZE, &[r#"kind="jti""#]).await, 1.0);
    assert_eq!(service.metric(SIZE, &[r#"kind="origin_jti""#]).await, 1.0);
    assert_eq!(service.metric(SIZE, &[r#"kind="sub""#]).await, 1.0);
    assert_eq!(service.metric(RELOADS, &[r#"result="success""#]).await, 1.0);
    let logs = service.logs();
    assert!(logs.contains("revocation list loaded"), "{logs}");
    // Never a token in the log: the revoked one's signature part is nowhere.
    let t = token("6f1c0000-0000-4000-8000-00000000000a", "x", "u", now());
    assert!(!logs.contains(t.rsplit('.').next().unwrap()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_is_refused_from_the_moment_the_new_list_is_in_force() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let policy = policy(&keys, ROUTES);
    let mut service = Service::start_with_revocations(BIN, &policy, "revocations: []\n", &[]);
    service.wait_ready().await;
    let cached = token("cached-jti", "cached-session", "u1", now());
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.metric(HITS, &[]).await, 1.0, "the token is cached");

    let list = "revocations:\n  - originJti: cached-session\n    reason: RevokeToken\n";
    swap_revocations(&mut service, &policy, list, "success").await;
    assert_eq!(service.metric(SIZE, &[r#"kind="origin_jti""#]).await, 1.0);
    assert_eq!(service.check_token(&cached).await.status, 401);
    assert_eq!(service.decision(3).await["reason"], "revoked");
    assert_eq!(
        service.metric(HITS, &[]).await,
        2.0,
        "still a cache hit: the list is looked up on every use of a verified token"
    );
    // The control: another session's token still passes.
    let other = token("other-jti", "other-session", "u1", now());
    assert_eq!(service.check_token(&other).await.status, 200);

    // Taken off the list: the token passes again.
    swap_revocations(&mut service, &policy, "revocations: []\n", "success").await;
    assert_eq!(service.check_token(&cached).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_list_is_refused_and_the_last_good_one_stays() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let policy = policy(&keys, ROUTES);
    let mut service = Service::start_with_revocations(
        BIN,
        &policy,
        "revocations:\n  - jti: first\n",
        &[("AUTHZ_POLICY_QUIET_MS", "100")],
    );
    service.wait_ready().await;
    let first = token("first", "s1", "u1", now());
    let second = token("second", "s2", "u1", now());
    assert_eq!(service.check_token(&first).await.status, 401);
    assert_eq!(service.check_token(&second).await.status, 200);

    // Each broken version names `second` too: none of them may be taken in part.
    let huge = format!(
        "revocations:\n  - jti: second\n# {}\n",
        "x".repeat(16 * 1024 * 1024)
    );
    let broken: [(&str, &str); 4] = [
        ("revocations:\n  - jti: second\n    reasn: typo\n", "reasn"),
        (
            "revocations:\n  - jti: second\n  - sub: u1\n",
            "revocations[1]: sub needs issuedBefore",
        ),
        (
            "revocations:\n  - jti: second\n  - sub: u1\n    issuedBefore: tomorrow\n",
            "revocations[1].issuedBefore: \\\"tomorrow\\\" is not an RFC 3339 time",
        ),
        (&huge, "is larger than the 16777216 allowed"),
    ];
    for (n, (text, error)) in broken.iter().enumerate() {
        swap_revocations(&mut service, &policy, text, "failure").await;
        assert_eq!(
            service.metric(RELOADS, &[r#"result="failure""#]).await,
            (n + 1) as f64
        );
        assert_eq!(
            service.check_token(&first).await.status,
            401,
            "last good list lost"
        );
        assert_eq!(
            service.check_token(&second).await.status,
            200,
            "broken list taken"
        );
        let logs = service.logs();
        let refused: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("revocation list refused"))
            .collect();
        assert_eq!(refused.len(), n + 1, "{logs}");
        assert!(refused[n].contains(error), "{error} not in {}", refused[n]);
    }
    // The file gone from the ConfigMap: refused too, the last good list stays.
    let before = service.metric(RELOADS, &[r#"result="failure""#]).await;
    service.swap_files(&[("policy.yaml", &policy)]);
    eventually(30, "the missing file refused", || async {
        service.metric(RELOADS, &[r#"result="failure""#]).await > before
    })
    .await;
    assert_eq!(service.check_token(&first).await.status, 401);
    let mut client = service.client().await;
    assert_eq!(
        check(&mut client, request("GET", "h", "/nope", &[]))
            .await
            .status,
        403,
        "still deciding"
    );

    // A good version after bad ones is taken.
    swap_revocations(
        &mut service,
        &policy,
        "revocations:\n  - jti: second\n",
        "success",
    )
    .await;
    assert_eq!(service.check_token(&first).await.status, 200);
    assert_eq!(service.check_token(&second).await.status, 401);
    assert_eq!(service.metric(SIZE, &[r#"kind="jti""#]).await, 1.0);
    assert!(service.running());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_rewritten_in_place_is_taken_once_quiet() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    // A plain file (not a kubelet folder), rewritten in place.
    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    let path = service.revocations_path();
    std::fs::write(&path, "revocations: []\n").unwrap();
    service.spawn(&[
        ("AUTHZ_REVOCATIONS_PATH", path.to_str().unwrap()),
        ("AUTHZ_POLICY_QUIET_MS", "300"),
    ]);
    service.wait_ready().await;
    let t = token("in-place", "s", "u", now());
    assert_eq!(service.check_token(&t).await.status, 200);
    std::fs::write(&path, "revocations:\n  - jti: in-place\n").unwrap();
    eventually(30, "the rewritten list", || async {
        service.check_token(&t).await.status == 401
    })
    .await;
    assert_eq!(service.metric(RELOADS, &[r#"result="success""#]).await, 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_is_refused_without_a_valid_list() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let invalid = "revocations:\n  - jti: a\n    originJti: b\n";
    let mut service = Service::start_with_revocations(BIN, &policy(&keys, ROUTES), invalid, &[]);
    assert_eq!(
        service.wait_exit(std::time::Duration::from_secs(20)).await,
        Some(1)
    );
    let logs = service.logs();
    assert!(
        logs.contains("revocations[0]: names jti and originJti"),
        "{logs}"
    );
    assert!(
        logs.contains("revocations.yaml"),
        "the file is named: {logs}"
    );

    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    let missing = service.revocations_path();
    service.spawn(&[("AUTHZ_REVOCATIONS_PATH", missing.to_str().unwrap())]);
    assert_eq!(
        service.wait_exit(std::time::Duration::from_secs(20)).await,
        Some(1)
    );
    assert!(
        service.logs().contains("revocations.yaml"),
        "{}",
        service.logs()
    );

    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    service.spawn(&[("AUTHZ_REVOCATIONS_PATH", "")]);
    assert_eq!(
        service.wait_exit(std::time::Duration::from_secs(20)).await,
        Some(2)
    );
    assert!(
        service
            .logs()
            .contains("AUTHZ_REVOCATIONS_PATH: must not be empty")
    );
}
