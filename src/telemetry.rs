//! The operators' view: metrics in the Prometheus text format, on a listener
//! of their own (`--metrics-listen`, off by default), never on the API's.
//!
//! Recording goes through the `metrics` facade everywhere (the authenticator,
//! shared with the remote verifier, counts through it too), and this module
//! installs the recorder that renders them: `metrics-exporter-prometheus`.
//! Counters and histograms are recorded as they happen (an atomic add, or a
//! lock-free append for a histogram sample); what is a state rather than an
//! event — the denylist's age, the keys, the usage waiting, the pool — is
//! read when Prometheus scrapes, from memory. The only figures that need the
//! database (the webhook outbox) are read by a background job, so a scrape
//! answers at once even while the database is cut.
//!
//! With the listener off no recorder is installed: every handle is the
//! facade's no-op, and the request log skips the HTTP metrics altogether.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{Method, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::{Counter, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

use crate::authn;
use crate::clock::Clock;
use crate::http::AppState;
use crate::store::Store;
use crate::token::{Format, KeyStatus};

/// `informly_http_requests_total{route, method, status}`.
pub const HTTP_REQUESTS: &str = "informly_http_requests_total";
/// `informly_http_request_duration_seconds{route, method}`: from the request
/// head read to the response head ready.
pub const HTTP_DURATION: &str = "informly_http_request_duration_seconds";

/// Latency buckets, in seconds: a cached verification answers in tens of
/// microseconds, a database write in milliseconds, the request timeout is 30 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// Writes per group commit of Contacts writes: one alone, up to the
/// thousands of a few full batches.
const GROUP_BUCKETS: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
];

/// Whether a recorder is installed: without one, the request log records
/// nothing (not even into no-op handles).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Installs the Prometheus recorder for this process: call before the server
/// is assembled (the authenticator registers its counters then). Fails if a
/// recorder is installed already (one per process).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &DURATION_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(crate::service::GROUP_SIZE.to_owned()),
            &GROUP_BUCKETS,
        )?
        // A key removed from the directory stops being reported.
        .idle_timeout(MetricKindMask::GAUGE, Some(Duration::from_secs(600)))
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    describe();
    ENABLED.store(true, Ordering::Release);
    Ok(handle)
}

/// Every metric's `# HELP` line.
fn describe() {
    authn::metrics::describe();
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status"
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    metrics::describe_gauge!(TOKEN_CACHE_ENTRIES, "Verified tokens the cache remembers");
    metrics::describe_gauge!(
        DENYLIST_AGE,
        Unit::Seconds,
        "Seconds since the denylist was last refreshed successfully (past the staleness bound, tokens are refused with 503)"
    );
    metrics::describe_gauge!(
        DENYLIST_STALENESS,
        Unit::Seconds,
        "The staleness bound (--revocation-staleness)"
    );
    metrics::describe_gauge!(
        KEYS_AGE,
        Unit::Seconds,
        "Seconds since the keys directory was last read successfully"
    );
    metrics::describe_gauge!(
        KEYS,
        "Keys by format and state (pending, active, retiring, retired)"
    );
    metrics::describe_gauge!(
        KEY_STATE,
        "1 for each key's state, 0 for the states it is not in"
    );
    metrics::describe_gauge!(
        KEY_UNTIL_ACTIVATION,
        Unit::Seconds,
        "Seconds until a pending key activates (0 once it has)"
    );
    metrics::describe_gauge!(
        KEY_RETIRING,
        Unit::Seconds,
        "Seconds since a key began retiring (a newer key activated); 0 for a key not retiring"
    );
    metrics::describe_gauge!(
        USAGE_WAITING,
        "Token usage entries counted in memory, waiting to be written"
    );
    metrics::describe_gauge!(
        USAGE_OLDEST,
        Unit::Seconds,
        "Age of the oldest token usage count waiting to be written (0 when none waits)"
    );
    metrics::describe_gauge!(
        OUTBOX_MESSAGES,
        "Webhook messages not yet delivered (pending in the outbox)"
    );
    metrics::describe_gauge!(
        OUTBOX_OLDEST,
        Unit::Seconds,
        "Age of the oldest webhook message not yet delivered (0 when none)"
    );
    metrics::describe_counter!(
        crate::webhooks::DELIVERY_ATTEMPTS,
        "Webhook delivery attempts by result (delivered, failed and retried later, given up)"
    );
    metrics::describe_gauge!(
        DB_CONNECTIONS,
        "Database pool connections by state (in_use, idle)"
    );
    metrics::describe_counter!(
        crate::store::ACQUIRE_TIMEOUTS,
        "Database operations that got no pool connection within the acquire timeout"
    );
    metrics::describe_histogram!(
        crate::service::GROUP_SIZE,
        "Contacts writes (a batch counts once) committed together per group commit"
    );
    metrics::describe_counter!(
        crate::service::GROUP_RETRIES,
        "Group commits whose transaction failed, their writes then made one by one"
    );
    metrics::describe_counter!(
        crate::service::SIGNIN_FAILURES,
        "Dashboard sign-ins refused (wrong password or unknown email)"
    );
    metrics::describe_counter!(
        crate::service::SIGNIN_LOCKOUTS,
        "Dashboard sign-in lock-outs (an email or client past its limit of failures)"
    );
}

// ---------------------------------------------------------------------------
// HTTP requests, from the request log
// ---------------------------------------------------------------------------

/// The `route` label of a request no route matched: never the raw path.
pub const UNMATCHED: &str = "unmatched";

type RouteHandles = HashMap<(Method, u16), (Counter, Histogram)>;

thread_local! {
    /// Each worker thread's handles, by route template, then method and
    /// status: a request looks its handles up here, with no lock and no
    /// allocation; only the first request of a kind on a thread registers
    /// them. Bounded: the routes are the router's templates, the methods
    /// those axum routes (others share `OTHER`), statuses 100–599.
    static HANDLES: RefCell<HashMap<Box<str>, RouteHandles>> = RefCell::new(HashMap::new());
}

/// Counts one request answered and its latency. `route` is the template it
/// matched (`None`: no route did).
pub fn http_request(route: Option<&str>, method: &Method, status: u16, elapsed: Duration) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let route = route.unwrap_or(UNMATCHED);
    let method = match *method {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => method.clone(),
        // Any other method shares one label (a client can make up methods).
        _ => Method::TRACE,
    };
    HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        if !handles.contains_key(route) {
            handles.insert(route.into(), HashMap::new());
        }
        let Some(by_kind) = handles.get_mut(route) else {
            return;
        };
        let (counter, histogram) = by_kind
            .entry((method.clone(), status))
            .or_insert_with(|| register_http(route, &method, status));
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    });
}

fn register_http(route: &str, method: &Method, status: u16) -> (Counter, Histogram) {
    let method_label = match *method {
        Method::TRACE => "OTHER".to_owned(),
        _ => method.as_str().to_owned(),
    };
    let counter = metrics::counter!(
        HTTP_REQUESTS,
        "route" => route.to_owned(),
        "method" => method_label.clone(),
        "status" => status.to_string()
    );
    let histogram = metrics::histogram!(
        HTTP_DURATION,
        "route" => route.to_owned(),
        "method" => method_label
    );
    (counter, histogram)
}

// ---------------------------------------------------------------------------
// What is read at scrape time
// ---------------------------------------------------------------------------

pub const TOKEN_CACHE_ENTRIES: &str = "informly_token_cache_entries";
pub const DENYLIST_AGE: &str = "informly_denylist_age_seconds";
pub const DENYLIST_STALENESS: &str = "informly_denylist_staleness_bound_seconds";
pub const KEYS_AGE: &str = "informly_keys_age_seconds";
pub const KEYS: &str = "informly_keys";
pub const KEY_STATE: &str = "informly_key_state";
pub const KEY_UNTIL_ACTIVATION: &str = "informly_key_seconds_until_activation";
pub const KEY_RETIRING: &str = "informly_key_retiring_seconds";
pub const USAGE_WAITING: &str = "informly_usage_waiting_entries";
pub const USAGE_OLDEST: &str = "informly_usage_oldest_waiting_seconds";
pub const OUTBOX_MESSAGES: &str = "informly_webhook_outbox_messages";
pub const OUTBOX_OLDEST: &str = "informly_webhook_outbox_oldest_age_seconds";
pub const DB_CONNECTIONS: &str = "informly_db_connections";

const STATES: [KeyStatus; 4] = [
    KeyStatus::Pending,
    KeyStatus::Active,
    KeyStatus::Retiring,
    KeyStatus::Retired,
];

/// The webhook outbox as last read from the database (by
/// [`Collector::refresh_outbox`]), so that a scrape never waits for it.
#[derive(Debug)]
pub struct Outbox {
    depth: AtomicI64,
    /// Unix seconds of the oldest pending message; `MAX`: none.
    oldest: AtomicI64,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox {
            depth: AtomicI64::new(0),
            oldest: AtomicI64::new(i64::MAX),
        }
    }
}

/// Reads what the scrape-time metrics show, and renders the exposition.
#[derive(Clone)]
pub struct Collector {
    handle: PrometheusHandle,
    state: AppState,
    store: Store,
    clock: Arc<dyn Clock>,
    outbox: Arc<Outbox>,
}

impl Collector {
    pub fn new(
        handle: PrometheusHandle,
        state: AppState,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Collector {
        Collector {
            handle,
            state,
            store,
            clock,
            outbox: Arc::new(Outbox::default()),
        }
    }

    /// Reads the outbox's depth and oldest message from the database (a
    /// background job, every few seconds). On failure the last figures stay,
    /// and the oldest message's age goes on growing.
    pub async fn refresh_outbox(&self) -> crate::store::Result<()> {
        let (depth, oldest) = self.store.webhook_backlog().await?;
        self.outbox.depth.store(depth, Ordering::Relaxed);
        self.outbox.oldest.store(
            oldest.map_or(i64::MAX, |at| at.unix_timestamp()),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// Histogram buckets are drained into their totals now and then, or
    /// samples recorded between scrapes would pile up (a background job).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The whole exposition: the gauges read now, then every metric.
    pub fn render(&self) -> String {
        self.read_gauges();
        let mut text = self.handle.render();
        process::render(&mut text);
        text
    }

    fn read_gauges(&self) {
        let now = self.clock.now();
        let unix = now.unix_timestamp();
        let authn = self.state.authenticator();
        let gauge = |name: &'static str, value: f64| metrics::gauge!(name).set(value);

        gauge(
            TOKEN_CACHE_ENTRIES,
            authn.cache_entries().unwrap_or(0) as f64,
        );
        if let Some(denylist) = authn.denylist() {
            gauge(authn::metrics::DENYLIST_ENTRIES, denylist.len() as f64);
            gauge(DENYLIST_STALENESS, denylist.staleness() as f64);
            if let Some(at) = denylist.refreshed_at() {
                gauge(authn::metrics::DENYLIST_REFRESHED, at as f64);
                gauge(DENYLIST_AGE, unix.saturating_sub(at).max(0) as f64);
            }
        }

        let snapshot = self.state.keys().snapshot();
        let taken_at = snapshot.taken_at.unix_timestamp();
        gauge(authn::metrics::KEYS_RELOADED, taken_at as f64);
        gauge(
            authn::metrics::KEYS_LOADED,
            snapshot.ring.entries().len() as f64,
        );
        gauge(KEYS_AGE, unix.saturating_sub(taken_at).max(0) as f64);
        let ring = &snapshot.ring;
        let mut counts = [[0u32; STATES.len()]; 2];
        for entry in ring.entries() {
            let status = ring.status(entry, now);
            let (kid, format) = (entry.kid().to_owned(), entry.format().as_str());
            let f = usize::from(entry.format() == Format::Jwt);
            for (i, state) in STATES.iter().enumerate() {
                let on = *state == status;
                if on {
                    counts[f][i] += 1;
                }
                metrics::gauge!(KEY_STATE, "kid" => kid.clone(), "format" => format, "state" => state.to_string())
                    .set(f64::from(u8::from(on)));
            }
            let until = (entry.activates_at - now).whole_seconds().max(0);
            metrics::gauge!(KEY_UNTIL_ACTIVATION, "kid" => kid.clone(), "format" => format)
                .set(until as f64);
            // A key retires when a newer key of its format activates: since
            // the first of those.
            let retiring_since = (status == KeyStatus::Retiring)
                .then(|| {
                    ring.entries()
                        .iter()
                        .filter(|other| {
                            other.format() == entry.format()
                                && other.activates_at > entry.activates_at
                                && other.activates_at <= now
                        })
                        .map(|other| other.activates_at)
                        .min()
                })
                .flatten();
            let retiring = retiring_since.map_or(0, |since| (now - since).whole_seconds().max(0));
            metrics::gauge!(KEY_RETIRING, "kid" => kid, "format" => format).set(retiring as f64);
        }
        for (f, format) in Format::ALL.iter().enumerate() {
            for (i, state) in STATES.iter().enumerate() {
                metrics::gauge!(KEYS, "format" => format.as_str(), "state" => state.to_string())
                    .set(f64::from(counts[f][i]));
            }
        }

        let (waiting, oldest) = match self.state.usage() {
            Some(usage) => (usage.waiting(), usage.oldest_waiting()),
            None => (0, None),
        };
        gauge(USAGE_WAITING, waiting as f64);
        gauge(
            USAGE_OLDEST,
            oldest.map_or(0, |at| unix.saturating_sub(at).max(0)) as f64,
        );

        gauge(
            OUTBOX_MESSAGES,
            self.outbox.depth.load(Ordering::Relaxed) as f64,
        );
        let oldest = self.outbox.oldest.load(Ordering::Relaxed);
        let oldest_age = match oldest {
            i64::MAX => 0,
            at => unix.saturating_sub(at).max(0),
        };
        gauge(OUTBOX_OLDEST, oldest_age as f64);

        let (in_use, idle) = self.store.connections();
        metrics::gauge!(DB_CONNECTIONS, "state" => "in_use").set(in_use as f64);
        metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(idle as f64);
    }
}

/// The metrics listener's whole service: `GET /metrics`, and 404 for the
/// rest.
pub fn router(collector: Collector) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(collector)
}

async fn scrape(State(collector): State<Collector>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        collector.render(),
    )
}

/// The process's resident memory, open files and CPU time, under the names
/// every Prometheus client library uses. Appended to the exposition as text:
/// CPU seconds are fractional, and the facade's counters count integers.
mod process {
    use std::fmt::Write as _;

    pub(super) fn render(text: &mut String) {
        #[cfg(target_os = "linux")]
        linux(text);
        #[cfg(not(target_os = "linux"))]
        let _ = text;
    }

    #[cfg(target_os = "linux")]
    fn linux(text: &mut String) {
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        // /proc/self/stat: the fields after the command name (which may hold
        // spaces, so split after its closing parenthesis). utime and stime are
        // fields 14 and 15, rss 24 (1-based, counting pid and comm).
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some((_, rest)) = stat.rsplit_once(')')
        {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
            if let (Some(utime), Some(stime)) = (field(14), field(15))
                && ticks > 0
            {
                let _ = write!(
                    text,
                    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
                     # TYPE process_cpu_seconds_total counter\n\
                     process_cpu_seconds_total {}\n",
                    (utime + stime) / ticks as f64
                );
            }
            if let Some(rss) = field(24)
                && page > 0
            {
                let _ = write!(
                    text,
                    "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                     # TYPE process_resident_memory_bytes gauge\n\
                     process_resident_memory_bytes {}\n",
                    rss * page as f64
                );
            }
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            let _ = write!(
                text,
                "# HELP process_open_fds Number of open file descriptors.\n\
                 # TYPE process_open_fds gauge\n\
                 process_open_fds {}\n",
                fds.count()
            );
        }
    }
}
