//! The server's log: one line per event on stderr, written in batches.
//!
//! A line per request written straight to stderr costs a system call per
//! request; handed to a writer thread one at a time (tracing-appender's
//! non-blocking writer), it costs a thread wake-up per request instead. Either
//! was a third of the CPU time of a `/health` answer. Here lines are appended
//! to a shared buffer, and a thread of its own writes the buffer out every
//! `FLUSH_EVERY`, or as soon as `FLUSH_AT` bytes are waiting: a few system
//! calls a second however many requests come in, as nginx does with
//! `access_log … buffer= flush=`.
//!
//! Should stderr stop taking lines (a full pipe nobody reads), lines past
//! `KEEP_AT_MOST` are dropped rather than requests held up, and the number
//! dropped is reported once stderr takes lines again.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Lines wait at most this long before they are written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Written at once when this much is waiting.
const FLUSH_AT: usize = 64 * 1024;
/// Dropped past this much waiting.
const KEEP_AT_MOST: usize = 8 * 1024 * 1024;

/// Hands lines to the buffer; cheap to clone.
#[derive(Clone)]
pub struct BatchedWriter(Arc<Shared>);

/// Writes out what is left and stops the writer thread when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    waiting: Vec<u8>,
    dropped: u64,
    closing: bool,
}

/// A batched writer onto `out`, and the guard that flushes it at the end.
pub fn batched<W: Write + Send + 'static>(out: W) -> (BatchedWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
    });
    let thread = std::thread::Builder::new()
        .name("informly-log".to_owned())
        .spawn({
            let shared = shared.clone();
            move || write_out(&shared, out)
        })
        // Without a thread of its own, the log cannot be written at all.
        .ok();
    let guard = FlushGuard {
        shared: shared.clone(),
        thread,
    };
    (BatchedWriter(shared), guard)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a buffer of whole lines.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread: waits for a flush to be due, takes the buffer, writes
/// it without holding the lock.
fn write_out(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::with_capacity(FLUSH_AT);
    loop {
        let (dropped, closing) = {
            let mut state = shared.lock();
            if !state.closing && state.waiting.len() < FLUSH_AT {
                state = shared
                    .wake
                    .wait_timeout(state, FLUSH_EVERY)
                    .map(|(state, _)| state)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            std::mem::swap(&mut batch, &mut state.waiting);
            (std::mem::take(&mut state.dropped), state.closing)
        };
        if dropped > 0 {
            let _ = writeln!(
                out,
                "[{dropped} log lines dropped: stderr was not keeping up]"
            );
        }
        if !batch.is_empty() {
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            batch.clear();
            // Keep the capacity of a normal batch, not of a burst.
            batch.shrink_to(FLUSH_AT);
        }
        if closing {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's line, appended to the buffer as a whole.
pub struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut state = self.0.lock();
        if state.waiting.len() + bytes.len() > KEEP_AT_MOST {
            state.dropped += 1;
        } else {
            state.waiting.extend_from_slice(bytes);
            if state.waiting.len() >= FLUSH_AT {
                self.0.wake.notify_one();
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_is_written_whole_and_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        writer
                            .make_writer()
                            .write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 4000);
        for t in 0..4 {
            let mine: Vec<&str> = written
                .lines()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> = (0..1000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected);
        }
    }

    #[test]
    fn lines_are_written_within_the_flush_interval_without_a_flush() {
        let sink = Sink::default();
        let (writer, _guard) = batched(sink.clone());
        writer.make_writer().write_all(b"hello\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"hello\n");
    }

    #[test]
    fn past_the_bound_lines_are_dropped_and_counted_not_queued() {
        /// Stderr that takes nothing until it is let go.
        struct Stuck(Arc<(Mutex<bool>, Condvar)>, Sink);
        impl Write for Stuck {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let (open, changed) = &*self.0;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = changed.wait(open).unwrap();
                }
                self.1.write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let sink = Sink::default();
        let (writer, guard) = batched(Stuck(gate.clone(), sink.clone()));
        let line = vec![b'x'; 1023];
        // Twice the bound, while the writer thread is stuck on its first batch.
        for _ in 0..(2 * KEEP_AT_MOST / 1024) {
            let mut line = line.clone();
            line.push(b'\n');
            writer.make_writer().write_all(&line).unwrap();
        }
        assert!(writer.0.lock().waiting.len() <= KEEP_AT_MOST);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(guard);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(written.contains("log lines dropped"), "{}", written.len());
        assert!(written.lines().filter(|l| l.starts_with('x')).count() < 2 * KEEP_AT_MOST / 1024);
    }
}
