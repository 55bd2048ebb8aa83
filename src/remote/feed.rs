//! Following the signed revocation feed: each poll fetches the page after our
//! cursor (or, every ten minutes, the full list), verifies it with the keys
//! held, applies it to the denylist the authenticator reads, and marks that
//! denylist fresh.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::fetch::redact;
use super::{LoadError, Shared};
use crate::authn::LiveDenylist;
use crate::token::{self, FeedError, KeySet, MAX_FEED_LEN, RevocationFeed, UnixTime};

/// How often a poll asks for the full list rather than the changes since
/// the cursor (docs/revocation-feed.md, "Freshness").
pub(super) const FULL_LIST_EVERY_S: UnixTime = 600;

/// What the feed endpoint answers: the signed page, plus the JSON around it.
const MAX_ENVELOPE_LEN: usize = MAX_FEED_LEN + 1024;

/// A followed feed and the denylist it keeps.
pub(super) struct Feed {
    url: String,
    /// Shared with the authenticator, which checks tokens against it.
    denylist: Arc<LiveDenylist>,
    state: Mutex<FeedState>,
}

impl Feed {
    pub(super) fn new(url: String, denylist: Arc<LiveDenylist>) -> Feed {
        Feed {
            url,
            denylist,
            state: Mutex::new(FeedState::default()),
        }
    }

    pub(super) fn denylist(&self) -> &Arc<LiveDenylist> {
        &self.denylist
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

impl Shared {
    /// One poll of the feed: fetch the page after our cursor, verify it with
    /// the keys we hold, refuse it if older than the last one applied, apply
    /// it, prune, and note when it verified.
    pub(super) async fn poll_feed(&self) -> Result<(), LoadError> {
        let Some(feed) = &self.feed else {
            return Ok(());
        };
        let url = &feed.url;
        let mut state = feed.state.lock().await;
        let full_due = state
            .full_at
            .is_none_or(|at| self.clock.unix().saturating_sub(at) >= FULL_LIST_EVERY_S);
        let asked = if full_due { None } else { state.cursor.clone() };
        let body = match self.http.get(url, asked.as_deref(), MAX_ENVELOPE_LEN).await {
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
        let first = verify(self.authn.keys().load().keys());
        let page = match first {
            // Signed by a key published since our last refresh.
            Err(FeedError::Token(token::Error::UnknownKey)) => {
                self.refresh_keys(true).await?;
                let second = verify(self.authn.keys().load().keys());
                second.map_err(LoadError::Feed)?
            }
            other => other.map_err(LoadError::Feed)?,
        };
        if state.issued_at.is_some_and(|last| page.issued_at < last) {
            return Err(LoadError::Replayed);
        }
        let horizon = now.saturating_sub(self.policy.leeway);
        feed.denylist
            .update(|denylist| {
                page.apply(denylist);
                denylist.prune(horizon);
            })
            .await;
        if page.full {
            state.full_at = Some(now);
        }
        state.cursor = Some(page.next);
        state.issued_at = Some(page.issued_at);
        feed.denylist.mark_fresh(now);
        crate::authn::metrics::denylist_refreshed(now, feed.denylist.len());
        Ok(())
    }
}
