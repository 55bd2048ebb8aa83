//! The denylist as stored: revoked token ids and per-app cutoffs, pruned once
//! the tokens they deny have expired anyway.

use super::{Result, Store};
use crate::token::{Denylist, UnixTime};

impl Store {
    /// Every denylist entry still in force at `now`.
    pub async fn load_denylist(&self, now: UnixTime) -> Result<Denylist> {
        let mut denylist = Denylist::new();
        let tokens: Vec<(String,)> =
            sqlx::query_as("select token_id from revoked_tokens where expires_at_s >= $1")
                .bind(now)
                .fetch_all(self.pool())
                .await?;
        for (token_id,) in tokens {
            denylist.revoke_token(token_id);
        }
        let cutoffs: Vec<(String, i64)> =
            sqlx::query_as("select app_id, cutoff_s from app_cutoffs where expires_at_s >= $1")
                .bind(now)
                .fetch_all(self.pool())
                .await?;
        for (app_id, cutoff) in cutoffs {
            denylist.set_cutoff(app_id, cutoff);
        }
        Ok(denylist)
    }

    /// Deletes entries whose tokens have all expired before `now`; returns how
    /// many went.
    pub async fn prune_denylist(&self, now: UnixTime) -> Result<u64> {
        let tokens = sqlx::query("delete from revoked_tokens where expires_at_s < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        let cutoffs = sqlx::query("delete from app_cutoffs where expires_at_s < $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(tokens.rows_affected() + cutoffs.rows_affected())
    }
}
