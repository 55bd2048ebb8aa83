//! Token usage as this instance sees it: how often each token was verified,
//! when last, and which of its scopes a route required. Counted in memory on
//! the request path (one short lock, no I/O) and written out by a background
//! job every `--usage-flush`, and once more at shutdown, so a request never
//! waits for the database.
//!
//! While the database is unreachable the counts wait here, bounded: past
//! `capacity` distinct tokens, a token not already waiting is not counted
//! (the number left out is logged at the next flush); tokens already waiting
//! go on being counted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use crate::store::{self, Store};
use crate::token::{Scope, ScopeSet, UnixTime};

/// Shards, one per thread (while there are no more threads than shards), so
/// that requests on different threads never wait for one lock, even when
/// they carry the same token: a busy integration's requests land on every
/// worker thread at once. A token may wait in several shards; a flush adds
/// them up.
const SHARDS: usize = 16;

thread_local! {
    /// This thread's shard, given out in turn at its first use.
    static SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

/// What one instance saw of one token since its last flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub uses: u64,
    /// Unix seconds of the latest use.
    pub last_used: UnixTime,
    /// The scopes routes required of it.
    pub scopes: ScopeSet,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.uses += other.uses;
        self.last_used = self.last_used.max(other.last_used);
        self.scopes = self.scopes.union(other.scopes);
    }
}

/// The counts waiting to be written.
#[derive(Debug)]
pub struct UsageLog {
    shards: [Mutex<HashMap<Box<str>, Tally>>; SHARDS],
    capacity: usize,
    /// Entries waiting, over every shard (a token counts once per shard it
    /// waits in).
    waiting: AtomicUsize,
    /// Uses of tokens left out since the last flush, for want of room.
    dropped: AtomicU64,
    /// When the oldest entry waiting was first counted (Unix seconds;
    /// `MAX`: none waits). Touched only when a token starts waiting.
    oldest: AtomicI64,
    /// One flush at a time: the one at shutdown waits for one in flight.
    flushing: tokio::sync::Mutex<()>,
}

/// What one flush wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Distinct tokens written.
    pub tokens: usize,
    /// Uses left out since the previous flush, for want of room.
    pub dropped: u64,
}

impl UsageLog {
    /// Distinct tokens that may wait at once: at a few dozen bytes each,
    /// a few megabytes at most.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(capacity: usize) -> UsageLog {
        UsageLog {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            capacity,
            waiting: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            oldest: AtomicI64::new(UnixTime::MAX),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts one verified use of `token_id` at `now`, on a route that
    /// required `scope` (none: any valid token).
    pub fn record(&self, token_id: &str, scope: Option<Scope>, now: UnixTime) {
        let mut tally = Tally {
            uses: 1,
            last_used: now,
            scopes: ScopeSet::EMPTY,
        };
        if let Some(scope) = scope {
            tally.scopes.insert(scope);
        }
        let mut shard = lock(&self.shards[SHARD.with(|shard| *shard)]);
        if let Some(waiting) = shard.get_mut(token_id) {
            waiting.add(tally);
        } else if self.waiting.fetch_add(1, Ordering::Relaxed) < self.capacity {
            shard.insert(token_id.into(), tally);
            self.oldest.fetch_min(now, Ordering::Relaxed);
        } else {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries waiting to be written (about the distinct tokens used since
    /// the last flush).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// When the oldest count waiting was made (Unix seconds); `None` when
    /// nothing waits.
    pub fn oldest_waiting(&self) -> Option<UnixTime> {
        let oldest = self.oldest.load(Ordering::Relaxed);
        (oldest != UnixTime::MAX && self.waiting() > 0).then_some(oldest)
    }

    /// Writes out what was counted, in one statement; on failure the counts
    /// are put back (merged with those made meanwhile) for the next flush.
    pub async fn flush(&self, store: &Store) -> store::Result<Flushed> {
        let _turn = self.flushing.lock().await;
        let oldest = self.oldest.swap(UnixTime::MAX, Ordering::Relaxed);
        let batch = self.take();
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if !batch.is_empty()
            && let Err(e) = store.record_usage(&batch).await
        {
            self.restore(batch);
            self.oldest.fetch_min(oldest, Ordering::Relaxed);
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            return Err(e);
        }
        Ok(Flushed {
            tokens: batch.len(),
            dropped,
        })
    }

    /// Takes everything counted so far, one entry per token.
    fn take(&self) -> Vec<(Box<str>, Tally)> {
        let mut batch: HashMap<Box<str>, Tally> = HashMap::with_capacity(self.waiting());
        for shard in &self.shards {
            let taken = std::mem::take(&mut *lock(shard));
            self.waiting.fetch_sub(taken.len(), Ordering::Relaxed);
            for (token_id, tally) in taken {
                batch.entry(token_id).or_default().add(tally);
            }
        }
        batch.into_iter().collect()
    }

    /// Puts back a batch that could not be written, within the capacity.
    fn restore(&self, batch: Vec<(Box<str>, Tally)>) {
        for (token_id, tally) in batch {
            let mut shard = lock(&self.shards[SHARD.with(|shard| *shard)]);
            if let Some(waiting) = shard.get_mut(&token_id) {
                waiting.add(tally);
            } else if self.waiting.fetch_add(1, Ordering::Relaxed) < self.capacity {
                shard.insert(token_id, tally);
            } else {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                self.dropped.fetch_add(tally.uses, Ordering::Relaxed);
            }
        }
    }
}

/// A poisoned shard only means a thread panicked mid-update of a counter:
/// the counts are still counts.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_900_000_000;

    #[test]
    fn uses_add_up_times_move_forward_and_scopes_gather() {
        let log = UsageLog::new(10);
        log.record("tok_a", Some(Scope::CONTACTS_READ), NOW);
        log.record("tok_a", Some(Scope::CONTACTS_WRITE), NOW - 5);
        log.record("tok_a", None, NOW + 1);
        log.record("tok_b", None, NOW);
        let mut batch = log.take();
        batch.sort_by(|a, b| a.0.cmp(&b.0));
        let scopes: ScopeSet = [Scope::CONTACTS_READ, Scope::CONTACTS_WRITE]
            .into_iter()
            .collect();
        assert_eq!(
            batch,
            vec![
                (
                    "tok_a".into(),
                    Tally {
                        uses: 3,
                        last_used: NOW + 1,
                        scopes
                    }
                ),
                (
                    "tok_b".into(),
                    Tally {
                        uses: 1,
                        last_used: NOW,
                        scopes: ScopeSet::EMPTY
                    }
                ),
            ]
        );
        assert_eq!(log.waiting(), 0);
        assert!(log.take().is_empty());
    }

    #[tokio::test]
    async fn the_oldest_count_waiting_is_known_until_a_flush_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url).await.unwrap();
        let log = UsageLog::new(10);
        assert_eq!(log.oldest_waiting(), None);
        log.record("tok_a", None, NOW);
        log.record("tok_a", None, NOW + 5);
        log.record("tok_b", None, NOW + 7);
        assert_eq!(log.oldest_waiting(), Some(NOW));

        // A flush that fails keeps them waiting, and their age.
        store.close().await;
        assert!(log.flush(&store).await.is_err());
        assert_eq!(log.oldest_waiting(), Some(NOW));
        let store = Store::open(&url).await.unwrap();
        log.flush(&store).await.unwrap();
        assert_eq!(log.oldest_waiting(), None);
        log.record("tok_c", None, NOW + 9);
        assert_eq!(log.oldest_waiting(), Some(NOW + 9));
    }

    #[test]
    fn a_token_counted_on_several_threads_is_one_entry_of_the_batch() {
        let log = std::sync::Arc::new(UsageLog::new(100));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        log.record("tok_a", Some(Scope::CONTACTS_READ), NOW + i);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let batch = log.take();
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].1.uses, 40);
        assert_eq!(batch[0].1.last_used, NOW + 3);
        assert_eq!(log.waiting(), 0);
    }

    #[test]
    fn past_the_capacity_new_tokens_are_left_out_and_counted_while_waiting_ones_go_on() {
        let log = UsageLog::new(2);
        log.record("tok_a", None, NOW);
        log.record("tok_b", None, NOW);
        log.record("tok_c", None, NOW);
        log.record("tok_c", None, NOW);
        log.record("tok_a", None, NOW + 1);
        assert_eq!(log.waiting(), 2);
        assert_eq!(log.dropped.load(Ordering::Relaxed), 2);
        let batch = log.take();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.iter().map(|(_, t)| t.uses).sum::<u64>(), 3);

        // A batch put back merges with what came meanwhile, within the bound:
        // every use is either kept or counted as left out.
        log.dropped.store(0, Ordering::Relaxed);
        log.record("tok_d", None, NOW + 2);
        log.restore(batch);
        assert_eq!(log.waiting(), 2);
        let kept: u64 = log.take().iter().map(|(_, t)| t.uses).sum();
        let left_out = log.dropped.load(Ordering::Relaxed);
        assert_eq!((kept + left_out, left_out > 0), (4, true));
    }
}
