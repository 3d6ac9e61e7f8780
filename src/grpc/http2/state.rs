//! What one connection keeps to bound itself: the answers it cannot write yet
//! ([`Backlog`], [`Waiting`]), and the timers that close it when they stop moving
//! ([`Stall`]) or when it sends no request ([`Idle`]); [`Watched`] is its socket, telling
//! the backlog whether writes go through.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::UNSENT_ANSWER_BYTES;
use crate::grpc::view::Refusal;

/// What a connection has to write and cannot: shared by its checks, its relayed calls and
/// the socket it writes to.
#[derive(Default)]
pub(super) struct Backlog {
    /// Answer bytes waiting for the client's flow-control window.
    pub(super) unsent: AtomicUsize,
    /// The socket's last write did not go through (the client does not read its socket).
    pub(super) write_blocked: AtomicBool,
    /// Moves whenever answer bytes go out, or the socket takes writes again.
    pub(super) progress: AtomicU64,
    /// Woken when the connection's answers flow again.
    pub(super) flowing_again: tokio::sync::Notify,
}

impl Backlog {
    /// Whether the connection's answers are being written: its checks may be decided.
    pub(super) fn flowing(&self) -> bool {
        !self.window_closed() && !self.write_blocked.load(Ordering::Acquire)
    }

    /// Whether more answers than the bound wait for the client's flow-control window.
    pub(super) fn window_closed(&self) -> bool {
        self.unsent.load(Ordering::Acquire) > UNSENT_ANSWER_BYTES
    }

    /// A check's turn to be decided: at once while the connection's answers are written,
    /// later while its socket does not take writes (Envoy busy for a moment), never while
    /// its client leaves its answers unread behind a closed window (the check is refused:
    /// that refusal needs no window, and the stream and its message are freed at once).
    pub(super) async fn turn(&self) -> Result<(), Refusal> {
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

    pub(super) fn waiting(&self, n: usize) {
        self.unsent.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` bytes no longer wait: sent (`moved`) or dropped with their stream.
    pub(super) fn done(&self, n: usize, moved: bool) {
        if moved {
            self.progress.fetch_add(1, Ordering::Relaxed);
        }
        self.unsent.fetch_sub(n, Ordering::AcqRel);
        // Checks wait for their turn only while the socket takes no writes; when it took
        // them again with the window closed, these bytes may be what reopens it. Waking
        // them whenever answers flow is enough: they look again before going on.
        if self.flowing() {
            self.flowing_again.notify_waiters();
        }
    }

    /// A write to the socket went through, or did not (`blocked`). Only a write after a
    /// blocked one is progress: a client that reads nothing but its PING answers has its
    /// answers no nearer.
    pub(super) fn wrote(&self, blocked: bool) {
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
    pub(super) fn stuck(&self) -> Option<u64> {
        (self.unsent.load(Ordering::Acquire) > 0 || self.write_blocked.load(Ordering::Acquire))
            .then(|| self.progress.load(Ordering::Relaxed))
    }
}

/// Answer bytes of one stream counted in a backlog until they are sent or dropped.
pub(super) struct Waiting<'a> {
    pub(super) backlog: &'a Backlog,
    pub(super) left: std::cell::Cell<usize>,
}

impl<'a> Waiting<'a> {
    pub(super) fn new(backlog: &'a Backlog, n: usize) -> Self {
        backlog.waiting(n);
        Self {
            backlog,
            left: std::cell::Cell::new(n),
        }
    }

    pub(super) fn sent(&self, n: usize) {
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
pub(super) struct Stall {
    /// The progress mark when the wait began, and its end.
    pub(super) since: Option<(u64, Pin<Box<tokio::time::Sleep>>)>,
}

impl Stall {
    /// Whether the connection's backlog has waited `limit` without moving.
    pub(super) fn over(
        &mut self,
        backlog: &Backlog,
        limit: Duration,
        cx: &mut Context<'_>,
    ) -> bool {
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
pub(super) struct Idle {
    pub(super) limit: Duration,
    pub(super) last_request: tokio::time::Instant,
    pub(super) timer: Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    /// Whether the connection has had no open stream and no request for the limit.
    pub(super) fn over(&mut self, has_streams: bool, cx: &mut Context<'_>) -> bool {
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

/// The connection's socket, telling its backlog whether writes go through. Its writes are
/// not vectored (the default), as the port's sockets say of theirs (`listen::Conn`).
pub(super) struct Watched<C> {
    pub(super) io: C,
    pub(super) backlog: Arc<Backlog>,
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
