//! The dashboard's tables: users, their sessions, and sign-in attempts.
//!
//! Sessions are rows, so any instance sharing the database serves them; the
//! cookie's secret is never stored, only its SHA-256.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Error, Result, ResultExt, Store, Tx, from_micros, micros};
use crate::ids::{UserId, WorkspaceId};
use crate::text::Email;

/// A dashboard user. The password hash stays in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub workspace_id: WorkspaceId,
    pub email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    workspace_id: String,
    email: String,
    created_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId::trusted(row.id),
            workspace_id: WorkspaceId::trusted(row.workspace_id),
            email: row.email,
            created_at: from_micros(row.created_at),
        }
    }
}

/// A user with the password hash to check a sign-in against.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A live session and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub workspace_name: String,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What a new session is stored as.
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user: &'a User,
    pub csrf_token: &'a str,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: String,
    workspace_id: String,
    email: String,
    user_created_at: i64,
    workspace_name: String,
    csrf_token: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            user: User {
                id: UserId::trusted(row.user_id),
                workspace_id: WorkspaceId::trusted(row.workspace_id),
                email: row.email,
                created_at: from_micros(row.user_created_at),
            },
            workspace_name: row.workspace_name,
            csrf_token: row.csrf_token,
            created_at: from_micros(row.created_at),
            last_seen_at: from_micros(row.last_seen_at),
            expires_at: from_micros(row.expires_at),
        }
    }
}

const USER_COLUMNS: &str = "id, workspace_id, email, created_at";

impl Tx {
    /// Adds a dashboard user. The email must already be validated and the
    /// password hashed; an email is unique over all workspaces, ignoring case.
    pub async fn create_user(
        &mut self,
        workspace_id: &WorkspaceId,
        email: &str,
        password_hash: &str,
        now: OffsetDateTime,
    ) -> Result<User> {
        let row: UserRow = sqlx::query_as(&format!(
            "insert into dashboard_users (id, workspace_id, email, email_lower, password_hash, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6) returning {USER_COLUMNS}"
        ))
        .bind(UserId::generate().as_str())
        .bind(workspace_id.as_str())
        .bind(email)
        .bind(Email::key_of(email).into_owned())
        .bind(password_hash)
        .bind(micros(now))
        .fetch_one(self.conn())
        .await
        .on_unique(|| format!("a dashboard user with the email `{email}` already exists"))?;
        Ok(row.into())
    }

    /// Removes a user; their sessions end with them.
    pub async fn remove_user(&mut self, email: &str) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "delete from dashboard_users where email_lower = $1 returning {USER_COLUMNS}"
        ))
        .bind(Email::key_of(email).into_owned())
        .fetch_optional(self.conn())
        .await?;
        row.map(User::from)
            .ok_or_else(|| Error::NotFound(format!("dashboard user `{email}`")))
    }

    pub async fn create_session(&mut self, session: &NewSession<'_>) -> Result<()> {
        sqlx::query(
            "insert into dashboard_sessions (id_hash, user_id, workspace_id, csrf_token, created_at, last_seen_at, expires_at)
             values ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(session.id_hash)
        .bind(session.user.id.as_str())
        .bind(session.user.workspace_id.as_str())
        .bind(session.csrf_token)
        .bind(micros(session.now))
        .bind(micros(session.expires_at))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn delete_session(&mut self, id_hash: &str) -> Result<()> {
        sqlx::query("delete from dashboard_sessions where id_hash = $1")
            .bind(id_hash)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// Reads, and the housekeeping of sign-in (activity, attempt counts,
/// pruning): not changes anyone makes, so they write directly.
impl Store {
    pub async fn list_users(&self, workspace_id: &WorkspaceId) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(&format!(
            "select {USER_COLUMNS} from dashboard_users where workspace_id = $1 order by id"
        ))
        .bind(workspace_id.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// The user an email signs in as, with their password hash.
    pub async fn find_credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let row: Option<(String, String, String, i64, String)> = sqlx::query_as(
            "select id, workspace_id, email, created_at, password_hash
             from dashboard_users where email_lower = $1",
        )
        .bind(Email::key_of(email).into_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(
            |(id, workspace_id, email, created_at, password_hash)| Credentials {
                user: User {
                    id: UserId::trusted(id),
                    workspace_id: WorkspaceId::trusted(workspace_id),
                    email,
                    created_at: from_micros(created_at),
                },
                password_hash,
            },
        ))
    }

    /// The session stored under `id_hash`, whatever its age: the caller
    /// decides whether it is still valid.
    pub async fn find_session(&self, id_hash: &str) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "select u.id as user_id, u.workspace_id, u.email, u.created_at as user_created_at,
                    w.name as workspace_name,
                    s.csrf_token, s.created_at, s.last_seen_at, s.expires_at
             from dashboard_sessions s
             join dashboard_users u on u.id = s.user_id
             join workspaces w on w.id = u.workspace_id
             where s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(Session::from))
    }

    /// Records activity on a session (for the idle timeout).
    pub async fn touch_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<()> {
        sqlx::query("update dashboard_sessions set last_seen_at = $1 where id_hash = $2")
            .bind(micros(now))
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Counts a sign-in attempt against `key` and returns the attempts in
    /// its current window with the window's start. A window opens at the
    /// first attempt and lasts `window`; one statement, so concurrent
    /// attempts, on any instance, each get their own count.
    pub async fn count_login_attempt(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(i64, OffsetDateTime)> {
        let now_s = now.unix_timestamp();
        let row: (i64, i64) = sqlx::query_as(
            "insert into dashboard_login_attempts (key, window_start, attempts) values ($1, $2, 1)
             on conflict (key) do update set
                 attempts = case when dashboard_login_attempts.window_start <= $3
                                 then 1 else dashboard_login_attempts.attempts + 1 end,
                 window_start = case when dashboard_login_attempts.window_start <= $3
                                     then $2 else dashboard_login_attempts.window_start end
             returning attempts, window_start",
        )
        .bind(key)
        .bind(now_s)
        .bind(now_s - window.whole_seconds())
        .fetch_one(self.pool())
        .await?;
        let (attempts, window_start) = row;
        let window_start =
            OffsetDateTime::from_unix_timestamp(window_start).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Ok((attempts, window_start))
    }

    /// Takes back one attempt counted against `key` (it succeeded).
    pub async fn forgive_login_attempt(&self, key: &str) -> Result<()> {
        sqlx::query(
            "update dashboard_login_attempts set attempts = attempts - 1
             where key = $1 and attempts > 0",
        )
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets the attempts counted against `key`.
    pub async fn clear_login_attempts(&self, key: &str) -> Result<()> {
        sqlx::query("delete from dashboard_login_attempts where key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes sessions past their absolute or idle limit and closed
    /// attempt windows. Returns how many rows went.
    pub async fn prune_dashboard(
        &self,
        now: OffsetDateTime,
        idle: time::Duration,
        window: time::Duration,
    ) -> Result<u64> {
        let sessions = sqlx::query(
            "delete from dashboard_sessions where expires_at <= $1 or last_seen_at <= $2",
        )
        .bind(micros(now))
        .bind(micros(now - idle))
        .execute(self.pool())
        .await?;
        let attempts = sqlx::query("delete from dashboard_login_attempts where window_start <= $1")
            .bind((now - window).unix_timestamp())
            .execute(self.pool())
            .await?;
        Ok(sessions.rows_affected() + attempts.rows_affected())
    }
}
