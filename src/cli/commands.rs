//! The commands that change or read the database. Each goes through the
//! service layer as the operator at this command line ([`Actor::cli`]), in
//! the workspace a flag names or, for an app or token given by id, in its own.

use std::io::Read as _;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::json;
use zeroize::Zeroizing;

use super::output::{date, print, print_issued, table};
use super::{AppsCmd, AuditCmd, KeysCmd, Open, TokensCmd, UsersCmd, WorkspacesCmd};
use crate::clock::{Clock, rfc3339};
use crate::config::Settings;
use crate::ids::{AppId, TokenId};
use crate::service::{self, Actor, IssueRequest, RollRequest, Service, TokenStatus};
use crate::store::{self, Store, TokenRecord};
use crate::token::{Expiry, Format, ScopeSet};

/// What database commands share: the service, acting as the operator at
/// this command line.
pub(super) struct Ctx {
    pub(super) json: bool,
    pub(super) service: Service,
}

impl Ctx {
    pub(super) async fn open(settings: Settings, clock: Arc<dyn Clock>, open: Open) -> Result<Ctx> {
        let url = &settings.database_url;
        let store = match open {
            Open::Create => Store::open(url).await,
            Open::Existing => Store::open_existing(url).await,
        };
        let store = match store {
            Err(missing @ store::Error::Missing(_)) => return Err(missing.into()),
            other => other.with_context(|| format!("cannot open database {url}"))?,
        };
        let service = Service::offline(store, settings.keys_dir.clone(), settings.policy(), clock);
        service.ensure_default_workspace().await?;
        Ok(Ctx {
            json: settings.json,
            service,
        })
    }

    pub(super) async fn close(&self) {
        self.service.store().close().await;
    }

    /// The operator, acting in the workspace named by id or name.
    pub(super) async fn actor(&self, workspace: &str) -> Result<Actor> {
        let workspace = self.service.store().find_workspace(workspace).await?;
        Ok(Actor::cli(workspace.id))
    }

    /// The operator acting on `app`, given by id or by name. An id is looked
    /// for in `workspace` when one is named, else in the app's own workspace
    /// (the command line reaches every workspace); a name, in `workspace` or
    /// the default one.
    async fn actor_for_app(&self, workspace: Option<&str>, app: &str) -> Result<(Actor, AppId)> {
        if let Some(id) = AppId::parse(app) {
            let actor = match workspace {
                Some(workspace) => self.actor(workspace).await?,
                None => Actor::cli(self.service.store().app_workspace(&id).await?),
            };
            return Ok((actor, id));
        }
        let workspace = workspace.unwrap_or(crate::store::DEFAULT_NAME);
        let actor = self.actor(workspace).await?;
        let named = self.service.apps_named(&actor, app).await?;
        match named.as_slice() {
            [one] => Ok((actor, one.id.clone())),
            [] => bail!("no app has the id or the name `{app}` in workspace `{workspace}`"),
            many => {
                let ids: Vec<String> = many.iter().map(|a| a.id.to_string()).collect();
                bail!(
                    "the name `{app}` matches several apps in workspace `{workspace}`: {}; pass one's id",
                    ids.join(", ")
                )
            }
        }
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

    pub(super) async fn admin_token(&self, workspace: &str, expires_in: &str) -> Result<()> {
        let expiry = Expiry::parse_in(expires_in).context("--expires-in")?;
        let actor = self.actor(workspace).await?;
        let issued = self
            .service
            .issue_admin_token(&actor, expiry)
            .await
            .map_err(flag_error)?;
        print_issued(self.json, &issued);
        Ok(())
    }

    pub(super) async fn workspaces(&self, cmd: WorkspacesCmd) -> Result<()> {
        let json = self.json;
        match cmd {
            WorkspacesCmd::Create { name } => {
                let actor = self.actor(crate::store::DEFAULT_NAME).await?;
                let ws = self
                    .service
                    .create_workspace(&actor, &name)
                    .await
                    .map_err(flag_error)?;
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

    pub(super) async fn apps(&self, cmd: AppsCmd) -> Result<()> {
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
                    .await
                    .map_err(flag_error)?;
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

    pub(super) async fn tokens(&self, cmd: TokensCmd) -> Result<()> {
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
                    (Some(d), _) => Expiry::parse_in(&d).context("--expires-in")?,
                    (None, Some(t)) => Expiry::parse_at(&t).context("--expires-at")?,
                    (None, None) => bail!("give --expires-in or --expires-at"),
                };
                // `--scope 'a b'` is two scopes, as `--scope a,b` is.
                let scopes: Vec<String> = scopes
                    .iter()
                    .flat_map(|s| s.split_whitespace())
                    .map(str::to_owned)
                    .collect();
                // Validate what needs no database before touching keys.
                ScopeSet::parse_for_app(&scopes).context("--scope")?;
                let (actor, app) = self.actor_for_app(workspace.as_deref(), &app).await?;
                let request = IssueRequest {
                    name,
                    scopes,
                    expiry,
                    format,
                };
                let issued = self
                    .service
                    .issue_token(&actor, &app, request)
                    .await
                    .map_err(flag_error)?;
                print_issued(json, &issued);
            }
            TokensCmd::Roll {
                token_id,
                overlap,
                expires_in,
                expires_at,
                scopes,
                format,
                name,
                workspace,
            } => {
                let expiry = match (expires_in, expires_at) {
                    (Some(d), _) => Expiry::parse_in(&d).context("--expires-in")?,
                    (None, Some(t)) => Expiry::parse_at(&t).context("--expires-at")?,
                    (None, None) => bail!("give --expires-in or --expires-at"),
                };
                let scopes: Vec<String> = scopes
                    .iter()
                    .flat_map(|s| s.split_whitespace())
                    .map(str::to_owned)
                    .collect();
                let (actor, token) = self
                    .actor_for_token(workspace.as_deref(), &token_id)
                    .await?;
                let old = self.service.token(&actor, None, &token).await?;
                let Some(app) = old.app_id else {
                    bail!("token `{token}` is an admin token: only app tokens are rolled");
                };
                let request = RollRequest {
                    expiry,
                    overlap,
                    scopes: (!scopes.is_empty()).then_some(scopes),
                    name,
                    format,
                };
                let issued = self
                    .service
                    .roll_token(&actor, &app, &token, request)
                    .await
                    .map_err(flag_error)?;
                if !json {
                    let old = self.service.token(&actor, None, &token).await?;
                    if let Some(at) = old.revoked_at {
                        eprintln!(
                            "token {token} stops working at {}",
                            crate::clock::rfc3339_precise(at)
                        );
                    }
                }
                print_issued(json, &issued);
            }
            TokensCmd::List {
                app,
                workspace,
                unused_for,
                expiring_within,
            } => {
                let list = match app {
                    Some(app) => {
                        let (actor, app) = self.actor_for_app(workspace.as_deref(), &app).await?;
                        let mut list = match unused_for {
                            Some(unused_for) => {
                                let unused_for = time::Duration::seconds(unused_for);
                                self.service.unused_tokens(&actor, &app, unused_for).await?
                            }
                            None => self.service.tokens(&actor, &app).await?,
                        };
                        if let Some(within) = expiring_within {
                            let within = time::Duration::seconds(within);
                            list.retain(|t| self.service.expires_within(t, within));
                        }
                        list
                    }
                    None => {
                        if unused_for.is_some() {
                            bail!("--unused-for needs --app");
                        }
                        let workspace = workspace.as_deref().unwrap_or(crate::store::DEFAULT_NAME);
                        let actor = self.actor(workspace).await?;
                        let within = expiring_within.map(time::Duration::seconds);
                        self.service
                            .workspace_tokens(&actor, within, None)
                            .await?
                            .into_iter()
                            .map(|(t, _)| t)
                            .collect()
                    }
                };
                // Each record with what the service would answer its token now.
                let rows: Vec<ListedToken> = list
                    .iter()
                    .map(|record| ListedToken {
                        status: self.service.status_of(record),
                        unused_scopes: record.unused_scopes(),
                        record,
                    })
                    .collect();
                print(json, &rows, || {
                    table(
                        &[
                            "ID",
                            "APP",
                            "NAME",
                            "FORMAT",
                            "SCOPES",
                            "EXPIRES",
                            "STATUS",
                            "LAST USED",
                            "USES",
                        ],
                        rows.iter().map(|row| {
                            let t = row.record;
                            let status = match (row.status, &t.revoked_at) {
                                (TokenStatus::Revoked, Some(at)) => format!("revoked {}", date(at)),
                                (TokenStatus::KeyRetired, _) => "key retired".to_owned(),
                                (status, _) => status.as_str().to_owned(),
                            };
                            vec![
                                t.id.to_string(),
                                t.app_id
                                    .as_ref()
                                    .map(ToString::to_string)
                                    .unwrap_or_default(),
                                t.name.clone().unwrap_or_default(),
                                t.format.to_string(),
                                t.scopes.join(" "),
                                rfc3339(t.expires_at),
                                status,
                                t.last_used_at.map_or_else(
                                    || "never".to_owned(),
                                    crate::clock::rfc3339_precise,
                                ),
                                t.uses.to_string(),
                            ]
                        }),
                    )
                });
            }
            TokensCmd::Revoke {
                token_id,
                app,
                workspace,
                ..
            } => match (token_id, app) {
                (Some(token_id), _) => {
                    let (actor, token) = self
                        .actor_for_token(workspace.as_deref(), &token_id)
                        .await?;
                    let token = self.service.revoke_token(&actor, None, &token).await?;
                    print(json, &token, || format!("revoked token {}", token.id));
                }
                (None, Some(app)) => {
                    let (actor, app) = self.actor_for_app(workspace.as_deref(), &app).await?;
                    self.service.revoke_app_tokens(&actor, &app).await?;
                    print(json, &json!({"app": app, "revoked": "all"}), || {
                        format!("revoked every token of app {app}; tokens issued from now on work")
                    });
                }
                (None, None) => bail!("give a token id, or --app APP --all"),
            },
        }
        Ok(())
    }

    pub(super) async fn audit(&self, cmd: AuditCmd) -> Result<()> {
        let json = self.json;
        match cmd {
            AuditCmd::List {
                workspace,
                action,
                actor,
                target,
                since,
                until,
                limit,
                follow,
            } => {
                let time = |flag: &str, value: Option<String>| {
                    value
                        .map(|v| {
                            time::OffsetDateTime::parse(
                                &v,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .with_context(|| format!("{flag}: `{v}` is not an RFC 3339 time"))
                        })
                        .transpose()
                };
                let mut filter = store::AuditFilter {
                    action,
                    actor,
                    target,
                    since: time("--since", since)?,
                    until: time("--until", until)?,
                    before: None,
                    after: None,
                };
                let as_actor = self.actor(&workspace).await?;
                let mut events = self.service.audit_events(&as_actor, &filter, limit).await?;
                events.reverse();
                const HEADERS: [&str; 5] = ["TIME", "ACTOR", "ACTION", "TARGET", "CHANGES"];
                if !follow {
                    let listed: Vec<serde_json::Value> = events.iter().map(listed_event).collect();
                    print(json, &listed, || {
                        table(&HEADERS, events.iter().map(event_row))
                    });
                    return Ok(());
                }
                // Following: one line per event as it is recorded (JSON lines
                // with --json), polling every 2 s.
                let mut last = 0;
                loop {
                    for event in &events {
                        match json {
                            true => println!("{}", listed_event(event)),
                            false => println!("{}", event_row(event).join("  ")),
                        }
                        last = last.max(event.seq);
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    filter.after = Some(last);
                    events = self.service.audit_events(&as_actor, &filter, 1000).await?;
                }
            }
            AuditCmd::Verify { workspace } => {
                let actor = self.actor(&workspace).await?;
                match self.service.store().verify_audit(actor.workspace()).await? {
                    Ok(count) => print(json, &json!({"verified": count}), || {
                        format!("the audit log of `{workspace}` verifies: {count} events")
                    }),
                    Err(broken) => bail!(
                        "the audit log of `{workspace}` is broken at event {}: {}",
                        broken.event_id,
                        broken.reason
                    ),
                }
            }
        }
        Ok(())
    }

    pub(super) async fn users(&self, cmd: UsersCmd) -> Result<()> {
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
                let user = self
                    .service
                    .add_user(&actor, &email, password)
                    .await
                    .map_err(flag_error)?;
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
    pub(super) async fn keys(&self, cmd: KeysCmd) -> Result<()> {
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

/// A service error, with a bad field named as the flag that carried it.
fn flag_error(e: service::Error) -> anyhow::Error {
    let service::Error::Invalid { field, message } = e else {
        return e.into();
    };
    let flag = match field {
        "expires_in" => "--expires-in",
        "expires_at" => "--expires-at",
        "scopes" => "--scope",
        "overlap" => "--overlap",
        "name" => "--name",
        "description" => "--description",
        "email" => "--email",
        "password" => "the password",
        other => other,
    };
    anyhow::anyhow!("{flag}: {message}")
}

/// A token's record as `tokens list` prints it, with its status.
#[derive(serde::Serialize)]
struct ListedToken<'a> {
    #[serde(flatten)]
    record: &'a TokenRecord,
    status: TokenStatus,
    unused_scopes: Vec<String>,
}

/// An audit event as `audit list --json` prints it: its record, its time,
/// and its changes as JSON.
fn listed_event(event: &store::AuditEvent) -> serde_json::Value {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    value["time"] = crate::clock::rfc3339_precise(event.time()).into();
    value["changes"] = event.changes().unwrap_or_default();
    value
}

/// An audit event as a row of `audit list`.
fn event_row(event: &store::AuditEvent) -> Vec<String> {
    vec![
        crate::clock::rfc3339_precise(event.time()),
        format!("{} {}", event.actor_type, event.actor_id),
        event.action.clone(),
        event.target_id.clone().unwrap_or_default(),
        event.changes.clone().unwrap_or_default(),
    ]
}
