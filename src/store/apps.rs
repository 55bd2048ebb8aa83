//! Apps: integrations that hold tokens.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, PartialUpdate, Result, ResultExt, Store, from_micros, micros};
use crate::ids;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct App {
    pub id: String,
    pub workspace_id: String,
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
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            description: row.description,
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        }
    }
}

const COLUMNS: &str = "id, workspace_id, name, description, created_at, updated_at";

impl Store {
    /// Creates an app. `name` and `description` must already be validated.
    pub async fn create_app(
        &self,
        workspace_id: &str,
        name: &str,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<App> {
        let id = ids::new(ids::APP);
        let row: Row = sqlx::query_as(&format!(
            "insert into apps (id, workspace_id, name, name_lower, description, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6) returning {COLUMNS}"
        ))
        .bind(&id)
        .bind(workspace_id)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(description)
        .bind(micros(now))
        .fetch_one(self.pool())
        .await
        .on_unique(|| format!("an app named `{name}` already exists in this workspace"))?;
        Ok(row.into())
    }

    pub async fn list_apps(&self, workspace_id: &str) -> Result<Vec<App>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from apps where workspace_id = $1 order by id"
        ))
        .bind(workspace_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(App::from).collect())
    }

    /// The workspace's apps, each with how many of its tokens are active
    /// (neither revoked nor expired at `now_s`).
    pub async fn list_apps_with_active_tokens(
        &self,
        workspace_id: &str,
        now_s: i64,
    ) -> Result<Vec<(App, i64)>> {
        #[derive(sqlx::FromRow)]
        struct Counted {
            #[sqlx(flatten)]
            app: Row,
            active_tokens: i64,
        }
        let rows: Vec<Counted> = sqlx::query_as(&format!(
            "select {COLUMNS},
                    (select count(*) from tokens t
                     where t.app_id = apps.id and t.revoked_at is null and t.expires_at_s > $2)
                    as active_tokens
             from apps where workspace_id = $1 order by id"
        ))
        .bind(workspace_id)
        .bind(now_s)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (App::from(row.app), row.active_tokens))
            .collect())
    }

    /// An app by id, within `workspace_id` when given. Another workspace's app is
    /// reported as not found.
    pub async fn get_app(&self, workspace_id: Option<&str>, app_id: &str) -> Result<App> {
        let sql = match workspace_id {
            Some(_) => format!("select {COLUMNS} from apps where id = $1 and workspace_id = $2"),
            None => format!("select {COLUMNS} from apps where id = $1"),
        };
        let mut query = sqlx::query_as(&sql).bind(app_id);
        if let Some(workspace_id) = workspace_id {
            query = query.bind(workspace_id);
        }
        let row: Option<Row> = query.fetch_optional(self.pool()).await?;
        row.map(App::from)
            .ok_or_else(|| Error::NotFound(format!("app `{app_id}`")))
    }

    /// Updates an app's name and/or description (`Some(None)` clears the
    /// description). Values must already be validated.
    pub async fn update_app(
        &self,
        workspace_id: &str,
        app_id: &str,
        name: Option<&str>,
        description: Option<Option<&str>>,
        now: OffsetDateTime,
    ) -> Result<App> {
        let mut update = PartialUpdate::default();
        if let Some(name) = name {
            update.set("name", Some(name.to_owned()));
            update.set("name_lower", Some(name.to_lowercase()));
        }
        if let Some(description) = description {
            update.set("description", description.map(str::to_owned));
        }
        let row: Option<Row> = update
            .apply(self, "apps", COLUMNS, workspace_id, app_id, now)
            .await
            .on_unique(|| {
                format!(
                    "an app named `{}` already exists in this workspace",
                    name.unwrap_or_default()
                )
            })?;
        row.map(App::from)
            .ok_or_else(|| Error::NotFound(format!("app `{app_id}`")))
    }

    /// Deletes an app with its token records and records a cutoff so every token
    /// it ever had is rejected: tokens issued at or before `cutoff_s`, kept until
    /// `cutoff_expires_s`, when none of them can be valid any more.
    pub async fn delete_app(
        &self,
        app: &App,
        cutoff_s: i64,
        cutoff_expires_s: i64,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "insert into app_cutoffs (app_id, workspace_id, cutoff_s, expires_at_s, created_at)
             values ($1, $2, $3, $4, $5)
             on conflict (app_id) do update
             set cutoff_s = excluded.cutoff_s, expires_at_s = excluded.expires_at_s, created_at = excluded.created_at",
        )
        .bind(&app.id)
        .bind(&app.workspace_id)
        .bind(cutoff_s)
        .bind(cutoff_expires_s)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("delete from apps where id = $1 and workspace_id = $2")
            .bind(&app.id)
            .bind(&app.workspace_id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound(format!("app `{}`", app.id)));
        }
        tx.commit().await?;
        Ok(())
    }
}
