//! Token records: everything about an issued token except the string itself.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, Result, Store, Tx, from_micros, micros};
use crate::clock::rfc3339;
use crate::ids::{AppId, TokenId, WorkspaceId};
use crate::token::{Format, UnixTime};

/// A stored token record. `id` is the token's `jti`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: TokenId,
    pub workspace_id: WorkspaceId,
    pub app_id: Option<AppId>,
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
    pub id: &'a TokenId,
    pub workspace_id: &'a WorkspaceId,
    pub app_id: Option<&'a AppId>,
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
            id: TokenId::trusted(row.id),
            workspace_id: WorkspaceId::trusted(row.workspace_id),
            app_id: row.app_id.map(AppId::trusted),
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

impl Tx {
    pub async fn insert_token(&mut self, token: &NewToken<'_>) -> Result<TokenRecord> {
        let row: Row = sqlx::query_as(&format!(
            "insert into tokens (id, workspace_id, app_id, subject, name, scopes, format, kid, issued_at_s, expires_at_s)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning {COLUMNS}"
        ))
        .bind(token.id.as_str())
        .bind(token.workspace_id.as_str())
        .bind(token.app_id.map(AppId::as_str))
        .bind(token.subject)
        .bind(token.name)
        .bind(token.scopes)
        .bind(token.format.as_str())
        .bind(token.kid)
        .bind(token.issued_at)
        .bind(token.expires_at)
        .fetch_one(self.conn())
        .await?;
        row.try_into()
    }

    /// Revokes a token: marks its record and puts its id on the denylist until it
    /// expires. Revoking a revoked token changes nothing. Returns the record
    /// as it is now.
    pub async fn revoke_token(
        &mut self,
        token: &TokenRecord,
        now: OffsetDateTime,
    ) -> Result<TokenRecord> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "update tokens set revoked_at = coalesce(revoked_at, $1)
             where id = $2 and workspace_id = $3 returning {COLUMNS}"
        ))
        .bind(micros(now))
        .bind(token.id.as_str())
        .bind(token.workspace_id.as_str())
        .fetch_optional(self.conn())
        .await?;
        let record: TokenRecord = row
            .ok_or_else(|| Error::not_found(TokenId::WHAT, &token.id))?
            .try_into()?;
        sqlx::query(
            "insert into revoked_tokens (token_id, workspace_id, revoked_at, expires_at_s)
             values ($1, $2, $3, $4) on conflict (token_id) do nothing",
        )
        .bind(token.id.as_str())
        .bind(token.workspace_id.as_str())
        .bind(micros(now))
        .bind(token.expires_at)
        .execute(self.conn())
        .await?;
        Ok(record)
    }
}

impl Tx {
    /// Revokes every token of an app, keeping the app, and marks every record
    /// revoked. Tokens issued before the current second are refused by the
    /// app-wide cutoff (kept until `cutoff_expires`); those of the current
    /// second are revoked one by one, so that a token issued right after, in
    /// the same second, still works. Returns those (id, `exp`).
    pub async fn revoke_app_tokens(
        &mut self,
        workspace_id: &WorkspaceId,
        app_id: &AppId,
        now: OffsetDateTime,
        cutoff_expires: OffsetDateTime,
    ) -> Result<Vec<(TokenId, UnixTime)>> {
        let app: Option<(String,)> =
            sqlx::query_as("select id from apps where id = $1 and workspace_id = $2")
                .bind(app_id.as_str())
                .bind(workspace_id.as_str())
                .fetch_optional(self.conn())
                .await?;
        if app.is_none() {
            return Err(Error::not_found(AppId::WHAT, app_id));
        }
        sqlx::query(
            "update tokens set revoked_at = coalesce(revoked_at, $1)
             where app_id = $2 and workspace_id = $3",
        )
        .bind(micros(now))
        .bind(app_id.as_str())
        .bind(workspace_id.as_str())
        .execute(self.conn())
        .await?;
        let cutoff = now.unix_timestamp() - 1;
        self.record_cutoff(workspace_id, app_id, cutoff, cutoff_expires, now)
            .await?;
        let this_second: Vec<(String, i64)> = sqlx::query_as(
            "select id, expires_at_s from tokens
             where app_id = $1 and workspace_id = $2 and issued_at_s > $3",
        )
        .bind(app_id.as_str())
        .bind(workspace_id.as_str())
        .bind(cutoff)
        .fetch_all(self.conn())
        .await?;
        for (token_id, expires_at) in &this_second {
            sqlx::query(
                "insert into revoked_tokens (token_id, workspace_id, revoked_at, expires_at_s)
                 values ($1, $2, $3, $4) on conflict (token_id) do nothing",
            )
            .bind(token_id)
            .bind(workspace_id.as_str())
            .bind(micros(now))
            .bind(expires_at)
            .execute(self.conn())
            .await?;
        }
        Ok(this_second
            .into_iter()
            .map(|(id, exp)| (TokenId::trusted(id), exp))
            .collect())
    }
}

impl Store {
    /// The tokens of an app, newest first.
    pub async fn list_tokens(
        &self,
        workspace_id: &WorkspaceId,
        app_id: &AppId,
    ) -> Result<Vec<TokenRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from tokens where workspace_id = $1 and app_id = $2 order by id desc"
        ))
        .bind(workspace_id.as_str())
        .bind(app_id.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    /// A token record of a workspace by id.
    pub async fn get_token(
        &self,
        workspace_id: &WorkspaceId,
        token_id: &TokenId,
    ) -> Result<TokenRecord> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from tokens where id = $1 and workspace_id = $2"
        ))
        .bind(token_id.as_str())
        .bind(workspace_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.ok_or_else(|| Error::not_found(TokenId::WHAT, token_id))?
            .try_into()
    }

    /// The workspace a token belongs to, for the CLI (which reaches every
    /// workspace) when it is given a token without one.
    pub async fn token_workspace(&self, token_id: &TokenId) -> Result<WorkspaceId> {
        let row: Option<(String,)> =
            sqlx::query_as("select workspace_id from tokens where id = $1")
                .bind(token_id.as_str())
                .fetch_optional(self.pool())
                .await?;
        row.map(|(id,)| WorkspaceId::trusted(id))
            .ok_or_else(|| Error::not_found(TokenId::WHAT, token_id))
    }

    /// The distinct key ids that signed the recorded tokens.
    pub async fn token_kids(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("select distinct kid from tokens")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|(kid,)| kid).collect())
    }
}
