//! Accepting connections within bounds.
//!
//! Every open connection costs a file handle and memory, so each port admits at most a
//! configured number at once; past that, new connections wait in the kernel's listen
//! backlog until one closes, and the wait is counted. A failed `accept` (out of file
//! handles, above all) is retried after a pause instead of at once, so it can never spin a
//! core. A connection that sends nothing for the idle timeout is closed: Envoy reconnects
//! on demand, and a client that opened a connection and went away stops costing memory.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};

/// Pause after a failed `accept` before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The next accepted connection, skipping failed accepts; `None` once the acceptor has
/// ended or `stop` has completed.
pub async fn next_conn<C>(
    connections: &mut mpsc::Receiver<io::Result<C>>,
    stop: impl Future<Output = ()>,
) -> Option<C> {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            conn = connections.recv() => match conn {
                Some(Ok(conn)) => return Some(conn),
                Some(Err(_)) => continue,
                None => return None,
            },
            () = &mut stop => return None,
        }
    }
}

/// A TCP connection holding one of its port's connection slots until it is dropped.
pub struct Conn {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
}

impl Conn {
    /// The accepted TCP stream.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before
                    && let Some((limit, timer)) = &mut self.idle
                {
                    let limit = *limit;
                    timer.as_mut().reset(Instant::now() + limit);
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let idle_over = match &mut self.idle {
                    Some((_, timer)) => timer.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if idle_over {
                    crate::observe::metrics::limit_tripped("idle_connection_closed");
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle for too long",
                    )))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    /// Reported as `false`, although [`Self::poll_write_vectored`] is a real `writev`: the
    /// HTTP/2 writer sends a DATA frame of 256 bytes or more to a vectored writer on its own
    /// (its own `writev`, flushed before the next frame is taken), and a typical allow with
    /// identity headers is about 330 bytes. Told otherwise, it copies frames under 1 KiB into
    /// its write buffer, so the answers of all the checks finished since the last write go
    /// out in one system call (one per check before; a third of the CPU of a check).
    fn is_write_vectored(&self) -> bool {
        false
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

/// How many connections a port admits and how long one may stay silent.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The metric label of this port (`grpc`, `http_auth`, `admin`).
    pub port: &'static str,
    pub max_connections: usize,
    pub idle_timeout: Option<Duration>,
}

/// Accepts connections on `listener` within `limits`, handing them out on the returned
/// channel, until the receiver is dropped.
pub fn accept(listener: TcpListener, limits: Limits) -> mpsc::Receiver<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(16);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::spawn(async move {
        let at_cap = match limits.port {
            "admin" => "admin_connections",
            "http_auth" => "http_auth_connections",
            _ => "grpc_connections",
        };
        loop {
            let slot = match slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    crate::observe::metrics::limit_tripped(at_cap);
                    tokio::select! {
                        slot = slots.clone().acquire_owned() => match slot {
                            Ok(slot) => slot,
                            Err(_) => return,
                        },
                        _ = tx.closed() => return,
                    }
                }
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = tx.closed() => return,
            };
            match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let idle = limits
                        .idle_timeout
                        .map(|d| (d, Box::pin(tokio::time::sleep(d))));
                    let conn = Conn {
                        stream,
                        _slot: slot,
                        idle,
                    };
                    if tx.send(Ok(conn)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    crate::observe::metrics::limit_tripped("accept_failed");
                    tracing::warn!(port = limits.port, error = %e, "accept failed; retrying shortly");
                    drop(slot);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    });
    rx
}

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing).
///
/// With the kernel's THP mode `always` (common on Kubernetes nodes), the allocator's
/// aligned arenas are backed by 2 MiB pages as soon as they are touched, so each idle
/// connection's few scattered buffers pin whole huge pages: measured with 2,000 idle
/// HTTP/2 connections, 39 KiB of RSS per connection with THP, 21 KiB without, and a
/// 10 MiB smaller process at start. The service's heap is small and hot, so it gains
/// nothing from huge pages' fewer TLB misses. Returns whether the kernel took it.
pub fn disable_transparent_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) only sets a flag on this process.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Raises this process's open-file limit to its hard limit, and warns when the connection
/// caps could still use up the handles the service needs for everything else.
pub fn raise_file_limit(connections: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    // Handles kept free for key fetches, policy reads, logs and the runtime itself.
    const RESERVE: u64 = 256;
    if (connections as u64).saturating_add(RESERVE) > limit.rlim_cur {
        tracing::warn!(
            open_file_limit = limit.rlim_cur,
            connections,
            "AUTHZ_MAX_CONNECTIONS + AUTHZ_ADMIN_MAX_CONNECTIONS leave fewer than {RESERVE} file handles for everything else; lower them or raise the open-file limit"
        );
    }
}
