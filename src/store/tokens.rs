//! Token records: everything about an issued token except the string itself.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, Result, Store, from_micros, micros};
use crate::clock::rfc3339;
use crate::token::{Format, UnixTime};

/// A stored token record. `id` is the token's `jti`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub workspace_id: String,
    pub app_id: Option<String>,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub format: Format,
    pub kid: String,
    #[serde(serialize_with = "unix_rfc3339")]
    pub created_at: UnixTime,
    #[serde(serialize_with = "unix_rfc3339")]
    pub expires_at: UnixTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

fn unix_rfc3339<S: serde::Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// What is recorded when a token is issued.
pub struct NewToken<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    pub app_id: Option<&'a str>,
    pub subject: &'a str,
    pub name: Option<&'a str>,
    pub scopes: &'a str,
    pub format: Format,
    pub kid: &'a str,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    workspace_id: String,
    app_id: Option<String>,
    name: Option<String>,
    scopes: String,
    format: String,
    kid: String,
    issued_at_s: i64,
    expires_at_s: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<Row> for TokenRecord {
    type Error = Error;

    fn try_from(row: Row) -> Result<Self> {
        let format = row
            .format
            .parse()
            .map_err(|e: String| Error::Db(sqlx::Error::Decode(e.into())))?;
        Ok(TokenRecord {
            id: row.id,
            workspace_id: row.workspace_id,
            app_id: row.app_id,
            name: row.name,
            scopes: row
                .scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            format,
            kid: row.kid,
            created_at: row.issued_at_s,
            expires_at: row.expires_at_s,
            revoked_at: row.revoked_at.map(from_micros),
        })
    }
}

const COLUMNS: &str =
    "id, workspace_id, app_id, name, scopes, format, kid, issued_at_s, expires_at_s, revoked_at";

impl Store {
    pub async fn insert_token(&self, token: &NewToken<'_>) -> Result<TokenRecord> {
        let row: Row = sqlx::query_as(&format!(
            "insert into tokens (id, workspace_id, app_id, subject, name, scopes, format, kid, issued_at_s, expires_at_s)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning {COLUMNS}"
        ))
        .bind(token.id)
        .bind(token.workspace_id)
        .bind(token.app_id)
        .bind(token.subject)
        .bind(token.name)
        .bind(token.scopes)
        .bind(token.format.as_str())
        .bind(token.kid)
        .bind(token.issued_at)
        .bind(token.expires_at)
        .fetch_one(self.pool())
        .await?;
        row.try_into()
    }

    /// The tokens of an app, newest first.
    pub async fn list_tokens(&self, workspace_id: &str, app_id: &str) -> Result<Vec<TokenRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from tokens where workspace_id = $1 and app_id = $2 order by id desc"
        ))
        .bind(workspace_id)
        .bind(app_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    /// A token record by id, within `workspace_id` when given.
    pub async fn get_token(
        &self,
        workspace_id: Option<&str>,
        token_id: &str,
    ) -> Result<TokenRecord> {
        let sql = match workspace_id {
            Some(_) => format!("select {COLUMNS} from tokens where id = $1 and workspace_id = $2"),
            None => format!("select {COLUMNS} from tokens where id = $1"),
        };
        let mut query = sqlx::query_as(&sql).bind(token_id);
        if let Some(workspace_id) = workspace_id {
            query = query.bind(workspace_id);
        }
        let row: Option<Row> = query.fetch_optional(self.pool()).await?;
        row.ok_or_else(|| Error::NotFound(format!("token `{token_id}`")))?
            .try_into()
    }

    /// Revokes a token: marks its record and puts its id on the denylist until it
    /// expires. Revoking a revoked token changes nothing.
    pub async fn revoke_token(
        &self,
        token: &TokenRecord,
        now: OffsetDateTime,
    ) -> Result<TokenRecord> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("update tokens set revoked_at = $1 where id = $2 and revoked_at is null")
            .bind(micros(now))
            .bind(&token.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into revoked_tokens (token_id, workspace_id, revoked_at, expires_at_s)
             values ($1, $2, $3, $4) on conflict (token_id) do nothing",
        )
        .bind(&token.id)
        .bind(&token.workspace_id)
        .bind(micros(now))
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_token(Some(&token.workspace_id), &token.id).await
    }
}
