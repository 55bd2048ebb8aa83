//! The service layer: every change of state, whoever asks for it — the CLI,
//! the HTTP API, the dashboard — goes through one method here.
//!
//! Each method takes the acting principal ([`Actor`]) and takes the workspace
//! from it, so a caller cannot reach another workspace's records by naming
//! them. It makes every write of the change in one transaction and, once
//! that has committed, applies the change's in-memory effect (this instance's
//! denylist, the key ring). Reads go through here too, for the same scoping.
//!
//! - `apps`, `tokens`, `keys`, `users` (dashboard users and their sessions),
//!   `contacts`, `webhooks` (endpoints, and the messages other changes
//!   queue in their own transaction): the methods, by what they change.

mod apps;
mod contacts;
mod keys;
#[cfg(test)]
mod tests;
mod tokens;
mod users;
mod webhooks;
mod writer;

pub use contacts::MAX_BATCH;
pub use keys::{RotatedKey, ensure_signing_key};
pub use tokens::{DEFAULT_OVERLAP, IssueRequest, Issued, MAX_OVERLAP, RollRequest, TokenStatus};
pub use users::{
    LOGIN_WINDOW, SIGNIN_FAILURES, SIGNIN_LOCKOUTS, SignIn, SignInAttempt, StartedSession,
};
pub use webhooks::{
    EndpointRequest, EndpointUpdate, EndpointWithSecret, MAX_ENDPOINTS, SECRET_OVERLAP,
};
pub use writer::{GROUP_RETRIES, GROUP_SIZE};

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::ids::{TokenId, UserId, WorkspaceId};
use crate::keys::LiveKeys;
use crate::revocation::Revocations;
use crate::store::{self, Store, Workspace};
use crate::token::{self, Format, Policy};
use crate::{keys as key_ring, text};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, naming the field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Keys(#[from] key_ring::Error),
    #[error("no active {0} signing key")]
    NoSigningKey(Format),
    /// The first key of a format would be generated, but the database
    /// records tokens signed by keys the keys directory does not hold.
    #[error(
        "the keys directory {dir} has no {format} signing key, and the database records \
         tokens signed by {foreign} key(s) it does not hold: point --keys-dir \
         (INFORMLY_KEYS_DIR) at the service's keys; no key was generated (if those keys \
         are gone for good, make a new one with `informly keys rotate --format {format}`)"
    )]
    ForeignKeys {
        dir: String,
        format: Format,
        foreign: usize,
    },
    #[error("could not sign the token: {0}")]
    Token(#[from] token::Error),
    #[error("could not hash the password: {0}")]
    Password(String),
    #[error("webhook master key: {0}")]
    WebhookKey(#[from] crate::webhooks::KeyError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<text::Invalid> for Error {
    fn from(e: text::Invalid) -> Error {
        Error::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

/// Where an HTTP request came from, for the audit log: its request id and
/// the client's address as the sign-in limit sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub request_id: Option<String>,
    pub client: Option<std::net::IpAddr>,
}

/// Who is acting, and so in which workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A caller of the HTTP API, by its verified token (an admin token for
    /// management, an app token for the Contacts API).
    Token {
        workspace: WorkspaceId,
        token_id: TokenId,
        origin: Origin,
    },
    /// A signed-in dashboard user.
    User {
        workspace: WorkspaceId,
        user_id: UserId,
        email: String,
        origin: Origin,
    },
    /// Someone at the command line of a machine with the database and the
    /// keys: an operator, named by their operating-system user and host.
    Cli {
        workspace: WorkspaceId,
        os_user: String,
        host: String,
    },
    /// The service itself, acting on its own rule (disabling a webhook
    /// endpoint that has failed too long).
    System { workspace: WorkspaceId },
}

impl Actor {
    /// The operator at this machine's command line, acting in `workspace`.
    pub fn cli(workspace: WorkspaceId) -> Actor {
        let os_user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Actor::Cli {
            workspace,
            os_user,
            host: hostname(),
        }
    }

    pub fn workspace(&self) -> &WorkspaceId {
        match self {
            Actor::Token { workspace, .. }
            | Actor::User { workspace, .. }
            | Actor::Cli { workspace, .. }
            | Actor::System { workspace } => workspace,
        }
    }
}

impl Actor {
    /// An audit event of `action` on `target` by this actor.
    pub(crate) fn event(
        &self,
        action: &'static str,
        target: Option<(&'static str, String)>,
    ) -> store::NewEvent {
        let no_origin = Origin::default();
        let (actor_type, actor_id, origin) = match self {
            Actor::Token {
                token_id, origin, ..
            } => ("admin_token", token_id.to_string(), origin),
            Actor::User { email, origin, .. } => ("user", email.clone(), origin),
            Actor::Cli { os_user, host, .. } => ("cli", format!("{os_user}@{host}"), &no_origin),
            Actor::System { .. } => ("system", "informly".to_owned(), &no_origin),
        };
        store::NewEvent {
            actor_type,
            actor_id,
            action,
            target,
            request_id: origin.request_id.clone(),
            client: origin.client.map(|ip| ip.to_string()),
            changes: None,
        }
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes and we read only up to the first NUL.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match ok {
        true => String::from_utf8_lossy(&buf[..len]).into_owned(),
        false => "unknown".to_owned(),
    }
}

/// The key ring as the service sees it: the server's live one, or, for a CLI
/// command, the keys directory opened on first use (a command that signs
/// nothing never reads it).
enum Keys {
    Live(Arc<LiveKeys>),
    Lazy {
        dir: PathBuf,
        opened: OnceLock<Arc<LiveKeys>>,
    },
}

pub struct Service {
    store: Store,
    keys: Keys,
    /// This instance's denylist, when it serves requests: a revocation made
    /// here applies to it at once (other instances follow at their refresh).
    denylist: Option<Arc<Revocations>>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    /// Argon2 checks run at once (each takes 19 MiB and a core for tens of
    /// milliseconds); more sign-ins wait their turn.
    password_checks: Arc<Semaphore>,
    /// The key webhook secrets derive from, read on first use.
    webhook_key: OnceLock<Arc<crate::webhooks::MasterKey>>,
    /// Endpoint URLs may name private addresses (`--webhook-allow-private`).
    webhook_allow_private: bool,
    /// Wakes this instance's webhook deliverer after a commit that queued
    /// messages.
    webhook_wake: Option<Arc<Notify>>,
    /// The group committer of Contacts writes, started on first use.
    contact_writer: OnceLock<writer::Writer>,
}

impl Service {
    /// The service of a running server: its live keys and denylist.
    pub fn serving(
        store: Store,
        keys: Arc<LiveKeys>,
        denylist: Arc<Revocations>,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Service {
        Service {
            store,
            keys: Keys::Live(keys),
            denylist: Some(denylist),
            policy,
            clock,
            password_checks: password_checks(),
            webhook_key: OnceLock::new(),
            webhook_allow_private: false,
            webhook_wake: None,
            contact_writer: OnceLock::new(),
        }
    }

    /// Webhook settings: whether endpoint URLs may name private addresses,
    /// and the deliverer to wake after queueing messages.
    pub fn with_webhooks(mut self, allow_private: bool, wake: Option<Arc<Notify>>) -> Service {
        self.webhook_allow_private = allow_private;
        self.webhook_wake = wake;
        self
    }

    /// The service of one CLI command: keys read from `keys_dir` when needed,
    /// no denylist of its own (servers pick changes up from the database).
    pub fn offline(
        store: Store,
        keys_dir: PathBuf,
        policy: Policy,
        clock: Arc<dyn Clock>,
    ) -> Service {
        Service {
            store,
            keys: Keys::Lazy {
                dir: keys_dir,
                opened: OnceLock::new(),
            },
            denylist: None,
            policy,
            clock,
            password_checks: password_checks(),
            webhook_key: OnceLock::new(),
            webhook_allow_private: false,
            webhook_wake: None,
            contact_writer: OnceLock::new(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The key ring, opened on first use for a CLI command.
    pub fn keys(&self) -> Result<Arc<LiveKeys>> {
        match &self.keys {
            Keys::Live(keys) => Ok(keys.clone()),
            Keys::Lazy { dir, opened } => {
                if let Some(keys) = opened.get() {
                    return Ok(keys.clone());
                }
                let keys = Arc::new(LiveKeys::open(dir, self.policy.clone(), self.clock.now())?);
                Ok(opened.get_or_init(|| keys).clone())
            }
        }
    }

    /// Creates the `default` workspace on first use.
    /// The actor's workspace's audit events matching `filter`, newest first
    /// (oldest first when following with `after`), at most `limit`.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        filter: &store::AuditFilter,
        limit: i64,
    ) -> Result<Vec<store::AuditEvent>> {
        Ok(self
            .store
            .find_audit_events(actor.workspace(), filter, limit)
            .await?)
    }

    pub async fn ensure_default_workspace(&self) -> Result<Workspace> {
        Ok(self
            .store
            .ensure_default_workspace(self.clock.now())
            .await?)
    }

    /// Creates a workspace (from the command line).
    pub async fn create_workspace(&self, _actor: &Actor, name: &str) -> Result<Workspace> {
        text::NAME.check("name", name)?;
        let mut tx = self.store.begin().await?;
        let workspace = tx.create_workspace(name, self.clock.now()).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    pub async fn workspaces(&self) -> Result<Vec<Workspace>> {
        Ok(self.store.list_workspaces().await?)
    }
}

fn password_checks() -> Arc<Semaphore> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(Semaphore::new(cores))
}
