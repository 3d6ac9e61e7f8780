//! Hostile input (docs/security.md): each finding of the attack review replayed against the real
//! service over gRPC, asserting the fixed behaviour and the memory bounds.
//!
//! Bounded in count and time, loopback only. Memory is read from `/proc/PID/status`.
//!
//! One module per kind of attack; this file holds what they share (the service's routes,
//! raw HTTP/2 clients, memory readings).

use std::time::{Duration, Instant};

use cognito_ext_authz::grpc::{CHECK_PATH, CheckRequestView, view_of};
use cognito_ext_authz::proto::envoy::service::auth::v3::CheckResponse;
use serde_json::json;
use testkit::*;
use tonic::transport::Channel;

mod files_and_logs;
mod framing;
mod memory;
mod requests;
mod streams;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: admin-files
    hosts: [admin.example.com]
    path: /files/{proxy+}
    scopes: [admin/all]
  - name: files
    path: /files/{proxy+}
    scopes: [files/read]
  - name: files-admin
    path: /files/admin/{proxy+}
    auth: deny
  - name: health
    path: /health
    auth: none
  - name: me
    path: /me
"#;

fn bearer(claims: &serde_json::Value) -> String {
    format!("Bearer {}", key(0).sign(claims))
}

/// Sends a wire view (bytes where Envoy's proto says string) as a `Check`.
async fn check_bytes(
    channel: Channel,
    view: CheckRequestView,
) -> Result<CheckResponse, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(view),
        http::uri::PathAndQuery::from_static(CHECK_PATH),
        tonic_prost::ProstCodec::<CheckRequestView, CheckResponse>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn denied_status(response: &CheckResponse) -> u16 {
    use cognito_ext_authz::proto::envoy::service::auth::v3::check_response::HttpResponse;
    match &response.http_response {
        Some(HttpResponse::DeniedResponse(d)) => d.status.as_ref().map_or(403, |s| s.code as u16),
        Some(HttpResponse::OkResponse(_)) => 200,
        None => panic!("no http_response"),
    }
}

/// One raw HTTP/2 connection to the gRPC port.
async fn h2_connection(addr: std::net::SocketAddr) -> h2::client::SendRequest<bytes::Bytes> {
    h2_connection_pinging(addr).await.0
}

/// One raw HTTP/2 connection to the gRPC port, and its PINGs: a PING answered shows that
/// the service has read every frame sent before it.
async fn h2_connection_pinging(
    addr: std::net::SocketAddr,
) -> (h2::client::SendRequest<bytes::Bytes>, h2::PingPong) {
    h2_connection_windowed(addr, 1 << 20).await
}

/// [`h2_connection_pinging`] with a stream flow-control window of `window` bytes.
async fn h2_connection_windowed(
    addr: std::net::SocketAddr,
    window: u32,
) -> (h2::client::SendRequest<bytes::Bytes>, h2::PingPong) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, mut connection) = h2::client::Builder::new()
        .initial_window_size(window)
        // The answers of calls the tests abandon unread are not the client's concern.
        .data_frame_budget(64 << 20)
        .max_concurrent_reset_streams(1 << 20)
        .max_local_error_reset_streams(None)
        .handshake(tcp)
        .await
        .unwrap();
    let pings = connection.ping_pong().expect("ping_pong taken once");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, pings)
}

/// The head of a gRPC call to `path` on one raw HTTP/2 connection.
fn grpc_call(addr: std::net::SocketAddr, path: &str) -> http::Request<()> {
    http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

/// The head of a `Check` call.
fn grpc_post(addr: std::net::SocketAddr) -> http::Request<()> {
    grpc_call(addr, CHECK_PATH)
}

/// A gRPC message prefix declaring `len` bytes, followed by `sent` bytes of it.
fn partial_message(len: u32, sent: usize) -> bytes::Bytes {
    let mut frame = vec![0u8];
    frame.extend(len.to_be_bytes());
    frame.extend(std::iter::repeat_n(0x0a, sent));
    frame.into()
}

/// Sends `chunks` as the DATA frames of one `Check` call (then ends the stream when `end`)
/// and returns its `grpc-status` and the message it answered with, if any.
async fn raw_check(
    addr: std::net::SocketAddr,
    head: http::Request<()>,
    chunks: &[&[u8]],
    end: bool,
) -> (String, Option<CheckResponse>) {
    raw_check_windowed(addr, head, chunks, end, 1 << 20).await
}

/// [`raw_check`] from a client whose stream flow-control window is `window` bytes: it
/// reads the answer as it comes, giving the window back for each piece.
async fn raw_check_windowed(
    addr: std::net::SocketAddr,
    head: http::Request<()>,
    chunks: &[&[u8]],
    end: bool,
    window: u32,
) -> (String, Option<CheckResponse>) {
    use prost::Message as _;
    let client = h2_connection_windowed(addr, window).await.0;
    let mut client = client.ready().await.unwrap();
    let (response, mut body) = client.send_request(head, false).unwrap();
    for chunk in chunks {
        body.send_data(bytes::Bytes::copy_from_slice(chunk), false)
            .unwrap();
    }
    if end {
        body.send_data(bytes::Bytes::new(), true).unwrap();
    }
    let response = tokio::time::timeout(Duration::from_secs(30), response)
        .await
        .expect("an answer, not a hang")
        .unwrap();
    // Envoy's gRPC client reads only gRPC answers: 200 and `application/grpc`, errors too.
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    if let Some(status) = response.headers().get("grpc-status") {
        // Trailers-only: an error and no message.
        return (status.to_str().unwrap().to_owned(), None);
    }
    let mut recv = response.into_body();
    let mut data = Vec::new();
    let whole = async {
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.unwrap();
            let _ = recv.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        recv.trailers().await.unwrap().expect("trailers")
    };
    let trailers = tokio::time::timeout(Duration::from_secs(30), whole)
        .await
        .expect("the whole answer and its trailers, not a hang");
    let status = trailers["grpc-status"].to_str().unwrap().to_owned();
    assert_eq!(data[0], 0, "uncompressed");
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    assert_eq!(data.len(), 5 + len, "one whole message");
    (status, Some(CheckResponse::decode(&data[5..]).unwrap()))
}

/// A framed `CheckRequest` for `GET /files/a` with a token that `ROUTES` lets through.
fn files_a_allowed() -> Vec<u8> {
    use prost::Message as _;
    let token = bearer(&access_claims("files/read"));
    grpc_message(
        &request(
            "GET",
            "api.example.com",
            "/files/a",
            &[("authorization", &token)],
        )
        .encode_to_vec(),
    )
}

async fn wait_for_log(service: &Service, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !service.logs().contains(text) {
        assert!(
            Instant::now() < deadline,
            "no log line with {text:?}:\n{}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `grpc.health.v1.Health` call on one raw HTTP/2 connection.
fn health_post(addr: std::net::SocketAddr, method: &str) -> http::Request<()> {
    grpc_call(addr, &format!("/grpc.health.v1.Health/{method}"))
}

/// A raw HTTP/2 client: the preface and an empty SETTINGS frame, nothing after.
async fn silent_h2_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    tcp
}

/// The reflection service's one method (bidirectional streaming).
const REFLECTION_INFO: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/// A client that never reads its answers: its flow-control window is 0
/// (`SETTINGS_INITIAL_WINDOW_SIZE`), it sends `checks` whole checks on one connection and a
/// PING every 2 s. The handle ends when the service has closed the connection.
async fn never_reading_client(
    addr: std::net::SocketAddr,
    message: bytes::Bytes,
    checks: usize,
) -> tokio::task::JoinHandle<()> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut client, mut connection) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake::<_, bytes::Bytes>(tcp)
        .await
        .unwrap();
    let mut pings = connection.ping_pong().expect("ping_pong taken once");
    tokio::spawn(async move {
        let mut calls = Vec::new();
        let sending = async {
            for _ in 0..checks {
                let Ok(ready) = client.clone().ready().await else {
                    break;
                };
                client = ready;
                let Ok((response, mut body)) = client.send_request(grpc_post(addr), false) else {
                    break;
                };
                let _ = body.send_data(message.clone(), true);
                calls.push(response);
            }
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if pings.ping(h2::Ping::opaque()).await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = connection => {}
            () = sending => {}
        }
    })
}
