//! The `informly` command line: the clap types and one exhaustive dispatch.
//!
//! - `commands`: the commands that change or read the database, through the
//!   service layer, acting as the operator at this command line;
//! - `keys`: listing and exporting the key ring (no database);
//! - `verify`: checking a token as a downstream service would;
//! - `output`: text tables or JSON, the one way each command prints.

mod commands;
mod keys;
mod output;
mod verify;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, duration};
use crate::token::Format;
use commands::Ctx;
use output::print;
use verify::{KeyUrls, verify};

#[derive(Parser, Debug)]
#[command(
    name = "informly",
    version,
    about = "Informly API tokens: apps, tokens, keys"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API: migrates, loads (or generates) keys, serves until
    /// SIGTERM or Ctrl-C.
    Serve(crate::server::ServeArgs),
    /// Apply database migrations.
    Migrate,
    /// Manage workspaces (tenants).
    #[command(subcommand)]
    Workspaces(WorkspacesCmd),
    /// Manage apps.
    #[command(subcommand)]
    Apps(AppsCmd),
    /// Issue, list and revoke app tokens.
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Manage dashboard users: who can sign in at /dashboard.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Mint an admin token (apps:read apps:write apps:delete) for a workspace.
    AdminToken {
        #[arg(long, default_value = "default")]
        workspace: String,
        #[arg(long, default_value = "1h")]
        expires_in: String,
    },
    /// List, rotate, retire and export signing keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Verify a token offline with public keys only (no database, so no
    /// revocation check), or as a downstream service does: keys and the
    /// revocation feed fetched from URLs. TOKEN `-` reads it from standard
    /// input.
    Verify {
        token: String,
        /// A JWKS file (JWT keys), e.g. from `keys export-public --jwks`.
        #[arg(long, conflicts_with = "paserk")]
        jwks: Option<PathBuf>,
        /// A PASERK `k4.public.…` key, or a PASERK key set file
        /// (`keys export-public --paserk`).
        #[arg(long)]
        paserk: Option<String>,
        /// Fetch JWT keys from a JWKS URL
        /// (`https://…/.well-known/jwks.json`).
        #[arg(long)]
        jwks_url: Option<String>,
        /// Fetch PASETO keys from a PASERK key set URL
        /// (`https://…/.well-known/paserk.json`).
        #[arg(long)]
        paserk_url: Option<String>,
        /// Fetch the signed revocation feed (`https://…/v1/revocations`) and
        /// check the token against it. The feed is signed with a PASETO key:
        /// give `--paserk-url` (or `--paserk`) too.
        #[arg(long)]
        revocations_url: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkspacesCmd {
    /// Create a workspace.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List workspaces.
    List,
}

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Add a dashboard user to a workspace. The password is asked for on the
    /// terminal (twice), or read from standard input with --password-stdin;
    /// never from a flag, which would leave it in the shell history.
    Add {
        #[arg(long)]
        email: String,
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the dashboard users of a workspace.
    List {
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Remove a dashboard user; their sessions end at once.
    Remove { email: String },
}

#[derive(Subcommand, Debug)]
pub enum AppsCmd {
    /// Create an app.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// List the apps of a workspace.
    List {
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Delete an app: every token it has is rejected from now on.
    Delete {
        /// The app's id (`app_…`) or its name.
        app: String,
        /// Only if the app is in this workspace.
        #[arg(long)]
        workspace: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokensCmd {
    /// Issue a token for an app; it is printed once and never stored.
    Issue {
        /// The app's id (`app_…`) or its name.
        #[arg(long)]
        app: String,
        /// A scope such as contacts:read; repeat or separate with commas.
        #[arg(long = "scope", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Lifetime: seconds, or 30d, 12h, 15m.
        #[arg(
            long,
            required_unless_present = "expires_at",
            conflicts_with = "expires_at"
        )]
        expires_in: Option<String>,
        /// Expiry time, RFC 3339.
        #[arg(long)]
        expires_at: Option<String>,
        #[arg(long, default_value = "paseto")]
        format: Format,
        #[arg(long)]
        name: Option<String>,
        /// Only if the app is in this workspace.
        #[arg(long)]
        workspace: Option<String>,
    },
    /// List the tokens of an app.
    List {
        /// The app's id (`app_…`) or its name.
        #[arg(long)]
        app: String,
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Revoke a token by id.
    Revoke {
        token_id: String,
        #[arg(long)]
        workspace: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// List keys with their states.
    List,
    /// Add a new signing key; it signs once `--activate-after` has passed.
    Rotate {
        #[arg(long, default_value = "all", value_parser = ["paseto", "jwt", "all"])]
        format: String,
        /// Delay before the new key signs (seconds, or 15m, 1h …). Give
        /// verifiers time to learn the key first.
        #[arg(long, default_value = "0", value_parser = duration)]
        activate_after: i64,
    },
    /// Retire a key: tokens it signed are rejected from now on.
    Retire {
        /// The key id (JWT key ids may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Print the public keys: PASERK key set (default) or JWKS.
    ExportPublic {
        #[arg(long, conflicts_with = "paserk")]
        jwks: bool,
        #[arg(long)]
        paserk: bool,
    },
}

impl Cli {
    /// Runs the command: one exhaustive dispatch. Commands that need the
    /// database open it first (`Ctx`); `serve`, `verify` and the read-only key
    /// commands do without.
    pub async fn run(self) -> Result<()> {
        let settings = self.settings;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let json = settings.json;
        match self.command {
            Command::Serve(args) => crate::server::run(settings, args).await,
            Command::Verify {
                token,
                jwks,
                paserk,
                jwks_url,
                paserk_url,
                revocations_url,
            } => {
                let urls = KeyUrls {
                    jwks: jwks_url,
                    paserk: paserk_url,
                    revocations: revocations_url,
                };
                verify(&settings, clock, &token, jwks, paserk, urls).await
            }
            Command::Keys(KeysCmd::List) => keys::list(&settings, clock.as_ref()),
            Command::Keys(KeysCmd::ExportPublic { jwks, paserk: _ }) => {
                keys::export(&settings, clock.as_ref(), jwks)
            }
            Command::Migrate => {
                // Opening the database migrates it.
                with_database(settings, clock, |_| {
                    Box::pin(async move {
                        print(json, &json!({"migrated": true}), || {
                            "database is up to date".to_owned()
                        });
                        Ok(())
                    })
                })
                .await
            }
            Command::Workspaces(cmd) => {
                with_database(settings, clock, |ctx| Box::pin(ctx.workspaces(cmd))).await
            }
            Command::Apps(cmd) => {
                with_database(settings, clock, |ctx| Box::pin(ctx.apps(cmd))).await
            }
            Command::Tokens(cmd) => {
                with_database(settings, clock, |ctx| Box::pin(ctx.tokens(cmd))).await
            }
            Command::Users(cmd) => {
                with_database(settings, clock, |ctx| Box::pin(ctx.users(cmd))).await
            }
            Command::Keys(cmd) => {
                with_database(settings, clock, |ctx| Box::pin(ctx.keys(cmd))).await
            }
            Command::AdminToken {
                workspace,
                expires_in,
            } => {
                with_database(settings, clock, |ctx| {
                    Box::pin(async move { ctx.admin_token(&workspace, &expires_in).await })
                })
                .await
            }
        }
    }
}

/// Runs a command on the database: opened (and migrated) first, its pool
/// closed after, whatever the command's outcome.
async fn with_database<F>(settings: Settings, clock: Arc<dyn Clock>, command: F) -> Result<()>
where
    F: for<'c> FnOnce(&'c Ctx) -> Pin<Box<dyn Future<Output = Result<()>> + 'c>>,
{
    let ctx = Ctx::open(settings, clock).await?;
    let result = command(&ctx).await;
    ctx.close().await;
    result
}
