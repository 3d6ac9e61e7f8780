//! The environment `serve` starts in (docs/security.md): a pod's environment holds
//! variables the service never reads, set by whoever wrote the pod spec or the image, and
//! any of them may be bytes that are not UTF-8. Such a variable must not stop the service
//! (reading the environment with `std::env::vars` panicked on it); an `AUTHZ_*` setting
//! that is not UTF-8 is a settings error naming it, never a panic.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use testkit::*;

/// The service binary (see the test kit's crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const DEADLINE: Duration = Duration::from_secs(20);

fn bytes(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// `serve` on `policy_yaml` with only the kit's ports and policy set, plus `env`; its
/// standard error goes to `log`.
fn serve(
    dir: &std::path::Path,
    policy_yaml: &str,
    env: &[(&OsStr, &OsStr)],
) -> (Child, std::net::SocketAddr, std::net::SocketAddr) {
    let policy = write(dir, "policy.yaml", policy_yaml);
    let (grpc, admin) = (free_port(), free_port());
    let child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("AUTHZ_LISTEN_ADDR", grpc.to_string())
        .env("AUTHZ_ADMIN_ADDR", admin.to_string())
        .env("AUTHZ_POLICY_PATH", policy)
        .env("AUTHZ_DRAIN_SECONDS", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("log")).unwrap())
        .spawn()
        .unwrap();
    (child, grpc, admin)
}

fn log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_variable_that_is_not_utf8_is_no_reason_to_stop_serving() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let dir = tempfile::tempdir().unwrap();
    let routes =
        format!("routes:\n  - name: users\n    path: /users/{{id}}\n    scopes: [{SCOPE}]\n");
    let (mut child, grpc, admin) = serve(
        dir.path(),
        &policy(&keys, &routes),
        &[
            // A Latin-1 value and a name that is not UTF-8, as an image might set them.
            (bytes(b"LC_GREETING"), bytes(b"caf\xe9")),
            (bytes(b"LEGACY_\xff"), bytes(b"1")),
        ],
    );
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited ({status}):\n{}", log(dir.path()));
        }
        if reqwest::get(format!("http://{admin}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never ready:\n{}",
            log(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut client = AuthorizationClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    let token = key(0).sign(&access_claims(SCOPE));
    let answer = check(
        &mut client,
        check_request("GET", "h", "/users/1", Some(&token)),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = check(&mut client, check_request("GET", "h", "/users/1", None)).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_setting_that_is_not_utf8_is_a_settings_error_naming_it() {
    for (name, value) in [
        (
            "AUTHZ_POLICY_PATH",
            &b"/etc/cognito-ext-authz/pol\xe9.yaml"[..],
        ),
        ("AUTHZ_DRAIN_SECONDS", &b"5\xff"[..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, _, _) = serve(
            dir.path(),
            "routes: []\n",
            &[(OsStr::new(name), bytes(value))],
        );
        let status = wait_within(&mut child, DEADLINE).unwrap_or_else(|| {
            panic!(
                "serve kept running with {name} not UTF-8:\n{}",
                log(dir.path())
            )
        });
        let stderr = log(dir.path());
        assert_eq!(status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("the value of {name} is not UTF-8 text")),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
