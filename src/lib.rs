//! Informly tokens: the service behind "Apps & API tokens".
//!
//! # Layout
//!
//! - [`token`]: the token core. Claims, scopes, issuing and verifying PASETO
//!   v4.public and JWT, and reading the signed revocation feed; pure, no I/O.
//!   Built alone with `--no-default-features --features verifier`.
//! - [`remote`]: a verifier for downstream services: fetches the published
//!   keys and follows the revocation feed in the background. Feature `remote`
//!   (tokio and an HTTP client, no server, no database).
//! - [`authn`]: the one rule a running verifier applies to a bearer token
//!   (verify, staleness, denylist) and the live denylist it reads; shared by
//!   the server and the remote verifier.
//! - `clock`: where time comes from (the system, or a test's hand).
//! - `keys`: the key ring on disk: one file per key, states, rotation.
//! - `store`: the database (SQLite embedded, PostgreSQL to scale out) behind one
//!   handle.
//! - `config`: settings shared by every command.
//! - `service`: issuing and revoking, where the key ring, the store and the
//!   clock meet.
//! - `revocation`: the server's denylist, loaded and refreshed from the
//!   database.
//! - `cache`: verified tokens a server remembers, so repeat callers skip the
//!   signature check (never the expiry, key or revocation checks).
//! - `http`: the HTTP API (axum): auth, errors, one file per resource.
//! - `dashboard`: Settings › Apps in the browser (server-rendered HTML at
//!   `/dashboard`): dashboard users, sessions, CSRF, the pages.
//! - `logging`: the server's log lines, written to stderr in batches.
//! - `server`: `informly serve`: startup, background refreshes, shutdown.
//! - `cli`: the `informly` command line.

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
pub mod text;
