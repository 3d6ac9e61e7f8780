//! The answers a connection cannot write: its checks wait while its socket takes no
//! writes, are refused past 8 KiB of answers behind a closed window, and the connection is
//! closed only when they stop moving.

use std::time::Duration;

use super::harness::*;

const SECOND: Duration = Duration::from_secs(1);

/// A gRPC method the port does not serve.
const OTHER: &str = "/example.Elsewhere/Call";

#[tokio::test(start_paused = true)]
async fn checks_wait_while_the_client_reads_nothing_and_are_decided_once_it_reads() {
    let len = answer_len("public").await;
    let counted = Counted::new();
    let _counting = counted.install();
    let port = Port::start("public", limits(30 * SECOND, None));
    // A socket that holds 1 KiB: five answers or so.
    let mut client = port.connect(1 << 20, 1024).await;
    assert_eq!(
        answer(client.check().await).await.unwrap(),
        Answer::Answered {
            status: "0".into(),
            len
        }
    );
    assert_eq!(counted.decisions(), 1);

    client.reading(false);
    let mut calls = Vec::new();
    for _ in 0..30 {
        calls.push(client.check().await);
    }
    settle().await;
    let decided = counted.decisions() - 1;
    assert!(
        (1..30).contains(&decided),
        "{decided} of 30 checks decided: the first, until the socket took no more"
    );
    // Nothing more is decided while the socket takes no writes, however long (within the
    // request timeout) and whatever else arrives.
    tokio::time::sleep(20 * SECOND).await;
    calls.push(client.check().await);
    settle().await;
    assert_eq!(counted.decisions() - 1, decided);
    assert!(client.is_open());

    client.reading(true);
    all_answered(calls).await;
    assert_eq!(counted.decisions(), 32);
    assert_eq!(counted.tripped("grpc_unread_answers"), 0);
}

#[tokio::test(start_paused = true)]
async fn checks_are_refused_past_8_kib_of_answers_behind_a_closed_window_and_not_at_it() {
    // A public route whose answer is 256 bytes: 32 of them make 8 KiB exactly.
    let mut route = None;
    for n in 1..100 {
        let name = "r".repeat(n);
        if answer_len(&name).await == 256 {
            route = Some(name);
            break;
        }
    }
    let route = route.expect("a route name giving 256-byte answers");
    let counted = Counted::new();
    let _counting = counted.install();
    let port = Port::start(&route, limits(30 * SECOND, None));
    // The client reads its socket, but its windows are shut: no answer's message leaves.
    let mut client = port.connect(0, 64 * 1024).await;
    // A call that is not a check is handed on (here to no service: UNIMPLEMENTED).
    assert_eq!(
        answer(client.open_call(OTHER).await.0).await.unwrap(),
        Answer::Refused("12".into())
    );
    let mut heads = Vec::new();
    for _ in 0..32 {
        heads.push(client.check().await);
    }
    settle().await;
    // 8 KiB wait: still within the bound, so the next check is decided too.
    let at_the_bound = client.check().await;
    settle().await;
    let past_it = client.check().await;
    settle().await;
    for head in heads {
        let head = head.await.unwrap();
        assert!(!head.headers().contains_key("grpc-status"), "{head:?}");
    }
    let head = at_the_bound.await.unwrap();
    assert!(!head.headers().contains_key("grpc-status"), "{head:?}");
    assert_eq!(
        answer(past_it).await.unwrap(),
        Answer::Refused("8".into()),
        "RESOURCE_EXHAUSTED once 8,448 bytes wait"
    );
    // Past the bound, other calls are refused too: their answers would wait behind these.
    assert_eq!(
        answer(client.open_call(OTHER).await.0).await.unwrap(),
        Answer::Refused("8".into())
    );
    assert_eq!(counted.decisions(), 33);
    assert_eq!(counted.tripped("grpc_unread_answers"), 2);
}

#[tokio::test(start_paused = true)]
async fn an_answer_trickling_through_a_small_window_keeps_its_connection_open() {
    // Each piece moves well within the request timeout, the whole answer takes far longer:
    // the connection is closed only when its answers stop moving.
    let port = Port::start("public", limits(2 * SECOND, None));
    let len = answer_len("public").await;
    let mut client = port.connect(16, 64 * 1024).await;
    let call = client.check().await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        trickled(call, SECOND).await.unwrap(),
        Answer::Answered {
            status: "0".into(),
            len
        }
    );
    assert!(started.elapsed() >= 10 * SECOND, "{:?}", started.elapsed());
    assert!(client.is_open());
}

#[tokio::test(start_paused = true)]
async fn a_check_reset_while_its_answer_waits_for_the_window_leaves_nothing_waiting() {
    let port = Port::start("public", limits(10 * SECOND, None));
    let len = answer_len("public").await;
    let mut client = port.connect(16, 64 * 1024).await;
    // The first 16 bytes arrive and the window is not given back; then the client resets
    // the call (drops it).
    let head = client.check().await.await.unwrap();
    let mut body = head.into_body();
    assert_eq!(body.data().await.unwrap().unwrap().len(), 16);
    drop(body);
    settle().await;
    // Longer than the request timeout: nothing is left to write, so the connection is not
    // stalled; its next check is decided and answered whole.
    tokio::time::sleep(15 * SECOND).await;
    assert!(client.is_open());
    assert_eq!(
        answer(client.check().await).await.unwrap(),
        Answer::Answered {
            status: "0".into(),
            len
        }
    );
    // And again, once answers have waited for the window and been sent whole.
    tokio::time::sleep(15 * SECOND).await;
    assert!(client.is_open());
    assert!(answered(answer(client.check().await).await.unwrap()));
}

#[tokio::test(start_paused = true)]
async fn a_connection_whose_answers_cannot_move_is_closed_after_the_request_timeout() {
    let counted = Counted::new();
    let _counting = counted.install();
    let port = Port::start("public", limits(10 * SECOND, None));
    let mut client = port.connect(0, 64 * 1024).await;
    let opened = tokio::time::Instant::now();
    let _call = client.check().await;
    let _ = tokio::time::timeout(60 * SECOND, &mut client.closed)
        .await
        .expect("closed")
        .unwrap();
    let waited = opened.elapsed();
    assert!(
        waited >= 10 * SECOND && waited < 11 * SECOND,
        "closed after {waited:?}"
    );
    assert_eq!(counted.tripped("grpc_stalled_connection_closed"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_check_waiting_for_its_turn_goes_on_once_the_client_opens_its_windows() {
    // The turn a check waits for when the client's windows, not its socket, hold the answers
    // back at the end. A connection's checks took their turn while its answers flowed, then
    // waited for a place in flight (other connections held them all); meanwhile its client
    // stopped reading its socket, so its next check waits for its turn. Once the places come
    // free the first checks are decided, and their answers (behind shut windows) pass the
    // 8 KiB bound. The socket taking writes again is not enough: the waiting check goes on
    // once the client opens its windows and the answers leave.
    let counted = Counted::new();
    let _counting = counted.install();
    let mut limits = limits(30 * SECOND, None);
    limits.max_streams = 256;
    // One place in flight for each of eight connections.
    let port = Port::start_with("public", limits, 8);
    let mut holders = Vec::new();
    for _ in 0..8 {
        let mut holder = port.connect(1 << 20, 64 * 1024).await;
        let (response, mut body) = holder.open().await;
        // 40,000 bytes of a 60,000-byte message: its place is held for the rest.
        let mut part = vec![0u8];
        part.extend(60_000u32.to_be_bytes());
        part.extend(vec![0x0a; 40_000]);
        body.send_data(part.into(), false).unwrap();
        holders.push((holder, response, body));
    }
    let mut client = port.connect(0, 64 * 1024).await;
    let mut first = Vec::new();
    for _ in 0..50 {
        first.push(client.check().await);
    }
    settle().await;
    assert_eq!(counted.decisions(), 0, "every place is held");
    // The socket takes no more writes: a call that is not a check is answered, and its
    // answer does not go out.
    client.socket_takes_writes(false);
    let other = client.open_call(OTHER).await.0;
    settle().await;
    let waiting = client.check().await;
    settle().await;
    drop(holders);
    settle().await;
    assert_eq!(
        counted.decisions(),
        50,
        "the places free, the waiting check waits"
    );
    client.socket_takes_writes(true);
    assert_eq!(answer(other).await.unwrap(), Answer::Refused("12".into()));
    settle().await;
    assert_eq!(
        counted.decisions(),
        50,
        "9 KiB of answers behind shut windows"
    );
    client.open_windows(1 << 20);
    first.push(waiting);
    all_answered(first).await;
    assert_eq!(counted.decisions(), 51);
}
