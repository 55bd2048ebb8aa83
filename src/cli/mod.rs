//! The `informly` command line: the clap types and one exhaustive dispatch.
//!
//! - `commands`: the commands that change or read the database, through the
//!   service layer, acting as the operator at this command line;
//! - `keys`: listing and exporting the key ring (no database);
//! - `verify`: checking a token as a downstream service would;
//! - `output`: text tables or JSON, the one way each command prints.

mod commands;
mod import;
mod keys;
mod output;
mod verify;

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Result;
use clap::builder::TypedValueParser as _;
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
    /// Import contacts in bulk.
    #[command(subcommand)]
    Contacts(ContactsCmd),
    /// Read a workspace's audit log and check that it was not tampered with.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Mint an admin token (apps:*, audit:read, webhooks:*) for a
    /// workspace.
    #[command(
        after_help = "Examples:\n  informly admin-token\n  ADMIN=$(informly admin-token --workspace acme --expires-in 15m)"
    )]
    AdminToken {
        /// The workspace it manages: an id or a name.
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Its lifetime: seconds, or the units s, m, h, d, w (at most
        /// --max-admin-token-lifetime).
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
    #[command(
        after_help = "Examples:\n  informly verify \"$TOKEN\"\n  echo \"$TOKEN\" | informly verify -\n  informly verify \"$TOKEN\" --paserk-url https://tokens.example.com/.well-known/paserk.json \\\n      --revocations-url https://tokens.example.com/v1/revocations"
    )]
    Verify {
        /// The token, or `-` to read it from standard input.
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
    #[command(after_help = "Example:\n  informly workspaces create --name acme")]
    Create {
        /// Its name, unique (1 to 100 characters).
        #[arg(long)]
        name: String,
    },
    /// List workspaces.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ContactsCmd {
    /// Import contacts from a CSV file (a header row naming the columns
    /// email, first_name, last_name, phone, company, tags with `;` between
    /// tags, attributes as a JSON object) or a JSON Lines file (one contact
    /// object per line, as POST /v1/contacts takes). Each row is checked as
    /// the API checks a contact; refused rows (invalid, or an email already
    /// taken) are listed with their line and the rest are imported, a
    /// thousand per transaction. Exits 1 if any row was refused.
    #[command(
        after_help = "Examples:\n  informly contacts import people.csv\n  informly contacts import people.jsonl --workspace acme --json"
    )]
    Import {
        /// A .csv or .jsonl (.ndjson) file.
        file: PathBuf,
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// The latest events of a workspace, oldest first: who changed what,
    /// when and from where.
    #[command(
        after_help = "Examples:\n  informly audit list\n  informly audit list --action token.revoked --since 2026-12-01T00:00:00Z\n  informly audit list --follow --json      # one JSON object per line, as events happen"
    )]
    List {
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Only this action, such as token.revoked.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor: a token id, an email, or user@host.
        #[arg(long)]
        actor: Option<String>,
        /// Only events about this target (an app, token, key or user id).
        #[arg(long)]
        target: Option<String>,
        /// Only events at or after this RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Only events before this RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        /// How many of the latest events to show.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        limit: i64,
        /// Keep going: print new events as they are recorded, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// Walk the workspace's hash chain and report the first event that does
    /// not verify (edited, removed or added by hand); exit 1 if there is one.
    #[command(after_help = "Example:\n  informly audit verify --workspace acme")]
    Verify {
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Add a dashboard user to a workspace. The password is asked for on the
    /// terminal (twice), or read from standard input with --password-stdin;
    /// never from a flag, which would leave it in the shell history.
    #[command(
        after_help = "Examples:\n  informly users add --email ada@example.com\n  printf '%s\\n' \"$PASSWORD\" | informly users add --email ada@example.com --password-stdin"
    )]
    Add {
        /// Their email address: what they sign in with.
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
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Remove a dashboard user; their sessions end at once.
    #[command(after_help = "Example:\n  informly users remove ada@example.com")]
    Remove {
        /// The user's email address.
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AppsCmd {
    /// Create an app.
    #[command(
        after_help = "Examples:\n  informly apps create --name \"Zapier sync\"\n  informly apps create --name crm --description \"Nightly CRM import\" --workspace acme"
    )]
    Create {
        /// Its name, unique in the workspace (1 to 100 characters).
        #[arg(long)]
        name: String,
        /// What it is for (at most 500 characters).
        #[arg(long)]
        description: Option<String>,
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// List the apps of a workspace.
    List {
        /// Workspace id or name.
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Delete an app: every token it has is rejected from now on.
    #[command(
        after_help = "Examples:\n  informly apps delete app_01J…\n  informly apps delete \"Zapier sync\""
    )]
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
    #[command(
        group(clap::ArgGroup::new("expiry").required(true).args(["expires_in", "expires_at"])),
        after_help = "Examples:\n  informly tokens issue --app crm --scope contacts:read --expires-in 30d\n  informly tokens issue --app crm --scope contacts:read,contacts:write --expires-at 2027-01-01T00:00:00Z --format jwt\n  TOKEN=$(informly tokens issue --app crm --scope 'contacts:read contacts:write' --expires-in 2w --name export)"
    )]
    Issue {
        /// The app's id (`app_…`) or its name.
        #[arg(long)]
        app: String,
        /// A scope such as contacts:read; repeat or separate with commas.
        #[arg(long = "scope", required = true, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Its lifetime: seconds, or the units s, m, h, d, w (30d, 12h, 2w).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// When it expires: an RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        /// The token's format.
        #[arg(
            long,
            default_value = "paseto",
            value_parser = clap::builder::PossibleValuesParser::new(["paseto", "jwt"])
                .try_map(|s| s.parse::<Format>())
        )]
        format: Format,
        /// A name to recognise it by in lists (1 to 100 characters).
        #[arg(long)]
        name: Option<String>,
        /// Only if the app is in this workspace.
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Roll a token: issue its successor (printed once) and keep the old
    /// token valid for an overlap, after which it is revoked.
    #[command(
        group(clap::ArgGroup::new("expiry").required(true).args(["expires_in", "expires_at"])),
        after_help = "Examples:\n  informly tokens roll tok_01J… --expires-in 30d                # the old token works 24 h more\n  informly tokens roll tok_01J… --expires-in 90d --overlap 1h --scope contacts:read\n  TOKEN=$(informly tokens roll tok_01J… --expires-in 30d --overlap 0)   # the old one stops at once"
    )]
    Roll {
        /// The id of the token to roll (`tok_…`, the record's `id`).
        token_id: String,
        /// How long the old token stays valid: 0 to 7d (default 24h), never
        /// past its own expiry.
        #[arg(long, value_parser = duration)]
        overlap: Option<i64>,
        /// The new token's lifetime: seconds, or the units s, m, h, d, w.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// When the new token expires: an RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        /// The new token's scopes (default: the old token's); repeat or
        /// separate with commas.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<String>,
        /// The new token's format (default: the old token's).
        #[arg(
            long,
            value_parser = clap::builder::PossibleValuesParser::new(["paseto", "jwt"])
                .try_map(|s| s.parse::<Format>())
        )]
        format: Option<Format>,
        /// The new token's name (default: the old token's).
        #[arg(long)]
        name: Option<String>,
        /// Only if the token is in this workspace (id or name).
        #[arg(long)]
        workspace: Option<String>,
    },
    /// List the tokens of an app, or of every app of the workspace.
    #[command(
        after_help = "Examples:\n  informly tokens list --app crm\n  informly tokens list --expiring-within 14d     # every app's tokens to roll soon\n  informly tokens list --app crm --unused-for 90d --json"
    )]
    List {
        /// The app's id (`app_…`) or its name; without it, every app of the
        /// workspace.
        #[arg(long)]
        app: Option<String>,
        /// The workspace (id or name): the app's, or the one whose apps to
        /// list (default: `default`).
        #[arg(long)]
        workspace: Option<String>,
        /// Only tokens accepted now that expire within this (14d, 12h …).
        #[arg(long, value_parser = duration)]
        expiring_within: Option<i64>,
        /// Only tokens not seen used for this long (90d, 12h …; never-used
        /// ones once they are that old). Uses verified offline by other
        /// services are not seen.
        #[arg(long, value_parser = duration)]
        unused_for: Option<i64>,
    },
    /// Revoke a token by id, or every token of an app (keeping the app).
    #[command(
        after_help = "Examples:\n  informly tokens revoke tok_01J…\n  informly tokens revoke --app crm --all   # tokens issued afterwards work",
        group = clap::ArgGroup::new("which").required(true).args(["token_id", "all"])
    )]
    Revoke {
        /// The token's id (`tok_…`, the record's `id`), not the token itself.
        token_id: Option<String>,
        /// With --all: the app (its id or its name).
        #[arg(long, requires = "all")]
        app: Option<String>,
        /// Every token of --app, at once.
        #[arg(long, requires = "app")]
        all: bool,
        /// Only if the token (or the app) is in this workspace (id or name).
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
                // Opening the database creates and migrates it.
                with_database(settings, clock, Open::Create, |_| {
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
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(ctx.workspaces(cmd))
                })
                .await
            }
            Command::Apps(cmd) => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(ctx.apps(cmd))
                })
                .await
            }
            Command::Tokens(cmd) => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(ctx.tokens(cmd))
                })
                .await
            }
            Command::Contacts(ContactsCmd::Import { file, workspace }) => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(async move { ctx.import_contacts(&file, &workspace).await })
                })
                .await
            }
            Command::Audit(cmd) => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(ctx.audit(cmd))
                })
                .await
            }
            Command::Users(cmd) => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(ctx.users(cmd))
                })
                .await
            }
            Command::Keys(cmd) => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(ctx.keys(cmd))
                })
                .await
            }
            Command::AdminToken {
                workspace,
                expires_in,
            } => {
                with_database(settings, clock, Open::Existing, |ctx| {
                    Box::pin(async move { ctx.admin_token(&workspace, &expires_in).await })
                })
                .await
            }
        }
    }
}

/// Whether a command may create the database: only `migrate` (and `serve`)
/// may, so that a command run from the wrong directory says so rather than
/// showing a new, empty world.
#[derive(Clone, Copy)]
enum Open {
    /// `migrate`: a missing SQLite file is created.
    Create,
    /// Every other command: a missing SQLite file is an error naming it.
    Existing,
}

/// Runs a command on the database: opened (and migrated) first, its pool
/// closed after, whatever the command's outcome.
async fn with_database<F>(
    settings: Settings,
    clock: Arc<dyn Clock>,
    open: Open,
    command: F,
) -> Result<()>
where
    F: for<'c> FnOnce(&'c Ctx) -> Pin<Box<dyn Future<Output = Result<()>> + 'c>>,
{
    let ctx = Ctx::open(settings, clock, open).await?;
    let result = command(&ctx).await;
    ctx.close().await;
    result
}
