//! A policy folder (`AUTHZ_POLICY_PATH` naming a folder of files, one per team), against
//! the real service process: each file's routes keep their own pools, a broken or
//! conflicting file never blocks the others and keeps its last good version, and a file
//! never good leaves its routes denied, not answered by `defaultAction: allow`.

use serde_json::json;
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

/// Team B's pool (team A's is the kit's [`POOL`]).
const POOL_B: &str = "eu-west-1_teamBBBBB";

/// Team A: its pool, `GET a.example.com/users/{id}` with the kit's scope, and `rest`.
fn team_a(keys: &KeyServer, rest: &str) -> String {
    format!(
        "userPools:\n  - id: {POOL}\n    jwksUri: {}\n{rest}routes:\n  - name: a-users\n    hosts: [a.example.com]\n    path: /users/{{id}}\n    scopes: [{SCOPE}]\n",
        keys.jwks_uri(POOL)
    )
}

/// Team B: its pool, `GET {host}/orders/{id}` with the kit's scope, and `rest`.
fn team_b(keys: &KeyServer, host: &str, path: &str, rest: &str) -> String {
    format!(
        "userPools:\n  - id: {POOL_B}\n    jwksUri: {}\n{rest}routes:\n  - name: b-orders\n    hosts: [{host}]\n    path: {path}\n    scopes: [{SCOPE}]\n",
        keys.jwks_uri(POOL_B)
    )
}

/// An access token of `pool` with the kit's scope, signed by `signer`.
fn token_of(pool: &str, signer: &SigningKey) -> String {
    let mut claims = access_claims(SCOPE);
    claims["iss"] = json!(issuer(pool));
    signer.sign(&claims)
}

/// `cognito_ext_authz_policy_file_refused` of `file`: 1 while its newest version is refused.
async fn refused(service: &Service, file: &str) -> f64 {
    let label = format!("file=\"{file}\"");
    service
        .metric("cognito_ext_authz_policy_file_refused", &[&label])
        .await
}

/// The admin port's `/readyz` status (200 ready, 503 not).
async fn readyz(service: &Service) -> u16 {
    let url = format!("http://{}/readyz", service.admin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match reqwest::get(&url).await {
            Ok(r) => return r.status().as_u16(),
            Err(e) => assert!(std::time::Instant::now() < deadline, "no /readyz: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn status(service: &Service, host: &str, path: &str, token: Option<&str>) -> u16 {
    let mut client = service.client().await;
    check(&mut client, check_request("GET", host, path, token))
        .await
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn each_team_file_is_taken_or_refused_on_its_own() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    keys.publish(POOL_B, key(1));
    let a_token = token_of(POOL, key(0));
    let b_token = token_of(POOL_B, key(1));
    let allow = "defaultAction: allow\n";
    let a = team_a(&keys, allow);

    // At start B does not parse: A's routes are in force, B's are absent, and a request
    // for them is denied although A says `defaultAction: allow` (it may be one of B's
    // routes). Another file's route could answer B's requests, so the pod does not
    // report itself ready until B has had a valid version: the proxy keeps sending checks
    // to the pods that hold B's last good version.
    let mut service = Service::start_folder(
        BIN,
        &[("a.yaml", &a), ("b.yaml", "routes: [oops\n")],
        &[("AUTHZ_POLICY_POLL_SECONDS", "3600")],
    );
    eventually(30, "b.yaml named as holding readiness", || async {
        service.logs().contains("not ready: these policy files")
    })
    .await;
    assert!(service.logs().contains("b.yaml"));
    assert_eq!(readyz(&service).await, 503);
    assert_eq!(
        status(&service, "a.example.com", "/users/1", Some(&a_token)).await,
        200
    );
    assert_eq!(
        status(&service, "b.example.com", "/orders/1", None).await,
        403
    );
    assert_eq!(
        status(&service, "c.example.com", "/anything", None).await,
        403
    );
    assert!(
        service.logs().contains("policy file refused"),
        "{}",
        service.logs()
    );
    assert_eq!(refused(&service, "b.yaml").await, 1.0);

    // B fixed: its route is in force with its own pool only, and the folder is whole, so
    // A's and B's `defaultAction: allow` holds for requests no route matches.
    let b = team_b(&keys, "b.example.com", "/orders/{id}", allow);
    service.swap_files(&[("a.yaml", &a), ("b.yaml", &b)]);
    eventually(30, "team B's route in force", || async {
        status(&service, "b.example.com", "/orders/1", Some(&b_token)).await == 200
    })
    .await;
    service.wait_ready().await;
    assert_eq!(
        status(&service, "b.example.com", "/orders/1", Some(&a_token)).await,
        401,
        "team A's pool is not team B's authorizer's"
    );
    assert_eq!(
        status(&service, "a.example.com", "/users/1", Some(&b_token)).await,
        401,
        "nor the other way round"
    );
    assert_eq!(
        status(&service, "c.example.com", "/anything", None).await,
        200
    );
    assert_eq!(refused(&service, "b.yaml").await, 0.0);

    // B now claims A's route: B is refused with both places named, B's last good version
    // and A's route stay in force.
    let b_claims_a = team_b(&keys, "a.example.com", "/users/{id}", allow);
    service.swap_files(&[("a.yaml", &a), ("b.yaml", &b_claims_a)]);
    eventually(30, "the conflict refused", || async {
        service
            .logs()
            .contains("b.yaml: routes[0] (b-orders): overlaps a.yaml: routes[0] (a-users)")
    })
    .await;
    assert_eq!(
        status(&service, "a.example.com", "/users/1", Some(&a_token)).await,
        200
    );
    assert_eq!(
        status(&service, "a.example.com", "/users/1", Some(&b_token)).await,
        401
    );
    assert_eq!(
        status(&service, "b.example.com", "/orders/1", Some(&b_token)).await,
        200
    );

    // A breaks while B is fixed in the same update: B's fix is taken, A keeps its last
    // good version.
    let b2 = team_b(&keys, "b.example.com", "/orders/{id}/lines", allow);
    service.swap_files(&[("a.yaml", "userPools: [\n"), ("b.yaml", &b2)]);
    eventually(30, "team B's fix taken", || async {
        status(&service, "b.example.com", "/orders/1/lines", Some(&b_token)).await == 200
    })
    .await;
    assert_eq!(
        status(&service, "a.example.com", "/users/1", Some(&a_token)).await,
        200
    );
    assert!(service.running());

    // A new team's file joins (a new ConfigMap key) and is taken beside the others.
    let c = "routes:\n  - name: c-health\n    hosts: [c.example.com]\n    path: /health\n    auth: none\ndefaultAction: allow\n".to_owned();
    let c = format!(
        "userPools:\n  - id: {POOL}\n    jwksUri: {}\n{c}",
        keys.jwks_uri(POOL)
    );
    let files = [
        ("a.yaml", a.as_str()),
        ("b.yaml", b2.as_str()),
        ("c.yaml", c.as_str()),
    ];
    service.swap_files(&files);
    service.link_files(&files);
    eventually(30, "team C's file taken", || async {
        service.logs().contains("\"file\":\"c.yaml\"")
    })
    .await;
    let metrics = service.metrics().await;
    assert!(
        metrics.contains(
            "cognito_ext_authz_policy_file_reloads_total{file=\"c.yaml\",result=\"success\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_with_no_valid_file_does_not_start() {
    let mut service = Service::start_folder(
        BIN,
        &[("a.yaml", "routes: [oops\n"), ("b.yaml", "userPools: []\n")],
        &[],
    );
    let code = service.wait_exit(std::time::Duration::from_secs(30)).await;
    assert_eq!(code, Some(1), "{}", service.logs());
    let logs = service.logs();
    assert!(logs.contains("a.yaml: invalid policy YAML"), "{logs}");
    assert!(logs.contains("b.yaml: "), "{logs}");
}

/// A folder of team files for the offline commands (keys from a local file).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        testkit::write(dir.path(), name, text);
    }
    dir
}

const OFFLINE_A: &str = "userPools:\n  - id: ap-south-1_abcdefghi\nroutes:\n  - name: a-users\n    hosts: [a.example.com]\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
const OFFLINE_B: &str = "userPools:\n  - id: eu-west-1_teamBBBBB\nroutes:\n  - name: b-orders\n    hosts: [b.example.com]\n    path: /orders/{id}\n    scopes: [orders/read]\n";

#[test]
fn validate_reads_a_folder_whole_and_names_both_places_of_a_conflict() {
    let dir = folder(&[
        ("a.yaml", OFFLINE_A),
        ("b.yaml", OFFLINE_B),
        ("README.md", "not a policy file"),
    ]);
    let path = dir.path().to_str().unwrap();
    let ok = run(BIN, &["validate", path]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("2 user pool(s)"), "{}", ok.stdout);
    assert!(
        ok.stdout.contains("(a.yaml)") && ok.stdout.contains("(b.yaml)"),
        "{}",
        ok.stdout
    );

    // What the service would refuse, the offline command refuses too, naming the files.
    testkit::write(
        dir.path(),
        "b.yaml",
        &OFFLINE_B
            .replace("b.example.com", "a.example.com")
            .replace("/orders/", "/users/"),
    );
    testkit::write(dir.path(), "c.yml", "leewaySeconds: 900\n");
    let bad = run(BIN, &["validate", path]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("c.yml: leewaySeconds: 900"),
        "{}",
        bad.stderr
    );
    testkit::write(
        dir.path(),
        "c.yml",
        OFFLINE_A
            .replace("a.example.com", "c.example.com")
            .replace("a-users", "c-users")
            .as_str(),
    );
    let bad = run(BIN, &["validate", path]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("b.yaml: routes[0] (b-orders): overlaps a.yaml: routes[0] (a-users)"),
        "{}",
        bad.stderr
    );

    // A single file of the folder is still a policy of its own.
    let one = run(
        BIN,
        &["validate", dir.path().join("b.yaml").to_str().unwrap()],
    );
    assert_eq!(one.code, 0, "{}", one.stderr);
}

#[test]
fn check_explains_a_request_against_a_folder_with_the_route_s_file() {
    let dir = folder(&[("a.yaml", OFFLINE_A), ("b.yaml", OFFLINE_B)]);
    let jwks = testkit::write_jwks(dir.path());
    let run = run(
        BIN,
        &[
            "check",
            "--policy",
            dir.path().to_str().unwrap(),
            "--jwks",
            jwks.to_str().unwrap(),
            "--method",
            "GET",
            "--host",
            "b.example.com",
            "--path",
            "/orders/7",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("matched route \"b-orders\" (b.yaml: routes[0])"),
        "{}",
        run.stdout
    );
}
