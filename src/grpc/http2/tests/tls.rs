//! The same connection over TLS (the service's own TLS settings): answers that waited in
//! TLS's buffers while the client read nothing reach it once it reads, and a stopping port
//! ends its connections with TLS's `close_notify`, not a cut.

use std::time::Duration;

use super::harness::*;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn answers_held_while_a_tls_client_reads_nothing_all_arrive_once_it_reads() {
    let port = Port::start("public", limits(30 * SECOND, None));
    let mut client = port.connect_tls(1 << 20, 1024).await;
    assert!(answered(answer(client.check().await).await.unwrap()));
    client.reading(false);
    let mut calls = Vec::new();
    for _ in 0..30 {
        calls.push(client.check().await);
    }
    settle().await;
    client.reading(true);
    all_answered(calls).await;
}

#[tokio::test(start_paused = true)]
async fn a_tls_client_that_reads_nothing_holds_about_16_kib_of_answers() {
    // rustls would take 64 KiB of answers for the socket before its writes wait: that much
    // per connection for the request timeout. The port bounds it to `UNSENT_TLS_BYTES`.
    let len = answer_len("public").await;
    let counted = Counted::new();
    let _counting = counted.install();
    let mut limits = limits(30 * SECOND, None);
    // Streams enough for every check sent while the client reads nothing.
    limits.max_streams = 1024;
    let port = Port::start("public", limits);
    let mut client = port.connect_tls(1 << 20, 1024).await;
    client.reading(false);
    let mut calls = Vec::new();
    for round in 0..10 {
        for _ in 0..50 {
            calls.push(client.check().await);
        }
        settle().await;
        let held = counted.decisions() as usize * len;
        assert!(
            held <= 24 * 1024,
            "{held} bytes of answers after {round} rounds"
        );
    }
    client.reading(true);
    all_answered(calls).await;
    assert_eq!(counted.decisions(), 500);
}

#[tokio::test(start_paused = true)]
async fn a_stopping_port_ends_its_tls_connections_with_close_notify() {
    use tokio::io::AsyncWriteExt as _;
    let mut port = Port::start("public", limits(30 * SECOND, None));
    // An HTTP/2 client by hand, to see how its TLS connection ends: the preface and an
    // empty SETTINGS frame, then every PING answered (the port's GOAWAY comes with one).
    let mut tls = port.tls_socket(64 * 1024, Default::default()).await;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    settle().await;
    port.stop();
    let end = tokio::time::timeout(60 * SECOND, pings_answered_until_the_end(&mut tls))
        .await
        .expect("the connection ends");
    // A clean end of the stream (`close_notify` came before it), not a cut.
    assert_eq!(end.kind(), std::io::ErrorKind::ConnectionAborted, "{end:?}");
    tokio::time::timeout(60 * SECOND, &mut port.served)
        .await
        .expect("the port stops")
        .unwrap();
}

/// `n` bytes of a frame; `ConnectionAborted` when the stream ends cleanly before them.
async fn read_frame_part(
    tls: &mut (impl tokio::io::AsyncRead + Unpin),
    n: usize,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match tls.read(&mut buf[filled..]).await? {
            0 => return Err(std::io::ErrorKind::ConnectionAborted.into()),
            read => filled += read,
        }
    }
    Ok(buf)
}

/// Reads frames, answering each PING, until the stream ends or fails: how it ended.
async fn pings_answered_until_the_end(
    tls: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
) -> std::io::Error {
    use tokio::io::AsyncWriteExt as _;
    loop {
        let head = match read_frame_part(tls, 9).await {
            Ok(head) => head,
            Err(end) => return end,
        };
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let payload = match read_frame_part(tls, len).await {
            Ok(payload) => payload,
            Err(end) => return end,
        };
        // A PING without ACK: answered with its payload.
        if head[3] == 6 && head[4] & 1 == 0 {
            let mut ack = vec![0, 0, 8, 6, 1, 0, 0, 0, 0];
            ack.extend(&payload);
            if let Err(end) = tls.write_all(&ack).await {
                return end;
            }
        }
    }
}
