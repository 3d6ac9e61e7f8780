//! TLS clients that never read their socket, against the real service process: each sends
//! checks on its own TLS connection and reads nothing, so every answer waits in the
//! service's buffers (HTTP/2's, then TLS's: rustls would take 64 KiB of records per
//! connection, the service bounds it to 16 KiB). What they can make the service hold stays
//! within the memory budget of docs/security.md, checks on other connections are answered
//! meanwhile, and each such connection is closed once its answers have not moved for the
//! request timeout. Memory is read from `/proc/PID/status`.

mod tls_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prost::Message as _;
use rustls_pki_types::ServerName;
use testkit::*;
use tls_support::sample;
use tls_support::*;
use tokio::io::AsyncWriteExt as _;

/// A fifth of the default connection limit (512): enough to measure per connection.
const CONNECTIONS: usize = 100;
/// Checks each client sends before it stops: more than the kernel's socket buffers (about
/// 180 KB of answers on loopback), TLS's buffer and HTTP/2's can hold answers for, so the
/// service ends up holding all it will.
const CHECKS_PER_CONNECTION: usize = 800;

#[tokio::test(flavor = "multi_thread")]
async fn tls_clients_that_read_nothing_hold_memory_within_the_budget() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("test CA");
    let server = ca.server("authz", 2031);
    let dir = tempfile::tempdir().unwrap();
    let secret = Secret::new(
        dir.path(),
        &[("tls.crt", &server.cert), ("tls.key", &server.key)],
    );
    let service = tls_service_with(
        &keys,
        &secret,
        &[("AUTHZ_REQUEST_TIMEOUT_SECONDS", "7"), ("RUST_LOG", "info")],
    )
    .await;
    let pid = service.pid();
    let client = Client::new(&ca.pem, None);
    let mut conn = client.connect_when_up(&service).await;
    let token = token();
    // Warm up: the token verified and cached, the allocator's pools grown.
    for _ in 0..20 {
        assert_eq!(status_on(&mut conn, Some(&token)).await, Ok(200));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    let message = grpc_message(&token_request(&token).encode_to_vec());
    let mut flood = Vec::new();
    for _ in 0..CONNECTIONS {
        let tls = reading_nothing(&client, service.grpc).await;
        flood.push(tokio::spawn(send_checks(tls, message.clone())));
    }
    // While the clients hold their connections: the peak of RSS, and checks on another
    // connection answered.
    let mut peak = rss_kib(pid);
    let mut slowest = Duration::ZERO;
    for _ in 0..40 {
        let started = Instant::now();
        let status = tokio::time::timeout(DEADLINE, status_on(&mut conn, Some(&token)))
            .await
            .expect("a check on another connection was starved");
        assert_eq!(status, Ok(200));
        slowest = slowest.max(started.elapsed());
        peak = peak.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let grown = peak.saturating_sub(before);
    let per_connection = grown / CONNECTIONS as u64;
    eprintln!(
        "RSS {before} KiB before, {peak} KiB at the peak of {CONNECTIONS} TLS connections \
         that read nothing ({per_connection} KiB each); slowest check meanwhile {slowest:?}"
    );
    // The budget: 512 connections (the default) under 128 MiB with 18 MiB at rest leaves
    // 220 KiB a connection.
    assert!(
        per_connection <= 220,
        "{per_connection} KiB of RSS per TLS connection that reads nothing"
    );

    // The service stopped deciding once the answers backed up: most checks sent were
    // never read.
    let decided = sample(
        &service.metrics().await,
        "cognito_ext_authz_decisions_total{result=\"allow\",reason=\"authorized\",route=\"create-user\",authorizer=\"default\"}",
    );
    let sent = (CONNECTIONS * CHECKS_PER_CONNECTION) as f64;
    eprintln!("{decided} checks decided of {sent} sent");
    assert!(decided < sent / 2.0, "{decided} of {sent} checks decided");
    // The clients go away: the memory goes back to the system.
    for sender in flood {
        sender.abort();
    }
    let mut after = rss_kib(pid);
    let deadline = Instant::now() + Duration::from_secs(20);
    while after > before + 8 * 1024 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = rss_kib(pid);
    }
    eprintln!("RSS {after} KiB once the connections are closed");
    assert!(
        after <= before + 8 * 1024,
        "{after} KiB kept after the connections closed ({before} KiB before)"
    );
    assert_eq!(status_on(&mut conn, Some(&token)).await, Ok(200));
}

/// A TLS connection whose client never reads: a 4 KiB receive buffer, the HTTP/2 preface,
/// and every flow-control window opened wide without reading (SETTINGS and a
/// WINDOW_UPDATE), so that the answers go as far as the socket takes them.
async fn reading_nothing(
    client: &Client,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(client.config.clone())
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let wide = 0x7fff_ffffu32;
    let mut open = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS_INITIAL_WINDOW_SIZE (4): every stream's window.
    let mut settings = vec![0, 4];
    settings.extend(wide.to_be_bytes());
    open.extend(frame(4, 0, 0, &settings));
    // The connection's window, from its initial 65,535 bytes.
    open.extend(frame(8, 0, 0, &(wide - 65_535).to_be_bytes()));
    tls.write_all(&open).await.unwrap();
    tls
}

/// Sends `CHECKS_PER_CONNECTION` whole checks (HEADERS, then DATA ending the stream), 16
/// streams at a time, until the service stops reading or closes the connection.
async fn send_checks(
    mut tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    message: Vec<u8>,
) {
    let head = [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/envoy.service.auth.v3.Authorization/Check"),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    .iter()
    .flat_map(|(name, value)| literal(name, value))
    .collect::<Vec<u8>>();
    for batch in 0..CHECKS_PER_CONNECTION / 16 {
        let mut frames = Vec::new();
        for i in 0..16 {
            let stream = u32::try_from(2 * (batch * 16 + i) + 1).unwrap();
            frames.extend(frame(1, 0x4, stream, &head));
            frames.extend(frame(0, 0x1, stream, &message));
        }
        if tls.write_all(&frames).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Holds the connection (unread) until the service closes it or the test ends.
    std::future::pending::<()>().await;
}

/// An HPACK "literal header field without indexing", name and value as plain strings.
fn literal(name: &str, value: &str) -> Vec<u8> {
    let mut field = vec![0, u8::try_from(name.len()).unwrap()];
    field.extend(name.as_bytes());
    field.push(u8::try_from(value.len()).unwrap());
    field.extend(value.as_bytes());
    field
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend(stream.to_be_bytes());
    frame.extend(payload);
    frame
}
