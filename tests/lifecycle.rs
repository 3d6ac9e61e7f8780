//! Keys, reloads, health and signals (docs/decisions.md-4), against the real service process.
//!
//! Why one file of this length: every test drives one process through its life (keys, reloads,
//! health, drain, exit) with the same routes and helpers; each `tests/*.rs` is a binary of its
//! own linked against the whole service, so a split would cost a link for no clearer reading.

use std::time::Duration;

use serde_json::json;
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// A token signed by `key` that no earlier check has seen (so it is verified, not cached).
fn fresh_token(signer: &SigningKey, n: u64) -> String {
    let mut claims = access_claims(SCOPE);
    claims["jti"] = json!(format!("fresh-{n}"));
    signer.sign(&claims)
}

/// The status of `POST /users/1` with `token`, over a new connection to `grpc`.
async fn status_at(grpc: std::net::SocketAddr, token: String) -> u16 {
    let mut client =
        cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient::connect(
            format!("http://{grpc}"),
        )
        .await
        .unwrap();
    check(&mut client, token_request(&token)).await.status
}

/// Checks every token at once, each over its own connection.
async fn statuses_concurrently(grpc: std::net::SocketAddr, tokens: Vec<String>) -> Vec<u16> {
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|t| tokio::spawn(status_at(grpc, t)))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_not_serving_until_every_pools_keys_are_loaded() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    keys.set_down(true);
    let service = Service::start(BIN, &policy(&keys, ROUTES), &[]);
    let _ = service.client().await;
    eventually(30, "a failed key fetch", || async { keys.fetches() >= 1 }).await;
    assert_eq!(service.health("").await, NOT_SERVING);
    assert_eq!(
        service.health("envoy.service.auth.v3.Authorization").await,
        NOT_SERVING
    );
    let ready = reqwest::get(format!("http://{}/readyz", service.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    // Checks are answered meanwhile, and a token cannot be verified without keys.
    assert_eq!(
        service.check_token(&fresh_token(key(0), 1)).await.status,
        401
    );

    keys.set_down(false);
    eventually(30, "SERVING after the key server recovers", || async {
        service.health("").await == SERVING
    })
    .await;
    assert_eq!(
        service.health("envoy.service.auth.v3.Authorization").await,
        SERVING
    );
    assert_eq!(
        service.check_token(&fresh_token(key(0), 2)).await.status,
        200
    );
    let metrics = service.metrics().await;
    assert!(
        metrics.contains(&format!(
            "cognito_ext_authz_key_fetches_total{{pool=\"{POOL}\",result=\"failure\"}}"
        )),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_keys_are_picked_up_and_last_good_keys_survive_outages() {
    // No cooldown: every unknown kid refetches, so each step below really fetches.
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "0")]).await;
    assert_eq!(
        service.check_token(&fresh_token(key(0), 1)).await.status,
        200
    );

    // Cognito adds a key: a token signed with it triggers one refetch and is accepted.
    keys.publish(POOL, key(1));
    let before = keys.fetches();
    assert_eq!(
        service.check_token(&fresh_token(key(1), 2)).await.status,
        200
    );
    assert_eq!(keys.fetches(), before + 1);

    // The key server goes down: an unknown kid makes a refetch that fails...
    keys.set_down(true);
    let failed =
        format!("cognito_ext_authz_key_fetches_total{{pool=\"{POOL}\",result=\"failure\"}}");
    assert_eq!(service.metric(&failed, &[]).await, 0.0);
    assert_eq!(
        service.check_token(&fresh_token(key(2), 3)).await.status,
        401
    );
    assert_eq!(keys.fetches(), before + 2, "the refetch was attempted");
    assert_eq!(service.metric(&failed, &[]).await, 1.0);
    // ...and the known keys keep working after it, for tokens never seen before.
    assert_eq!(
        service.check_token(&fresh_token(key(0), 4)).await.status,
        200
    );
    assert_eq!(
        service.check_token(&fresh_token(key(1), 5)).await.status,
        200
    );

    // A key leaves the key set: tokens signed with it stop working, cached ones included.
    let cached = fresh_token(key(0), 6);
    assert_eq!(service.check_token(&cached).await.status, 200);
    assert_eq!(service.check_token(&cached).await.status, 200);
    keys.set_down(false);
    keys.withdraw(POOL, &key(0).kid);
    assert_eq!(
        service.check_token(&fresh_token(key(2), 7)).await.status,
        401
    ); // triggers a refetch
    assert_eq!(keys.fetches(), before + 3);
    assert_eq!(service.check_token(&cached).await.status, 401);
    assert_eq!(
        service.check_token(&fresh_token(key(1), 8)).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_kids_share_one_refetch_per_cooldown() {
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "600")]).await;
    let before = keys.fetches();

    let unknown_kid = |prefix: &str, n: usize| {
        key(0).sign_with_header(
            &json!({"alg": "RS256", "kid": format!("{prefix}-{n}")}),
            &access_claims(SCOPE),
        )
    };
    let tokens = (0..64).map(|n| unknown_kid("attacker", n)).collect();
    let statuses = statuses_concurrently(service.grpc, tokens).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    for n in 0..64 {
        assert_eq!(
            service.check_token(&unknown_kid("again", n)).await.status,
            401
        );
    }
    assert_eq!(
        keys.fetches() - before,
        1,
        "one refetch for every unknown kid within the cooldown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_unknown_kids_wait_for_one_fetch() {
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "600")]).await;
    let before = keys.fetches();
    // key(1) is published now; 32 concurrent checks with its tokens need its kid.
    keys.publish(POOL, key(1));
    let tokens = (0..32).map(|n| fresh_token(key(1), 100 + n)).collect();
    let statuses = statuses_concurrently(service.grpc, tokens).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        keys.fetches() - before,
        1,
        "concurrent misses shared one fetch"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configmap_update_reloads_the_policy_and_a_bad_one_is_refused() {
    // No polling fallback: the change must be seen through the folder watch.
    let (keys, mut service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_POLICY_POLL_SECONDS", "3600")]).await;
    let token = fresh_token(key(0), 1);
    assert_eq!(service.check_token(&token).await.status, 200);

    service.swap_policy(&policy(
        &keys,
        "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [other/scope]\n",
    ));
    eventually(30, "the new policy in force", || async {
        service.check_token(&token).await.status == 401
    })
    .await;

    // A broken policy is refused; the last good one keeps answering.
    service.swap_policy(&policy(
        &keys,
        "routes:\n  - path: /users/{id\n    scopes: [a/b]\n",
    ));
    eventually(30, "the refusal logged", || async {
        service.logs().contains("policy refused")
    })
    .await;
    assert!(service.logs().contains("routes[0] (/users/{id).path"));
    assert_eq!(service.check_token(&token).await.status, 401);
    let mut client = service.client().await;
    let a = check(&mut client, request("POST", "h", "/users/1", &[])).await;
    assert_eq!(
        a.headers["www-authenticate"], "Bearer",
        "still the last good policy"
    );
    let metrics = service.metrics().await;
    assert!(
        metrics.contains("cognito_ext_authz_policy_reloads_total{result=\"failure\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cognito_ext_authz_policy_reloads_total{result=\"success\"} 2"),
        "{metrics}"
    );

    // Fixing it takes effect again.
    service.swap_policy(&policy(&keys, ROUTES));
    eventually(30, "the fixed policy in force", || async {
        service.check_token(&token).await.status == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_policy_file_rewritten_in_place_reloads() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let mut service = Service::start_in(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_POLICY_POLL_SECONDS", "3600")],
        false,
    );
    service.wait_ready().await;
    let token = fresh_token(key(0), 1);
    assert_eq!(service.check_token(&token).await.status, 200);
    std::fs::write(
        service.policy_path(),
        policy(
            &keys,
            "defaultAction: deny\nroutes:\n  - path: /other\n    auth: none\n",
        ),
    )
    .unwrap();
    eventually(30, "the rewritten policy in force", || async {
        service.check_token(&token).await.status == 403
    })
    .await;
}

/// The drain after `signal`: NOT_SERVING and /readyz 503, yet checks still answered on
/// the connection Envoy holds; the drain is long (600 s) so nothing here races it, and a
/// second signal ends it: exit 0.
async fn drains_on(signal: &str) {
    let (_keys, mut service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_DRAIN_SECONDS", "600")]).await;
    let mut client = service.client().await;
    service.signal(signal);
    eventually(30, "NOT_SERVING while draining", || async {
        service.health("").await == NOT_SERVING
    })
    .await;
    let ready = reqwest::get(format!("http://{}/readyz", service.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    for n in 0..3 {
        let token = fresh_token(key(0), n);
        let a = check(&mut client, token_request(&token)).await;
        assert_eq!(a.status, 200);
        let a = check(&mut client, request("POST", "h", "/users/1", &[])).await;
        assert_eq!(a.status, 401);
    }
    assert!(service.running(), "still draining");
    service.signal(signal);
    assert_eq!(service.wait_exit(Duration::from_secs(30)).await, Some(0));
    let logs = service.logs();
    let name = format!("SIG{signal}");
    assert!(
        logs.lines()
            .any(|l| l.contains("draining") && l.contains(&name)),
        "{logs}"
    );
    assert!(logs.contains("second signal; stopping now"), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_a_second_signal_ends_the_drain() {
    drains_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_drains_like_sigterm() {
    drains_on("INT").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drain_ends_by_itself_and_the_process_exits_zero() {
    let (_keys, mut service) = keys_and_service(BIN, ROUTES, &[("AUTHZ_DRAIN_SECONDS", "1")]).await;
    service.signal("TERM");
    assert_eq!(service.wait_exit(Duration::from_secs(30)).await, Some(0));
    assert!(!service.logs().contains("second signal"));
}

/// The service (no key fetch cooldown, a long fetch timeout) with a check in flight: the
/// check waits for a key set fetch the test holds open until `held` is cleared.
struct InFlight {
    keys: KeyServer,
    service: Service,
    held: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The task answering the check.
    check: tokio::task::JoinHandle<Answer>,
}

async fn a_check_in_flight() -> InFlight {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let held = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let service = Service::ready(
        BIN,
        &policy(&keys, ROUTES),
        &[
            ("AUTHZ_JWKS_COOLDOWN_SECONDS", "0"),
            ("AUTHZ_JWKS_TIMEOUT_SECONDS", "60"),
        ],
    )
    .await;
    // key(1) is new to the service: its token makes the service refetch, and wait.
    keys.publish(POOL, key(1));
    keys.answer(POOL, Answering::Hold(held.clone()));
    let before = keys.fetches();
    let mut client = service.client().await;
    let token = fresh_token(key(1), 99);
    let task = tokio::spawn(async move { check(&mut client, token_request(&token)).await });
    eventually(30, "the check to wait on its key fetch", || async {
        keys.fetches() > before
    })
    .await;
    InFlight {
        keys,
        service,
        held,
        check: task,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn in_flight_checks_finish_at_shutdown() {
    let InFlight {
        keys: _keys,
        mut service,
        held,
        check: in_flight,
    } = a_check_in_flight().await;

    // SIGTERM with no drain: the listeners close (new connections are refused)...
    service.signal("TERM");
    let grpc = service.grpc;
    eventually(30, "the gRPC listener to close", || async move {
        tokio::net::TcpStream::connect(grpc).await.is_err()
    })
    .await;
    assert!(
        service.running(),
        "the process waits for the check in flight"
    );
    // ...and the check in flight still gets its answer once its key fetch completes.
    held.store(false, std::sync::atomic::Ordering::SeqCst);
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(service.wait_exit(Duration::from_secs(30)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn in_flight_checks_finish_under_the_policy_they_started_with() {
    let InFlight {
        keys,
        mut service,
        held,
        check: in_flight,
    } = a_check_in_flight().await;

    // A new policy asks for another scope; it is in force before the check finishes.
    service.swap_policy(&policy(
        &keys,
        "routes:
  - name: create-user
    path: /users/{id}
    scopes: [other/scope]
",
    ));
    eventually(30, "the new policy in force", || async {
        service.check_token(&fresh_token(key(0), 7)).await.status == 401
    })
    .await;
    held.store(false, std::sync::atomic::Ordering::SeqCst);
    let answer = in_flight.await.unwrap();
    assert_eq!(
        answer.status, 200,
        "decided under the old policy: {answer:?}"
    );
    assert_eq!(
        service.check_token(&fresh_token(key(1), 8)).await.status,
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_polling_fallback_alone_picks_up_a_change() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    // The policy file lives in another folder, behind a symlink in the watched one: a
    // rewrite of it makes no event in the watched folder, only polling can see it.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = write(elsewhere.path(), "policy.yaml", &policy(&keys, ROUTES));
    let mut service = Service::prepare(BIN, "");
    std::fs::remove_file(service.policy_path()).unwrap();
    std::os::unix::fs::symlink(&target, service.policy_path()).unwrap();
    service.spawn(&[("AUTHZ_POLICY_POLL_SECONDS", "1")]);
    service.wait_ready().await;
    let token = fresh_token(key(0), 1);
    assert_eq!(service.check_token(&token).await.status, 200);
    std::fs::write(
        &target,
        policy(
            &keys,
            "routes:
  - name: create-user
    path: /users/{id}
    scopes: [other/scope]
",
        ),
    )
    .unwrap();
    eventually(60, "the polled change in force", || async {
        service.check_token(&token).await.status == 401
    })
    .await;
    assert_eq!(
        service
            .metric(
                "cognito_ext_authz_policy_reloads_total",
                &[r#"result="success""#]
            )
            .await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn command_line_flags_override_the_environment() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let mut service = Service::prepare(BIN, &policy(&keys, ROUTES));
    let (env_grpc, env_admin) = (free_port().to_string(), free_port().to_string());
    let (grpc, admin) = (service.grpc.to_string(), service.admin.to_string());
    let policy_path = service.policy_path().to_str().unwrap().to_owned();
    let revocations = write(
        service.dir.path(),
        "revocations.yaml",
        "revocations:\n  - jti: fresh-2\n",
    );
    service.spawn_with_args(
        &[
            ("AUTHZ_LISTEN_ADDR", &env_grpc),
            ("AUTHZ_ADMIN_ADDR", &env_admin),
            ("AUTHZ_POLICY_PATH", "/nonexistent/policy.yaml"),
            // A missing list stops the start (exit 1): only the flag's list is read.
            ("AUTHZ_REVOCATIONS_PATH", "/nonexistent/revocations.yaml"),
        ],
        &[
            "--listen",
            &grpc,
            "--admin",
            &admin,
            "--policy",
            &policy_path,
            "--revocations",
            revocations.to_str().unwrap(),
        ],
    );
    service.wait_ready().await; // on the --admin address, with the --policy file
    assert_eq!(
        service.check_token(&fresh_token(key(0), 1)).await.status,
        200
    ); // on --listen
    // The --revocations list is in force: the token it names is refused.
    assert_eq!(
        service.check_token(&fresh_token(key(0), 2)).await.status,
        401
    );
    assert_eq!(service.decision(2).await["reason"], "revoked");
    for unused in [&env_grpc, &env_admin] {
        assert!(
            tokio::net::TcpStream::connect(unused.as_str())
                .await
                .is_err(),
            "{unused} (from the environment) must not be listened on"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_setting_is_named_in_a_warning_and_the_service_still_serves() {
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_TOKEN_CACHE_ENTRYS", "5")]).await;
    eventually(
        30,
        "the warning naming AUTHZ_TOKEN_CACHE_ENTRYS",
        || async {
            service
                .logs()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .any(|l| {
                    l["level"] == "WARN"
                        && l["message"].as_str().is_some_and(|m| {
                            m.starts_with(
                                "ignoring unknown setting AUTHZ_TOKEN_CACHE_ENTRYS (known: ",
                            )
                        })
                })
        },
    )
    .await;
    assert_eq!(
        service.check_token(&fresh_token(key(0), 1)).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_errors_are_clear() {
    let keys = KeyServer::start().await;
    let mut service = Service::start(
        BIN,
        &policy(
            &keys,
            "routes:\n  - path: /a\n    methods: [GETT]\n    scopess: [x]\n",
        ),
        &[],
    );
    assert_eq!(service.wait_exit(Duration::from_secs(10)).await, Some(1));
    assert!(service.logs().contains("scopess"), "{}", service.logs());

    let mut service = Service::start(
        BIN,
        &policy(&keys, ROUTES),
        &[("AUTHZ_LISTEN_ADDR", "nine-thousand")],
    );
    assert_eq!(service.wait_exit(Duration::from_secs(10)).await, Some(2));
    assert!(
        service.logs().contains("AUTHZ_LISTEN_ADDR"),
        "{}",
        service.logs()
    );
}
