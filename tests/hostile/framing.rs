//! gRPC and HTTP framing: oversized checks, split and malformed messages, request heads, the admin port, shutdown.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_check_is_resource_exhausted_and_the_service_goes_on() {
    use prost::Message as _;
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_MAX_REQUEST_BYTES", "65536")]).await;
    let mut client = service.client().await;
    let big = "a".repeat(70_000);
    let err = client
        .check(request(
            "GET",
            "api.example.com",
            "/health",
            &[("x-big", &big)],
        ))
        .await
        .expect_err("over the limit");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Just under the limit: a decision.
    let fits = "a".repeat(60_000);
    let a = check(
        &mut client,
        request("GET", "api.example.com", "/health", &[("x-big", &fits)]),
    )
    .await;
    assert_eq!(a.status, 200);
    // At the limit exactly: a decision; one byte over it: refused.
    let sized = |bytes: usize| {
        let with = |n: usize| {
            request(
                "GET",
                "api.example.com",
                "/health",
                &[("x-big", &"a".repeat(n))],
            )
        };
        let over = with(bytes).encoded_len() - bytes;
        let r = with(bytes - over);
        assert_eq!(r.encoded_len(), bytes);
        r
    };
    let a = check(&mut client, sized(65_536)).await;
    assert_eq!(
        a.status, 200,
        "a CheckRequest of exactly the limit is decided"
    );
    let err = client
        .check(sized(65_537))
        .await
        .expect_err("one byte over the limit");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(
        service
            .metrics()
            .await
            .contains(r#"cognito_ext_authz_limits_tripped_total{limit="grpc_message_size"} 2"#)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_is_read_whole_whatever_its_framing_and_malformed_framing_is_never_a_decision() {
    use prost::Message as _;
    // A request timeout longer than any wait below, so a check that ends past its
    // grpc-timeout ended because of it.
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_REQUEST_TIMEOUT_SECONDS", "120")]).await;
    let addr = service.grpc;
    let allowed = files_a_allowed();
    let no_token =
        grpc_message(&request("GET", "api.example.com", "/files/a", &[]).encode_to_vec());

    // In one DATA frame, in 7-byte frames, with the prefix split: the same decision.
    let (status, answer) = raw_check(addr, grpc_post(addr), &[&allowed], true).await;
    assert_eq!(
        (status.as_str(), denied_status(&answer.unwrap())),
        ("0", 200)
    );
    let pieces: Vec<&[u8]> = allowed.chunks(7).collect();
    let (status, answer) = raw_check(addr, grpc_post(addr), &pieces, true).await;
    assert_eq!(
        (status.as_str(), denied_status(&answer.unwrap())),
        ("0", 200)
    );
    let (status, answer) = raw_check(
        addr,
        grpc_post(addr),
        &[&no_token[..3], &no_token[3..]],
        true,
    )
    .await;
    assert_eq!(
        (status.as_str(), denied_status(&answer.unwrap())),
        ("0", 401)
    );

    // Framing that is not one whole CheckRequest is a gRPC error (Envoy: 503 with
    // failure_mode_allow false), never a decision and never the allow of a first message.
    let two = [allowed.clone(), no_token.clone()].concat();
    for (what, chunks, code) in [
        ("two messages in one call", vec![&two[..]], "13"),
        (
            "an allowed message then a stray byte",
            vec![&allowed[..], &b"x"[..]],
            "13",
        ),
        (
            "a truncated message",
            vec![&allowed[..allowed.len() - 1]],
            "13",
        ),
        ("half a prefix", vec![&allowed[..3]], "13"),
        ("no message at all", vec![], "13"),
        (
            "a prefix declaring what is not protobuf",
            vec![&grpc_message(&[0xff; 9])[..]],
            "13",
        ),
    ] {
        let (status, answer) = raw_check(addr, grpc_post(addr), &chunks, true).await;
        assert_eq!((status.as_str(), answer), (code, None), "{what}");
    }
    // A message of length 0 is a whole (empty) CheckRequest: a decision, and a denial.
    let (status, answer) = raw_check(addr, grpc_post(addr), &[&grpc_message(&[])], true).await;
    assert_eq!(status, "0", "an empty CheckRequest is decided");
    assert_ne!(denied_status(&answer.unwrap()), 200);
    let mut compressed = allowed.clone();
    compressed[0] = 1;
    let (status, answer) = raw_check(addr, grpc_post(addr), &[&compressed], true).await;
    assert_eq!(
        (status.as_str(), answer),
        ("12", None),
        "compressed: UNIMPLEMENTED"
    );

    // A caller's grpc-timeout bounds a check whose message never comes: CANCELLED.
    let mut head = grpc_post(addr);
    head.headers_mut()
        .insert("grpc-timeout", http::HeaderValue::from_static("200m"));
    let (status, answer) = raw_check(addr, head, &[&allowed[..10]], false).await;
    assert_eq!(
        (status.as_str(), answer),
        ("1", None),
        "past its grpc-timeout"
    );
    // A grpc-timeout longer than the request timeout does not extend it.
    let (_keys2, short) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let mut head = grpc_post(short.grpc);
    head.headers_mut()
        .insert("grpc-timeout", http::HeaderValue::from_static("1H"));
    let (status, answer) = raw_check(short.grpc, head, &[&allowed[..10]], false).await;
    assert_eq!(
        (status.as_str(), answer),
        ("1", None),
        "past the request timeout"
    );

    // Another path of the service is not a check: UNIMPLEMENTED from the gRPC router.
    let head = grpc_call(addr, "/envoy.service.auth.v3.Authorization/Other");
    let (status, answer) = raw_check(addr, head, &[&allowed], true).await;
    assert_eq!((status.as_str(), answer), ("12", None), "unknown method");
}

/// A client whose flow-control window is smaller than its answer (16 bytes, against a few
/// hundred for an allow with its identity headers) gets the whole answer as it reads, a
/// window's worth at a time, then its trailers: the answer is neither cut short nor held
/// back once the window opens again.
#[tokio::test(flavor = "multi_thread")]
async fn an_answer_larger_than_the_clients_window_arrives_whole_as_the_client_reads() {
    use prost::Message as _;
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let addr = service.grpc;
    let allowed = files_a_allowed();
    for window in [16, 100] {
        let (status, answer) =
            raw_check_windowed(addr, grpc_post(addr), &[&allowed], true, window).await;
        let answer = answer.expect("a message");
        assert_eq!((status.as_str(), denied_status(&answer)), ("0", 200));
        assert!(answer.encoded_len() > 3 * window as usize, "{window}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grpc_request_head_is_bounded_at_16_kib() {
    use prost::Message as _;
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let addr = service.grpc;
    let check = grpc_message(&request("GET", "api.example.com", "/health", &[]).encode_to_vec());
    let with_header = |bytes: usize| {
        let mut head = grpc_post(addr);
        head.headers_mut().insert(
            "x-pad",
            http::HeaderValue::from_str(&"p".repeat(bytes)).unwrap(),
        );
        head
    };
    // Envoy's own head is a few hundred bytes; 12 KiB of metadata is still read.
    let (status, answer) = raw_check(addr, with_header(12 * 1024), &[&check], true).await;
    assert_eq!(
        (status.as_str(), denied_status(&answer.unwrap())),
        ("0", 200)
    );
    // Past 16 KiB the call is refused before it is read (HTTP/2's 431; Envoy fails the
    // check closed): no decision.
    let client = h2_connection(addr).await;
    let mut client = client.ready().await.unwrap();
    let (response, mut body) = client.send_request(with_header(20 * 1024), false).unwrap();
    let _ = body.send_data(bytes::Bytes::from(check.clone()), true);
    let response = tokio::time::timeout(Duration::from_secs(30), response)
        .await
        .expect("an answer, not a hang")
        .unwrap();
    assert_eq!(response.status(), 431);
    assert!(response.headers().get("grpc-status").is_none());
    // The port goes on.
    let (status, _) = raw_check(addr, grpc_post(addr), &[&check], true).await;
    assert_eq!(status, "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_port_bounds_header_size_time_and_connections() {
    let (_keys, service) =
        keys_and_service(BIN, ROUTES, &[("AUTHZ_ADMIN_MAX_CONNECTIONS", "32")]).await;
    let pid = service.pid();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // An oversized request head is refused and the connection closed, not buffered.
    let mut s = tokio::net::TcpStream::connect(service.admin).await.unwrap();
    let mut head = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 400_000));
    let _ = s.write_all(&head).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut answer))
        .await
        .expect("the server closes a connection with an oversized head")
        .ok();
    assert!(!String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));

    // A request head that never ends is cut at the header timeout.
    let mut slow = tokio::net::TcpStream::connect(service.admin).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nx-slow: ")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut rest))
        .await
        .expect("the server cuts a request head that never ends")
        .ok();

    // Many half-sent requests: only the cap is served at once, memory stays bounded, and
    // the gRPC port is unaffected.
    let mut half = Vec::new();
    for _ in 0..200 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(service.admin).await {
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nx-slow: ").await;
            half.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss = rss_kib(pid);
    eprintln!("RSS with 200 half-sent admin requests: {rss} KiB");
    assert!(rss < 128 * 1024, "RSS {rss} KiB");
    let mut client = service.client().await;
    let a = check(&mut client, request("GET", "h", "/health", &[])).await;
    assert_eq!(a.status, 200);
    drop(half);
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        if let Ok(Ok(r)) = tokio::time::timeout(
            Duration::from_secs(2),
            reqwest::get(format!("http://{}/metrics", service.admin)),
        )
        .await
            && let Ok(text) = r.text().await
        {
            break text;
        }
        assert!(Instant::now() < deadline, "admin port never recovered");
    };
    assert!(
        metrics.contains(r#"limit="admin_connections""#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_answers_the_goaway_ping_cannot_hold_up_the_shutdown() {
    // h2's graceful shutdown sends GOAWAY and a PING, and closes the connection only once
    // the PING is answered and the streams are done. A client that never answers (hostile,
    // or a hung process whose kernel still acks) would keep the port from ever stopping:
    // after the request timeout no check can still be in flight, so the connection goes.
    let (_keys, mut service) = keys_and_service(
        BIN,
        ROUTES,
        &[
            ("AUTHZ_REQUEST_TIMEOUT_SECONDS", "2"),
            ("AUTHZ_IDLE_TIMEOUT_SECONDS", "0"),
        ],
    )
    .await;
    let tcp = silent_h2_client(service.grpc).await;
    // Reads (and discards) whatever the service sends, answering nothing.
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt as _;
        let mut tcp = tcp;
        let mut buf = [0u8; 4096];
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.signal("TERM");
    assert_eq!(service.wait_exit(Duration::from_secs(15)).await, Some(0));
    reader.abort();
}
