//! Workspaces: the tenants.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, Result, ResultExt, Store, Tx, from_micros, micros};
use crate::ids::WorkspaceId;

/// The workspace every install starts with.
pub const DEFAULT_NAME: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    created_at: i64,
}

impl From<Row> for Workspace {
    fn from(row: Row) -> Self {
        Workspace {
            id: WorkspaceId::trusted(row.id),
            name: row.name,
            created_at: from_micros(row.created_at),
        }
    }
}

impl Tx {
    /// Creates a workspace. A name shaped like a workspace id is refused as a
    /// conflict with the id namespace.
    pub async fn create_workspace(&mut self, name: &str, now: OffsetDateTime) -> Result<Workspace> {
        if name.starts_with(WorkspaceId::PREFIX) {
            return Err(Error::Conflict(format!(
                "a workspace name may not start with `{}` (the prefix of workspace ids)",
                WorkspaceId::PREFIX
            )));
        }
        let id = WorkspaceId::generate();
        sqlx::query(
            "insert into workspaces (id, name, created_at, updated_at) values ($1, $2, $3, $3)",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(micros(now))
        .execute(self.conn())
        .await
        .on_unique(|| format!("a workspace named `{name}` already exists"))?;
        Ok(Workspace {
            id,
            name: name.to_owned(),
            created_at: from_micros(micros(now)),
        })
    }
}

impl Store {
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows: Vec<Row> =
            sqlx::query_as("select id, name, created_at from workspaces order by id")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().map(Workspace::from).collect())
    }

    /// A workspace by id (`ws_…`) or by name: for the CLI's `--workspace`.
    pub async fn find_workspace(&self, id_or_name: &str) -> Result<Workspace> {
        let row: Option<Row> = sqlx::query_as(
            "select id, name, created_at from workspaces where id = $1 or name = $1",
        )
        .bind(id_or_name)
        .fetch_optional(self.pool())
        .await?;
        row.map(Workspace::from)
            .ok_or_else(|| Error::NotFound(format!("workspace `{id_or_name}`")))
    }

    /// Creates the `default` workspace on first use.
    pub async fn ensure_default_workspace(&self, now: OffsetDateTime) -> Result<Workspace> {
        sqlx::query(
            "insert into workspaces (id, name, created_at, updated_at) values ($1, $2, $3, $3)
             on conflict (name) do nothing",
        )
        .bind(WorkspaceId::generate().as_str())
        .bind(DEFAULT_NAME)
        .bind(micros(now))
        .execute(self.pool())
        .await?;
        self.find_workspace(DEFAULT_NAME).await
    }
}

impl Store {
    /// The secret called `name`, shared by every instance on this database;
    /// `generate` makes it the first time. Concurrent first calls agree: the
    /// first insert wins and everyone reads it back.
    pub async fn secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
        now: OffsetDateTime,
    ) -> Result<String> {
        sqlx::query(
            "insert into secrets (name, value, created_at) values ($1, $2, $3)
             on conflict (name) do nothing",
        )
        .bind(name)
        .bind(generate())
        .bind(micros(now))
        .execute(self.pool())
        .await?;
        let (value,): (String,) = sqlx::query_as("select value from secrets where name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(value)
    }
}
