//! Building a [`RemoteVerifier`]: where keys and revocations come from, the
//! policy, the intervals and bounds; then the first load and the background
//! refreshes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use super::feed::Feed;
use super::fetch::Fetcher;
use super::keys::{KeyRefresh, KeySource};
use super::tasks::Tasks;
use super::{JWKS_PATH, LoadError, PASERK_PATH, REVOCATIONS_PATH, RemoteVerifier, Shared};
use crate::authn::{Authenticator, LiveDenylist};
use crate::clock::{Clock, SystemClock};
use crate::token::{Denylist, KeySet, Policy, Verifier};

/// Whether revocations are followed: a choice the builder insists on, so a
/// service cannot skip the revocation check by forgetting a line.
#[derive(Debug, Clone)]
enum Revocations {
    Unset,
    Url(String),
    Off,
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
    /// The defaults (see [`Builder`]).
    pub(super) fn new() -> Builder {
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
        let http = Fetcher::new(self.timeout)?;
        let staleness = i64::try_from(self.staleness.as_secs()).unwrap_or(i64::MAX);
        // Stale until the first page has verified (just below).
        let feed = feed_url
            .map(|url| Feed::new(url, Arc::new(LiveDenylist::new(Denylist::new(), staleness))));
        let verifier = Verifier::new(self.fixed_keys.clone(), self.policy.clone());
        let authn = Authenticator::new(
            Arc::new(ArcSwap::from_pointee(verifier)),
            feed.as_ref().map(|feed| feed.denylist().clone()),
        );
        let shared = Arc::new(Shared {
            authn,
            key_refresh: KeyRefresh::new(self.sources, self.fixed_keys, self.key_refresh_min),
            feed,
            http,
            policy: self.policy,
            clock: self.clock,
            last_error: std::sync::Mutex::new(None),
        });
        shared.refresh_keys(false).await?;
        shared.poll_feed().await?;

        let tasks = Tasks::start(&shared, self.key_refresh, self.feed_interval);
        Ok(RemoteVerifier {
            shared,
            tasks: Arc::new(tasks),
        })
    }
}
