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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use h2::RecvStream;
use h2::SendStream;
use h2::server::SendResponse;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body as _, Frame};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tonic::codegen::Service as _;

use super::view::{CHECK_PATH, CheckServer, ConnectionChecks, Refusal};

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
            Some(Ok(n)) if n > 0 => {
                let chunk = data.split_to(n.min(data.len()));
                waiting.sent(chunk.len());
                if send.send_data(chunk, false).is_err() {
                    return false;
                }
            }
            Some(Ok(_)) => {}
            _ => return false,
        }
    }
    true
}

/// What a connection has to write and cannot: shared by its checks, its relayed calls and
/// the socket it writes to.
#[derive(Default)]
struct Backlog {
    /// Answer bytes waiting for the client's flow-control window.
    unsent: AtomicUsize,
    /// The socket's last write did not go through (the client does not read its socket).
    write_blocked: AtomicBool,
    /// Moves whenever answer bytes go out, or the socket takes writes again.
    progress: AtomicU64,
    /// Woken when the connection's answers flow again.
    flowing_again: tokio::sync::Notify,
}

impl Backlog {
    /// Whether the connection's answers are being written: its checks may be decided.
    fn flowing(&self) -> bool {
        !self.window_closed() && !self.write_blocked.load(Ordering::Acquire)
    }

    /// Whether more answers than the bound wait for the client's flow-control window.
    fn window_closed(&self) -> bool {
        self.unsent.load(Ordering::Acquire) > UNSENT_ANSWER_BYTES
    }

    /// A check's turn to be decided: at once while the connection's answers are written,
    /// later while its socket does not take writes (Envoy busy for a moment), never while
    /// its client leaves its answers unread behind a closed window (the check is refused:
    /// that refusal needs no window, and the stream and its message are freed at once).
    async fn turn(&self) -> Result<(), Refusal> {
        loop {
            let notified = self.flowing_again.notified();
            let mut notified = pin!(notified);
            notified.as_mut().enable();
            if self.window_closed() {
                crate::observe::metrics::limit_tripped("grpc_unread_answers");
                return Err(Refusal::AnswersUnread);
            }
            if self.flowing() {
                return Ok(());
            }
            notified.await;
        }
    }

    fn waiting(&self, n: usize) {
        self.unsent.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` bytes no longer wait: sent (`moved`) or dropped with their stream.
    fn done(&self, n: usize, moved: bool) {
        if moved {
            self.progress.fetch_add(1, Ordering::Relaxed);
        }
        let before = self.unsent.fetch_sub(n, Ordering::AcqRel);
        if before > UNSENT_ANSWER_BYTES && self.flowing() {
            self.flowing_again.notify_waiters();
        }
    }

    /// A write to the socket went through, or did not (`blocked`). Only a write after a
    /// blocked one is progress: a client that reads nothing but its PING answers has its
    /// answers no nearer.
    fn wrote(&self, blocked: bool) {
        if blocked {
            self.write_blocked.store(true, Ordering::Release);
            return;
        }
        if self.write_blocked.load(Ordering::Relaxed)
            && self.write_blocked.swap(false, Ordering::AcqRel)
        {
            self.progress.fetch_add(1, Ordering::Relaxed);
            if self.flowing() {
                self.flowing_again.notify_waiters();
            }
        }
    }

    /// Whether something waits to be written, and the progress mark.
    fn stuck(&self) -> Option<u64> {
        (self.unsent.load(Ordering::Acquire) > 0 || self.write_blocked.load(Ordering::Acquire))
            .then(|| self.progress.load(Ordering::Relaxed))
    }
}

/// Answer bytes of one stream counted in a backlog until they are sent or dropped.
struct Waiting<'a> {
    backlog: &'a Backlog,
    left: std::cell::Cell<usize>,
}

impl<'a> Waiting<'a> {
    fn new(backlog: &'a Backlog, n: usize) -> Self {
        backlog.waiting(n);
        Self {
            backlog,
            left: std::cell::Cell::new(n),
        }
    }

    fn sent(&self, n: usize) {
        self.left.set(self.left.get() - n);
        self.backlog.done(n, true);
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.backlog.done(self.left.get(), false);
    }
}

/// Closes a connection whose backlog has not moved for a while.
#[derive(Default)]
struct Stall {
    /// The progress mark when the wait began, and its end.
    since: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
}

impl Stall {
    /// Whether the connection's backlog has waited `limit` without moving.
    fn over(&mut self, backlog: &Backlog, limit: Duration, cx: &mut Context<'_>) -> bool {
        let Some(mark) = backlog.stuck() else {
            self.since = None;
            return false;
        };
        match &mut self.since {
            Some((seen, timer)) if *seen == mark => timer.as_mut().poll(cx).is_ready(),
            _ => {
                let mut timer = Box::pin(tokio::time::sleep(limit));
                let over = timer.as_mut().poll(cx).is_ready();
                self.since = Some((mark, timer));
                over
            }
        }
    }
}

/// Closes a connection that has had no request for a while.
struct Idle {
    limit: Duration,
    last_request: tokio::time::Instant,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    /// Whether the connection has had no open stream and no request for the limit.
    fn over(&mut self, has_streams: bool, cx: &mut Context<'_>) -> bool {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = tokio::time::Instant::now();
            let until = if has_streams {
                now + self.limit
            } else {
                self.last_request + self.limit
            };
            if until <= now {
                return true;
            }
            self.timer.as_mut().reset(until);
        }
        false
    }
}

/// The connection's socket, telling its backlog whether writes go through.
struct Watched<C> {
    io: C,
    backlog: Arc<Backlog>,
}

impl<C: AsyncRead + Unpin> AsyncRead for Watched<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<C: AsyncWrite + Unpin> AsyncWrite for Watched<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.backlog.wrote(written.is_pending());
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.backlog.wrote(written.is_pending());
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
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

/// Serves a call that is not a check (health, reflection) with tonic, until it ends or the
/// port stops (a health `Watch` never ends by itself; it is reset then).
async fn relay(
    routes: tonic::service::Routes,
    request: Request<RecvStream>,
    respond: SendResponse<Bytes>,
    mut stop: watch::Receiver<bool>,
    _turn: tokio::sync::OwnedSemaphorePermit,
    backlog: Arc<Backlog>,
) {
    tokio::select! {
        () = relay_call(routes, request, respond, &backlog) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

async fn relay_call(
    mut routes: tonic::service::Routes,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    backlog: &Backlog,
) {
    let (parts, recv) = request.into_parts();
    let body = tonic::body::Body::new(RecvBody {
        recv,
        data_done: false,
    });
    let _ = poll_fn(|cx| {
        tonic::codegen::Service::<Request<tonic::body::Body>>::poll_ready(&mut routes, cx)
    })
    .await;
    // The call ends when the client resets its stream or the connection is lost: a health
    // `Watch` waits for a status change that may never come, and nothing else would end it.
    let mut call = pin!(routes.call(Request::from_parts(parts, body)));
    let response = poll_fn(|cx| {
        if let Poll::Ready(Ok(response)) = call.as_mut().poll(cx) {
            return Poll::Ready(Some(response));
        }
        respond.poll_reset(cx).map(|_| None)
    })
    .await;
    let Some(response) = response else {
        return;
    };
    let (parts, mut body) = response.into_parts();
    let end = body.is_end_stream();
    let Ok(mut send) = respond.send_response(Response::from_parts(parts, ()), end) else {
        return;
    };
    if end {
        return;
    }
    loop {
        let frame = poll_fn(|cx| {
            if let Poll::Ready(frame) = Pin::new(&mut body).poll_frame(cx) {
                return Poll::Ready(Some(frame));
            }
            send.poll_reset(cx).map(|_| None)
        })
        .await;
        // Reset by the client, or the connection lost.
        let Some(frame) = frame else {
            return;
        };
        // The end of the body.
        let Some(frame) = frame else {
            break;
        };
        let Ok(frame) = frame else {
            send.send_reset(h2::Reason::INTERNAL_ERROR);
            return;
        };
        match frame.into_data() {
            Ok(data) => {
                // Within the client's flow-control window, a window at a time.
                if !send_within_window(&mut send, data, backlog).await {
                    return;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    let _ = send.send_trailers(trailers);
                }
                return;
            }
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// A request stream as an HTTP body, its window given back as it is read.
struct RecvBody {
    recv: RecvStream,
    data_done: bool,
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        match ready!(self.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_is_read_in_every_unit_and_refused_when_malformed() {
        let read = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("grpc-timeout", HeaderValue::from_str(v).unwrap());
            grpc_timeout(&h)
        };
        assert_eq!(read("500m"), Some(Duration::from_millis(500)));
        assert_eq!(read("2S"), Some(Duration::from_secs(2)));
        assert_eq!(read("1M"), Some(Duration::from_secs(60)));
        assert_eq!(read("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(read("7u"), Some(Duration::from_micros(7)));
        assert_eq!(read("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(read("99999999S"), Some(Duration::from_secs(99_999_999)));
        for bad in ["", "m", "5", "5x", "123456789m", "-5m", "5 m", "５m"] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&HeaderMap::new()), None);
    }
}
