//! `validate --online` against key servers that misbehave: it is bounded (a server that
//! drips its body, or sends headers without end, is given up after the timeout or the
//! size limit) and it never prints credentials a key set URL carries.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");
const ROUTES: &str = "routes:\n  - path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";

/// A key server on loopback that reads the request and then plays `script`.
async fn raw_server(script: fn(tokio::net::TcpStream) -> Script) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            tokio::spawn(script(socket));
        }
    });
    addr
}

type Script = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// 200, chunked, then one byte of white space every 100 ms, for ever.
fn drip(mut socket: tokio::net::TcpStream) -> Script {
    Box::pin(async move {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        while socket.write_all(b"1\r\n \r\n").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// 200, then header lines without end.
fn endless_headers(mut socket: tokio::net::TcpStream) -> Script {
    Box::pin(async move {
        if socket.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
            return;
        }
        let mut i = 0u64;
        while socket
            .write_all(format!("x-h{i}: {}\r\n", "a".repeat(1000)).as_bytes())
            .await
            .is_ok()
        {
            i += 1;
        }
    })
}

/// Runs `validate --online` on `policy`; kills it (and fails) if it runs past `limit`.
fn validate_online(policy: &str, limit: Duration) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "policy.yaml", policy);
    let mut child = Command::new(BIN)
        .args(["validate", path.to_str().unwrap(), "--online"])
        .env("AUTHZ_JWKS_TIMEOUT_SECONDS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ended = wait_within(&mut child, limit).is_some();
    let out = child.wait_with_output().unwrap();
    assert!(
        ended,
        "validate --online still running after {limit:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn pool_at(uri: &str) -> String {
    format!("userPools:\n  - id: {POOL}\n    jwksUri: {uri}\n{ROUTES}")
}

/// [`validate_online`] on the policy of [`pool_at`]`(uri)`, off the async runtime: killed
/// (and failed) past 30 s.
async fn validate_pool_online(uri: &str) -> Output {
    let policy = pool_at(uri);
    tokio::task::spawn_blocking(move || validate_online(&policy, Duration::from_secs(30)))
        .await
        .unwrap()
}

/// `validate --online` with the pool's keys at the key server `addr`: exit 1, and the pool
/// named in an error.
async fn assert_the_pool_fails(addr: std::net::SocketAddr) {
    let out = validate_pool_online(&format!("http://{addr}/{POOL}/.well-known/jwks.json")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("error: pool {POOL}:")), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_server_that_drips_its_body_is_given_up_after_the_timeout() {
    assert_the_pool_fails(raw_server(drip).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_server_that_sends_headers_without_end_is_refused() {
    assert_the_pool_fails(raw_server(endless_headers).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_a_key_set_url_are_never_printed() {
    // A key set URL with user:password@ (a private mirror, say): whatever validate says of
    // it, online or not, fetched or not, the password is not in its output.
    const SECRET: &str = "pw-9f3a1c77e2";
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let reachable = keys
        .jwks_uri(POOL)
        .replacen("http://", &format!("http://reader:{SECRET}@"), 1);
    let unreachable = format!("http://reader:{SECRET}@127.0.0.1:9/{POOL}/.well-known/jwks.json");
    for uri in [reachable, unreachable] {
        let online = validate_pool_online(&uri).await;
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "policy.yaml", &pool_at(&uri));
        let offline = Command::new(BIN)
            .args(["validate", path.to_str().unwrap()])
            .output()
            .unwrap();
        for out in [online, offline] {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!text.contains(SECRET), "{uri}: {text}");
            assert_ne!(out.status.code(), Some(0), "{uri}: {text}");
        }
    }
}
