//! Token records: everything about an issued token except the string itself.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, Result, Store, Tx, from_micros, micros};
use crate::clock::rfc3339;
use crate::ids::{AppId, TokenId, WorkspaceId};
use crate::token::{Format, Scope, ScopeSet, UnixTime};
use crate::usage::Tally;

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
    /// The latest verified use this service saw; `None`: never seen.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Verified uses this service saw, over every instance.
    pub uses: i64,
    /// The scopes routes required of it, in scope-list order.
    #[serde(serialize_with = "claim_list")]
    pub used_scopes: ScopeSet,
    /// The token this one replaced (it was issued by a roll).
    pub replaces: Option<TokenId>,
    /// The token that replaced this one (it was rolled).
    pub replaced_by: Option<TokenId>,
}

impl TokenRecord {
    /// Scopes granted but never required by a request this service saw.
    pub fn unused_scopes(&self) -> Vec<String> {
        let used: Vec<&str> = self.used_scopes.iter().map(Scope::as_str).collect();
        self.scopes
            .iter()
            .filter(|s| !used.contains(&s.as_str()))
            .cloned()
            .collect()
    }
}

fn claim_list<S: serde::Serializer>(set: &ScopeSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(set.iter().map(Scope::as_str))
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
    /// The token a roll replaces with this one.
    pub replaces: Option<&'a TokenId>,
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
    last_used_at: Option<i64>,
    uses: i64,
    used_scopes: i64,
    replaces: Option<String>,
    replaced_by: Option<String>,
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
            last_used_at: row.last_used_at.map(from_micros),
            uses: row.uses,
            used_scopes: ScopeSet::from_bits(u32::try_from(row.used_scopes).unwrap_or(0)),
            replaces: row.replaces.map(TokenId::trusted),
            replaced_by: row.replaced_by.map(TokenId::trusted),
        })
    }
}

/// A record's `revoked_at` once revoked at `$1` (unix microseconds): kept if
/// already in the past, brought forward if a roll scheduled it later.
const REVOKED_NOW: &str =
    "case when revoked_at is null or revoked_at > $1 then $1 else revoked_at end";

/// The denylist entry of a token revoked at once: `($1 id, $2 workspace, $3
/// now in microseconds, $4 exp)`. An entry a roll scheduled is made immediate
/// (and its record time moves, so incremental readers see the change); an
/// immediate one is kept as it is.
const REVOKE_ENTRY: &str =
    "insert into revoked_tokens (token_id, workspace_id, revoked_at, expires_at_s)
     values ($1, $2, $3, $4)
     on conflict (token_id) do update set takes_effect_s = null, revoked_at = excluded.revoked_at
     where revoked_tokens.takes_effect_s is not null";

const COLUMNS: &str = "id, workspace_id, app_id, name, scopes, format, kid, issued_at_s, expires_at_s, \
     revoked_at, last_used_at, uses, used_scopes, replaces, replaced_by";

impl Tx {
    pub async fn insert_token(&mut self, token: &NewToken<'_>) -> Result<TokenRecord> {
        let row: Row = sqlx::query_as(&format!(
            "insert into tokens (id, workspace_id, app_id, subject, name, scopes, format, kid, issued_at_s, expires_at_s, replaces)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {COLUMNS}"
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
        .bind(token.replaces.map(TokenId::as_str))
        .fetch_one(self.conn())
        .await?;
        row.try_into()
    }

    /// Records a roll: `successor` replaces `old`, whose revocation takes
    /// effect at the second `takes_effect` (the record's `revoked_at`, and
    /// a denylist entry published now). Another roll or a revocation of
    /// `old` committed meanwhile makes this a conflict.
    pub async fn record_roll(
        &mut self,
        old: &TokenRecord,
        successor: &TokenId,
        takes_effect: UnixTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let rolled = sqlx::query(
            "update tokens set replaced_by = $1, revoked_at = $2
             where id = $3 and workspace_id = $4 and replaced_by is null and revoked_at is null",
        )
        .bind(successor.as_str())
        .bind(takes_effect.saturating_mul(1_000_000))
        .bind(old.id.as_str())
        .bind(old.workspace_id.as_str())
        .execute(self.conn())
        .await?;
        if rolled.rows_affected() == 0 {
            return Err(Error::Conflict(format!(
                "token `{}` was rolled or revoked meanwhile",
                old.id
            )));
        }
        sqlx::query(
            "insert into revoked_tokens (token_id, workspace_id, revoked_at, expires_at_s, takes_effect_s)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(old.id.as_str())
        .bind(old.workspace_id.as_str())
        .bind(micros(now))
        .bind(old.expires_at)
        .bind(takes_effect)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Revokes a token: marks its record and puts its id on the denylist until it
    /// expires. Revoking a revoked token changes nothing. Returns the record
    /// as it is now.
    pub async fn revoke_token(
        &mut self,
        token: &TokenRecord,
        now: OffsetDateTime,
    ) -> Result<TokenRecord> {
        // A token in a roll's overlap is revoked now, not later.
        let row: Option<Row> = sqlx::query_as(&format!(
            "update tokens set revoked_at = {REVOKED_NOW}
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
        sqlx::query(REVOKE_ENTRY)
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
        sqlx::query(&format!(
            "update tokens set revoked_at = {REVOKED_NOW} where app_id = $2 and workspace_id = $3"
        ))
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
            sqlx::query(REVOKE_ENTRY)
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

    /// The app tokens of a workspace (every app), soonest to expire first.
    pub async fn list_workspace_tokens(
        &self,
        workspace_id: &WorkspaceId,
    ) -> Result<Vec<TokenRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "select {COLUMNS} from tokens where workspace_id = $1 and app_id is not null
             order by expires_at_s, id"
        ))
        .bind(workspace_id.as_str())
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

    /// Adds one flush of usage counts to the token records, in one
    /// statement whatever the batch's size (the batch is one JSON
    /// parameter): uses add up, times only move forward, scopes gather.
    /// Tokens without a record (their app was deleted) are skipped.
    pub async fn record_usage(&self, batch: &[(Box<str>, Tally)]) -> Result<()> {
        let rows: Vec<(&str, u64, i64, u32)> = batch
            .iter()
            .map(|(id, t)| {
                (
                    &**id,
                    t.uses,
                    t.last_used.saturating_mul(1_000_000),
                    t.scopes.bits(),
                )
            })
            .collect();
        let rows =
            serde_json::to_string(&rows).map_err(|e| Error::Db(sqlx::Error::Encode(e.into())))?;
        let sql = match self.backend() {
            super::Backend::Sqlite => {
                "update tokens set
                     uses = tokens.uses + u.n,
                     last_used_at = max(coalesce(tokens.last_used_at, u.t), u.t),
                     used_scopes = tokens.used_scopes | u.s
                 from (select value ->> 0 as id, value ->> 1 as n, value ->> 2 as t, value ->> 3 as s
                       from json_each($1)) as u
                 where tokens.id = u.id"
            }
            super::Backend::Postgres => {
                "update tokens set
                     uses = tokens.uses + u.n,
                     last_used_at = greatest(tokens.last_used_at, u.t),
                     used_scopes = tokens.used_scopes | u.s
                 from (select value ->> 0 as id, (value ->> 1)::bigint as n,
                              (value ->> 2)::bigint as t, (value ->> 3)::bigint as s
                       from jsonb_array_elements($1::text::jsonb)) as u
                 where tokens.id = u.id"
            }
        };
        sqlx::query(sql).bind(rows).execute(self.pool()).await?;
        Ok(())
    }

    /// The distinct key ids that signed the recorded tokens.
    pub async fn token_kids(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("select distinct kid from tokens")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|(kid,)| kid).collect())
    }
}
