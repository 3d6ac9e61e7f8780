//! The admin port: `/metrics` counts what the service decided, `/healthz` and `/readyz`.

mod support;

use support::*;

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n  - name: health\n    path: /health\n    auth: none\n";

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            (series == name || series.starts_with(&format!("{name}{{")))
                && labels.iter().all(|want| series.contains(want))
        })
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_decisions_latency_and_cache_use() {
    let keys = KeyServer::start().await;
    keys.publish(POOL, key(0));
    let mut service = Service::start(&policy(&keys, ROUTES), &[]);
    service.wait_ready().await;
    let mut client = service.client().await;
    let bearer = format!("Bearer {}", key(0).sign(&access_claims(SCOPE)));
    for _ in 0..3 {
        let a = check(
            &mut client,
            request("POST", "h", "/users/1", &[("authorization", &bearer)]),
        )
        .await;
        assert_eq!(a.status, 200);
    }
    check(&mut client, request("POST", "h", "/users/1", &[])).await;
    check(&mut client, request("GET", "h", "/health", &[])).await;
    check(&mut client, request("GET", "h", "/nowhere", &[])).await;
    check(&mut client, request("GET", "h", "/a/../b", &[])).await;

    let m = service.metrics().await;
    let decisions = "cognito_ext_authz_decisions_total";
    let count = |labels: &[&str]| sample(&m, decisions, labels);
    assert_eq!(
        count(&[
            r#"result="allow""#,
            r#"reason="authorized""#,
            r#"route="create-user""#
        ]),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        count(&[
            r#"result="deny""#,
            r#"reason="no_token""#,
            r#"route="create-user""#
        ]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        count(&[
            r#"result="allow""#,
            r#"reason="public_route""#,
            r#"route="health""#
        ]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        count(&[r#"result="deny""#, r#"reason="no_route""#]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        count(&[r#"result="deny""#, r#"reason="unsafe_path""#]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "cognito_ext_authz_check_duration_seconds_count", &[]),
        Some(7.0),
        "{m}"
    );
    assert!(
        m.contains("cognito_ext_authz_check_duration_seconds_bucket{le=\"0.001\"}"),
        "{m}"
    );
    // The same token three times: verified once, then answered from the cache.
    assert_eq!(
        sample(&m, "cognito_ext_authz_token_cache_misses_total", &[]),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "cognito_ext_authz_token_cache_hits_total", &[]),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "cognito_ext_authz_key_fetches_total",
            &[&format!("pool=\"{POOL}\""), r#"result="success""#]
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            "cognito_ext_authz_policy_reloads_total",
            &[r#"result="success""#]
        ),
        Some(1.0),
        "{m}"
    );

    for (path, want) in [("/healthz", 200), ("/readyz", 200), ("/nope", 404)] {
        let r = reqwest::get(format!("http://{}{path}", service.admin))
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{path}");
    }
}
