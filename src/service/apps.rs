//! Apps: create, rename, delete (with the app-wide revocation that deleting
//! records), and the reads an admin makes.

use time::OffsetDateTime;

use super::{Actor, Result, Service};
use crate::ids::AppId;
use crate::store::{App, TokenRecord};
use crate::text;

impl Service {
    pub async fn create_app(
        &self,
        actor: &Actor,
        name: &str,
        description: Option<&str>,
    ) -> Result<App> {
        text::NAME.check("name", name)?;
        if let Some(description) = description {
            text::DESCRIPTION.check("description", description)?;
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let app = tx
            .create_app(actor.workspace(), name, description, now)
            .await?;
        let event = actor.event("app.created", Some(("app", app.id.to_string())));
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Renames an app or changes its description (`Some(None)` clears it).
    pub async fn update_app(
        &self,
        actor: &Actor,
        app: &AppId,
        name: Option<&str>,
        description: Option<Option<&str>>,
    ) -> Result<App> {
        if let Some(name) = name {
            text::NAME.check("name", name)?;
        }
        if let Some(Some(description)) = description {
            text::DESCRIPTION.check("description", description)?;
        }
        let before = self.store.get_app(actor.workspace(), app).await?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let app = tx
            .update_app(actor.workspace(), app, name, description, now)
            .await?;
        let mut changes = serde_json::Map::new();
        if before.name != app.name {
            changes.insert("name".into(), serde_json::json!([before.name, app.name]));
        }
        if before.description != app.description {
            changes.insert(
                "description".into(),
                serde_json::json!([before.description, app.description]),
            );
        }
        let mut event = actor.event("app.updated", Some(("app", app.id.to_string())));
        event.changes = Some(changes.into());
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Deletes an app; every token it had is rejected from now on: tokens of
    /// the app issued at or before now are refused (the app-wide cutoff),
    /// here at once and by every other instance and offline verifier at
    /// their next refresh.
    pub async fn delete_app(&self, actor: &Actor, app: &AppId) -> Result<()> {
        let now = self.clock.now();
        let keep_until = self.cutoff_kept_until(now);
        let deleted = self.store.get_app(actor.workspace(), app).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_app(actor.workspace(), app, now, keep_until)
            .await?;
        let event = actor.event("app.deleted", Some(("app", app.to_string())));
        tx.record_audit(actor.workspace(), event, now).await?;
        let data = serde_json::json!({
            "id": deleted.id,
            "name": deleted.name,
            "deleted_at": crate::clock::rfc3339_precise(now),
        });
        self.queue_webhook(&mut tx, Some(actor.workspace()), "app.deleted", data, now)
            .await?;
        tx.commit().await?;
        self.wake_deliverer();
        if let Some(denylist) = &self.denylist {
            denylist
                .set_cutoff(app.as_str(), now.unix_timestamp())
                .await;
        }
        Ok(())
    }

    /// How long an app-wide cutoff recorded `now` is kept: until no token of
    /// the app can be valid any more.
    pub(super) fn cutoff_kept_until(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + time::Duration::seconds(self.policy.max_lifetime.saturating_add(self.policy.leeway))
    }

    pub async fn app(&self, actor: &Actor, app: &AppId) -> Result<App> {
        Ok(self.store.get_app(actor.workspace(), app).await?)
    }

    pub async fn apps(&self, actor: &Actor) -> Result<Vec<App>> {
        Ok(self.store.list_apps(actor.workspace()).await?)
    }

    /// The workspace's apps, each with how many of its tokens the service
    /// would accept now (not revoked, not expired, signed by a key not
    /// retired).
    pub async fn apps_with_active_tokens(&self, actor: &Actor) -> Result<Vec<(App, i64)>> {
        let now = self.clock.now();
        let apps = self
            .store
            .list_apps_with_live_tokens(actor.workspace(), now)
            .await?;
        Ok(apps
            .into_iter()
            .map(|(app, by_kid)| {
                let active = by_kid
                    .iter()
                    .filter(|(kid, _)| self.kid_verifies(kid, now))
                    .map(|(_, n)| n)
                    .sum();
                (app, active)
            })
            .collect())
    }

    /// The apps of the actor's workspace named `name` (ignoring case).
    pub async fn apps_named(&self, actor: &Actor, name: &str) -> Result<Vec<App>> {
        Ok(self.store.find_apps_named(actor.workspace(), name).await?)
    }

    /// The tokens of an app, newest first.
    pub async fn tokens(&self, actor: &Actor, app: &AppId) -> Result<Vec<TokenRecord>> {
        let app = self.app(actor, app).await?;
        Ok(self.store.list_tokens(&app.workspace_id, &app.id).await?)
    }

    /// The tokens of an app this service has not seen used for `unused_for`:
    /// last used at or before then, or never used and issued by then.
    pub async fn unused_tokens(
        &self,
        actor: &Actor,
        app: &AppId,
        unused_for: time::Duration,
    ) -> Result<Vec<TokenRecord>> {
        let since = self.clock.now() - unused_for;
        let mut tokens = self.tokens(actor, app).await?;
        tokens.retain(|t| match t.last_used_at {
            Some(last_used) => last_used <= since,
            None => t.created_at <= since.unix_timestamp(),
        });
        Ok(tokens)
    }
}
