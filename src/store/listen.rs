//! PostgreSQL only: LISTEN/NOTIFY on the denylist. A trigger (migration
//! `0003_denylist_notify`) notifies `informly_denylist` whenever a revocation or
//! an app cutoff is written; instances listening refresh at once instead of at
//! their next periodic refresh.

use sqlx::postgres::PgListener;

use super::{Backend, Result, Store};

const CHANNEL: &str = "informly_denylist";

/// Waits for denylist changes made by any instance.
pub struct DenylistListener(PgListener);

impl Store {
    /// A listener for denylist changes, on PostgreSQL; `None` on SQLite, where
    /// the periodic refresh alone carries changes between processes.
    pub async fn listen_denylist(&self) -> Result<Option<DenylistListener>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(DenylistListener(listener)))
    }
}

impl DenylistListener {
    /// Resolves when the denylist may have changed: a notification arrived, or
    /// the connection was lost and re-established (notifications may have been
    /// missed meanwhile, so the caller should refresh either way).
    pub async fn changed(&mut self) -> Result<()> {
        self.0.try_recv().await?;
        Ok(())
    }
}
