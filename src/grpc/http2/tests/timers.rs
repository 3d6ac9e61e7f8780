//! The timers that close a connection: the idle timeout counts from the last request and
//! never runs out while a call is open; a stopping port waits for the checks in flight.

use std::time::Duration;

use super::harness::*;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn requests_every_half_idle_timeout_keep_a_connection_open_and_it_closes_once_they_stop() {
    let port = Port::start("public", limits(30 * SECOND, Some(4 * SECOND)));
    let mut client = port.connect(1 << 20, 64 * 1024).await;
    // Across three idle timeouts.
    for _ in 0..8 {
        assert!(answered(answer(client.check().await).await.unwrap()));
        tokio::time::sleep(1500 * Duration::from_millis(1)).await;
        assert!(client.is_open());
    }
    let last = tokio::time::Instant::now() - 1500 * Duration::from_millis(1);
    let _ = tokio::time::timeout(60 * SECOND, &mut client.closed)
        .await
        .expect("closed once idle")
        .unwrap();
    let idle = last.elapsed();
    assert!(
        idle >= 4 * SECOND && idle < 5 * SECOND,
        "closed {idle:?} after its last request"
    );
}

#[tokio::test(start_paused = true)]
async fn a_check_open_across_the_idle_timeout_keeps_its_connection() {
    let port = Port::start("public", limits(30 * SECOND, Some(4 * SECOND)));
    let mut client = port.connect(1 << 20, 64 * 1024).await;
    // The check's message comes late (a slow client), past two idle timeouts: the
    // connection is not idle while it has a call open.
    let (response, mut body) = client.open().await;
    tokio::time::sleep(10 * SECOND).await;
    assert!(client.is_open());
    body.send_data(check_message(), true).unwrap();
    assert!(answered(answer(response).await.unwrap()));
}

#[tokio::test(start_paused = true)]
async fn a_check_begun_before_the_port_stops_is_answered_within_its_request_timeout() {
    let mut port = Port::start("public", limits(10 * SECOND, None));
    let mut client = port.connect(1 << 20, 64 * 1024).await;
    let begun = tokio::time::Instant::now();
    let (response, mut body) = client.open().await;
    tokio::time::sleep(500 * Duration::from_millis(1)).await;
    port.stop();
    // Its message arrives just before its request timeout runs out.
    tokio::time::sleep_until(begun + 9700 * Duration::from_millis(1)).await;
    body.send_data(check_message(), true).unwrap();
    assert!(answered(answer(response).await.unwrap()));
    // Then the port closes the connection and stops.
    tokio::time::timeout(60 * SECOND, &mut port.served)
        .await
        .expect("the port stops")
        .unwrap();
    assert!(begun.elapsed() < 10 * SECOND, "{:?}", begun.elapsed());
}
