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
//!
//! Off a terminal, lines are formatted by [`Lines`] and [`Fields`]: the
//! layout of tracing-subscriber's default format without its colours, in a
//! fraction of the time (see their documentation).

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Lines wait at most this long before they are written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Written at once when this much is waiting.
const FLUSH_AT: usize = 64 * 1024;
/// Room kept in each buffer: what arrives between `FLUSH_AT` and the writer
/// thread taking the buffer fits without growing it (under the lock).
const ROOM: usize = 2 * FLUSH_AT;
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
    /// The writer thread has been woken for the buffer as it is: woken once,
    /// not once per line until it comes (each wake is a system call).
    woken: bool,
}

/// A batched writer onto `out`, and the guard that flushes it at the end.
pub fn batched<W: Write + Send + 'static>(out: W) -> (BatchedWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            waiting: Vec::with_capacity(ROOM),
            ..State::default()
        }),
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
    let mut batch = Vec::with_capacity(ROOM);
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
            state.woken = false;
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
            // Keep the room of a normal batch, not of a burst.
            batch.shrink_to(ROOM);
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
        let wake = {
            let mut state = self.0.lock();
            if state.waiting.len() + bytes.len() > KEEP_AT_MOST {
                state.dropped += 1;
                false
            } else {
                state.waiting.extend_from_slice(bytes);
                state.waiting.len() >= FLUSH_AT && !std::mem::replace(&mut state.woken, true)
            }
        };
        if wake {
            self.0.wake.notify_one();
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

/// Formats an event as tracing-subscriber's default (`Full`) format does
/// with colours off and the target hidden —
/// `2026-12-07T14:36:29.288118Z  INFO request{id="42"}: served status=200` —
/// at less than half its cost: the default paints every field name (a
/// no-op without colours, but a pass through `fmt::write` all the same) and
/// formats the date afresh on every line. Here a field is written with
/// `write_str` where it can be, and each thread keeps the date and time to
/// the second of its last line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        timestamp(&mut writer)?;
        writer.write_str(match *event.metadata().level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The time as `2026-12-07T14:36:29.288118Z` (UTC, microseconds): the part
/// to the second is formatted once a second per thread, by the `time` crate.
fn timestamp(writer: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
        return writer.write_str("<unknown time>");
    };
    let seconds = now.as_secs();
    SECOND.with_borrow_mut(|(cached, formatted)| {
        if *cached != seconds {
            let format =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            *formatted = i64::try_from(seconds)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .and_then(|t| t.format(format).ok())
                .unwrap_or_else(|| "<unknown time>".to_owned());
            *cached = seconds;
        }
        writer.write_str(formatted)
    })?;
    write!(writer, ".{:06}Z", now.subsec_micros())
}

/// Formats fields as the default format does: the message as it is, then
/// `name=value` with strings quoted and escaped (`Debug`), other values by
/// their `Debug` (a `%value` by its `Display`). Unlike the default, no value
/// can break a line or slip a terminal escape into it: control characters
/// in any value are written escaped (`\n`, `\x1b`, `\u{9b}`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields;

impl<'writer> FormatFields<'writer> for Fields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl FieldVisitor<'_> {
    /// Writes the separator and `name=` (nothing for the message).
    fn name(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(' ')?;
        }
        match field.name() {
            "message" => Ok(()),
            name => {
                self.writer
                    .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.writer.write_char('=')
            }
        }
    }

    fn visit(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.name(field).and_then(|()| value(&mut self.writer));
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let message = field.name() == "message";
        self.visit(field, |writer| {
            if message {
                Escaped(writer).write_str(value)
            } else if value
                .bytes()
                .all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
            {
                // What `Debug` writes for it, without going through `fmt`.
                writer.write_char('"')?;
                writer.write_str(value)?;
                writer.write_char('"')
            } else {
                write!(writer, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.visit(field, |writer| write!(writer, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.visit(field, |writer| write!(writer, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.visit(field, |writer| {
            writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.visit(field, |writer| write!(Escaped(writer), "{value:?}"));
    }
}

/// Writes through to `Writer`, with control characters escaped.
struct Escaped<'a, 'writer>(&'a mut Writer<'writer>);

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if !text.chars().any(char::is_control) {
            return self.0.write_str(text);
        }
        for c in text.chars() {
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c if c.is_control() && (c as u32) < 0x80 => write!(self.0, "\\x{:02x}", c as u32)?,
                c if c.is_control() => write!(self.0, "\\u{{{:x}}}", c as u32)?,
                c => self.0.write_char(c)?,
            }
        }
        Ok(())
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

    /// The lines `log` makes through a subscriber with `Lines` and `Fields`
    /// (`lean`) or tracing-subscriber's default format, colours and target
    /// off, as the server sets them up.
    fn lines_of(lean: bool, log: impl FnOnce()) -> String {
        let sink = Sink::default();
        let make = {
            let sink = sink.clone();
            move || sink.clone()
        };
        let builder = tracing_subscriber::fmt()
            .with_writer(make)
            .with_ansi(false)
            .with_target(false);
        match lean {
            true => tracing::subscriber::with_default(
                builder.event_format(Lines).fmt_fields(Fields).finish(),
                log,
            ),
            false => tracing::subscriber::with_default(builder.finish(), log),
        }
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    /// Everything after the timestamp.
    fn untimed(lines: &str) -> Vec<&str> {
        lines
            .lines()
            .map(|line| line.split_once(' ').expect("a timestamp").1)
            .collect()
    }

    #[test]
    fn lines_are_laid_out_as_the_default_format_lays_them_out() {
        let log = || {
            let span = tracing::info_span!("request", id = "42");
            let _entered = span.enter();
            let inner = tracing::info_span!("inner", n = 7_u64, empty = tracing::field::Empty);
            let _inner = inner.enter();
            tracing::info!(
                method = %"GET",
                path = "/v1/token",
                quoted = "say \"hi\" \\ bye",
                route = Some("/v1/token"),
                absent = None::<&str>,
                status = 200_u16,
                delta = -3_i64,
                ok = true,
                r#type = "r",
                debug = ?vec![1, 2],
                "served"
            );
            tracing::warn!("plain message");
            tracing::error!(error = %"boom", "went {}", "wrong");
        };
        let ours = lines_of(true, log);
        let theirs = lines_of(false, log);
        assert_eq!(untimed(&ours), untimed(&theirs));
        assert_eq!(ours.lines().count(), 3);
        let stamp = ours.split_once(' ').unwrap().0;
        assert!(
            time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{stamp}"
        );
        assert_eq!(stamp.len(), "2026-12-07T14:36:29.288118Z".len(), "{stamp}");
    }

    #[test]
    fn no_value_can_break_a_line_or_carry_a_terminal_escape() {
        let lines = lines_of(true, || {
            tracing::info!(
                reason = %"two\nlines\r\tand \x1b[31mred\u{9b}",
                text = "a\nb",
                "{}",
                "message\non two lines\x07"
            );
        });
        assert_eq!(lines.lines().count(), 1, "{lines}");
        let line = untimed(&lines)[0];
        assert_eq!(
            line,
            r#" INFO message\non two lines\x07 reason=two\nlines\r\tand \x1b[31mred\u{9b} text="a\nb""#
        );
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
