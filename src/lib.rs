//! Informly tokens: the service behind "Apps & API tokens".
//!
//! # Layout
//!
//! A change travels one way, whoever asks for it:
//!
//! ```text
//! cli/ ─────────┐
//! http/ ────────┼─► service/ ─► store/  (one transaction: the change and
//! http/dashboard┘      │                 what must come with it)
//!                      └─► revocation, keys  (the in-memory effect, after commit)
//! ```
//!
//! and a bearer token is checked by one rule, [`authn`], in memory only.
//!
//! - [`token`]: the token core. Claims, scopes, the modules, issuing and
//!   verifying PASETO v4.public and JWT, and reading the signed revocation
//!   feed; pure, no I/O. Built alone with `--no-default-features --features
//!   verifier`.
//! - [`authn`]: the one rule a running verifier applies to a bearer token
//!   (verify or recall from the cache, staleness, denylist) and the live
//!   denylist it reads; shared by the server and the remote verifier.
//! - [`remote`]: a verifier for downstream services: fetches the published
//!   keys and follows the revocation feed in the background. Feature `remote`
//!   (tokio and an HTTP client, no server, no database).
//! - `clock`: where time comes from (the system, or a test's hand).
//! - `ids`: the typed ids (`WorkspaceId`, `AppId`, `TokenId`, …), parsed once
//!   at the edge.
//! - `text`: the rule for text fields and email addresses.
//! - `password`: Argon2id hashes of dashboard users' passwords.
//! - `keys`: the key ring on disk: one file per key, states, rotation.
//! - `store`: SQL and nothing else, over SQLite (embedded) and PostgreSQL
//!   behind one handle; writes exist only on its transaction, `store::Tx`.
//! - `service`: every change of state (apps, tokens, keys, dashboard users and
//!   sessions, contacts), each taking the acting principal, `service::Actor`.
//! - `revocation`: the server's denylist, loaded and refreshed from the
//!   database.
//! - `cache`: verified tokens a server remembers, so repeat callers skip the
//!   signature check (never the expiry, key or revocation checks).
//! - `http`: the only code that knows HTTP: the API (auth, errors, one file
//!   per resource) and the dashboard (`http::dashboard`, server-rendered
//!   HTML at `/dashboard`).
//! - `config`: settings shared by every command.
//! - `logging`: the server's log lines, written to stderr in batches.
//! - `usage`: which tokens were used, when and for what, counted in memory
//!   and written out in batches off the request path.
//! - `webhooks`: Standard Webhooks signing, the retry schedule, the guard
//!   against internal addresses, and the deliverer that empties the outbox
//!   the service layer writes.
//! - `telemetry`: the Prometheus metrics (`--metrics-listen`): the recorder,
//!   the HTTP metrics, what is read at scrape time, the scrape route.
//! - `server`: `informly serve`: assembling the state, the background jobs
//!   (owned by a guard), the accept loop, shutdown.
//! - `cli`: the `informly` command line: one exhaustive dispatch.

pub mod token;

#[cfg(feature = "remote")]
pub mod authn;
#[cfg(feature = "remote")]
pub mod remote;

#[cfg(feature = "server")]
pub mod cache;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(any(feature = "server", feature = "remote"))]
pub mod clock;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod ids;
#[cfg(feature = "server")]
pub mod keys;
#[cfg(feature = "server")]
pub mod logging;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod revocation;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
#[cfg(feature = "server")]
pub mod text;
#[cfg(feature = "server")]
pub mod usage;
#[cfg(feature = "server")]
pub mod webhooks;
