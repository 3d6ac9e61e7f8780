//! Streams and connections that hold places: abandoned Watch calls, resets, silent streams, a connection's share, PINGs alone.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_health_watch_the_client_resets_or_abandons_ends_with_it() {
    // A Watch never ends by itself: the call relayed to tonic must end when its stream is
    // reset or its connection closed, or every abandoned Watch is a task and its stream
    // kept until the health status next changes (never, on a steady pod). Batches of 100
    // calls on a connection: more streams than the default allows.
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_MAX_STREAMS_PER_CONNECTION", "128")]).await;
    let pid = service.pid();
    let addr = service.grpc;
    let watch = |client: &mut h2::client::SendRequest<bytes::Bytes>| {
        let (response, mut body) = client
            .send_request(health_post(addr, "Watch"), false)
            .unwrap();
        // Past the eighth Watch open on the connection the call is refused at once
        // (trailers-only), and may already be closed when its message is sent.
        let _ = body.send_data(grpc_message(&[]).into(), true);
        response
    };
    // `batches` batches of 100 Watch calls on `client`, each answered 200; the client back.
    let watch_batches = async |mut client: h2::client::SendRequest<bytes::Bytes>,
                               batches: usize| {
        for _ in 0..batches {
            let mut calls = Vec::new();
            for _ in 0..100 {
                client = client.ready().await.unwrap();
                calls.push(watch(&mut client));
            }
            for call in calls {
                let head = call.await.unwrap();
                assert_eq!(head.status(), 200);
            }
        }
        client
    };
    // Warm up the allocator and the runtime.
    let client = watch_batches(h2_connection(addr).await, 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);
    // 20,000 Watches on one connection, each reset once its answer has started (the
    // stream slot is free again at once), and 2,000 more on connections then closed.
    let _client = watch_batches(client, 200).await;
    for _ in 0..20 {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut c, connection) = h2::client::handshake(tcp).await.unwrap();
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut calls = Vec::new();
        for _ in 0..100 {
            c = c.ready().await.unwrap();
            calls.push(watch(&mut c));
        }
        let mut heads = Vec::new();
        for call in calls {
            // Head received: the relay's call is running.
            heads.push(call.await.unwrap());
        }
        // The connection closed under its open Watch calls.
        connection.abort();
        let _ = connection.await;
        drop(heads);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("RSS grew {grown} KiB over 22,000 abandoned Watch calls");
    assert!(
        grown < 8 * 1024,
        "{grown} KiB kept by abandoned Watch calls"
    );
    // The service still answers.
    let mut c = service.client().await;
    let a = check(&mut c, request("GET", "api.example.com", "/health", &[])).await;
    assert_eq!(a.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_reset_while_waiting_for_their_turn_are_dropped_at_once() {
    // One check being read at once, and checks that wait (for their message, or their
    // turn). A client that opens checks and resets them must not leave them waiting (and
    // holding their stream) until the request timeout: the stream slot is free at the
    // reset, so the waiting checks would have no bound but the rate.
    let (_keys, service) = keys_and_service(
        BIN,
        ROUTES,
        &[
            ("AUTHZ_MAX_IN_FLIGHT", "1"),
            ("AUTHZ_REQUEST_TIMEOUT_SECONDS", "60"),
            // Not a debug line per HTTP/2 frame: the service keeps up with the attack.
            ("RUST_LOG", "info"),
        ],
    )
    .await;
    let pid = service.pid();
    let addr = service.grpc;
    let holder = h2_connection(addr).await;
    let mut holder = holder.ready().await.unwrap();
    let (_held_response, _held_body) = holder.send_request(grpc_post(addr), false).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // h2 itself closes a connection on which more than 20 streams were reset before they
    // were accepted; a PING answered shows that the service has read the requests, not
    // that it has accepted them, so when it lags behind, the attack goes on on a new
    // connection (as an attacker would).
    let (mut client, mut pings) = h2_connection_pinging(addr).await;
    let mut round = async |n: usize| {
        for _ in 0..n {
            let mut calls = Vec::new();
            for _ in 0..6 {
                match client.clone().ready().await {
                    Ok(ready) => client = ready,
                    Err(_) => (client, pings) = h2_connection_pinging(addr).await,
                }
                match client.send_request(grpc_post(addr), false) {
                    Ok(call) => calls.push(call),
                    Err(_) => (client, pings) = h2_connection_pinging(addr).await,
                }
            }
            // The first PING may leave before the requests, the second leaves after them.
            let _ = pings.ping(h2::Ping::opaque()).await;
            let _ = pings.ping(h2::Ping::opaque()).await;
            drop(calls);
        }
    };
    round(50).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);
    round(2_000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss_kib(pid).saturating_sub(before);
    eprintln!("RSS grew {grown} KiB over 12,000 checks reset while waiting");
    assert!(grown < 8 * 1024, "{grown} KiB kept by reset checks");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_reset_during_a_key_refetch_does_not_cancel_the_fetch_others_wait_for() {
    // The first check with an unknown kid fetches the key set; checks behind it wait for
    // that fetch. A client that resets its check mid-fetch (or closes its connection)
    // must not cancel the fetch: the waiting checks would find the cooldown started and
    // no new key, and refuse valid tokens (401) until it passes.
    use prost::Message as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_JWKS_COOLDOWN_SECONDS", "600")]).await;
    let addr = service.grpc;
    let hold = Arc::new(AtomicBool::new(true));
    keys.answer(POOL, Answering::Hold(hold.clone()));
    keys.publish(POOL, key(1));
    let token = |n: u64| {
        let mut claims = access_claims("files/read");
        claims["jti"] = json!(format!("jti-{n}"));
        format!("Bearer {}", key(1).sign(&claims))
    };
    let message = |n: u64| {
        grpc_message(
            &request(
                "GET",
                "api.example.com",
                "/files/a",
                &[("authorization", &token(n))],
            )
            .encode_to_vec(),
        )
    };
    // The attacker's check starts the fetch (held by the key server).
    let fetched = keys.fetches_of(POOL);
    let attacker = h2_connection(addr).await;
    let mut attacker = attacker.ready().await.unwrap();
    let (response, mut body) = attacker.send_request(grpc_post(addr), false).unwrap();
    body.send_data(message(1).into(), true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while keys.fetches_of(POOL) == fetched {
        assert!(
            Instant::now() < deadline,
            "the unknown kid started no fetch"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A valid check waits for that fetch.
    let valid = message(2);
    let waiting =
        tokio::spawn(async move { raw_check(addr, grpc_post(addr), &[&valid], true).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The attacker resets its check; then the key server answers.
    drop(response);
    drop(body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    hold.store(false, Ordering::SeqCst);
    let (status, answer) = waiting.await.unwrap();
    assert_eq!(
        (status.as_str(), denied_status(&answer.unwrap())),
        ("0", 200),
        "a valid token refused because another client reset its check"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_that_never_send_cannot_make_checks_on_other_connections_wait() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let addr = service.grpc;
    // 16 connections × 32 streams (the defaults), twice the checks in flight (256):
    // each a check that never sends a byte. A stream takes a place among the checks in
    // flight only once its message is there.
    let mut held = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..16 {
        let (mut c, mut pings) = h2_connection_pinging(addr).await;
        for _ in 0..32 {
            c = c.ready().await.unwrap();
            held.push(c.send_request(grpc_post(addr), false).unwrap());
        }
        // The second PING leaves after the streams: answered, the service has read them.
        pings.ping(h2::Ping::opaque()).await.unwrap();
        pings.ping(h2::Ping::opaque()).await.unwrap();
        connections.push((c, pings));
    }
    let mut client = service.client().await;
    let started = Instant::now();
    let a = check(
        &mut client,
        request("GET", "api.example.com", "/health", &[]),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a check on another connection waited {:?}",
        started.elapsed()
    );
    drop(held);
    drop(connections);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_connection_holds_more_than_its_share_of_the_checks_in_flight() {
    // A message larger than a stream's window takes its place among the checks in flight
    // once a window of it is there (the rest is read with the place held). Streams that
    // send most of such a message and stop hold their places until the request timeout,
    // but one connection holds at most an eighth of them.
    let (_keys, service) = keys_and_service(
        BIN,
        ROUTES,
        &[
            ("AUTHZ_MAX_IN_FLIGHT", "64"),
            ("AUTHZ_MAX_STREAMS_PER_CONNECTION", "100"),
            ("AUTHZ_REQUEST_TIMEOUT_SECONDS", "120"),
            ("RUST_LOG", "info"),
        ],
    )
    .await;
    let addr = service.grpc;
    let mut connections = Vec::new();
    for _ in 0..2 {
        let mut c = h2_connection(addr).await;
        let mut streams = Vec::new();
        for _ in 0..100 {
            c = c.ready().await.unwrap();
            let (response, mut body) = c.send_request(grpc_post(addr), false).unwrap();
            let _ = body.send_data(partial_message(120_000, 110_000), false);
            streams.push((response, body));
        }
        connections.push((c, streams));
    }
    // Wait until the service holds as many places as the attack can take.
    let deadline = Instant::now() + Duration::from_secs(60);
    let waited = async |limit: &str| {
        let label = format!("limit=\"{limit}\"");
        service
            .metric("cognito_ext_authz_limits_tripped_total", &[&label])
            .await
    };
    while waited("grpc_connection_share").await + waited("grpc_in_flight").await < 2.0 {
        assert!(
            Instant::now() < deadline,
            "the attack never reached a limit"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut client = service.client().await;
    let started = Instant::now();
    let a = tokio::time::timeout(
        Duration::from_secs(30),
        check(
            &mut client,
            request("GET", "api.example.com", "/health", &[]),
        ),
    )
    .await
    .expect("a check on another connection waited for the attacker's places");
    assert_eq!(a.status, 200);
    eprintln!("a check on another connection took {:?}", started.elapsed());
    drop(connections);
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_alone_do_not_keep_a_connection_open() {
    // A client that opens a connection and sends only PINGs costs a connection slot and
    // its memory: the idle timeout counts from the last request, not the last byte.
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_IDLE_TIMEOUT_SECONDS", "2")]).await;
    let tcp = tokio::net::TcpStream::connect(service.grpc).await.unwrap();
    let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let mut pings = connection.ping_pong().expect("ping_pong taken once");
    let opened = Instant::now();
    let closed = tokio::spawn(async move {
        let pinging = async {
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if pings.ping(h2::Ping::opaque()).await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = connection => {}
            () = pinging => {}
        }
    });
    tokio::time::timeout(Duration::from_secs(30), closed)
        .await
        .expect("a connection kept open by PINGs alone")
        .unwrap();
    assert!(opened.elapsed() >= Duration::from_millis(1500));
    drop(client);
    assert!(
        service
            .metrics()
            .await
            .contains(r#"limit="idle_connection_closed"} 1"#)
    );
}
