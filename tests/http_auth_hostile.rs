//! The HTTP authorization port (docs/http-auth.md) against hostile subrequests, on the
//! real binary: what a client can make a gateway send (its own headers, bodies, odd
//! targets), and what a connection can send the port directly. The port must never answer
//! 200 where the gRPC port would deny, never answer a request it was not asked (a body
//! read as a second request would hand its answer to another client's subrequest on a
//! pooled connection), and never let a client's identity header reach the upstream.
//!
//! Requests are written byte for byte on a TCP connection; all the responses a connection
//! gets are read and counted.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: any-token
    path: /me
  - name: health
    path: /health
    auth: none
  - name: closed
    path: /closed
    auth: deny
"#;

/// One response off the wire: status, lower-case headers (values as raw bytes).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// Every response in `raw`, in order (bodies skipped by their content-length).
fn responses(mut raw: &[u8]) -> Vec<Reply> {
    let mut all = Vec::new();
    while !raw.is_empty() {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            panic!("incomplete response {:?}", String::from_utf8_lossy(raw));
        };
        let head = &raw[..end];
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let status_line = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, Vec<u8>)> = lines
            .map(|l| {
                let colon = l.iter().position(|&b| b == b':').unwrap();
                (
                    String::from_utf8_lossy(&l[..colon])
                        .trim()
                        .to_ascii_lowercase(),
                    l[colon + 1..].trim_ascii().to_vec(),
                )
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| std::str::from_utf8(v).unwrap().parse().unwrap());
        raw = &raw[end + 4 + length..];
        all.push(Reply { status, headers });
    }
    all
}

/// Writes `bytes` as they are and reads every response until the port closes the
/// connection, or sends nothing more for a second (a kept-alive connection).
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_secs(1), stream.read(&mut chunk)).await
    {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    responses(&raw)
}

async fn start() -> (KeyServer, Service, SocketAddr) {
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_HTTP_AUTH_ADDR", PICK_PORT)]).await;
    let http = service.http_auth;
    (keys, service, http)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_is_never_read_as_another_subrequest() {
    let (_keys, service, http) = start().await;
    // A denied subrequest whose body is a whole allowed one: read as a second request, its
    // 200 would go to the next subrequest on the gateway's pooled connection.
    let inner = "GET /envoy/health HTTP/1.1\r\nhost: h\r\n\r\n";
    let heads = [
        format!(
            "GET /envoy/me HTTP/1.1\r\nhost: h\r\ncontent-length: {}\r\n\r\n{inner}",
            inner.len()
        ),
        format!(
            "GET /envoy/me HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{inner}\r\n0\r\n\r\n",
            inner.len()
        ),
        // Both framings: the body must not be taken by the shorter one.
        format!(
            "GET /envoy/me HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{inner}\r\n0\r\n\r\n",
            inner.len()
        ),
        format!(
            "GET /envoy/me HTTP/1.1\r\nhost: h\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n{inner}",
            inner.len()
        ),
        // A body the port never waits for.
        "GET /envoy/me HTTP/1.1\r\nhost: h\r\ncontent-length: 1000000\r\n\r\n".to_owned(),
    ];
    for head in &heads {
        let replies = exchange(http, head.as_bytes()).await;
        let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
        assert!(
            statuses == [401] || (statuses.len() == 1 && statuses[0] == 400),
            "{head:?}: {statuses:?}"
        );
    }
    // Only subrequests the port was asked were decided.
    let decided = service.decisions();
    assert!(
        decided.iter().all(|l| l["path"] != "/health"),
        "{decided:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_subrequests_get_their_own_answers_in_order() {
    let (_keys, _service, http) = start().await;
    let token = key(0).sign(&access_claims(SCOPE));
    let allowed =
        format!("GET /envoy/me HTTP/1.1\r\nhost: h\r\nauthorization: Bearer {token}\r\n\r\n");
    let denied = "GET /envoy/me HTTP/1.1\r\nhost: h\r\n\r\n";
    let closed =
        format!("GET /envoy/closed HTTP/1.1\r\nhost: h\r\nauthorization: Bearer {token}\r\n\r\n");
    let bytes = format!("{denied}{allowed}{closed}{denied}{allowed}");
    let statuses: Vec<u16> = exchange(http, bytes.as_bytes())
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [401, 200, 403, 401, 200]);
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_targets_and_originals_are_denied() {
    let (_keys, _service, http) = start().await;
    let token = key(0).sign(&access_claims(SCOPE));
    let auth = format!("authorization: Bearer {token}");
    let cases = [
        // Absolute-form: which host was meant cannot be known.
        format!("GET http://h/envoy/me HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!(
            "GET http://h/nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-uri: /me"
        ),
        // Near misses of the Envoy prefix.
        format!("GET /envoy HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!("GET /envoyX/me HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!("GET /envoy%2Fme HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!("GET /envoy/..%2fme HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!("GET /envoy/me/../closed HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!("GET /envoy//me HTTP/1.1\r\nhost: h\r\n{auth}"),
        format!("OPTIONS * HTTP/1.1\r\nhost: h\r\n{auth}"),
        // Hosts: several, none.
        format!("GET /envoy/me HTTP/1.1\r\nhost: h\r\nhost: h\r\n{auth}"),
        format!("GET /envoy/me HTTP/1.0\r\n{auth}"),
        // ingress-nginx URLs that are no URL, or hide a path.
        format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: https://u@h/me"
        ),
        format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: https://h"
        ),
        format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: https:////h/me"
        ),
        format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: https://h/me#/../closed"
        ),
        format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: https://h/me%2f..%2fclosed"
        ),
        format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: //h/me"
        ),
        format!(
            "GET /traefik HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-forwarded-method: GET\r\nx-forwarded-host: h\r\nx-forwarded-uri: http://h/me"
        ),
        format!(
            "GET /nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-uri: "
        ),
        format!(
            "GET /nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: G T\r\nx-original-uri: /me"
        ),
    ];
    for head in &cases {
        let replies = exchange(
            http,
            format!("{head}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(replies.len(), 1, "{head:?}: {replies:?}");
        assert_ne!(replies[0].status, 200, "{head:?}: {replies:?}");
        assert_eq!(replies[0].header("x-cognito-sub"), None, "{head:?}");
    }
    // IPv6 hosts and a port are hosts like any other.
    for url in ["https://[::1]:8443/me", "https://h.:443/me"] {
        let head = format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: h\r\n{auth}\r\nx-original-method: GET\r\nx-original-url: {url}\r\nconnection: close\r\n\r\n"
        );
        let replies = exchange(http, head.as_bytes()).await;
        assert_eq!(replies.len(), 1, "{url}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn many_small_headers_are_refused_not_crashed_on() {
    let (_keys, service, http) = start().await;
    let mut head = "GET /envoy/me HTTP/1.1\r\nhost: h\r\n".to_owned();
    for i in 0..2000 {
        head.push_str(&format!("x-{i}: v\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    let replies = exchange(http, head.as_bytes()).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].status, 431);
    // Still serving.
    let replies = exchange(
        http,
        b"GET /envoy/health HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(replies[0].status, 200);
    service.decision(1).await;
}

/// Istio's `envoyExtAuthzHttp` sends the service only the headers it is told to include
/// (the token's), and its Envoy accepts header names with `_` by default: the service
/// cannot see a client's `x_cognito_sub`, so it must always name every such spelling for
/// Envoy to remove, as the gRPC answer removes the ones it sees.
#[tokio::test(flavor = "multi_thread")]
async fn envoy_is_always_told_to_remove_every_underscore_spelling() {
    let (_keys, _service, http) = start().await;
    let token = key(0).sign(&access_claims(SCOPE));
    for head in [
        format!("GET /envoy/me HTTP/1.1\r\nhost: h\r\nauthorization: Bearer {token}"),
        "GET /envoy/health HTTP/1.1\r\nhost: h".to_owned(),
    ] {
        let replies = exchange(
            http,
            format!("{head}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(replies[0].status, 200);
        let removed = String::from_utf8(
            replies[0]
                .header("x-envoy-auth-headers-to-remove")
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        let removed: Vec<&str> = removed.split(',').collect();
        for spelling in [
            "x_cognito_sub",
            "x-cognito_sub",
            "x_cognito-sub",
            "x_cognito_client_id",
            "x-cognito_client-id",
            "x_cognito_groups",
            "x_cognito_route",
            "x_cognito_username",
            "x_cognito_scope",
        ] {
            assert!(removed.contains(&spelling), "{spelling} in {removed:?}");
        }
        // Nor is the service's own identity ever among them.
        for (name, _) in &replies[0].headers {
            assert!(!removed.contains(&name.as_str()), "{name}");
        }
    }
}

/// A username (or group, or claim) that is not ASCII: the gRPC answer sets it upstream,
/// overwriting the client's; the HTTP answer must carry it too, never leave the header
/// out (a header left out is neither set nor removed by Istio, so the client's forged one
/// would reach the workload).
#[tokio::test(flavor = "multi_thread")]
async fn identity_values_that_are_not_ascii_are_still_set() {
    let (_keys, service, http) = start().await;
    let mut claims = access_claims(SCOPE);
    claims["username"] = json!("josé");
    claims["cognito:groups"] = json!(["équipe"]);
    let token = key(0).sign(&claims);
    let bearer = format!("Bearer {token}");
    let mut client = service.client().await;
    let grpc = check(
        &mut client,
        request("GET", "h", "/me", &[("authorization", &bearer)]),
    )
    .await;
    assert_eq!(grpc.status, 200);
    assert_eq!(
        grpc.headers.get("x-cognito-username").map(String::as_str),
        Some("josé")
    );
    for endpoint in ["/envoy/me", "/nginx", "/ingress-nginx", "/traefik"] {
        let head = format!(
            "GET {endpoint} HTTP/1.1\r\nhost: h\r\nauthorization: {bearer}\r\nx-original-method: GET\r\nx-original-uri: /me\r\nx-original-url: https://h/me\r\nx-forwarded-method: GET\r\nx-forwarded-host: h\r\nx-forwarded-uri: /me\r\nx-cognito-username: admin\r\nconnection: close\r\n\r\n"
        );
        let replies = exchange(http, head.as_bytes()).await;
        assert_eq!(replies[0].status, 200, "{endpoint}");
        assert_eq!(
            replies[0].header("x-cognito-username"),
            Some("josé".as_bytes()),
            "{endpoint}: {replies:?}"
        );
        assert_eq!(
            replies[0].header("x-cognito-groups"),
            Some("équipe".as_bytes()),
            "{endpoint}"
        );
    }
}

/// A head sent a byte at a time (each byte well within the idle timeout, which it resets)
/// is cut off at the request timeout, and so is a kept-alive connection that sends no
/// next request: neither holds its connection slot and buffer for longer.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_head_is_cut_off_at_the_request_timeout() {
    let (_keys, _service) = keys_and_service(
        BIN,
        ROUTES,
        &[
            ("AUTHZ_HTTP_AUTH_ADDR", PICK_PORT),
            ("AUTHZ_REQUEST_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await;
    let http = _service.http_auth;
    let stream = tokio::net::TcpStream::connect(http).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        write
            .write_all(b"GET /envoy/health HTTP/1.1\r\nhost: h\r\n")
            .await
            .unwrap();
        for _ in 0..150 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b"x").await.is_err() {
                return;
            }
        }
    });
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), read.read_to_end(&mut raw)).await;
    assert!(closed.is_ok(), "still open after 10 s of a trickled head");
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "{raw:?}");
    trickle.abort();
    // Kept alive after an answer, then silent.
    let mut stream = tokio::net::TcpStream::connect(http).await.unwrap();
    stream
        .write_all(b"GET /envoy/health HTTP/1.1\r\nhost: h\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await;
    assert!(closed.is_ok(), "a silent kept-alive connection stayed open");
    assert!(raw.starts_with(b"HTTP/1.1 200"));
}
