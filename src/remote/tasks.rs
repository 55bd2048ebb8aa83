//! The remote verifier's background refreshes (keys on schedule, the feed
//! every interval) and the guard that owns them: dropping it stops them.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{LoadError, Shared};

/// The background tasks, aborted when the last `RemoteVerifier` clone goes.
pub(super) struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    /// Starts the key refresh every `key_refresh` and, when a feed is
    /// followed, the poll every `feed_interval`.
    pub(super) fn start(
        shared: &Arc<Shared>,
        key_refresh: Duration,
        feed_interval: Duration,
    ) -> Tasks {
        let mut tasks = vec![spawn_every(shared.clone(), key_refresh, |s| {
            Box::pin(async move { s.refresh_keys(true).await.map(|_| ()) })
        })];
        if shared.feed.is_some() {
            tasks.push(spawn_every(shared.clone(), feed_interval, |s| {
                Box::pin(async move { s.poll_feed().await })
            }));
        }
        Tasks(tasks)
    }

    pub(super) fn abort(&self) {
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

type Job = fn(Arc<Shared>) -> Pin<Box<dyn Future<Output = Result<(), LoadError>> + Send>>;

/// Runs `job` every `every` (the first time one interval from now), noting
/// failures for `RemoteVerifier::status`. A run that overruns delays the
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
