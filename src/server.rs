//! `informly serve`: migrate, load the keys (generating the first ones),
//! load the denylist, then serve until SIGTERM or Ctrl-C, keeping keys and
//! denylist fresh in the background.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use tower::limit::ConcurrencyLimit;

use crate::cache::TokenCache;
use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, duration};
use crate::http::cursor::CursorKey;
use crate::http::{AppState, app, dashboard};
use crate::keys::{KeyChange, LiveKeys};
use crate::logging::{self, FlushGuard};
use crate::revocation::Revocations;
use crate::service::{Actor, LOGIN_WINDOW, Service};
use crate::store::Store;
use crate::telemetry::{self, Collector};
use crate::token::{Format, KeyStatus};
use crate::usage::UsageLog;
use crate::webhooks::{Deliverer, DelivererConfig};

/// How often expired denylist entries are pruned, here and in the database,
/// and ended dashboard sessions deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How often tokens are checked for `token.expiring` and `token.expired`.
const EXPIRY_SCAN_EVERY: Duration = Duration::from_secs(60);
/// How often the metrics' database figures (the webhook outbox) are read, and
/// histogram samples folded into their totals.
const METRICS_REFRESH: Duration = Duration::from_secs(5);
/// Connections the metrics listener serves at once (Prometheus uses one).
const METRICS_CONNECTIONS: usize = 8;
/// On shutdown, requests in flight get the request timeout plus this.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "INFORMLY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// How long verification may go on from the last denylist loaded while the
    /// database is unreachable; past that, protected routes answer 503.
    #[arg(long, env = "INFORMLY_REVOCATION_STALENESS", default_value = "5m", value_parser = duration)]
    pub revocation_staleness: i64,

    /// Requests taking longer are answered 503.
    #[arg(long, env = "INFORMLY_REQUEST_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub request_timeout: i64,

    /// How many verified tokens to remember (0 turns the cache off). A token
    /// seen before skips the signature check, never the expiry, key-status
    /// or revocation checks.
    #[arg(long, env = "INFORMLY_TOKEN_CACHE", default_value_t = TokenCache::DEFAULT_CAPACITY)]
    pub token_cache: u64,

    /// How often the keys directory is re-read: key changes apply within this.
    #[arg(long, env = "INFORMLY_KEY_RELOAD", default_value = "2s", value_parser = duration)]
    pub key_reload: i64,

    /// How often the denylist is refreshed from the database (on PostgreSQL,
    /// notifications bring changes sooner; this is the fallback).
    #[arg(long, env = "INFORMLY_DENYLIST_REFRESH", default_value = "1s", value_parser = duration)]
    pub denylist_refresh: i64,

    /// A client must send its whole request head within this, or the
    /// connection is closed (slow clients cannot hold connections open).
    #[arg(long, env = "INFORMLY_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub header_read_timeout: i64,

    /// Connections served at once; more wait in the kernel's accept queue
    /// until one closes. The open-files limit (`ulimit -n`) must allow this
    /// many plus a few dozen.
    #[arg(long, env = "INFORMLY_MAX_CONNECTIONS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Requests handled at once, over all connections; more wait their turn.
    /// With the 1 MiB body limit, this bounds the memory bodies can take.
    #[arg(long, env = "INFORMLY_MAX_IN_FLIGHT", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,

    /// A dashboard session unused this long ends.
    #[arg(long, env = "INFORMLY_SESSION_IDLE", default_value = "30m", value_parser = duration)]
    pub session_idle: i64,

    /// A dashboard session ends this long after sign-in, however busy.
    #[arg(long, env = "INFORMLY_SESSION_LIFETIME", default_value = "12h", value_parser = duration)]
    pub session_lifetime: i64,

    /// How often the token usage counted in memory (last used, uses, scopes
    /// required) is written to the database; also once at shutdown. 0 turns
    /// usage tracking off.
    #[arg(long, env = "INFORMLY_USAGE_FLUSH", default_value = "10s", value_parser = duration)]
    pub usage_flush: i64,

    /// How long audit events are kept (e.g. 400d); older ones are pruned as
    /// whole prefixes of each workspace's chain, which still verifies from
    /// the checkpoint left. Default: keep them all.
    #[arg(long, env = "INFORMLY_AUDIT_RETENTION", value_parser = duration)]
    pub audit_retention: Option<i64>,

    /// Let webhook endpoints name loopback, private and link-local addresses
    /// (off: only public addresses are accepted, at registration and at
    /// every delivery). For tests and closed networks.
    #[arg(long, env = "INFORMLY_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// A webhook receiver must answer within this; a message claimed for
    /// delivery is held three times as long before another instance may try.
    #[arg(long, env = "INFORMLY_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub webhook_timeout: i64,

    /// How often the webhook deliverer looks for messages falling due that it
    /// was not woken for (retries, and messages other instances or the
    /// command line queued). Messages this instance queues go at once.
    #[arg(long, env = "INFORMLY_WEBHOOK_POLL", default_value = "1s", value_parser = duration)]
    pub webhook_poll: i64,

    /// Behind a reverse proxy: count failed dashboard sign-ins per client by
    /// the last `X-Forwarded-For` address (the proxy's view of the client)
    /// rather than per connection, which would be the proxy itself. Only
    /// when every request comes through a proxy that sets that header.
    #[arg(long, env = "INFORMLY_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Serve Prometheus metrics at `GET /metrics` on this address (e.g.
    /// 127.0.0.1:9464), a listener of its own, never the API's. Off by
    /// default. See docs/metrics.md.
    #[arg(long, env = "INFORMLY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

pub async fn run(settings: Settings, args: ServeArgs) -> Result<()> {
    // Held to the end: dropping it writes out the last log lines.
    let _log_writer = init_logging();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Before the server is assembled: the authenticator registers its
    // counters with the recorder installed then.
    let metrics = match args.metrics_listen {
        Some(address) => Some((address, telemetry::install()?)),
        None => None,
    };
    let server = Server::open(settings, args, clock).await?;
    let args = &server.args;

    // Bound before the API's listener, so its line comes first in the log.
    let metrics = match metrics {
        Some((address, handle)) => {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} for metrics"))?;
            let bound = listener.local_addr()?;
            tracing::info!(metrics = %bound, "serving metrics at /metrics");
            let collector = Collector::new(
                handle,
                server.state.clone(),
                server.store.clone(),
                server.clock.clone(),
            );
            Some((listener, collector))
        }
        None => None,
    };

    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "listening");
    server.greet(address).await;

    let mut jobs = server.start_jobs().await?;
    let limits = ConnectionLimits::of(args);
    if let Some((listener, collector)) = metrics {
        jobs.metrics(listener, collector, limits);
    }
    serve(listener, server.router(), shutdown_signal(), limits).await;
    drop(jobs);
    // The uses counted since the last flush (after one in flight, if any).
    if let Some(usage) = server.state.usage() {
        flush_usage(usage, &server.store).await;
    }
    server.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// What `serve` runs on: the state every request reaches, and the parts the
/// background jobs keep fresh. Assembled the same way for `informly serve`
/// and for tests that drive the router in-process ([`Server::from_flags`]).
pub struct Server {
    pub state: AppState,
    store: Store,
    keys: Arc<LiveKeys>,
    revocations: Arc<Revocations>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    args: ServeArgs,
    deliverer: Deliverer,
    /// Rung after a commit that queued webhook messages.
    webhook_wake: Arc<Notify>,
}

/// `serve`'s flags on their own, to assemble a server from them in-process.
#[derive(clap::Parser, Debug)]
#[command(no_binary_name = true)]
struct ServeFlags {
    #[command(flatten)]
    settings: Settings,
    #[command(flatten)]
    args: ServeArgs,
}

impl Server {
    /// A server assembled from `serve`'s flags (`--database-url`,
    /// `--keys-dir`, …; the rest take their defaults) on `clock`, without
    /// listening: [`Server::router`] is the whole service, to call with
    /// `tower::ServiceExt::oneshot`.
    pub async fn from_flags<I, T>(flags: I, clock: Arc<dyn Clock>) -> Result<Server>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser as _;
        let flags = ServeFlags::try_parse_from(flags)?;
        Server::open(flags.settings, flags.args, clock).await
    }

    /// The webhook deliverer its jobs run (tests drive it by hand).
    pub fn deliverer(&self) -> &Deliverer {
        &self.deliverer
    }

    /// The whole service as a router, with its limits and request log.
    pub fn router(&self) -> Router {
        app(self.state.clone(), request_timeout(&self.args))
    }

    /// Migrates the database, loads the keys (generating the first ones) and
    /// the denylist, and assembles the state.
    pub async fn open(
        settings: Settings,
        args: ServeArgs,
        clock: Arc<dyn Clock>,
    ) -> Result<Server> {
        let policy = settings.policy();
        let store = Store::open(&settings.database_url)
            .await
            .with_context(|| format!("cannot open database {}", settings.database_url))?;
        store.ensure_default_workspace(clock.now()).await?;

        let keys = Arc::new(LiveKeys::open(
            &settings.keys_dir,
            policy.clone(),
            clock.now(),
        )?);
        for format in Format::ALL {
            if let Some(generated) =
                crate::service::ensure_signing_key(&store, &keys, format, clock.now()).await?
            {
                tracing::info!(
                    format = %generated.format,
                    kid = %generated.kid,
                    file = %generated.path.display(),
                    "generated the first signing key"
                );
            }
        }

        let now = clock.now();
        let revocations = Arc::new(
            Revocations::load(
                &store,
                now - time::Duration::seconds(policy.leeway),
                now,
                time::Duration::seconds(args.revocation_staleness),
            )
            .await?,
        );

        let cursor_key = store
            .secret(CursorKey::SECRET_NAME, CursorKey::generate, clock.now())
            .await?;
        let cursor_key = CursorKey::new(
            URL_SAFE_NO_PAD
                .decode(cursor_key)
                .context("the stored cursor secret is not base64url")?,
        );

        let webhook_wake = Arc::new(Notify::new());
        let service = Service::serving(
            store.clone(),
            keys.clone(),
            revocations.clone(),
            policy,
            clock.clone(),
        )
        .with_webhooks(args.webhook_allow_private, Some(webhook_wake.clone()));
        let deliverer = Deliverer::new(
            store.clone(),
            clock.clone(),
            service.webhook_key()?,
            DelivererConfig {
                timeout: seconds(args.webhook_timeout),
                allow_private: args.webhook_allow_private,
                ..DelivererConfig::default()
            },
        )
        .context("cannot set up the webhook client")?;
        let token_cache = TokenCache::new(args.token_cache, settings.leeway);
        let mut dashboard =
            dashboard::Config::new(seconds(args.session_idle), seconds(args.session_lifetime));
        dashboard.trust_forwarded_for = args.trust_forwarded_for;
        let usage =
            (args.usage_flush > 0).then(|| Arc::new(UsageLog::new(UsageLog::DEFAULT_CAPACITY)));
        let state = AppState::new(
            service,
            keys.clone(),
            revocations.clone(),
            cursor_key,
            token_cache,
            dashboard,
            usage,
        );
        Ok(Server {
            state,
            store,
            keys,
            revocations,
            clock,
            settings,
            args,
            deliverer,
            webhook_wake,
        })
    }

    /// Says where the dashboard is and, while the default workspace has no
    /// dashboard user, the command that adds one.
    async fn greet(&self, address: SocketAddr) {
        tracing::info!(url = %format!("http://{address}/dashboard"), "dashboard");
        let service = self.state.service();
        let users = match service.ensure_default_workspace().await {
            Ok(workspace) => service.users(&Actor::cli(workspace.id)).await,
            Err(e) => Err(e),
        };
        if let Ok(users) = users
            && users.is_empty()
        {
            tracing::info!(
                command = "informly users add --email you@example.com",
                "no dashboard user yet: add one to sign in"
            );
        }
    }

    /// Starts the jobs that keep keys and denylist fresh and prune what has
    /// ended; they stop when the returned guard is dropped.
    pub async fn start_jobs(&self) -> Result<Jobs> {
        let Server {
            store,
            keys,
            revocations,
            clock,
            state,
            settings,
            args,
            deliverer,
            webhook_wake,
        } = self;
        let mut jobs = Jobs(Vec::new());
        jobs.0.push(tokio::spawn(deliver_webhooks(
            deliverer.clone(),
            webhook_wake.clone(),
            seconds(args.webhook_poll),
        )));
        jobs.0.push(tokio::spawn({
            let deliverer = deliverer.clone();
            async move {
                // At start, then every period: thresholds crossed while the
                // service was down are caught up at once.
                let mut interval = tokio::time::interval(EXPIRY_SCAN_EVERY);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    if let Err(e) = deliverer.scan_expiring().await {
                        tracing::warn!(error = %e, "cannot look for expiring tokens");
                    }
                }
            }
        }));
        jobs.every(seconds(args.key_reload), {
            let (keys, clock) = (keys.clone(), clock.clone());
            move || {
                match keys.reload(clock.now()) {
                    Ok(changes) => log_key_changes(&changes),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload keys; keeping the previous ones")
                    }
                }
                async {}
            }
        });
        jobs.every(seconds(args.denylist_refresh), {
            let (store, revocations, clock) = (store.clone(), revocations.clone(), clock.clone());
            move || {
                let (store, revocations, clock) =
                    (store.clone(), revocations.clone(), clock.clone());
                async move {
                    if let Err(e) = revocations.refresh(&store, clock.now()).await {
                        tracing::warn!(error = %e, "cannot refresh the denylist");
                    }
                }
            }
        });
        if let Some(usage) = state.usage_log() {
            let store = store.clone();
            jobs.every(seconds(args.usage_flush), move || {
                let (usage, store) = (usage.clone(), store.clone());
                async move {
                    // A task of its own: stopping the jobs does not cut a
                    // flush short (the batch it took would be lost), and the
                    // flush at shutdown waits for it.
                    let flush = tokio::spawn(async move { flush_usage(&usage, &store).await });
                    let _ = flush.await;
                }
            });
        }
        jobs.every(PRUNE_EVERY, {
            let (store, revocations, clock) = (store.clone(), revocations.clone(), clock.clone());
            let leeway = settings.leeway;
            let audit_retention = args.audit_retention.map(time::Duration::seconds);
            let idle = time::Duration::try_from(state.dashboard().session_idle)
                .unwrap_or(time::Duration::ZERO);
            move || {
                let (store, revocations, clock) =
                    (store.clone(), revocations.clone(), clock.clone());
                async move {
                    let now = clock.now();
                    let horizon = now - time::Duration::seconds(leeway);
                    match store.prune_denylist(horizon).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(entries = n, "pruned expired denylist entries"),
                        Err(e) => tracing::warn!(error = %e, "cannot prune the denylist"),
                    }
                    if let Err(e) = revocations.reload(&store, horizon, now).await {
                        tracing::warn!(error = %e, "cannot reload the denylist");
                    }
                    if let Err(e) = store.prune_dashboard(clock.now(), idle, LOGIN_WINDOW).await {
                        tracing::warn!(error = %e, "cannot prune ended dashboard sessions");
                    }
                    if let Some(retention) = audit_retention {
                        match store.prune_audit(now - retention).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(
                                events = n,
                                "pruned audit events past their retention"
                            ),
                            Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
                        }
                    }
                }
            }
        });

        if let Some(mut listener) = store.listen_denylist().await? {
            let (store, revocations, clock) = (store.clone(), revocations.clone(), clock.clone());
            jobs.0.push(tokio::spawn(async move {
                loop {
                    match listener.changed().await {
                        Ok(()) => {
                            if let Err(e) = revocations.refresh(&store, clock.now()).await {
                                tracing::warn!(error = %e, "cannot refresh the denylist");
                            }
                        }
                        Err(e) => {
                            // The periodic refresh carries on meanwhile.
                            tracing::warn!(error = %e, "denylist notifications interrupted");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }));
        }
        Ok(jobs)
    }
}

/// Delivers webhook messages as they fall due: at once when this instance
/// queued one, otherwise every `poll` (for messages other instances queued
/// and retries coming due).
async fn deliver_webhooks(deliverer: Deliverer, wake: Arc<Notify>, poll: Duration) {
    loop {
        match deliverer.run_once().await {
            // More may be due: those behind the ones just delivered.
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot deliver webhook messages"),
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// One line per key whose state changed, by kid.
fn log_key_changes(changes: &[KeyChange]) {
    let state = |s: Option<KeyStatus>| s.map_or_else(|| "gone".to_owned(), |s| s.to_string());
    for change in changes {
        tracing::info!(
            kid = %change.kid,
            format = %change.format,
            from = %change.from.map_or_else(|| "new".to_owned(), |s| s.to_string()),
            to = %state(change.to),
            "key state changed"
        );
    }
}

/// A running server's background jobs; dropping the guard stops them.
/// Writes out the token usage counted so far, saying what went wrong.
async fn flush_usage(usage: &UsageLog, store: &Store) {
    match usage.flush(store).await {
        Ok(flushed) => {
            if flushed.dropped > 0 {
                tracing::warn!(
                    uses = flushed.dropped,
                    "token uses were not counted: too many distinct tokens waited to be written"
                );
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            waiting = usage.waiting(),
            "cannot write token usage; it waits in memory for the next flush"
        ),
    }
}

pub struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    /// Serves the metrics on their own listener, a few connections at a
    /// time, and keeps what they read from the database and the histograms
    /// up to date; stopped with the other jobs.
    fn metrics(&mut self, listener: TcpListener, collector: Collector, limits: ConnectionLimits) {
        let limits = ConnectionLimits {
            max_connections: METRICS_CONNECTIONS,
            max_in_flight: METRICS_CONNECTIONS,
            ..limits
        };
        self.0.push(tokio::spawn(serve(
            listener,
            telemetry::router(collector.clone()),
            std::future::pending(),
            limits,
        )));
        let refresh = async move |collector: Collector| {
            collector.upkeep();
            if let Err(e) = collector.refresh_outbox().await {
                tracing::warn!(error = %e, "cannot read the webhook outbox for the metrics");
            }
        };
        // At once, then every period.
        self.0.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(METRICS_REFRESH);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                refresh(collector.clone()).await;
            }
        }));
    }

    /// Runs `tick` every `period` (the first run after one period).
    fn every<F, Fut>(&mut self, period: Duration, mut tick: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        self.0.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                tick().await;
            }
        }));
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.0 {
            job.abort();
        }
    }
}

/// One line per event on stderr, written in batches (see `logging`);
/// `INFORMLY_LOG` (e.g. `debug`, `informly=debug,sqlx=warn`) filters, default
/// `info`. Returns the guard that writes out the last lines.
pub fn init_logging() -> FlushGuard {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("INFORMLY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let (writer, guard) = logging::batched(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    // A terminal gets tracing-subscriber's own format, in colour; anything
    // else (a file, a pipe, journald) the same layout without colours, made
    // faster (`logging::Lines`).
    let _ = match std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        true => builder.with_ansi(true).try_init(),
        false => builder
            .with_ansi(false)
            .event_format(logging::Lines)
            .fmt_fields(logging::Fields)
            .try_init(),
    };
    guard
}

/// Time limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A client must send each request head within this.
    pub header_read_timeout: Duration,
    /// On shutdown, requests in flight get at most this long to finish.
    pub grace: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Requests handled at once.
    pub max_in_flight: usize,
}

impl ConnectionLimits {
    /// The limits `serve` settings ask for.
    pub fn of(args: &ServeArgs) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: seconds(args.header_read_timeout),
            grace: request_timeout(args) + SHUTDOWN_SLACK,
            max_connections: args.max_connections as usize,
            max_in_flight: args.max_in_flight as usize,
        }
    }
}

/// Accepts connections until `shutdown` resolves, then lets requests in flight
/// finish, for at most `limits.grace`. A connection that does not send its
/// request head within `limits.header_read_timeout` is closed, so a slow client
/// can neither hold a connection open nor hold up shutdown for long (a request
/// head begun before shutdown counts as in flight until that timeout).
///
/// Concurrency is bounded twice, so memory stays flat under overload: at most
/// `limits.max_connections` connections are open (the next is accepted when
/// one closes), and at most `limits.max_in_flight` requests are handled at
/// once; the rest wait, unread.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    limits: ConnectionLimits,
) {
    // HTTP/1.1 only. Serving both versions means first reading a connection's
    // opening bytes to tell them apart, with no timeout: a client that
    // connected and sent nothing held its connection (and, under the
    // connection limit, a slot) for ever. HTTP/1's header-read timeout runs
    // from the first byte awaited, idle keep-alive included.
    let mut builder = ConnBuilder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = accept(&listener, &connections) => accepted,
            () = &mut shutdown => break,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        let router = router.clone().map_request(with_peer(peer));
        let service = ConcurrencyLimit::with_semaphore(router, in_flight.clone());
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Client errors (resets, timeouts) end the connection, nothing more.
            let _ = connection.await;
            drop(slot);
        });
    }
    // Stop accepting: new connections are refused from here on.
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.grace) => {
            tracing::warn!("requests still in flight after {:?}: closing them", limits.grace);
        }
    }
}

/// Gives each request its connection's peer address, as axum's
/// `ConnectInfo` (the dashboard counts failed sign-ins per client).
fn with_peer<B>(peer: SocketAddr) -> impl Fn(Request<B>) -> Request<B> + Clone {
    move |mut request| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }
}

/// The next connection, once a connection slot is free; `None` after an
/// accept error (out of file descriptors and the like), having backed off a
/// little.
async fn accept(
    listener: &TcpListener,
    connections: &Arc<Semaphore>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    // The semaphore is never closed, so this always gets a permit.
    let slot = connections.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// The request timeout `serve` settings ask for: a request taking longer is
/// answered 503.
pub fn request_timeout(args: &ServeArgs) -> Duration {
    seconds(args.request_timeout)
}

/// A duration setting, at least one second.
fn seconds(secs: i64) -> Duration {
    Duration::from_secs(secs.max(1) as u64)
}

/// Resolves on SIGTERM or Ctrl-C; in-flight requests then finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
