//! The process's log writer: whole lines queued in memory and written to stderr by one
//! background thread, so a check never waits on a `write(2)`.
//!
//! Every log line of `serve` goes through one [`LogSink`]: the `tracing` lines (start-up,
//! reloads, warnings) through [`LogSink::writer`], the decision lines straight from
//! [`crate::observe::decision_log`], formatted by hand. A line is appended to one shared buffer
//! under a lock held only for the copy; the writer thread swaps that buffer for an empty
//! one and writes it out, so lines never interleave and, once both buffers have grown,
//! nothing is allocated per line. While lines keep coming the writer wakes by itself every
//! [`BATCH_INTERVAL`] (a line waits that long at most), so a busy check path makes no
//! wake-up calls; only the first line after a quiet spell, or a queue half full, wakes it. When the writer falls behind by
//! [`LogSink::new`]'s `max_lines` (or [`MAX_QUEUED_BYTES`]), further lines are dropped and counted (never blocking a
//! check, never growing without bound); the count is a metric.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Longest line kept, in bytes; a longer one is dropped and counted (a decision line is
/// at most a few KiB: every request field is cut at 256 bytes).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Most bytes queued at once, whatever the line count: past it lines are dropped too.
pub const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;

/// How long the writer waits for more lines before writing what it has.
pub const BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(2);

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    dropped: AtomicU64,
    max_lines: usize,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    lines: usize,
    closed: bool,
    /// The writer waits without a deadline: the next line must wake it.
    asleep: bool,
}

/// The queue of lines and its writer thread; cheap to clone.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Stops the writer thread once every queued line is written (dropped at the end of
/// `main`).
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogSink {
    /// Starts the writer thread over `out`, keeping at most `max_lines` lines queued.
    pub fn new(
        out: impl Write + Send + 'static,
        max_lines: usize,
    ) -> std::io::Result<(LogSink, FlushGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            max_lines: max_lines.max(1),
        });
        let thread = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn({
                let shared = shared.clone();
                move || write_lines(&shared, out)
            })?;
        Ok((
            LogSink {
                shared: shared.clone(),
            },
            FlushGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }

    /// Queues one whole line (with its `\n`). Returns `false` when it was dropped: the
    /// queue is full, or the line is over [`MAX_LINE_BYTES`].
    pub fn push(&self, line: &[u8]) -> bool {
        if line.len() > MAX_LINE_BYTES {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let wake = {
            let mut p = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if p.lines >= self.shared.max_lines || p.buf.len() + line.len() > MAX_QUEUED_BYTES {
                drop(p);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            p.buf.extend_from_slice(line);
            p.lines += 1;
            let wake = p.asleep || p.lines == self.shared.max_lines.div_ceil(2);
            p.asleep = false;
            wake
        };
        if wake {
            self.shared.wake.notify_one();
        }
        true
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// A `tracing_subscriber` writer: each `write` is one whole formatted line.
    pub fn writer(&self) -> SinkWriter {
        SinkWriter { sink: self.clone() }
    }
}

fn write_lines(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let closed = {
            let mut p = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
            // Lines came recently: give more a moment to gather, then write them together.
            if !p.closed && p.lines < shared.max_lines.div_ceil(2) {
                p = shared
                    .wake
                    .wait_timeout(p, BATCH_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            while p.lines == 0 && !p.closed {
                p.asleep = true;
                p = shared.wake.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            p.asleep = false;
            std::mem::swap(&mut p.buf, &mut spare);
            p.lines = 0;
            p.closed
        };
        // A failed write (stderr closed) loses these lines; there is nowhere to say so.
        let _ = out.write_all(&spare).and_then(|()| out.flush());
        spare.clear();
        // Neither buffer keeps more than it needs after a burst.
        if spare.capacity() > 4 * 1024 * 1024 {
            spare = Vec::new();
        }
        if closed {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// See [`LogSink::writer`].
pub struct SinkWriter {
    sink: LogSink,
}

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        self.writer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back, and hold shut to make the queue fill.
    #[derive(Clone, Default)]
    struct Capture {
        out: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.out.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_whole_and_in_order_before_the_guard_returns() {
        let capture = Capture::default();
        let (sink, guard) = LogSink::new(capture.clone(), 100_000).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        assert!(sink.push(format!("t{t} line {i}\n").as_bytes()));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(capture.out.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 4000);
        for t in 0..4 {
            let mine: Vec<_> = text
                .lines()
                .filter(|l| l.starts_with(&format!("t{t} ")))
                .collect();
            let want: Vec<_> = (0..1000).map(|i| format!("t{t} line {i}")).collect();
            assert_eq!(mine, want);
        }
        assert_eq!(sink.dropped(), 0);
    }

    #[test]
    fn a_writer_that_falls_behind_costs_dropped_lines_not_memory_or_waiting() {
        let capture = Capture::default();
        let shut = capture.gate.lock().unwrap();
        let (sink, guard) = LogSink::new(capture.clone(), 10).unwrap();
        // The writer may take one batch (at most 10 lines) before it blocks on the shut
        // gate, and 10 more are queued behind it: every other line is dropped at once.
        let kept = (0..1000)
            .filter(|i| sink.push(format!("{i}\n").as_bytes()))
            .count();
        assert!((10..=20).contains(&kept), "{kept} lines kept");
        assert_eq!(sink.dropped(), 1000 - kept as u64);
        assert!(!sink.push(&vec![b'x'; MAX_LINE_BYTES + 1]));
        // However few the lines, the bytes queued are bounded too.
        let held = Capture {
            out: Arc::default(),
            gate: capture.gate.clone(),
        };
        let (big, big_guard) = LogSink::new(held, usize::MAX).unwrap();
        let line = vec![b'y'; MAX_LINE_BYTES];
        let queued = (0..1000).filter(|_| big.push(&line)).count();
        assert!(
            queued * MAX_LINE_BYTES <= 2 * MAX_QUEUED_BYTES,
            "{queued} lines queued"
        );
        assert!(big.dropped() > 0);
        drop(shut);
        drop(guard);
        drop(big_guard);
        assert_eq!(
            String::from_utf8(capture.out.lock().unwrap().clone())
                .unwrap()
                .lines()
                .count(),
            kept
        );
    }
}
