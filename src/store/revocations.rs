//! The denylist as stored: revoked token ids and per-app cutoffs, pruned once
//! the tokens they deny have expired anyway.

use time::OffsetDateTime;

use super::{Result, Store, from_micros, micros};
use crate::token::{Denylist, UnixTime};

impl Store {
    /// Every denylist entry still in force at `now`.
    pub async fn load_denylist(&self, now: OffsetDateTime) -> Result<Denylist> {
        let now = now.unix_timestamp();
        let mut denylist = Denylist::new();
        let tokens: Vec<(String, Option<i64>, i64)> = sqlx::query_as(
            "select token_id, takes_effect_s, expires_at_s from revoked_tokens where expires_at_s >= $1",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        for (token_id, from, expires_at) in tokens {
            denylist.schedule_revocation(token_id, from.unwrap_or(UnixTime::MIN), expires_at);
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
    pub async fn prune_denylist(&self, now: OffsetDateTime) -> Result<u64> {
        let now = now.unix_timestamp();
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

/// Denylist entries recorded at or after a point in time, for incremental
/// refreshes.
#[derive(Debug, Default)]
pub struct DenylistChanges {
    /// (token id, the second its revocation takes effect: `None` at once,
    /// the token's `exp`).
    pub tokens: Vec<(String, Option<UnixTime>, UnixTime)>,
    pub cutoffs: Vec<(String, UnixTime)>,
    /// The latest record time seen, if any.
    pub latest: Option<OffsetDateTime>,
}

/// Denylist entries for the revocation feed, with their expiries.
#[derive(Debug, Default)]
pub struct FeedRows {
    /// (token id, the token's `exp`, the second its revocation takes effect:
    /// `None` at once).
    pub tokens: Vec<(String, UnixTime, Option<UnixTime>)>,
    /// (app id, cutoff, the entry's expiry).
    pub cutoffs: Vec<(String, UnixTime, UnixTime)>,
    /// The latest record time among them, if any.
    pub latest: Option<OffsetDateTime>,
}

impl Store {
    /// Entries recorded at or after `since`.
    pub async fn denylist_changes(&self, since: OffsetDateTime) -> Result<DenylistChanges> {
        let since = micros(since);
        let tokens: Vec<(String, Option<i64>, i64, i64)> = sqlx::query_as(
            "select token_id, takes_effect_s, expires_at_s, revoked_at from revoked_tokens
             where revoked_at >= $1",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let cutoffs: Vec<(String, i64, i64)> = sqlx::query_as(
            "select app_id, cutoff_s, created_at from app_cutoffs where created_at >= $1",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let latest = tokens
            .iter()
            .map(|t| t.3)
            .chain(cutoffs.iter().map(|c| c.2))
            .max()
            .map(from_micros);
        Ok(DenylistChanges {
            tokens: tokens.into_iter().map(|t| (t.0, t.1, t.2)).collect(),
            cutoffs: cutoffs.into_iter().map(|c| (c.0, c.1)).collect(),
            latest,
        })
    }

    /// The denylist entries in force at `horizon` (their expiry is not before
    /// it), recorded at or after `since` (`None` for all),
    /// for the revocation feed. Ordered by record time, then id, so equal
    /// requests get equal pages.
    pub async fn denylist_feed(
        &self,
        since: Option<OffsetDateTime>,
        horizon: OffsetDateTime,
    ) -> Result<FeedRows> {
        let since = since.map_or(i64::MIN, micros);
        let horizon = horizon.unix_timestamp();
        let tokens: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
            "select token_id, expires_at_s, revoked_at, takes_effect_s from revoked_tokens
             where expires_at_s >= $1 and revoked_at >= $2
             order by revoked_at, token_id",
        )
        .bind(horizon)
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let cutoffs: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "select app_id, cutoff_s, expires_at_s, created_at from app_cutoffs
             where expires_at_s >= $1 and created_at >= $2
             order by created_at, app_id",
        )
        .bind(horizon)
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let latest = tokens
            .iter()
            .map(|t| t.2)
            .chain(cutoffs.iter().map(|c| c.3))
            .max()
            .map(from_micros);
        Ok(FeedRows {
            tokens: tokens.into_iter().map(|t| (t.0, t.1, t.3)).collect(),
            cutoffs: cutoffs.into_iter().map(|c| (c.0, c.1, c.2)).collect(),
            latest,
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(self.pool()).await?;
        Ok(())
    }
}
