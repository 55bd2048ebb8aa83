//! The database, behind one [`Store`] handle. sqlx's `Any` driver runs the same
//! SQL on SQLite (the embedded default) and PostgreSQL, so there is one copy of
//! every query; only the migrations differ per backend.
//!
//! Ids are text and times integers, the types `Any` carries on both. The one
//! PostgreSQL-only part, LISTEN/NOTIFY for the denylist, sits beside the pool
//! (`listen_denylist`).

mod apps;
mod audit;
mod contacts;
mod dashboard;
mod listen;
mod revocations;
mod tokens;
mod webhooks;
mod workspaces;

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions};

use crate::ids::WorkspaceId;

pub use apps::App;
pub use audit::{AuditEvent, AuditFilter, Break, NewEvent};
pub use contacts::{Contact, ContactFields, ContactPatch, NewContact};
pub use dashboard::{Credentials, NewSession, Session, User};
pub use listen::DenylistListener;
pub use revocations::{DenylistChanges, FeedRows};
pub use tokens::{NewToken, TokenRecord};
pub use webhooks::{
    AttemptRecord, ClaimedMessage, EndpointPatch, ExpiryCandidate, WebhookAttempt, WebhookEndpoint,
    WebhookMessage,
};
pub use workspaces::{DEFAULT_NAME, Workspace};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// What went wrong, classified here so that no caller looks inside
/// `sqlx::Error`: callers tell "try again later" (`Unavailable`) from "this
/// request is wrong" (`NotFound`, `Conflict`) from a bug (`Db`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// The database cannot be reached (no connection within the acquire
    /// timeout, a closed pool, an I/O error): the request may succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}: {1}")]
    File(String, std::io::Error),
    /// A command other than `serve` and `migrate` was pointed at a SQLite file
    /// that does not exist: most likely run from the wrong directory.
    #[error(
        "no database at {0}: run this where `informly serve` runs, or point \
         INFORMLY_DATABASE_URL (--database-url) at the service's database \
         (`informly migrate` creates a new one)"
    )]
    Missing(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `informly_db_acquire_timeouts_total`: no pool connection within the
/// acquire timeout.
pub const ACQUIRE_TIMEOUTS: &str = "informly_db_acquire_timeouts_total";

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        if matches!(e, sqlx::Error::PoolTimedOut) {
            metrics::counter!(ACQUIRE_TIMEOUTS).increment(1);
        }
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(e),
            e => Error::Db(e),
        }
    }
}

impl Error {
    /// `NotFound` for a record of the kind `what` names.
    pub(crate) fn not_found(what: &str, id: impl std::fmt::Display) -> Error {
        Error::NotFound(format!("{what} `{id}`"))
    }
}

/// Turns a unique violation into `Conflict(message)`; both backends report it
/// with the same error kind.
pub(crate) trait ResultExt<T> {
    fn on_unique(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_unique(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message()),
            _ => Error::from(e),
        })
    }
}

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// How long a query may wait for a connection before the request fails (503):
/// short, so an unreachable database answers quickly rather than at the
/// request timeout.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The database handle. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

impl std::fmt::Debug for Store {
    // Not the URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Connects to `url`: `sqlite://FILE` or `postgres://…`. A SQLite file is
    /// created if missing, readable by its owner only (it holds the denylist),
    /// and switched to WAL.
    pub async fn connect(url: &str) -> Result<Store> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let backend = Backend::of(url)?;
        if let Some(path) = sqlite_path(url)
            && path != ":memory:"
            && !path.is_empty()
        {
            create_private_file(Path::new(path))?;
        }
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the file: set once, kept by every connection.
            sqlx::query("pragma journal_mode = wal")
                .fetch_optional(&pool)
                .await?;
        }
        Ok(Store {
            pool,
            backend,
            url: url.to_owned(),
        })
    }

    /// Applies pending migrations (one set per backend).
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Connects and migrates, creating a SQLite file if missing: what `serve`
    /// and `migrate` do first.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// As [`Store::open`], but a missing SQLite file is an error
    /// ([`Error::Missing`], naming the path looked at) rather than a new, empty
    /// database: what every other command does, so that one run from the
    /// wrong directory says so instead of showing an empty world.
    pub async fn open_existing(url: &str) -> Result<Store> {
        if let Some(path) = sqlite_path(url)
            && path != ":memory:"
            && !path.is_empty()
            && !Path::new(path).exists()
        {
            let shown = std::path::absolute(path).map_or_else(
                |_| path.to_owned(),
                |absolute| absolute.display().to_string(),
            );
            return Err(Error::Missing(shown));
        }
        Store::open(url).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction. Writes exist only on [`Tx`]: the service begins
    /// one per change, makes every write of the change in it, and commits.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(Tx(self.pool.begin().await?, self.backend))
    }

    /// Begins a transaction that will write: on SQLite it takes the write
    /// lock at once (`begin immediate`), so it waits its turn at the start
    /// rather than failing to upgrade a read lock halfway through.
    pub async fn begin_write(&self) -> Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("begin immediate").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx(tx, self.backend))
    }

    /// Connections the pool holds: (in use, idle).
    pub fn connections(&self) -> (usize, usize) {
        let idle = self.pool.num_idle();
        ((self.pool.size() as usize).saturating_sub(idle), idle)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// One transaction: every write of a change, committed together or not at
/// all. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx(sqlx::Transaction<'static, sqlx::Any>, Backend);

impl Tx {
    pub async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }

    /// Runs `write` so that its failing leaves the transaction usable: inside
    /// a savepoint on PostgreSQL, where any error aborts the whole
    /// transaction; as it is on SQLite, where a failed statement undoes only
    /// itself. Every write given here is one statement.
    pub async fn isolated<T>(
        &mut self,
        write: impl AsyncFnOnce(&mut Tx) -> Result<T>,
    ) -> Result<T> {
        if self.1 == Backend::Sqlite {
            return write(self).await;
        }
        sqlx::query("savepoint one_write")
            .execute(self.conn())
            .await?;
        let result = write(self).await;
        let end = match result {
            Ok(_) => "release savepoint one_write",
            Err(_) => "rollback to savepoint one_write",
        };
        sqlx::query(end).execute(self.conn()).await?;
        result
    }

    fn backend(&self) -> Backend {
        self.1
    }

    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.0
    }
}

/// The file path of a `sqlite:` URL, without its query string.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}

fn create_private_file(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::File(path.display().to_string(), e)),
    }
}

/// Unix microseconds, the unit of record times.
pub(crate) fn micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// RFC 3339 from unix microseconds.
pub(crate) fn from_micros(us: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A partial update of one row of a workspace: sets `updated_at` and only the
/// columns given, in one statement, so concurrent updates of different columns
/// never undo each other.
#[derive(Default)]
pub(crate) struct PartialUpdate {
    sets: Vec<String>,
    values: Vec<Option<String>>,
}

impl PartialUpdate {
    /// Sets `column` (a name from our own code, never from input) to `value`.
    pub(crate) fn set(&mut self, column: &str, value: Option<String>) {
        self.values.push(value);
        // $1 is updated_at.
        self.sets
            .push(format!("{column} = ${}", self.values.len() + 1));
    }

    /// Runs it on `table` for the row `id` of `workspace_id`, returning the
    /// row's `columns` (`None` if there is no such row).
    pub(crate) async fn apply<R>(
        self,
        tx: &mut Tx,
        table: &str,
        columns: &str,
        workspace_id: &WorkspaceId,
        id: &str,
        now: time::OffsetDateTime,
    ) -> std::result::Result<Option<R>, sqlx::Error>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let n = self.values.len() + 1;
        let mut sets = vec!["updated_at = $1".to_owned()];
        sets.extend(self.sets);
        let sql = format!(
            "update {table} set {} where workspace_id = ${} and id = ${} returning {columns}",
            sets.join(", "),
            n + 1,
            n + 2
        );
        let mut query = sqlx::query_as::<_, R>(&sql).bind(micros(now));
        for value in self.values {
            query = query.bind(value);
        }
        query
            .bind(workspace_id.as_str())
            .bind(id)
            .fetch_optional(tx.conn())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What group commit's durability rests on: on SQLite every commit is
    /// flushed to disk before it returns (WAL with `synchronous=FULL`).
    #[tokio::test]
    async fn sqlite_commits_reach_the_disk_before_they_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url).await.expect("open");
        let mut tx = store.begin_write().await.expect("begin");
        let journal: String = sqlx::query_scalar("pragma journal_mode")
            .fetch_one(tx.conn())
            .await
            .expect("journal_mode");
        let synchronous: i64 = sqlx::query_scalar("pragma synchronous")
            .fetch_one(tx.conn())
            .await
            .expect("synchronous");
        tx.commit().await.expect("commit");
        assert_eq!((journal.as_str(), synchronous), ("wal", 2), "2 is FULL");
    }
}
