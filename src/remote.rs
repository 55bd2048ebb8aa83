//! A verifier for downstream services: the token core plus what it needs to
//! run on its own — the published keys, fetched over HTTP (or read from a
//! file) and refreshed, and the signed revocation feed, followed in the
//! background. Feature `remote`: tokio and an HTTP client, no server, no
//! database.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use informly::remote::RemoteVerifier;
//! use informly::token::Scope;
//!
//! // Keys from /.well-known/{paserk,jwks}.json, revocations from /v1/revocations.
//! let verifier = RemoteVerifier::builder()
//!     .base_url("https://tokens.example.com")
//!     .build()
//!     .await?;
//! let verified = verifier.verify(token).await?;
//! verified.require(Scope::CONTACTS_READ)?;
//! println!("{:?} in {}", verified.app_id(), verified.workspace());
//! # Ok(())
//! # }
//! ```
//!
//! # Freshness
//!
//! A token revoked on the server is refused here within *P* + 6 s plus one
//! request, *P* being the feed interval (default 5 s: 11 s plus one round
//! trip). The server's pages show a revocation within 1 s of its commit, a
//! cache honouring the feed's `Cache-Control: public, max-age=5` may answer
//! the page from before it for 5 s more, and the next poll after that brings
//! it (docs/revocation-feed.md, "Freshness"; add any clock skew between server
//! instances beyond the feed's 5 s look-back). Every 10 minutes a poll asks
//! for the full list instead of the changes, which also mends anything a page
//! of changes could miss (a server instance whose clock is far behind).
//!
//! While the server is unreachable the last keys and denylist keep answering,
//! so tokens verify as before; once no feed page has verified for longer than
//! the staleness bound (default 300 s, as the server's
//! `--revocation-staleness`), every verification fails closed with
//! [`VerifyError::Stale`], as the server answers 503.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::clock::{Clock, SystemClock};
use crate::token::{
    self, Denylist, FeedError, Jwks, KeyError, KeySet, MAX_FEED_LEN, PaserkKeySet, Policy,
    RevocationFeed, TokenClaims, UnixTime, Verified, Verifier,
};

/// Where the published documents live on an Informly server.
pub const PASERK_PATH: &str = "/.well-known/paserk.json";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const REVOCATIONS_PATH: &str = "/v1/revocations";

/// Key documents longer than this are refused: a few keys take a few KiB.
const MAX_KEYS_LEN: usize = 1024 * 1024;

/// How often a poll asks for the full list rather than the changes since
/// the cursor (docs/revocation-feed.md, "Freshness").
const FULL_LIST_EVERY_S: UnixTime = 600;

/// What the feed endpoint answers: the signed page, plus the JSON around it.
const MAX_ENVELOPE_LEN: usize = MAX_FEED_LEN + 1024;

/// Where keys come from. Every source is read on each refresh and the keys
/// merged (the first source naming a key id wins).
#[derive(Debug, Clone)]
enum KeySource {
    /// `/.well-known/jwks.json`: JWT keys.
    JwksUrl(String),
    /// `/.well-known/paserk.json`: PASETO keys, with their status.
    PaserkUrl(String),
    /// A JWKS or PASERK key set file (`informly keys export-public`), re-read
    /// on each refresh.
    File(PathBuf),
}

/// Whether revocations are followed: a choice the builder insists on, so a
/// service cannot skip the revocation check by forgetting a line.
#[derive(Debug, Clone)]
enum Revocations {
    Unset,
    Url(String),
    Off,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A rule of the token core, or [`token::Error::Revoked`].
    #[error(transparent)]
    Token(#[from] token::Error),
    /// No revocation feed page has verified within the staleness bound: a
    /// revocation may have been missed, so nothing is honoured (a service
    /// answers 503, as the Informly server does).
    #[error("the revocation list is stale: no feed page has verified within the staleness bound")]
    Stale,
}

/// Why the keys or the revocation feed could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("no key source: give a PASERK key set or JWKS URL, a key file or keys")]
    NoKeySource,
    #[error("no revocation feed: give its URL, or opt out with without_revocations()")]
    NoRevocationFeed,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("cannot fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered more than {max} bytes")]
    TooLarge { url: String, max: usize },
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("{origin} is not a {what} document")]
    Document { origin: String, what: &'static str },
    #[error("{origin}: {error}")]
    Keys { origin: String, error: KeyError },
    #[error("revocation feed refused: {0}")]
    Feed(FeedError),
    #[error("revocation feed page is older than the last one applied")]
    Replayed,
    #[error("the revocation feed refused our cursor: the next poll starts from the full list")]
    CursorRefused,
}

/// What the verifier holds, for a health endpoint or a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Keys known (all formats and states).
    pub keys: usize,
    /// Denylist entries held.
    pub denylist_entries: usize,
    /// When (by the verifier's clock) a feed page last verified; `None` when
    /// revocations are not followed.
    pub feed_verified_at: Option<UnixTime>,
    /// Key refreshes attempted since start (each fetches every key source once).
    pub key_refreshes: u64,
    /// The last background failure, if the last attempt failed.
    pub last_error: Option<String>,
}

/// Builds a [`RemoteVerifier`]. Defaults: keys refreshed every 60 s and on an
/// unknown key id, at most once per 10 s; the feed polled every 5 s; stale
/// after 300 s; HTTP requests time out after 10 s.
#[derive(Clone)]
pub struct Builder {
    sources: Vec<KeySource>,
    fixed_keys: KeySet,
    revocations: Revocations,
    policy: Policy,
    key_refresh: Duration,
    key_refresh_min: Duration,
    feed_interval: Duration,
    staleness: Duration,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl Builder {
    /// An Informly server's documents: the PASERK key set, the JWKS and the
    /// revocation feed at their standard paths under `base` (e.g.
    /// `https://tokens.example.com`).
    pub fn base_url(self, base: &str) -> Builder {
        let base = base.trim_end_matches('/');
        self.paserk_url(format!("{base}{PASERK_PATH}"))
            .jwks_url(format!("{base}{JWKS_PATH}"))
            .revocations_url(format!("{base}{REVOCATIONS_PATH}"))
    }

    /// A PASERK key set URL (PASETO keys; the revocation feed is signed with
    /// one of them, so following the feed needs this or a PASERK file).
    pub fn paserk_url(mut self, url: impl Into<String>) -> Builder {
        self.sources.push(KeySource::PaserkUrl(url.into()));
        self
    }

    /// A JWKS URL (JWT keys).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Builder {
        self.sources.push(KeySource::JwksUrl(url.into()));
        self
    }

    /// A JWKS or PASERK key set file, as `informly keys export-public` writes
    /// it; re-read on every refresh.
    pub fn keys_file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.sources.push(KeySource::File(path.into()));
        self
    }

    /// Keys known up front, kept across refreshes.
    pub fn keys(mut self, keys: KeySet) -> Builder {
        self.fixed_keys = keys;
        self
    }

    /// The revocation feed (`GET /v1/revocations`).
    pub fn revocations_url(mut self, url: impl Into<String>) -> Builder {
        self.revocations = Revocations::Url(url.into());
        self
    }

    /// Verify without following revocations: a revoked token is accepted
    /// until it expires. Say so explicitly, or give the feed's URL.
    pub fn without_revocations(mut self) -> Builder {
        self.revocations = Revocations::Off;
        self
    }

    /// Issuer, audience, leeway and lifetimes: the server's `--issuer`,
    /// `--audience`… (defaults match the server's).
    pub fn policy(mut self, policy: Policy) -> Builder {
        self.policy = policy;
        self
    }

    /// How often the keys are refreshed on schedule (default 60 s, the
    /// documents' `max-age`).
    pub fn key_refresh(mut self, every: Duration) -> Builder {
        self.key_refresh = every;
        self
    }

    /// The least time between two key refreshes (default 10 s): an unknown
    /// key id triggers a refresh, so a flood of bogus ones costs the server at
    /// most one fetch per this interval.
    pub fn key_refresh_min(mut self, at_least: Duration) -> Builder {
        self.key_refresh_min = at_least;
        self
    }

    /// How often the revocation feed is polled (default 5 s): *P* in the
    /// freshness bound.
    pub fn feed_interval(mut self, every: Duration) -> Builder {
        self.feed_interval = every;
        self
    }

    /// After this long without a verified feed page, verification fails
    /// closed (default 300 s). Measured with the verifier's clock.
    pub fn staleness(mut self, bound: Duration) -> Builder {
        self.staleness = bound;
        self
    }

    /// Timeout of each HTTP request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.timeout = timeout;
        self
    }

    /// Where token and feed times are read (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Builder {
        self.clock = clock;
        self
    }

    /// Loads the keys and the first feed page, then starts the background
    /// refreshes (so it must run inside a tokio runtime). Fails when either
    /// cannot be loaded: a verifier with no keys would refuse everything.
    pub async fn build(self) -> Result<RemoteVerifier, LoadError> {
        if self.sources.is_empty() && self.fixed_keys.is_empty() {
            return Err(LoadError::NoKeySource);
        }
        let feed_url = match self.revocations {
            Revocations::Unset => return Err(LoadError::NoRevocationFeed),
            Revocations::Url(url) => Some(url),
            Revocations::Off => None,
        };
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .build()
            .map_err(|e| LoadError::Client(e.to_string()))?;
        let shared = Arc::new(Shared {
            verifier: ArcSwap::from_pointee(Verifier::new(
                self.fixed_keys.clone(),
                self.policy.clone(),
            )),
            denylist: ArcSwap::from_pointee(Denylist::new()),
            feed_verified_at: AtomicI64::new(UnixTime::MIN),
            feed: Mutex::new(FeedState::default()),
            last_key_refresh: Mutex::new(None),
            key_refreshes: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
            client,
            sources: self.sources,
            fixed_keys: self.fixed_keys,
            feed_url,
            policy: self.policy,
            key_refresh_min: self.key_refresh_min,
            staleness: i64::try_from(self.staleness.as_secs()).unwrap_or(i64::MAX),
            clock: self.clock,
        });
        shared.refresh_keys(false).await?;
        shared.poll_feed().await?;

        let mut tasks = vec![spawn_every(shared.clone(), self.key_refresh, |s| {
            Box::pin(async move { s.refresh_keys(true).await.map(|_| ()) })
        })];
        if shared.feed_url.is_some() {
            tasks.push(spawn_every(shared.clone(), self.feed_interval, |s| {
                Box::pin(async move { s.poll_feed().await })
            }));
        }
        Ok(RemoteVerifier {
            shared,
            tasks: Arc::new(Tasks(tasks)),
        })
    }
}

type Job = fn(Arc<Shared>) -> std::pin::Pin<Box<dyn Future<Output = Result<(), LoadError>> + Send>>;

/// Runs `job` every `every` (the first time one interval from now), noting
/// failures for [`RemoteVerifier::status`]. A run that overruns delays the
/// next instead of bunching them up.
fn spawn_every(shared: Arc<Shared>, every: Duration, job: Job) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = every.max(Duration::from_millis(10));
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let result = job(shared.clone()).await;
            shared.note(result);
        }
    })
}

/// Verifies Informly tokens in process with the same rules as the server
/// (the token core's [`Verifier`] and the denylist), keys and revocations
/// kept current in the background. Cheap to clone; the background tasks stop
/// when the last clone is dropped, or at [`RemoteVerifier::shutdown`].
///
/// Freshness: a token revoked on the server is refused within the feed
/// interval + 6 s plus one request (default 11 s plus one round trip); if the
/// feed cannot be verified for longer than the staleness bound, every token is
/// refused with [`VerifyError::Stale`]. See the [module docs](self).
#[derive(Clone)]
pub struct RemoteVerifier {
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
}

impl std::fmt::Debug for RemoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteVerifier")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl RemoteVerifier {
    pub fn builder() -> Builder {
        Builder {
            sources: Vec::new(),
            fixed_keys: KeySet::new(),
            revocations: Revocations::Unset,
            policy: Policy::default(),
            key_refresh: Duration::from_secs(60),
            key_refresh_min: Duration::from_secs(10),
            feed_interval: Duration::from_secs(5),
            staleness: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
        }
    }

    /// Verifies `token` now: signature, claims and times by the token core,
    /// then revocation. A token naming a key id we do not know triggers one
    /// key refresh (rate-limited, shared by concurrent callers) and a second
    /// look, so tokens of a newly published key verify at once.
    pub async fn verify(&self, token: &str) -> Result<Verified, VerifyError> {
        let shared = &self.shared;
        let now = shared.clock.unix();
        let first = shared.verifier.load().verify(token, now);
        let verified = match first {
            Err(token::Error::UnknownKey) => {
                // If the refresh fails, the keys we had still stand.
                let _ = shared.refresh_keys(true).await;
                shared.verifier.load().verify(token, now)?
            }
            other => other?,
        };
        shared.check_revocation(&verified.claims, now)?;
        Ok(verified)
    }

    /// Fetches the keys now (single-flight; not rate-limited).
    pub async fn refresh_keys(&self) -> Result<(), LoadError> {
        self.shared.refresh_keys(false).await.map(|_| ())
    }

    /// Polls the revocation feed now, as the background task does.
    pub async fn poll_revocations(&self) -> Result<(), LoadError> {
        self.shared.poll_feed().await
    }

    pub fn status(&self) -> Status {
        let shared = &self.shared;
        let verified_at = shared.feed_verified_at.load(Ordering::Acquire);
        Status {
            keys: shared.verifier.load().keys().len(),
            denylist_entries: shared.denylist.load().len(),
            feed_verified_at: (shared.feed_url.is_some() && verified_at != UnixTime::MIN)
                .then_some(verified_at),
            key_refreshes: shared.key_refreshes.load(Ordering::Acquire),
            last_error: shared
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// Stops the background refreshes: the verifier goes on answering from
    /// what it holds (and fails closed once the feed is stale).
    pub fn shutdown(&self) {
        self.tasks.abort();
    }
}

/// The background tasks, aborted when the last [`RemoteVerifier`] clone goes.
struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Where the feed stands; held across a poll, so polls never overlap.
#[derive(Debug, Default)]
struct FeedState {
    /// The `next` of the last page applied.
    cursor: Option<String>,
    /// The `iat` of the last page applied: an older page is refused (a
    /// replayed full page would otherwise drop newer entries).
    issued_at: Option<UnixTime>,
    /// Clock seconds when the last full list was applied.
    full_at: Option<UnixTime>,
}

/// The `GET /v1/revocations` answer.
#[derive(serde::Deserialize)]
struct Envelope {
    feed: String,
}

/// What the verifier and its background tasks share. The verify path reads
/// only the two snapshots and an atomic: no lock.
struct Shared {
    verifier: ArcSwap<Verifier>,
    denylist: ArcSwap<Denylist>,
    /// Clock seconds of the last verified feed page (`MIN` before the first).
    feed_verified_at: AtomicI64,
    feed: Mutex<FeedState>,
    /// When keys were last fetched; held across a refresh (single flight).
    last_key_refresh: Mutex<Option<Instant>>,
    key_refreshes: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
    client: reqwest::Client,
    sources: Vec<KeySource>,
    fixed_keys: KeySet,
    feed_url: Option<String>,
    policy: Policy,
    key_refresh_min: Duration,
    /// Seconds.
    staleness: i64,
    clock: Arc<dyn Clock>,
}

impl Shared {
    fn note(&self, result: Result<(), LoadError>) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        *last = result.err().map(|e| e.to_string());
    }

    /// The server's rule (`revocation::Revocations::check`): stale first, then
    /// the denylist.
    fn check_revocation(&self, claims: &TokenClaims, now: UnixTime) -> Result<(), VerifyError> {
        if self.feed_url.is_none() {
            return Ok(());
        }
        let verified_at = self.feed_verified_at.load(Ordering::Acquire);
        if now.saturating_sub(verified_at) > self.staleness {
            return Err(VerifyError::Stale);
        }
        Ok(self.denylist.load().check(claims)?)
    }

    /// Fetches every key source and swaps the new key set in. Concurrent
    /// callers wait for one fetch; with `rate_limited`, a refresh within
    /// `key_refresh_min` of the last attempt (failed or not) is skipped.
    /// Returns whether keys were fetched.
    async fn refresh_keys(&self, rate_limited: bool) -> Result<bool, LoadError> {
        let mut last = self.last_key_refresh.lock().await;
        if rate_limited && last.is_some_and(|at| at.elapsed() < self.key_refresh_min) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        self.key_refreshes.fetch_add(1, Ordering::AcqRel);
        let keys = self.load_keys().await?;
        self.verifier
            .store(Arc::new(Verifier::new(keys, self.policy.clone())));
        Ok(true)
    }

    async fn load_keys(&self) -> Result<KeySet, LoadError> {
        let mut keys = self.fixed_keys.clone();
        for source in &self.sources {
            let loaded = match source {
                KeySource::PaserkUrl(url) => {
                    let body = self.get(url, None, MAX_KEYS_LEN).await?;
                    read_paserk(&body, &redact(url))?
                }
                KeySource::JwksUrl(url) => {
                    let body = self.get(url, None, MAX_KEYS_LEN).await?;
                    read_jwks(&body, &redact(url))?
                }
                KeySource::File(path) => read_key_file(path)?,
            };
            for (key, status) in loaded.iter() {
                // The first source naming a key id wins.
                let _ = keys.insert(key.clone(), status);
            }
        }
        Ok(keys)
    }

    /// One poll of the feed: fetch the page after our cursor, verify it with
    /// the keys we hold, refuse it if older than the last one applied, apply
    /// it, prune, and note when it verified.
    async fn poll_feed(&self) -> Result<(), LoadError> {
        let Some(url) = &self.feed_url else {
            return Ok(());
        };
        let mut state = self.feed.lock().await;
        let full_due = state
            .full_at
            .is_none_or(|at| self.clock.unix().saturating_sub(at) >= FULL_LIST_EVERY_S);
        let asked = if full_due { None } else { state.cursor.clone() };
        let body = match self.get(url, asked.as_deref(), MAX_ENVELOPE_LEN).await {
            // A cursor the server no longer accepts (e.g. its database was
            // replaced): start again from the full list.
            Err(LoadError::Status { status: 400, .. }) if asked.is_some() => {
                state.cursor = None;
                return Err(LoadError::CursorRefused);
            }
            other => other?,
        };
        let envelope: Envelope =
            serde_json::from_slice(&body).map_err(|_| LoadError::Document {
                origin: redact(url),
                what: "revocation feed",
            })?;
        let now = self.clock.unix();
        let verify = |keys: &KeySet| {
            RevocationFeed::verify(&envelope.feed, keys, &self.policy, asked.as_deref(), now)
        };
        let first = verify(self.verifier.load().keys());
        let page = match first {
            // Signed by a key published since our last refresh.
            Err(FeedError::Token(token::Error::UnknownKey)) => {
                self.refresh_keys(true).await?;
                let second = verify(self.verifier.load().keys());
                second.map_err(LoadError::Feed)?
            }
            other => other.map_err(LoadError::Feed)?,
        };
        if state.issued_at.is_some_and(|last| page.issued_at < last) {
            return Err(LoadError::Replayed);
        }
        let mut denylist = Denylist::clone(&self.denylist.load());
        page.apply(&mut denylist);
        denylist.prune(now.saturating_sub(self.policy.leeway));
        self.denylist.store(Arc::new(denylist));
        if page.full {
            state.full_at = Some(now);
        }
        state.cursor = Some(page.next);
        state.issued_at = Some(page.issued_at);
        self.feed_verified_at.store(now, Ordering::Release);
        Ok(())
    }

    /// GETs `url` (with `?since=` when given), reading at most `max` bytes.
    async fn get(&self, url: &str, since: Option<&str>, max: usize) -> Result<Vec<u8>, LoadError> {
        let shown = redact(url);
        let fetch_error = |e: reqwest::Error| LoadError::Fetch {
            url: shown.clone(),
            message: e.without_url().to_string(),
        };
        let mut request = self.client.get(url);
        if let Some(since) = since {
            request = request.query(&[("since", since)]);
        }
        let mut response = request.send().await.map_err(fetch_error)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(LoadError::Status {
                url: shown.clone(),
                status,
            });
        }
        let too_large = || LoadError::TooLarge {
            url: shown.clone(),
            max,
        };
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A URL as errors show it: without any `user:password@`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn read_paserk(body: &[u8], origin: &str) -> Result<KeySet, LoadError> {
    let doc: PaserkKeySet = serde_json::from_slice(body).map_err(|_| LoadError::Document {
        origin: origin.to_owned(),
        what: "PASERK key set",
    })?;
    let mut keys = KeySet::new();
    keys.extend_from_paserk(&doc)
        .map_err(|error| LoadError::Keys {
            origin: origin.to_owned(),
            error,
        })?;
    Ok(keys)
}

fn read_jwks(body: &[u8], origin: &str) -> Result<KeySet, LoadError> {
    let doc: Jwks = serde_json::from_slice(body).map_err(|_| LoadError::Document {
        origin: origin.to_owned(),
        what: "JWKS",
    })?;
    let mut keys = KeySet::new();
    keys.extend_from_jwks(&doc)
        .map_err(|error| LoadError::Keys {
            origin: origin.to_owned(),
            error,
        })?;
    Ok(keys)
}

/// A key file holds either document; a JWKS entry has `kty`, a PASERK one
/// `paserk`, so at most one reading succeeds.
fn read_key_file(path: &std::path::Path) -> Result<KeySet, LoadError> {
    let origin = path.display().to_string();
    let file_error = |message: String| LoadError::File {
        path: origin.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?;
    if meta.len() > MAX_KEYS_LEN as u64 {
        return Err(file_error(format!("longer than {MAX_KEYS_LEN} bytes")));
    }
    let body = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    if serde_json::from_slice::<Jwks>(&body).is_ok() {
        return read_jwks(&body, &origin);
    }
    read_paserk(&body, &origin).map_err(|e| match e {
        LoadError::Document { origin, .. } => LoadError::Document {
            origin,
            what: "JWKS or PASERK key set",
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;
    use std::sync::Mutex as StdMutex;

    use super::*;
    use crate::clock::ManualClock;
    use crate::token::{
        AppCutoff, Format, KeyStatus, RevokedToken, Scope, ScopeSet, SigningKey, Subject,
        TokenClaims,
    };

    const NOW: UnixTime = 1_800_000_000;
    const APP: &str = "app_01J0000000000000000000000C";

    type Route = dyn Fn(&str) -> (u16, String) + Send + Sync;

    /// A tiny HTTP/1.1 server on a thread (std only): answers every request
    /// through `route` (given the path and query) and records what was asked.
    struct Upstream {
        base: String,
        asked: Arc<StdMutex<Vec<String>>>,
    }

    impl Upstream {
        fn start(route: Arc<Route>) -> Upstream {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let asked = Arc::new(StdMutex::new(Vec::new()));
            let log = asked.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { return };
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        continue;
                    }
                    let target = line.split(' ').nth(1).unwrap_or("").to_owned();
                    loop {
                        let mut header = String::new();
                        match reader.read_line(&mut header) {
                            Ok(0) | Err(_) => break,
                            Ok(_) if header == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    log.lock().unwrap().push(target.clone());
                    let (status, body) = route(&target);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            Upstream { base, asked }
        }

        fn count(&self, path: &str) -> usize {
            let asked = self.asked.lock().unwrap();
            asked.iter().filter(|t| t.starts_with(path)).count()
        }
    }

    /// What the fake Informly server publishes; tests change it as they go.
    struct Published {
        keys: Vec<(SigningKey, KeyStatus)>,
        denylist: Vec<RevokedToken>,
        cutoffs: Vec<AppCutoff>,
        up: bool,
        /// Overrides the page's `iat` (to serve an old page).
        issued_at: Option<UnixTime>,
    }

    fn paseto_key(byte: u8) -> SigningKey {
        SigningKey::from_seed(Format::Paseto, &[byte; 32]).unwrap()
    }

    fn jwt_key(byte: u8) -> SigningKey {
        SigningKey::from_seed(Format::Jwt, &[byte; 32]).unwrap()
    }

    fn informly(published: Arc<StdMutex<Published>>, clock: Arc<ManualClock>) -> Upstream {
        Upstream::start(Arc::new(move |target: &str| {
            let p = published.lock().unwrap();
            if !p.up {
                return (503, "{}".to_owned());
            }
            let mut keys = KeySet::new();
            for (key, status) in &p.keys {
                keys.insert(key.public_key(), *status).unwrap();
            }
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            match path {
                PASERK_PATH => (200, serde_json::to_string(&keys.paserk_set()).unwrap()),
                JWKS_PATH => (200, serde_json::to_string(&keys.jwks()).unwrap()),
                REVOCATIONS_PATH => {
                    let since = query.strip_prefix("since=").map(str::to_owned);
                    let now = clock.unix();
                    let iat = p.issued_at.unwrap_or(now);
                    let page = RevocationFeed {
                        issuer: Policy::DEFAULT_ISSUER.to_owned(),
                        issued_at: iat,
                        expires_at: iat + 60,
                        since: since.clone(),
                        next: "bmV4dA".to_owned(),
                        full: since.is_none(),
                        revoked: p.denylist.clone(),
                        cutoffs: p.cutoffs.clone(),
                    };
                    let signer = p
                        .keys
                        .iter()
                        .find(|(k, s)| k.format() == Format::Paseto && *s == KeyStatus::Active)
                        .map(|(k, _)| k)
                        .unwrap();
                    let feed = page.sign(signer).unwrap();
                    (200, serde_json::json!({ "feed": feed }).to_string())
                }
                _ => (404, "{}".to_owned()),
            }
        }))
    }

    struct Setup {
        upstream: Upstream,
        published: Arc<StdMutex<Published>>,
        clock: Arc<ManualClock>,
    }

    fn setup() -> Setup {
        let clock = Arc::new(ManualClock::at(NOW));
        let published = Arc::new(StdMutex::new(Published {
            keys: vec![
                (paseto_key(1), KeyStatus::Active),
                (jwt_key(2), KeyStatus::Active),
            ],
            denylist: Vec::new(),
            cutoffs: Vec::new(),
            up: true,
            issued_at: None,
        }));
        let upstream = informly(published.clone(), clock.clone());
        Setup {
            upstream,
            published,
            clock,
        }
    }

    impl Setup {
        fn builder(&self) -> Builder {
            RemoteVerifier::builder()
                .base_url(&self.upstream.base)
                .clock(self.clock.clone())
                // Background work stays out of the way: tests poll by hand.
                .key_refresh(Duration::from_secs(3600))
                .feed_interval(Duration::from_secs(3600))
        }
    }

    fn claims(token_id: &str, scopes: &[&str]) -> TokenClaims {
        TokenClaims {
            token_id: token_id.to_owned(),
            workspace: "ws_01J0000000000000000000000B".to_owned(),
            subject: Subject::App(APP.to_owned()),
            scopes: ScopeSet::parse_for_app(scopes.iter().copied()).unwrap(),
            issued_at: NOW,
            not_before: NOW,
            expires_at: NOW + 3600,
        }
    }

    fn token(key: &SigningKey, token_id: &str) -> String {
        key.sign(&claims(token_id, &["contacts:read"]), &Policy::default())
            .unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    const TOK_A: &str = "tok_01J0000000000000000000000A";
    const TOK_B: &str = "tok_01J0000000000000000000000D";

    #[test]
    fn tokens_of_both_formats_verify_with_the_published_keys_and_scopes_are_checked_in_one_call() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s.builder().build().await.unwrap();
            for key in [paseto_key(1), jwt_key(2)] {
                let verified = verifier.verify(&token(&key, TOK_A)).await.unwrap();
                assert_eq!(verified.app_id(), Some(APP));
                assert_eq!(verified.workspace(), "ws_01J0000000000000000000000B");
                assert!(verified.require(Scope::CONTACTS_READ).is_ok());
                assert_eq!(
                    verified.require(Scope::CONTACTS_WRITE).err(),
                    Some(token::MissingScope(Scope::CONTACTS_WRITE))
                );
            }
            assert_eq!(
                verifier.verify("garbage").await,
                Err(VerifyError::Token(token::Error::UnsupportedFormat))
            );
            // Expiry follows the injected clock.
            s.clock.advance(3600 + 31);
            verifier.poll_revocations().await.unwrap();
            assert_eq!(
                verifier.verify(&token(&paseto_key(1), TOK_A)).await,
                Err(VerifyError::Token(token::Error::Expired))
            );
        });
    }

    #[test]
    fn a_revoked_token_or_app_is_refused_after_the_next_poll() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s.builder().build().await.unwrap();
            let (a, b) = (token(&paseto_key(1), TOK_A), token(&jwt_key(2), TOK_B));
            assert!(verifier.verify(&a).await.is_ok());
            s.published.lock().unwrap().denylist = vec![RevokedToken {
                token_id: TOK_A.to_owned(),
                expires_at: NOW + 3600,
            }];
            assert!(verifier.verify(&a).await.is_ok(), "not polled yet");
            verifier.poll_revocations().await.unwrap();
            assert_eq!(
                verifier.verify(&a).await,
                Err(VerifyError::Token(token::Error::Revoked))
            );
            assert!(verifier.verify(&b).await.is_ok());
            s.published.lock().unwrap().cutoffs = vec![AppCutoff {
                client_id: APP.to_owned(),
                cutoff: NOW,
                expires_at: NOW + 7200,
            }];
            verifier.poll_revocations().await.unwrap();
            assert_eq!(
                verifier.verify(&b).await,
                Err(VerifyError::Token(token::Error::Revoked))
            );
            assert_eq!(verifier.status().denylist_entries, 2);
        });
    }

    #[test]
    fn every_ten_minutes_a_poll_takes_the_full_list_which_replaces_the_denylist() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s.builder().build().await.unwrap();
            let a = token(&paseto_key(1), TOK_A);
            s.published.lock().unwrap().denylist = vec![RevokedToken {
                token_id: TOK_A.to_owned(),
                expires_at: NOW + 3600,
            }];
            verifier.poll_revocations().await.unwrap();
            // The entry is gone from the server (say its database was
            // restored): pages of changes only ever add, so it stays here...
            s.published.lock().unwrap().denylist.clear();
            s.clock.advance(FULL_LIST_EVERY_S - 1);
            verifier.poll_revocations().await.unwrap();
            assert_eq!(
                verifier.verify(&a).await,
                Err(VerifyError::Token(token::Error::Revoked))
            );
            // ...until the next full list, which is the server's whole truth.
            s.clock.advance(1);
            verifier.poll_revocations().await.unwrap();
            assert!(verifier.verify(&a).await.is_ok());
        });
    }

    #[test]
    fn a_page_older_than_the_last_applied_is_refused() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s.builder().build().await.unwrap();
            s.clock.advance(10);
            verifier.poll_revocations().await.unwrap();
            s.published.lock().unwrap().issued_at = Some(NOW + 5);
            assert_eq!(verifier.poll_revocations().await, Err(LoadError::Replayed));
            assert_eq!(verifier.status().feed_verified_at, Some(NOW + 10));
        });
    }

    #[test]
    fn with_the_server_down_tokens_verify_until_the_staleness_bound_then_fail_closed() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s
                .builder()
                .staleness(Duration::from_secs(120))
                .build()
                .await
                .unwrap();
            let a = token(&paseto_key(1), TOK_A);
            s.published.lock().unwrap().up = false;
            s.clock.advance(120);
            assert!(verifier.poll_revocations().await.is_err());
            assert!(verifier.refresh_keys().await.is_err());
            assert!(verifier.verify(&a).await.is_ok(), "within the bound");
            s.clock.advance(1);
            assert_eq!(verifier.verify(&a).await, Err(VerifyError::Stale));
            // Garbage is still refused for what it is.
            assert_eq!(
                verifier.verify("garbage").await,
                Err(VerifyError::Token(token::Error::UnsupportedFormat))
            );
            s.published.lock().unwrap().up = true;
            verifier.poll_revocations().await.unwrap();
            assert!(verifier.verify(&a).await.is_ok(), "fresh again");
        });
    }

    #[test]
    fn an_unknown_key_id_refreshes_the_keys_at_most_once_per_interval() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s
                .builder()
                .key_refresh_min(Duration::from_millis(300))
                .build()
                .await
                .unwrap();
            assert_eq!(s.upstream.count(PASERK_PATH), 1);
            // A key published after start verifies at once (the first
            // unknown kid after the interval refreshes).
            tokio::time::sleep(Duration::from_millis(300)).await;
            let new_key = paseto_key(3);
            s.published
                .lock()
                .unwrap()
                .keys
                .push((paseto_key(3), KeyStatus::Pending));
            assert!(verifier.verify(&token(&new_key, TOK_A)).await.is_ok());
            assert_eq!(s.upstream.count(PASERK_PATH), 2);

            // A flood of bogus key ids, concurrently: no further fetch.
            let bogus = token(&paseto_key(9), TOK_A);
            let flood = (0..200).map(|_| {
                let verifier = verifier.clone();
                let bogus = bogus.clone();
                async move { verifier.verify(&bogus).await }
            });
            for result in futures::future::join_all(flood).await {
                assert_eq!(result, Err(VerifyError::Token(token::Error::UnknownKey)));
            }
            assert_eq!(s.upstream.count(PASERK_PATH), 2);
            tokio::time::sleep(Duration::from_millis(300)).await;
            for _ in 0..50 {
                let _ = verifier.verify(&bogus).await;
            }
            assert_eq!(s.upstream.count(PASERK_PATH), 3, "one more per interval");
        });
    }

    #[test]
    fn a_retired_key_verifies_nothing_after_the_next_refresh() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s.builder().build().await.unwrap();
            let old = token(&jwt_key(2), TOK_A);
            assert!(verifier.verify(&old).await.is_ok());
            s.published.lock().unwrap().keys[1].1 = KeyStatus::Retired;
            verifier.refresh_keys().await.unwrap();
            // Retired keys leave the published documents: unknown from now on.
            assert_eq!(
                verifier.verify(&old).await,
                Err(VerifyError::Token(token::Error::UnknownKey))
            );
        });
    }

    #[test]
    fn the_builder_insists_on_keys_and_on_a_revocation_choice() {
        let s = setup();
        runtime().block_on(async {
            let none = RemoteVerifier::builder()
                .without_revocations()
                .build()
                .await;
            assert_eq!(none.err(), Some(LoadError::NoKeySource));
            let unset = RemoteVerifier::builder()
                .paserk_url(format!("{}{PASERK_PATH}", s.upstream.base))
                .build()
                .await;
            assert_eq!(unset.err(), Some(LoadError::NoRevocationFeed));
            let jwt_only = RemoteVerifier::builder()
                .jwks_url(format!("{}{JWKS_PATH}", s.upstream.base))
                .revocations_url(format!("{}{REVOCATIONS_PATH}", s.upstream.base))
                .clock(s.clock.clone())
                .build()
                .await;
            assert_eq!(
                jwt_only.err(),
                Some(LoadError::Feed(FeedError::Token(token::Error::UnknownKey))),
                "the feed is signed with a PASETO key"
            );
            let missing = RemoteVerifier::builder()
                .paserk_url(format!("{}/nope", s.upstream.base))
                .without_revocations()
                .build()
                .await;
            assert!(matches!(
                missing.err(),
                Some(LoadError::Status { status: 404, .. })
            ));
        });
    }

    #[test]
    fn errors_never_show_credentials_in_a_url() {
        assert_eq!(
            redact("https://user:secret@host:8080/v1/revocations?since=x"),
            "https://host:8080/v1/revocations?since=x"
        );
        assert_eq!(redact("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn keys_load_from_a_file_of_either_document() {
        let s = setup();
        let dir = tempfile::tempdir().unwrap();
        let (paseto, jwt) = (paseto_key(1), jwt_key(2));
        let mut keys = KeySet::new();
        keys.insert(paseto.public_key(), KeyStatus::Active).unwrap();
        keys.insert(jwt.public_key(), KeyStatus::Active).unwrap();
        let paserk_file = dir.path().join("paserk.json");
        let jwks_file = dir.path().join("jwks.json");
        std::fs::write(
            &paserk_file,
            serde_json::to_vec(&keys.paserk_set()).unwrap(),
        )
        .unwrap();
        std::fs::write(&jwks_file, serde_json::to_vec(&keys.jwks()).unwrap()).unwrap();
        runtime().block_on(async {
            let verifier = RemoteVerifier::builder()
                .keys_file(&paserk_file)
                .keys_file(&jwks_file)
                .revocations_url(format!("{}{REVOCATIONS_PATH}", s.upstream.base))
                .clock(s.clock.clone())
                .build()
                .await
                .unwrap();
            assert_eq!(verifier.status().keys, 2);
            assert!(verifier.verify(&token(&paseto, TOK_A)).await.is_ok());
            assert!(verifier.verify(&token(&jwt, TOK_A)).await.is_ok());
            std::fs::write(&jwks_file, b"{}").unwrap();
            assert!(matches!(
                verifier.refresh_keys().await,
                Err(LoadError::Document { .. })
            ));
        });
    }

    #[test]
    fn background_polls_run_on_schedule_and_stop_when_the_verifier_is_dropped() {
        let s = setup();
        runtime().block_on(async {
            let verifier = s
                .builder()
                .feed_interval(Duration::from_millis(50))
                .build()
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            let polled = s.upstream.count(REVOCATIONS_PATH);
            assert!(polled >= 3, "{polled} polls");
            drop(verifier);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let after = s.upstream.count(REVOCATIONS_PATH);
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(s.upstream.count(REVOCATIONS_PATH), after);
        });
    }
}
