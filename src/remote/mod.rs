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
//!
//! # Layout
//!
//! - `builder`: [`Builder`], the sources, bounds and intervals; the first load.
//! - `keys`: fetching and reading the key documents; refresh rate limit.
//! - `feed`: polling the revocation feed into the denylist.
//! - `fetch`: capped HTTP GETs; URLs without credentials in errors.
//! - `tasks`: the background refreshes, stopped by dropping their guard.
//!
//! The check itself is the server's: an [`Authenticator`] (the token core,
//! staleness, the denylist), which `informly serve` holds too.

mod builder;
mod feed;
mod fetch;
mod keys;
mod tasks;
#[cfg(test)]
mod tests;

pub use builder::Builder;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::authn::{Authenticator, Rejection};
use crate::clock::Clock;
use crate::token::{self, FeedError, KeyError, Policy, UnixTime, Verified, Verifier};
use feed::Feed;
use fetch::Fetcher;
use keys::KeyRefresh;
use tasks::Tasks;

/// Where the published documents live on an Informly server.
pub const PASERK_PATH: &str = "/.well-known/paserk.json";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const REVOCATIONS_PATH: &str = "/v1/revocations";

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

/// Verifies Informly tokens in process with the same rules as the server
/// (the same [`Authenticator`]), keys and revocations kept current in the
/// background. Cheap to clone; the background tasks stop when the last clone
/// is dropped, or at [`RemoteVerifier::shutdown`].
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
        Builder::new()
    }

    /// Verifies `token` now: signature, claims and times by the token core,
    /// then staleness and revocation. A token naming a key id we do not know
    /// triggers one key refresh (rate-limited, shared by concurrent callers)
    /// and a second look, so tokens of a newly published key verify at once.
    pub async fn verify(&self, token: &str) -> Result<Verified, VerifyError> {
        let shared = &self.shared;
        let now = shared.clock.unix();
        // Counted once, the answer given (not the first look that asked
        // for the keys).
        let verified = match shared.authn.check_uncounted(token, now) {
            Err(Rejection::Invalid(token::Error::UnknownKey)) => {
                // If the refresh fails, the keys we had still stand.
                let _ = shared.refresh_keys(true).await;
                shared.authn.check(token, now)
            }
            other => {
                shared.authn.count(token, &other);
                other
            }
        };
        match verified {
            // No cache here: the only holder, so no copy.
            Ok(verified) => Ok(Arc::unwrap_or_clone(verified)),
            Err(Rejection::Invalid(e)) => Err(VerifyError::Token(e)),
            Err(Rejection::Revoked(_)) => Err(VerifyError::Token(token::Error::Revoked)),
            Err(Rejection::Stale) => Err(VerifyError::Stale),
        }
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
        let denylist = shared.authn.denylist();
        Status {
            keys: shared.authn.keys().load().keys().len(),
            denylist_entries: denylist.map_or(0, |d| d.len()),
            feed_verified_at: denylist.and_then(|d| d.refreshed_at()),
            key_refreshes: shared.key_refresh.count(),
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

/// What the verifier and its background tasks share. The verify path reads
/// only the authenticator's snapshots: no lock.
struct Shared {
    /// The keys (swapped by `keys`) and the denylist (kept by `feed`, when
    /// one is followed), with the one rule that checks a token.
    authn: Authenticator<ArcSwap<Verifier>>,
    key_refresh: KeyRefresh,
    feed: Option<Feed>,
    http: Fetcher,
    policy: Policy,
    clock: Arc<dyn Clock>,
    last_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn note(&self, result: Result<(), LoadError>) {
        let mut last = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        *last = result.err().map(|e| e.to_string());
    }
}
