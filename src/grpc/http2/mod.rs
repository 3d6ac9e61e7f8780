//! The gRPC port's HTTP/2 server: each connection is served by one task, which answers
//! its checks itself and hands every other call (health, reflection) to tonic.
//!
//! A check is read, decided and answered inside the task that reads and writes its
//! connection: no task per request, no hand-off between threads, and the answers of every
//! check decided since the last write leave in one system call. A general-purpose server
//! (hyper under tonic) spawns a task per request and wakes the connection once per answer;
//! on the checks Envoy sends that costs more CPU than deciding them (`docs/performance.md`).
//!
//! The bounds are those of `docs/security.md`: streams per connection, the request's own
//! header block, flow-control windows, the size of a `CheckRequest` and the checks being
//! read at once ([`CheckServer`]), the time a check may take; per connection, the answers
//! waiting for the client to open its window (past them its checks are refused), the time
//! its answers may stay unwritten and the time without a request (PINGs do not count)
//! before it is closed. HTTP/2 itself (framing, HPACK, flow control, resets, GOAWAY) is
//! the `h2` crate's, as it is under hyper.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use h2::RecvStream;
use h2::SendStream;
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

use super::view::{CHECK_PATH, CheckServer, ConnectionChecks, Refusal};

mod relay;
mod state;

use relay::relay;
use state::{Backlog, Idle, Stall, Waiting, Watched};

/// The HTTP/2 settings of the gRPC port.
#[derive(Debug, Clone, Copy)]
pub struct Http2Limits {
    /// Streams a connection may have open at once (`AUTHZ_MAX_STREAMS_PER_CONNECTION`).
    pub max_streams: u32,
    /// Longest a check may take, from its first byte to its answer
    /// (`AUTHZ_REQUEST_TIMEOUT_SECONDS`; a shorter `grpc-timeout` from the client wins).
    /// Also how long a connection's answers may wait to be written before it is closed.
    pub request_timeout: Duration,
    /// How long a connection may go without a request (PINGs do not count) before it is
    /// closed (`AUTHZ_IDLE_TIMEOUT_SECONDS`; `None`: never).
    pub idle_timeout: Option<Duration>,
}

/// The gRPC request's own headers (not the `CheckRequest`'s): Envoy sends a few hundred bytes.
const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
/// Per stream: a typical `CheckRequest` fits; larger ones take a window update or two.
const STREAM_WINDOW_BYTES: u32 = 64 * 1024;
/// Per connection: what a connection's unread streams can hold at most (HTTP/2's initial
/// connection window, the least a server can give).
const CONNECTION_WINDOW_BYTES: u32 = 65_535;

/// h2's budget for the overhead of small DATA frames held unread (each frame under 256 bytes
/// costs 256 minus its size); past it the connection is closed (`ENHANCE_YOUR_CALM`).
/// h2 derives it from the connection window (32 KiB for 64 KiB), which a check sent in
/// 7-byte frames exceeds; this is what it was with a 256 KiB window.
const SMALL_DATA_FRAMES_BUDGET: usize = 128 * 1024;

/// Answer bytes a connection may have waiting for its client's flow-control window: past
/// this, its further checks and calls are refused unread until the client reads. Envoy's
/// windows are far larger than its checks in flight, so it never gets there.
const UNSENT_ANSWER_BYTES: usize = 8 * 1024;

/// Most answers written together: the first of them is not held back for longer than
/// deciding this many checks takes, so Envoy can work on them while the rest are decided.
const ANSWERS_PER_WRITE: usize = 8;

/// Calls other than checks (health, reflection) a connection may have open at once: the
/// kubelet's probe and grpcurl make one or two; each holds its answers until the client
/// reads them. Past this, a call is refused with `RESOURCE_EXHAUSTED`.
const RELAYED_CALLS_PER_CONNECTION: usize = 8;

/// How long past the request timeout a connection may take to close once the port stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The gRPC port: checks answered by [`CheckServer`], everything else by `others`.
pub struct GrpcPort {
    checks: CheckServer,
    others: tonic::service::Routes,
    http2: h2::server::Builder,
    request_timeout: Duration,
    idle_timeout: Option<Duration>,
}

impl GrpcPort {
    /// The port answering checks with `checks` and every other path with `others`
    /// (`UNIMPLEMENTED` for a path none of them serves).
    pub fn new(checks: CheckServer, others: tonic::service::Routes, limits: Http2Limits) -> Self {
        let mut http2 = h2::server::Builder::new();
        http2
            .initial_window_size(STREAM_WINDOW_BYTES)
            .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
            .max_concurrent_streams(limits.max_streams)
            .max_header_list_size(MAX_HEADER_LIST_BYTES)
            .data_frame_budget(SMALL_DATA_FRAMES_BUDGET);
        Self {
            checks,
            others: others.prepare(),
            http2,
            request_timeout: limits.request_timeout,
            idle_timeout: limits.idle_timeout,
        }
    }

    /// Serves the connections of `incoming` until `stop` completes; then stops taking
    /// connections, tells every client to go away (GOAWAY), lets the checks in flight
    /// finish, and returns once every connection is closed.
    pub async fn serve<C>(
        self: Arc<Self>,
        mut incoming: mpsc::Receiver<io::Result<C>>,
        stop: impl Future<Output = ()>,
    ) where
        C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (stopping, stop_rx) = watch::channel(false);
        let mut stop = pin!(stop);
        loop {
            tokio::select! {
                conn = incoming.recv() => match conn {
                    Some(Ok(conn)) => {
                        tokio::spawn(self.clone().connection(conn, stop_rx.clone()));
                    }
                    // Failed accepts and handshakes are counted where they happen.
                    Some(Err(_)) => continue,
                    None => break,
                },
                () = &mut stop => break,
            }
        }
        drop(incoming);
        let _ = stopping.send(true);
        drop(stop_rx);
        // Every connection task holds a receiver until its connection is closed.
        stopping.closed().await;
    }

    /// Serves one connection: its checks in this task, other calls in tasks of their own.
    async fn connection<C>(self: Arc<Self>, io: C, mut stop: watch::Receiver<bool>)
    where
        C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let backlog = Arc::new(Backlog::default());
        let io = Watched {
            io,
            backlog: backlog.clone(),
        };
        let handshake = self.http2.handshake::<_, Bytes>(io);
        let mut conn = tokio::select! {
            conn = handshake => match conn {
                Ok(conn) => conn,
                Err(_) => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let on_connection = self
            .checks
            .connection(STREAM_WINDOW_BYTES, CONNECTION_WINDOW_BYTES);
        let for_others = stop.clone();
        let relayed = Arc::new(tokio::sync::Semaphore::new(RELAYED_CALLS_PER_CONNECTION));
        let mut stopping = pin!(stop.wait_for(|s| *s));
        // Set when the port stops: h2 closes the connection once the client has answered
        // the PING sent with its GOAWAY and the streams are done; a client that never
        // answers would keep it (and the port) open for good. No check can still be in
        // flight a request timeout after the GOAWAY, so the connection is dropped then.
        let mut closing: Option<Pin<Box<tokio::time::Sleep>>> = None;
        let mut stalled = Stall::default();
        let mut idle = self.idle_timeout.map(|limit| Idle {
            limit,
            last_request: tokio::time::Instant::now(),
            timer: Box::pin(tokio::time::sleep(limit)),
        });
        let mut checks = FuturesUnordered::new();
        poll_fn(|cx| {
            match &mut closing {
                None => {
                    if stopping.as_mut().poll(cx).is_ready() {
                        conn.graceful_shutdown();
                        let mut deadline =
                            Box::pin(tokio::time::sleep(self.request_timeout + SHUTDOWN_GRACE));
                        let _ = deadline.as_mut().poll(cx);
                        closing = Some(deadline);
                    }
                }
                Some(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                }
            }
            loop {
                // Reads what the socket has, writes what is queued, and hands over the new
                // streams one by one; once none is left, answer the checks, and loop back
                // so their answers are written together.
                loop {
                    match conn.poll_accept(cx) {
                        Poll::Ready(Some(Ok((request, respond)))) => {
                            if let Some(idle) = &mut idle {
                                idle.last_request = tokio::time::Instant::now();
                            }
                            if request.uri().path() == CHECK_PATH {
                                if backlog.window_closed() {
                                    crate::observe::metrics::limit_tripped("grpc_unread_answers");
                                    refuse(respond, Refusal::AnswersUnread);
                                } else {
                                    checks.push(self.check(
                                        &on_connection,
                                        &backlog,
                                        request,
                                        respond,
                                    ));
                                }
                            } else if !backlog.flowing() {
                                // Its answer would wait behind the others.
                                crate::observe::metrics::limit_tripped("grpc_unread_answers");
                                refuse(respond, Refusal::AnswersUnread);
                            } else if let Ok(turn) = relayed.clone().try_acquire_owned() {
                                tokio::spawn(relay(
                                    self.others.clone(),
                                    request,
                                    respond,
                                    for_others.clone(),
                                    turn,
                                    backlog.clone(),
                                ));
                            } else {
                                crate::observe::metrics::limit_tripped("grpc_relayed_calls");
                                refuse(respond, Refusal::TooManyCalls);
                            }
                        }
                        // A connection error or the end of the connection: its streams
                        // are gone with it.
                        Poll::Ready(_) => return Poll::Ready(()),
                        Poll::Pending => break,
                    }
                }
                let mut answered = 0;
                while answered < ANSWERS_PER_WRITE
                    && let Poll::Ready(Some(())) = checks.poll_next_unpin(cx)
                {
                    answered += 1;
                }
                if answered == 0 {
                    break;
                }
            }
            // Nothing more to do until the client or a check wakes the connection: close it
            // if its answers have not moved for the request timeout, or if it has had no
            // request for the idle timeout (whatever else it sent, PINGs included).
            if stalled.over(&backlog, self.request_timeout, cx) {
                crate::observe::metrics::limit_tripped("grpc_stalled_connection_closed");
                return Poll::Ready(());
            }
            if let Some(idle) = &mut idle
                && idle.over(conn.has_streams(), cx)
            {
                crate::observe::metrics::limit_tripped("idle_connection_closed");
                return Poll::Ready(());
            }
            Poll::Pending
        })
        .await;
    }

    /// Answers one check on its stream.
    async fn check(
        &self,
        on_connection: &ConnectionChecks,
        backlog: &Backlog,
        request: Request<RecvStream>,
        mut respond: SendResponse<Bytes>,
    ) {
        let timeout = grpc_timeout(request.headers())
            .map_or(self.request_timeout, |t| t.min(self.request_timeout));
        // The request's headers are not kept while the message is waited for.
        let body = request.into_body();
        let mut answering = pin!(tokio::time::timeout(
            timeout,
            self.checks.answer(on_connection, body, backlog.turn())
        ));
        // A check the client resets (or whose connection is lost) ends at once, even while
        // it waits for its turn or for a key set: its stream no longer counts against the
        // connection's streams, so nothing else would bound how many such checks are kept.
        let answer = poll_fn(|cx| {
            if let Poll::Ready(answer) = answering.as_mut().poll(cx) {
                return Poll::Ready(answer.unwrap_or(Err(Refusal::TimedOut)));
            }
            match respond.poll_reset(cx) {
                Poll::Ready(_) => Poll::Ready(Err(Refusal::Gone)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match answer {
            Ok(message) => {
                let Ok(mut send) = respond.send_response(grpc_head(), false) else {
                    return;
                };
                if send_within_window(&mut send, message, backlog).await {
                    let mut trailers = HeaderMap::with_capacity(1);
                    trailers.insert("grpc-status", HeaderValue::from_static("0"));
                    let _ = send.send_trailers(trailers);
                }
            }
            // The client reset the stream or the connection is gone: nobody to answer.
            Err(Refusal::Gone) => {}
            Err(refusal) => refuse(respond, refusal),
        }
    }
}

/// Sends `data` on `send` as the client's flow-control window lets it, counting what waits
/// for the window in the connection's `backlog`; `false` if the stream is reset or the
/// connection lost first.
async fn send_within_window(
    send: &mut SendStream<Bytes>,
    mut data: Bytes,
    backlog: &Backlog,
) -> bool {
    send.reserve_capacity(data.len());
    // Envoy's windows are large: the whole answer has its window at once.
    if send.capacity() >= data.len() {
        return send.send_data(data, false).is_ok();
    }
    let waiting = Waiting::new(backlog, data.len());
    while data.has_remaining() {
        match poll_fn(|cx| send.poll_capacity(cx)).await {
            // Above zero: h2 waits rather than report none (were it to, an empty DATA
            // frame would go and the loop wait again).
            Some(Ok(n)) => {
                let chunk = data.split_to(n.min(data.len()));
                waiting.sent(chunk.len());
                if send.send_data(chunk, false).is_err() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Answers a call with the gRPC error of `refusal`, trailers-only: the status in the one
/// HEADERS frame that ends the stream.
fn refuse(mut respond: SendResponse<Bytes>, refusal: Refusal) {
    let mut head = grpc_head();
    let (status, message) = refusal.status();
    let headers = head.headers_mut();
    headers.insert("grpc-status", HeaderValue::from_static(status));
    headers.insert("grpc-message", HeaderValue::from_static(message));
    let _ = respond.send_response(head, true);
}

/// `200` with `content-type: application/grpc`: the head of every gRPC answer.
fn grpc_head() -> Response<()> {
    let mut head = Response::new(());
    head.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    head
}

/// The client's `grpc-timeout` (`500m`: up to 8 digits and a unit), when it sent a valid one.
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.as_bytes();
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b"H" => Duration::from_secs(n.saturating_mul(3600)),
        b"M" => Duration::from_secs(n.saturating_mul(60)),
        b"S" => Duration::from_secs(n),
        b"m" => Duration::from_millis(n),
        b"u" => Duration::from_micros(n),
        b"n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
