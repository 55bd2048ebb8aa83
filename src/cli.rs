//! The `informly` command line: clap types, one dispatching `match`, and the
//! text or JSON output of each command.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use crate::clock::{Clock, SystemClock, rfc3339};
use crate::config::{Settings, duration};
use crate::ids::{AppId, TokenId};
use crate::keys::KeyRing;
use crate::remote::RemoteVerifier;
use crate::service::{Actor, IssueRequest, Service};
use crate::store::Store;
use crate::token::{
    self, Expiry, Format, Jwks, KeySet, KeyStatus, PaserkKeySet, PublicKey, ScopeSet, Verifier,
};

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
            Command::Keys(KeysCmd::List) => list_keys(&settings, clock.as_ref()),
            Command::Keys(KeysCmd::ExportPublic { jwks, paserk: _ }) => {
                export_keys(&settings, clock.as_ref(), jwks)
            }
            Command::Migrate => {
                // Opening the database migrates it.
                Ctx::open(settings, clock).await?.close().await;
                print(json, &json!({"migrated": true}), || {
                    "database is up to date".to_owned()
                });
                Ok(())
            }
            Command::Workspaces(cmd) => Ctx::open(settings, clock).await?.workspaces(cmd).await,
            Command::Apps(cmd) => Ctx::open(settings, clock).await?.apps(cmd).await,
            Command::Tokens(cmd) => Ctx::open(settings, clock).await?.tokens(cmd).await,
            Command::Users(cmd) => Ctx::open(settings, clock).await?.users(cmd).await,
            Command::Keys(cmd) => Ctx::open(settings, clock).await?.keys(cmd).await,
            Command::AdminToken {
                workspace,
                expires_in,
            } => {
                let ctx = Ctx::open(settings, clock).await?;
                let result = async {
                    let expiry = Expiry::parse_in(&expires_in)?;
                    let actor = ctx.actor(&workspace).await?;
                    let issued = ctx.service.issue_admin_token(&actor, expiry).await?;
                    print_issued(json, &issued);
                    Ok(())
                }
                .await;
                ctx.close().await;
                result
            }
        }
    }
}

/// What database commands share: the service, acting as the operator at
/// this command line.
struct Ctx {
    json: bool,
    service: Service,
}

impl Ctx {
    async fn open(settings: Settings, clock: Arc<dyn Clock>) -> Result<Ctx> {
        let store = Store::open(&settings.database_url)
            .await
            .with_context(|| format!("cannot open database {}", settings.database_url))?;
        let service = Service::offline(store, settings.keys_dir.clone(), settings.policy(), clock);
        service.ensure_default_workspace().await?;
        Ok(Ctx {
            json: settings.json,
            service,
        })
    }

    async fn close(&self) {
        self.service.store().close().await;
    }

    /// The operator, acting in the workspace named by id or name.
    async fn actor(&self, workspace: &str) -> Result<Actor> {
        let workspace = self.service.store().find_workspace(workspace).await?;
        Ok(Actor::cli(workspace.id))
    }

    /// The operator acting on `app`: in `workspace` when one is named, else in
    /// the app's own workspace (the command line reaches every workspace).
    async fn actor_for_app(&self, workspace: Option<&str>, app: &str) -> Result<(Actor, AppId)> {
        let id = AppId::parse(app).with_context(|| format!("app `{app}` not found"))?;
        let actor = match workspace {
            Some(workspace) => self.actor(workspace).await?,
            None => Actor::cli(self.service.store().app_workspace(&id).await?),
        };
        Ok((actor, id))
    }

    /// The same for a token.
    async fn actor_for_token(
        &self,
        workspace: Option<&str>,
        token: &str,
    ) -> Result<(Actor, TokenId)> {
        let id = TokenId::parse(token).with_context(|| format!("token `{token}` not found"))?;
        let actor = match workspace {
            Some(workspace) => self.actor(workspace).await?,
            None => Actor::cli(self.service.store().token_workspace(&id).await?),
        };
        Ok((actor, id))
    }

    async fn workspaces(self, cmd: WorkspacesCmd) -> Result<()> {
        let result = self.run_workspaces(cmd).await;
        self.close().await;
        result
    }

    async fn run_workspaces(&self, cmd: WorkspacesCmd) -> Result<()> {
        let json = self.json;
        match cmd {
            WorkspacesCmd::Create { name } => {
                let actor = self.actor(crate::store::DEFAULT_NAME).await?;
                let ws = self.service.create_workspace(&actor, &name).await?;
                print(json, &ws, || {
                    format!("created workspace {} ({})", ws.id, ws.name)
                });
            }
            WorkspacesCmd::List => {
                let list = self.service.workspaces().await?;
                print(json, &list, || {
                    table(
                        &["ID", "NAME", "CREATED"],
                        list.iter()
                            .map(|w| vec![w.id.to_string(), w.name.clone(), date(&w.created_at)]),
                    )
                });
            }
        }
        Ok(())
    }

    async fn apps(self, cmd: AppsCmd) -> Result<()> {
        let result = self.run_apps(cmd).await;
        self.close().await;
        result
    }

    async fn run_apps(&self, cmd: AppsCmd) -> Result<()> {
        let json = self.json;
        match cmd {
            AppsCmd::Create {
                name,
                description,
                workspace,
            } => {
                let actor = self.actor(&workspace).await?;
                let app = self
                    .service
                    .create_app(&actor, &name, description.as_deref())
                    .await?;
                print(json, &app, || {
                    format!(
                        "created app {} ({}) in workspace {}",
                        app.id, app.name, workspace
                    )
                });
            }
            AppsCmd::List { workspace } => {
                let actor = self.actor(&workspace).await?;
                let list = self.service.apps(&actor).await?;
                print(json, &list, || {
                    table(
                        &["ID", "NAME", "CREATED", "DESCRIPTION"],
                        list.iter().map(|a| {
                            vec![
                                a.id.to_string(),
                                a.name.clone(),
                                date(&a.created_at),
                                a.description.clone().unwrap_or_default(),
                            ]
                        }),
                    )
                });
            }
            AppsCmd::Delete { app, workspace } => {
                let (actor, app) = self.actor_for_app(workspace.as_deref(), &app).await?;
                self.service.delete_app(&actor, &app).await?;
                print(json, &json!({"deleted": app}), || {
                    format!("deleted app {app}; its tokens are rejected from now on")
                });
            }
        }
        Ok(())
    }

    async fn tokens(self, cmd: TokensCmd) -> Result<()> {
        let result = self.run_tokens(cmd).await;
        self.close().await;
        result
    }

    async fn run_tokens(&self, cmd: TokensCmd) -> Result<()> {
        let json = self.json;
        match cmd {
            TokensCmd::Issue {
                app,
                scopes,
                expires_in,
                expires_at,
                format,
                name,
                workspace,
            } => {
                let expiry = match (expires_in, expires_at) {
                    (Some(d), _) => Expiry::parse_in(&d)?,
                    (None, Some(t)) => Expiry::parse_at(&t)?,
                    (None, None) => bail!("give --expires-in or --expires-at"),
                };
                // Validate what needs no database before touching keys.
                ScopeSet::parse_for_app(&scopes)?;
                let (actor, app) = self.actor_for_app(workspace.as_deref(), &app).await?;
                let request = IssueRequest {
                    name,
                    scopes,
                    expiry,
                    format,
                };
                let issued = self.service.issue_token(&actor, &app, request).await?;
                print_issued(json, &issued);
            }
            TokensCmd::List { app, workspace } => {
                let (actor, app) = self.actor_for_app(workspace.as_deref(), &app).await?;
                let list = self.service.tokens(&actor, &app).await?;
                let now = self.service.clock().unix();
                print(json, &list, || {
                    table(
                        &["ID", "NAME", "FORMAT", "SCOPES", "EXPIRES", "STATUS"],
                        list.iter().map(|t| {
                            let status = match (&t.revoked_at, t.expires_at < now) {
                                (Some(at), _) => format!("revoked {}", date(at)),
                                (None, true) => "expired".to_owned(),
                                (None, false) => "active".to_owned(),
                            };
                            vec![
                                t.id.to_string(),
                                t.name.clone().unwrap_or_default(),
                                t.format.to_string(),
                                t.scopes.join(" "),
                                rfc3339(t.expires_at),
                                status,
                            ]
                        }),
                    )
                });
            }
            TokensCmd::Revoke {
                token_id,
                workspace,
            } => {
                let (actor, token) = self
                    .actor_for_token(workspace.as_deref(), &token_id)
                    .await?;
                let token = self.service.revoke_token(&actor, None, &token).await?;
                print(json, &token, || format!("revoked token {}", token.id));
            }
        }
        Ok(())
    }

    async fn users(self, cmd: UsersCmd) -> Result<()> {
        let result = self.run_users(cmd).await;
        self.close().await;
        result
    }

    async fn run_users(&self, cmd: UsersCmd) -> Result<()> {
        let json = self.json;
        match cmd {
            UsersCmd::Add {
                email,
                workspace,
                password_stdin,
            } => {
                let actor = self.actor(&workspace).await?;
                let password = if password_stdin {
                    password_from_stdin()?
                } else {
                    password_from_terminal()?
                };
                let user = self.service.add_user(&actor, &email, password).await?;
                print(json, &user, || {
                    format!(
                        "added dashboard user {} ({}) to workspace {}",
                        user.id, user.email, workspace
                    )
                });
            }
            UsersCmd::List { workspace } => {
                let actor = self.actor(&workspace).await?;
                let list = self.service.users(&actor).await?;
                print(json, &list, || {
                    table(
                        &["ID", "EMAIL", "CREATED"],
                        list.iter()
                            .map(|u| vec![u.id.to_string(), u.email.clone(), date(&u.created_at)]),
                    )
                });
            }
            UsersCmd::Remove { email } => {
                let actor = self.actor(crate::store::DEFAULT_NAME).await?;
                let user = self.service.remove_user(&actor, &email).await?;
                print(json, &user, || {
                    format!("removed dashboard user {} ({})", user.id, user.email)
                });
            }
        }
        Ok(())
    }

    /// The key commands that change the ring (the read-only ones need no
    /// database and run from `Cli::run`).
    async fn keys(self, cmd: KeysCmd) -> Result<()> {
        let result = self.run_keys(cmd).await;
        self.close().await;
        result
    }

    async fn run_keys(&self, cmd: KeysCmd) -> Result<()> {
        let json = self.json;
        let actor = self.actor(crate::store::DEFAULT_NAME).await?;
        match cmd {
            KeysCmd::Rotate {
                format,
                activate_after,
            } => {
                let formats = match format.as_str() {
                    "all" => Format::ALL.to_vec(),
                    one => vec![one.parse().map_err(anyhow::Error::msg)?],
                };
                let added = self
                    .service
                    .rotate_keys(&actor, &formats, time::Duration::seconds(activate_after))
                    .await?;
                print(json, &added, || {
                    added
                        .iter()
                        .map(|a| {
                            format!(
                                "added {} key {}, signing from {}",
                                a.format,
                                a.kid,
                                date(&a.activates_at)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
            KeysCmd::Retire { kid } => {
                let kid = self.service.retire_key(&actor, &kid).await?;
                print(json, &json!({"retired": kid}), || {
                    format!("retired key {kid}: tokens it signed are rejected from now on")
                });
            }
            KeysCmd::List | KeysCmd::ExportPublic { .. } => {
                bail!("this key command reads the keys directory only")
            }
        }
        Ok(())
    }
}

fn print_issued(json: bool, issued: &crate::service::Issued) {
    let record = &issued.record;
    if let Some(generated) = &issued.generated_key {
        eprintln!(
            "generated the first {} signing key {} in {}",
            generated.format,
            generated.kid,
            generated.path.display()
        );
    }
    if json {
        let mut value = serde_json::to_value(record).unwrap_or_default();
        value["token"] = issued.token.as_str().into();
        println!("{value:#}");
    } else {
        // The token alone on stdout, so `TOKEN=$(informly tokens issue …)` works;
        // the rest is for the person at the terminal.
        eprintln!(
            "issued {} token {} (scopes: {}; expires {})",
            record.format,
            record.id,
            record.scopes.join(" "),
            rfc3339(record.expires_at)
        );
        eprintln!("copy it now: it is shown only once");
        println!("{}", issued.token.as_str());
    }
}

fn list_keys(settings: &Settings, clock: &dyn Clock) -> Result<()> {
    let json = settings.json;
    let now = clock.now();
    let ring = KeyRing::load(&settings.keys_dir)?;
    let rows: Vec<_> = ring
        .entries()
        .iter()
        .map(|e| {
            json!({
                "kid": e.kid(),
                "format": e.format(),
                "status": ring.status(e, now),
                "created_at": date(&e.created_at),
                "activates_at": date(&e.activates_at),
                "retired_at": e.retired_at.as_ref().map(date),
            })
        })
        .collect();
    print(json, &rows, || {
        table(
            &["KID", "FORMAT", "STATUS", "ACTIVATES"],
            ring.entries().iter().map(|e| {
                vec![
                    e.kid().to_owned(),
                    e.format().to_string(),
                    ring.status(e, now).to_string(),
                    date(&e.activates_at),
                ]
            }),
        )
    });
    Ok(())
}

fn export_keys(settings: &Settings, clock: &dyn Clock, jwks: bool) -> Result<()> {
    let set = KeyRing::load(&settings.keys_dir)?.key_set(clock.now());
    let doc = if jwks {
        serde_json::to_value(set.jwks())?
    } else {
        serde_json::to_value(set.paserk_set())?
    };
    println!("{doc:#}");
    Ok(())
}

struct KeyUrls {
    jwks: Option<String>,
    paserk: Option<String>,
    revocations: Option<String>,
}

impl KeyUrls {
    fn any(&self) -> bool {
        self.jwks.is_some() || self.paserk.is_some() || self.revocations.is_some()
    }
}

async fn verify(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    token: &str,
    jwks: Option<PathBuf>,
    paserk: Option<String>,
    urls: KeyUrls,
) -> Result<()> {
    let token = if token == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut buf)
            .context("cannot read the token from standard input")?;
        buf.trim().to_owned()
    } else {
        token.to_owned()
    };
    let now = clock.unix();
    let keys = match (jwks, paserk) {
        (Some(path), _) => {
            let doc: Jwks = serde_json::from_slice(&read_small(&path)?)
                .with_context(|| format!("{} is not a JWKS document", path.display()))?;
            let mut set = KeySet::new();
            set.extend_from_jwks(&doc)
                .with_context(|| format!("{}", path.display()))?;
            set
        }
        (None, Some(paserk)) if looks_like_paserk(&paserk) => {
            let mut set = KeySet::new();
            set.insert(
                PublicKey::from_paserk(&paserk).context("--paserk")?,
                KeyStatus::Active,
            )?;
            set
        }
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let doc: PaserkKeySet = serde_json::from_slice(&read_small(&path)?)
                .with_context(|| format!("{} is not a PASERK key set document", path.display()))?;
            let mut set = KeySet::new();
            set.extend_from_paserk(&doc)
                .with_context(|| format!("{}", path.display()))?;
            set
        }
        // Keys come from the URLs alone.
        (None, None) if urls.any() => KeySet::new(),
        (None, None) => KeyRing::load(&settings.keys_dir)?.key_set(clock.now()),
    };
    if urls.any() {
        return verify_remote(settings, clock, &token, keys, urls).await;
    }
    let verifier = Verifier::new(keys, settings.policy());
    let verified = verifier.verify(&token, now).map_err(|e| {
        let format = if token.starts_with("v4.") {
            Format::Paseto
        } else {
            Format::Jwt
        };
        let has_format = verifier.keys().iter().any(|(k, _)| k.format() == format);
        match e {
            token::Error::UnknownKey if !has_format => anyhow::anyhow!(
                "token rejected: {e}: no {format} public keys were given ({})",
                match format {
                    Format::Paseto => "use --paserk",
                    Format::Jwt => "use --jwks",
                }
            ),
            e => anyhow::anyhow!("token rejected: {e}"),
        }
    })?;
    print_verified(settings, &verified, false);
    eprintln!(
        "note: verified offline with public keys only; revocation is not checked (it needs the database, or --revocations-url)"
    );
    Ok(())
}

/// Verifies as a downstream service does, with [`RemoteVerifier`]: keys
/// fetched from the URLs (plus any given as files), and the revocation feed
/// fetched once, verified and applied.
async fn verify_remote(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    token: &str,
    keys: KeySet,
    urls: KeyUrls,
) -> Result<()> {
    if urls.jwks.is_none() && urls.paserk.is_none() && keys.is_empty() {
        bail!(
            "--revocations-url needs keys: give --paserk-url (the feed is signed with a PASETO key)"
        );
    }
    let mut builder = RemoteVerifier::builder()
        .policy(settings.policy())
        .clock(clock)
        .keys(keys);
    if let Some(url) = urls.jwks {
        builder = builder.jwks_url(url);
    }
    if let Some(url) = urls.paserk {
        builder = builder.paserk_url(url);
    }
    let checked = urls.revocations.is_some();
    builder = match urls.revocations {
        Some(url) => builder.revocations_url(url),
        None => builder.without_revocations(),
    };
    let verifier = builder.build().await?;
    let verified = verifier.verify(token).await;
    verifier.shutdown();
    let verified = verified.map_err(|e| anyhow::anyhow!("token rejected: {e}"))?;
    print_verified(settings, &verified, checked);
    if !checked {
        eprintln!("note: revocation is not checked (give --revocations-url)");
    }
    Ok(())
}

/// Prints a verified token's claims (never the token itself).
fn print_verified(settings: &Settings, verified: &token::Verified, revocation_checked: bool) {
    let claims = &verified.claims;
    let value = json!({
        "valid": true,
        "revocation_checked": revocation_checked,
        "format": verified.format,
        "kid": verified.kid,
        "token_id": claims.token_id,
        "workspace": claims.workspace,
        "subject": claims.subject.as_claim(),
        "scopes": claims.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "issued_at": rfc3339(claims.issued_at),
        "not_before": rfc3339(claims.not_before),
        "expires_at": rfc3339(claims.expires_at),
    });
    print(settings.json, &value, || {
        format!(
            "valid {} token\n  id:        {}\n  workspace: {}\n  subject:   {}\n  scopes:    {}\n  issued:    {}\n  expires:   {}\n  key:       {}",
            verified.format,
            claims.token_id,
            claims.workspace,
            claims.subject.as_claim(),
            claims.scopes,
            rfc3339(claims.issued_at),
            rfc3339(claims.expires_at),
            verified.kid,
        )
    });
}

/// A PASERK string (`k<version>.<type>.…`) rather than a file path: a key of
/// another version is then refused as a key, not looked for as a file.
fn looks_like_paserk(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() > 3 && b[0] == b'k' && b[1].is_ascii_digit() && b[2] == b'.'
}

/// Reads a key document, refusing anything larger than a key document can be.
/// A password piped in: the first line of standard input.
fn password_from_stdin() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(4096)
        .read_to_end(&mut bytes)
        .context("cannot read the password from standard input")?;
    let text = std::str::from_utf8(&bytes).context("the password is not UTF-8")?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        bail!("no password on standard input");
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// A password typed at the terminal, without echo, twice.
fn password_from_terminal() -> Result<Zeroizing<String>> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("no terminal to ask for the password on: pipe it in with --password-stdin");
    }
    let first = Zeroizing::new(rpassword::prompt_password("Password: ")?);
    let again = Zeroizing::new(rpassword::prompt_password("Password again: ")?);
    if first != again {
        bail!("the passwords do not match");
    }
    Ok(first)
}

fn read_small(path: &std::path::Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .take(1024 * 1024 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() > 1024 * 1024 {
        bail!(
            "{} is larger than 1 MiB: not a key document",
            path.display()
        );
    }
    Ok(buf)
}

fn print<T: serde::Serialize + ?Sized>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        match serde_json::to_string_pretty(value) {
            Ok(out) => println!("{out}"),
            Err(e) => eprintln!("error: cannot print JSON: {e}"),
        }
    } else {
        println!("{}", text());
    }
}

fn date(t: &time::OffsetDateTime) -> String {
    rfc3339(t.unix_timestamp())
}

/// Aligned columns with a header row.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        return "(none)".to_owned();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}
