//! The denylist as a running verifier holds it: a snapshot swapped under
//! readers, the time of its last good refresh, and the staleness bound past
//! which checks fail closed. The server refreshes it from its database
//! (`revocation`), the remote verifier from the signed feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, MutexGuard};

use crate::token::{Denylist, TokenClaims, UnixTime};

/// Why the denylist refused a verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("token has been revoked")]
    Revoked,
    #[error("the denylist is stale: no refresh has succeeded within the staleness bound")]
    Stale,
}

#[derive(Debug)]
pub struct LiveDenylist {
    current: ArcSwap<Denylist>,
    /// Clock seconds of the last good refresh (`MIN` before the first).
    refreshed_at: AtomicI64,
    /// Seconds without a good refresh after which nothing is honoured.
    staleness: i64,
    /// Writers take turns, so none undoes another's change; readers never
    /// wait for it.
    writing: Mutex<()>,
    /// Counts the changes applied here.
    generation: AtomicU64,
}

impl LiveDenylist {
    /// Holds `denylist`, not refreshed yet: stale until [`Self::mark_fresh`].
    pub fn new(denylist: Denylist, staleness: i64) -> LiveDenylist {
        LiveDenylist {
            current: ArcSwap::from_pointee(denylist),
            refreshed_at: AtomicI64::new(UnixTime::MIN),
            staleness,
            writing: Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// Stale first (a missed revocation could be anywhere), then the entries.
    /// Lock-free.
    pub fn check(&self, claims: &TokenClaims, now: UnixTime) -> Result<(), CheckError> {
        let refreshed_at = self.refreshed_at.load(Ordering::Acquire);
        if now.saturating_sub(refreshed_at) > self.staleness {
            return Err(CheckError::Stale);
        }
        self.current
            .load()
            .check(claims, now)
            .map_err(|_| CheckError::Revoked)
    }

    /// The entries in force now.
    pub fn snapshot(&self) -> Arc<Denylist> {
        self.current.load_full()
    }

    pub fn len(&self) -> usize {
        self.current.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Notes a good refresh at `at` (clock seconds): the staleness bound
    /// counts from here.
    pub fn mark_fresh(&self, at: UnixTime) {
        self.refreshed_at.store(at, Ordering::Release);
    }

    /// Seconds without a good refresh after which nothing is honoured.
    pub fn staleness(&self) -> i64 {
        self.staleness
    }

    /// Whether checks at `now` fail closed for want of a good refresh.
    pub fn is_stale(&self, now: UnixTime) -> bool {
        now.saturating_sub(self.refreshed_at.load(Ordering::Acquire)) > self.staleness
    }

    /// When the last good refresh was; `None` before the first.
    pub fn refreshed_at(&self) -> Option<UnixTime> {
        let at = self.refreshed_at.load(Ordering::Acquire);
        (at != UnixTime::MIN).then_some(at)
    }

    /// Changes with every change to the entries: what is derived from them
    /// (the server's revocation feed memo) is current while it is.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Waits for the writer's turn. Held across an `await` (a reload from the
    /// database), it keeps a change made meanwhile from being overwritten.
    pub async fn write(&self) -> Writer<'_> {
        Writer {
            _turn: self.writing.lock().await,
            live: self,
        }
    }

    /// One change, in the writer's turn.
    pub async fn update(&self, change: impl FnOnce(&mut Denylist)) {
        self.write().await.update(change);
    }
}

/// The writer's turn on a [`LiveDenylist`]; ends when dropped.
pub struct Writer<'a> {
    live: &'a LiveDenylist,
    _turn: MutexGuard<'a, ()>,
}

impl Writer<'_> {
    /// Applies `change` to a copy of the entries and swaps it in.
    pub fn update(&mut self, change: impl FnOnce(&mut Denylist)) {
        let mut next = Denylist::clone(&self.live.current.load());
        change(&mut next);
        self.replace(next);
    }

    /// Swaps `denylist` in whole.
    pub fn replace(&mut self, denylist: Denylist) {
        self.live.current.store(Arc::new(denylist));
        self.live.generation.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{ScopeSet, Subject};

    const NOW: UnixTime = 1_800_000_000;

    fn claims(token_id: &str) -> TokenClaims {
        TokenClaims {
            token_id: token_id.to_owned(),
            workspace: "ws_01J0000000000000000000000B".to_owned(),
            subject: Subject::App("app_01J0000000000000000000000C".to_owned()),
            scopes: ScopeSet::EMPTY,
            issued_at: NOW,
            not_before: NOW,
            expires_at: NOW + 3600,
        }
    }

    #[test]
    fn a_denylist_is_stale_until_marked_fresh_and_again_once_the_bound_has_passed() {
        let live = LiveDenylist::new(Denylist::new(), 300);
        let token = claims("tok_01J0000000000000000000000A");
        assert_eq!(live.refreshed_at(), None);
        assert_eq!(live.check(&token, NOW), Err(CheckError::Stale));
        live.mark_fresh(NOW);
        assert_eq!(live.refreshed_at(), Some(NOW));
        assert_eq!(live.check(&token, NOW + 300), Ok(()), "the bound itself");
        assert_eq!(live.check(&token, NOW + 301), Err(CheckError::Stale));
    }

    #[test]
    fn each_change_is_seen_at_once_and_counted() {
        let live = LiveDenylist::new(Denylist::new(), 300);
        live.mark_fresh(NOW);
        let token = claims("tok_01J0000000000000000000000A");
        let before = live.snapshot();
        futures::executor::block_on(live.update(|d| d.revoke_token(&token.token_id)));
        assert_eq!(live.check(&token, NOW), Err(CheckError::Revoked));
        assert_eq!((live.len(), live.generation()), (1, 1));
        assert!(before.is_empty(), "a snapshot taken earlier is not changed");

        futures::executor::block_on(async {
            let mut writer = live.write().await;
            writer.replace(Denylist::new());
        });
        assert_eq!(live.check(&token, NOW), Ok(()));
        assert_eq!((live.len(), live.generation()), (0, 2));
    }
}
