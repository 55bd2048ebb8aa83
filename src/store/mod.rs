//! The database, behind one [`Store`] handle. sqlx's `Any` driver runs the same
//! SQL on SQLite (the embedded default) and PostgreSQL, so there is one copy of
//! every query; only the migrations differ per backend.
//!
//! Ids are text and times integers, the types `Any` carries on both. The one
//! PostgreSQL-only part, LISTEN/NOTIFY for the denylist, sits beside the pool
//! (`listen_denylist`).

mod apps;
mod contacts;
mod dashboard;
mod listen;
mod revocations;
mod tokens;
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

pub use apps::App;
pub use contacts::{Contact, ContactFields, ContactPatch};
pub use dashboard::{Credentials, NewSession, Session, User};
pub use listen::DenylistListener;
pub use revocations::{DenylistChanges, FeedRows};
pub use tokens::{NewToken, TokenRecord};
pub use workspaces::Workspace;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}: {1}")]
    File(String, std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a unique violation into `Conflict(message)`; both backends report it
/// with the same error kind.
pub(crate) trait ResultExt<T> {
    fn on_unique(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T, sqlx::Error> {
    fn on_unique(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(message()),
            _ => Error::Db(e),
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

    /// Connects and migrates: what every command does first.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
        store: &Store,
        table: &str,
        columns: &str,
        workspace_id: &str,
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
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&store.pool)
            .await
    }
}
