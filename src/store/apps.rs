//! Apps: integrations that hold tokens.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, PartialUpdate, Result, ResultExt, Store, Tx, from_micros, micros};
use crate::ids::{AppId, WorkspaceId};
use crate::text;
use crate::token::UnixTime;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    pub id: AppId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    workspace_id: String,
    name: String,
    description: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for App {
    fn from(row: Row) -> Self {
        App {
            id: AppId::trusted(row.id),
            workspace_id: WorkspaceId::trusted(row.workspace_id),
            name: row.name,
            description: row.description,
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        }
    }
}

const COLUMNS: &str = "id, workspace_id, name, description, created_at, updated_at";

impl Tx {
    /// Creates an app. `name` and `description` must already be validated.
    pub async fn create_app(
        &mut self,
        workspace_id: &WorkspaceId,
        name: &str,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<App> {
        let id = AppId::generate();
        let row: Row = sqlx::query_as(&format!(
            "insert into apps (id, workspace_id, name, name_lower, description, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6) returning {COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(workspace_id.as_str())
        .bind(name)
        .bind(text::name_key(name))
        .bind(description)
        .bind(micros(now))
        .fetch_one(self.conn())
        .await
        .on_unique(|| format!("an app named `{name}` already exists in this workspace"))?;
        Ok(row.into())
    }

    /// Updates an app's name and/or description (`Some(None)` clears the
    /// description). Values must already be validated.
    pub async fn update_app(
        &mut self,
        workspace_id: &WorkspaceId,
        app_id: &AppId,
        name: Option<&str>,
        description: Option<Option<&str>>,
        now: OffsetDateTime,
    ) -> Result<App> {
        let mut update = PartialUpdate::default();
        if let Some(name) = name {
            update.set("name", Some(name.to_owned()));
            update.set("name_lower", Some(text::name_key(name)));
        }
        if let Some(description) = description {
            update.set("description", description.map(str::to_owned));
        }
        let row: Option<Row> = update
            .apply(self, "apps", COLUMNS, workspace_id, app_id.as_str(), now)
            .await
            .on_unique(|| {
                format!(
                    "an app named `{}` already exists in this workspace",
                    name.unwrap_or_default()
                )
            })?;
        row.map(App::from)
            .ok_or_else(|| Error::not_found(AppId::WHAT, app_id))
    }

    /// Deletes an app with its token records and records a cutoff so every token
    /// it ever had is rejected: tokens issued at or before `cutoff`, kept until
    /// `cutoff_expires`, when none of them can be valid any more.
    pub async fn delete_app(
        &mut self,
        workspace_id: &WorkspaceId,
        app_id: &AppId,
        cutoff: OffsetDateTime,
        cutoff_expires: OffsetDateTime,
    ) -> Result<()> {
        let deleted = sqlx::query("delete from apps where id = $1 and workspace_id = $2")
            .bind(app_id.as_str())
            .bind(workspace_id.as_str())
            .execute(self.conn())
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::not_found(AppId::WHAT, app_id));
        }
        self.record_cutoff(
            workspace_id,
            app_id,
            cutoff.unix_timestamp(),
            cutoff_expires,
            cutoff,
        )
        .await
    }

    /// Records (or moves forward) the app-wide cutoff of `app_id`: its tokens
    /// issued at or before `cutoff_s` are refused, until `expires`.
    pub(super) async fn record_cutoff(
        &mut self,
        workspace_id: &WorkspaceId,
        app_id: &AppId,
        cutoff_s: UnixTime,
        expires: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "insert into app_cutoffs (app_id, workspace_id, cutoff_s, expires_at_s, created_at)
             values ($1, $2, $3, $4, $5)
             on conflict (app_id) do update
             set cutoff_s = excluded.cutoff_s, expires_at_s = excluded.expires_at_s, created_at = excluded.created_at",
        )
        .bind(app_id.as_str())
        .bind(workspace_id.as_str())
        .bind(cutoff_s)
        .bind(expires.unix_timestamp())
        .bind(micros(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn list_apps(&self, workspace_id: &WorkspaceId) -> Result<Vec<App>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from apps where workspace_id = $1 order by id"
        ))
        .bind(workspace_id.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(App::from).collect())
    }

    /// The workspace's apps, each with how many of its tokens are neither
    /// revoked (a rolled token in its overlap is not yet) nor expired at
    /// `now`, counted by the key that signed them.
    pub async fn list_apps_with_live_tokens(
        &self,
        workspace_id: &WorkspaceId,
        now: OffsetDateTime,
    ) -> Result<Vec<(App, Vec<(String, i64)>)>> {
        let apps = self.list_apps(workspace_id).await?;
        let counts: Vec<(String, String, i64)> = sqlx::query_as(
            "select app_id, kid, count(*) from tokens
             where workspace_id = $1 and app_id is not null
               and (revoked_at is null or revoked_at > $3) and expires_at_s > $2
             group by app_id, kid",
        )
        .bind(workspace_id.as_str())
        .bind(now.unix_timestamp())
        .bind(micros(now))
        .fetch_all(self.pool())
        .await?;
        Ok(apps
            .into_iter()
            .map(|app| {
                let by_kid = counts
                    .iter()
                    .filter(|(app_id, ..)| app_id == app.id.as_str())
                    .map(|(_, kid, n)| (kid.clone(), *n))
                    .collect();
                (app, by_kid)
            })
            .collect())
    }

    /// An app of a workspace by id. Another workspace's app is not found.
    pub async fn get_app(&self, workspace_id: &WorkspaceId, app_id: &AppId) -> Result<App> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from apps where id = $1 and workspace_id = $2"
        ))
        .bind(app_id.as_str())
        .bind(workspace_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(App::from)
            .ok_or_else(|| Error::not_found(AppId::WHAT, app_id))
    }

    /// The apps of a workspace whose name is `name` (ignoring case): one, or
    /// none; for the CLI's `--app NAME`.
    pub async fn find_apps_named(
        &self,
        workspace_id: &WorkspaceId,
        name: &str,
    ) -> Result<Vec<App>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from apps where workspace_id = $1 and name_lower = $2 order by id"
        ))
        .bind(workspace_id.as_str())
        .bind(text::name_key(name))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(App::from).collect())
    }

    /// The workspace an app belongs to, for the CLI (which reaches every
    /// workspace) when it is given an app without one.
    pub async fn app_workspace(&self, app_id: &AppId) -> Result<WorkspaceId> {
        let row: Option<(String,)> = sqlx::query_as("select workspace_id from apps where id = $1")
            .bind(app_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(|(id,)| WorkspaceId::trusted(id))
            .ok_or_else(|| Error::not_found(AppId::WHAT, app_id))
    }
}
