//! The denylist as a running server holds it: a [`LiveDenylist`]
//! (what the authenticator checks tokens against, never touching the
//! database), loaded and refreshed from the database in the background.
//!
//! Freshness: this instance applies its own revocations at once; others see
//! them at the next refresh (every second). If refreshes keep failing for
//! longer than the staleness bound, checks fail closed (503) rather than honour
//! a token that may have been revoked meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

use crate::authn::LiveDenylist;
use crate::store::{self, Store, from_micros, micros};
use crate::token::UnixTime;

/// Records committed by other transactions can become visible a little after
/// their timestamp; each incremental refresh looks back this far.
pub(crate) const OVERLAP: Duration = Duration::seconds(5);

#[derive(Debug)]
pub struct Revocations {
    live: Arc<LiveDenylist>,
    /// Unix microseconds (an atomic, so refreshes never lock): the next
    /// incremental refresh reads from here.
    watermark: AtomicI64,
}

impl Revocations {
    /// Loads the whole denylist in force at `horizon` (now, minus the
    /// leeway). Past `staleness` without a refresh, checks fail closed.
    pub async fn load(
        store: &Store,
        horizon: OffsetDateTime,
        now: OffsetDateTime,
        staleness: Duration,
    ) -> store::Result<Revocations> {
        let denylist = store.load_denylist(horizon).await?;
        let live = LiveDenylist::new(denylist, staleness.whole_seconds());
        live.mark_fresh(now.unix_timestamp());
        Ok(Revocations {
            live: Arc::new(live),
            watermark: AtomicI64::new(micros(now - OVERLAP)),
        })
    }

    /// What the authenticator checks tokens against.
    pub fn live(&self) -> &Arc<LiveDenylist> {
        &self.live
    }

    /// Applies this instance's own revocation at once.
    pub async fn revoke_token(&self, token_id: &str) {
        self.live.update(|d| d.revoke_token(token_id)).await;
    }

    /// Applies this instance's own scheduled revocation (a roll) at once:
    /// the token is refused from the second `from` on.
    pub async fn schedule_revocation(&self, token_id: &str, from: UnixTime, expires_at: UnixTime) {
        self.live
            .update(|d| d.schedule_revocation(token_id, from, expires_at))
            .await;
    }

    /// Applies this instance's own app deletion at once.
    pub async fn set_cutoff(&self, client_id: &str, cutoff: UnixTime) {
        self.live.update(|d| d.set_cutoff(client_id, cutoff)).await;
    }

    /// Changes with every change to the denylist seen here: what is derived
    /// from the denylist (the revocation feed's memo) is current while it is.
    pub fn generation(&self) -> u64 {
        self.live.generation()
    }

    /// Reads entries recorded since the last refresh and merges them in.
    pub async fn refresh(&self, store: &Store, now: OffsetDateTime) -> store::Result<()> {
        let since = from_micros(self.watermark.load(Ordering::Acquire));
        let changes = store.denylist_changes(since).await?;
        if !changes.tokens.is_empty() || !changes.cutoffs.is_empty() {
            let current = self.live.snapshot();
            // New here: a token not yet denied, or denied from a later second.
            let fresh = changes.tokens.iter().any(|(token, from, _)| {
                let from = from.unwrap_or(UnixTime::MIN);
                current.revoked_from(token).is_none_or(|held| held > from)
            }) || changes
                .cutoffs
                .iter()
                .any(|(app, cutoff)| current.cutoff(app) < Some(*cutoff));
            if fresh {
                self.live
                    .update(|d| {
                        for (token, from, expires_at) in changes.tokens {
                            d.schedule_revocation(token, from.unwrap_or(UnixTime::MIN), expires_at);
                        }
                        for (app, cutoff) in changes.cutoffs {
                            d.set_cutoff(app, cutoff);
                        }
                    })
                    .await;
            }
        }
        if let Some(latest) = changes.latest {
            self.watermark
                .fetch_max(micros(latest - OVERLAP), Ordering::AcqRel);
        }
        self.live.mark_fresh(now.unix_timestamp());
        Ok(())
    }

    /// Replaces the denylist with a full reload, dropping entries whose tokens
    /// have expired. Own revocations applied meanwhile wait for it, so the
    /// reload cannot overwrite them.
    pub async fn reload(
        &self,
        store: &Store,
        horizon: OffsetDateTime,
        now: OffsetDateTime,
    ) -> store::Result<()> {
        let mut writer = self.live.write().await;
        let denylist = store.load_denylist(horizon).await?;
        writer.replace(denylist);
        self.live.mark_fresh(now.unix_timestamp());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::CheckError;
    use crate::token::{ScopeSet, Subject, TokenClaims};

    const NOW: UnixTime = 1_800_000_000;

    fn at(unix: UnixTime) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn claims(token_id: &str, app: &str, issued_at: UnixTime) -> TokenClaims {
        TokenClaims {
            token_id: token_id.to_owned(),
            workspace: "ws_01J0000000000000000000000B".to_owned(),
            subject: Subject::App(app.to_owned()),
            scopes: ScopeSet::EMPTY,
            issued_at,
            not_before: issued_at,
            expires_at: issued_at + 3600,
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (dir, Store::open(&url).await.unwrap())
    }

    #[tokio::test]
    async fn own_revocations_apply_at_once_and_cutoffs_are_inclusive() {
        let (_dir, store) = store().await;
        let revocations = Revocations::load(&store, at(NOW), at(NOW), Duration::seconds(300))
            .await
            .unwrap();
        let token = claims(
            "tok_01J0000000000000000000000A",
            "app_01J0000000000000000000000C",
            NOW,
        );
        assert_eq!(revocations.live().check(&token, NOW), Ok(()));
        revocations.revoke_token(&token.token_id).await;
        assert_eq!(
            revocations.live().check(&token, NOW),
            Err(CheckError::Revoked)
        );

        let app = "app_01J0000000000000000000000D";
        revocations.set_cutoff(app, NOW).await;
        let at_cutoff = claims("tok_01J0000000000000000000000E", app, NOW);
        let after = claims("tok_01J0000000000000000000000F", app, NOW + 1);
        assert_eq!(
            revocations.live().check(&at_cutoff, NOW),
            Err(CheckError::Revoked)
        );
        assert_eq!(revocations.live().check(&after, NOW), Ok(()));
    }

    #[tokio::test]
    async fn with_the_database_gone_checks_go_on_until_the_staleness_bound_then_fail_closed() {
        let (_dir, store) = store().await;
        let revocations = Revocations::load(&store, at(NOW), at(NOW), Duration::seconds(300))
            .await
            .unwrap();
        let token = claims(
            "tok_01J0000000000000000000000A",
            "app_01J0000000000000000000000C",
            NOW,
        );
        revocations.revoke_token(&token.token_id).await;
        let other = claims(
            "tok_01J0000000000000000000000B",
            "app_01J0000000000000000000000C",
            NOW,
        );

        store.close().await;
        assert!(revocations.refresh(&store, at(NOW + 10)).await.is_err());
        // Within the bound: the last denylist still answers, both ways.
        assert_eq!(revocations.live().check(&other, NOW + 300), Ok(()));
        assert_eq!(
            revocations.live().check(&token, NOW + 300),
            Err(CheckError::Revoked)
        );
        // Past it: nothing is honoured.
        assert_eq!(
            revocations.live().check(&other, NOW + 301),
            Err(CheckError::Stale)
        );
    }

    #[tokio::test]
    async fn another_instances_revocations_arrive_with_the_next_refresh() {
        let (_dir, store) = store().await;
        let now = time::OffsetDateTime::now_utc();
        let now_s = now.unix_timestamp();
        let revocations = Revocations::load(&store, now, now, Duration::seconds(300))
            .await
            .unwrap();

        // Another instance revokes through the database.
        let ws = store.ensure_default_workspace(now).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let app = tx.create_app(&ws.id, "a", None, now).await.unwrap();
        let token_id = crate::ids::TokenId::generate();
        let record = tx
            .insert_token(&crate::store::NewToken {
                id: &token_id,
                workspace_id: &ws.id,
                app_id: Some(&app.id),
                subject: app.id.as_str(),
                name: None,
                scopes: "contacts:read",
                format: crate::token::Format::Paseto,
                kid: "k",
                issued_at: now_s,
                expires_at: now_s + 3600,
                replaces: None,
            })
            .await
            .unwrap();
        tx.revoke_token(&record, now).await.unwrap();
        let keep_until = now + time::Duration::hours(1);
        tx.delete_app(&ws.id, &app.id, now, keep_until)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let token = claims(record.id.as_str(), "app_01J0000000000000000000000C", now_s);
        let of_deleted_app = claims("tok_01J0000000000000000000000B", app.id.as_str(), now_s);
        assert_eq!(revocations.live().check(&token, now_s), Ok(()));
        revocations
            .refresh(&store, now + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(
            revocations.live().check(&token, now_s),
            Err(CheckError::Revoked)
        );
        assert_eq!(
            revocations.live().check(&of_deleted_app, now_s),
            Err(CheckError::Revoked)
        );
    }
}
