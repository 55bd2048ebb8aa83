//! Dashboard users and their sessions: add and remove users (from the CLI),
//! sign in (with the attempt limits), look a session up, sign out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::Duration;
use zeroize::Zeroizing;

use super::{Actor, Error, Origin, Result, Service, invalid};
use crate::store::{self, NewSession, Session, User};
use crate::text::{self, Email};
use crate::{ids, password};

/// How long failed sign-ins are remembered.
pub const LOGIN_WINDOW: Duration = Duration::minutes(15);
/// Failed sign-ins allowed per email, and per client, in a window.
const FAILURES_PER_EMAIL: i64 = 5;
const FAILURES_PER_CLIENT: i64 = 20;
/// A session's last activity is recorded at most this often.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// `informly_dashboard_signin_failures_total`: wrong password or unknown
/// email.
pub const SIGNIN_FAILURES: &str = "informly_dashboard_signin_failures_total";
/// `informly_dashboard_signin_lockouts_total`: an email or a client passing
/// its limit of failures (counted once per lock-out, not per attempt refused
/// during it).
pub const SIGNIN_LOCKOUTS: &str = "informly_dashboard_signin_lockouts_total";

/// A sign-in as typed.
pub struct SignInAttempt<'a> {
    pub email: &'a str,
    pub password: Zeroizing<String>,
    /// Where it comes from: the client, as the sign-in limit counts clients,
    /// and the request id, for the audit log.
    pub origin: Origin,
    /// How long the session lasts, however busy.
    pub lifetime: Duration,
}

/// A session just started: the secret goes in the cookie, and only its
/// digest is stored.
pub struct StartedSession {
    pub secret: String,
    pub user: User,
}

pub enum SignIn {
    Started(StartedSession),
    /// Wrong password or unknown email: the same answer for both.
    Refused,
    /// Too many failed attempts for this email or client: try again after
    /// this long (the password was not checked).
    Locked {
        retry_after: Duration,
    },
}

/// What a session secret is stored as.
fn digest(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

impl Service {
    /// Adds a dashboard user to the actor's workspace; the password is stored
    /// as an Argon2id hash, hashed off the async runtime.
    pub async fn add_user(
        &self,
        actor: &Actor,
        email: &str,
        password: Zeroizing<String>,
    ) -> Result<User> {
        let email = text::check_email("email", email)?;
        password::check(&password).map_err(|message| invalid("password", message))?;
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| Error::Password(e.to_string()))?
            .map_err(|e| Error::Password(e.to_string()))?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let user = tx
            .create_user(actor.workspace(), &email.address, &hash, now)
            .await?;
        let event = actor.event("user.added", Some(("user", user.email.clone())));
        tx.record_audit(actor.workspace(), event, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Removes a dashboard user (an email names one user over all
    /// workspaces); their sessions end with them.
    pub async fn remove_user(&self, actor: &Actor, email: &str) -> Result<User> {
        let mut tx = self.store.begin().await?;
        let user = tx.remove_user(email).await?;
        // In the workspace the user belonged to: the command line reaches
        // every workspace.
        let event = actor.event("user.removed", Some(("user", user.email.clone())));
        tx.record_audit(&user.workspace_id, event, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn users(&self, actor: &Actor) -> Result<Vec<User>> {
        Ok(self.store.list_users(actor.workspace()).await?)
    }

    /// Signs in: counts the attempt against the email and the client before
    /// checking the password, so attempts sent at once cannot all slip under
    /// the limits (a successful one is taken back); past a limit the password
    /// is not checked at all. An unknown email costs the same Argon2 work as
    /// a wrong password.
    pub async fn sign_in(&self, attempt: SignInAttempt<'_>) -> Result<SignIn> {
        let store = &self.store;
        let now = self.clock.now();
        // Keyed by a digest: fixed-length keys, and no stranger's typed email kept.
        // Variants of one address count as one.
        let email_key = format!("email:{}", digest(&Email::key_of(attempt.email)));
        let client_key = attempt.origin.client.map(|ip| format!("client:{ip}"));
        // The client first: past its limit, the email is not counted at all,
        // so a flood of new emails from one client adds no rows.
        for (key, limit) in [
            (client_key.as_ref(), FAILURES_PER_CLIENT),
            (Some(&email_key), FAILURES_PER_EMAIL),
        ] {
            let Some(key) = key else { continue };
            let (attempts, window_start) =
                store.count_login_attempt(key, now, LOGIN_WINDOW).await?;
            if attempts > limit {
                // Recorded once, when the limit is first passed: a flood adds
                // no more events than attempts the limit lets through.
                if attempts == limit + 1 {
                    metrics::counter!(SIGNIN_LOCKOUTS).increment(1);
                    if let Some(known) = store.find_credentials(attempt.email).await? {
                        self.record_sign_in(&known.user, "sign_in.locked_out", &attempt.origin)
                            .await?;
                    }
                }
                return Ok(SignIn::Locked {
                    retry_after: (window_start + LOGIN_WINDOW - now).max(Duration::SECOND),
                });
            }
        }

        let credentials = store.find_credentials(attempt.email).await?;
        let known = credentials.as_ref().map(|c| c.user.clone());
        let password = attempt.password;
        let user = {
            // Bounded: each check holds 19 MiB and a core.
            let _permit = self
                .password_checks
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| Error::Password(e.to_string()))?;
            tokio::task::spawn_blocking(move || match credentials {
                Some(c) if password::verify(&password, &c.password_hash) => Some(c.user),
                Some(_) => None,
                None => {
                    password::verify_nobody(&password);
                    None
                }
            })
            .await
            .map_err(|e| Error::Password(e.to_string()))?
        };
        let Some(user) = user else {
            tracing::info!("dashboard sign-in failed");
            // An unknown email belongs to no workspace's log.
            if let Some(known) = &known {
                self.record_sign_in(known, "sign_in.failed", &attempt.origin)
                    .await?;
            }
            metrics::counter!(SIGNIN_FAILURES).increment(1);
            return Ok(SignIn::Refused);
        };

        store.clear_login_attempts(&email_key).await?;
        if let Some(client_key) = &client_key {
            store.forgive_login_attempt(client_key).await?;
        }
        let secret = ids::secret();
        let mut tx = store.begin().await?;
        tx.create_session(&NewSession {
            id_hash: &digest(&secret),
            user: &user,
            csrf_token: &ids::secret(),
            now,
            expires_at: now + attempt.lifetime,
        })
        .await?;
        let event = sign_in_event(&user, "sign_in.succeeded", &attempt.origin);
        tx.record_audit(&user.workspace_id, event, now).await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, workspace = %user.workspace_id, "dashboard sign-in");
        Ok(SignIn::Started(StartedSession { secret, user }))
    }

    /// Records a sign-in that did not start a session in `user`'s workspace.
    async fn record_sign_in(
        &self,
        user: &User,
        action: &'static str,
        origin: &Origin,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let event = sign_in_event(user, action, origin);
        tx.record_audit(&user.workspace_id, event, self.clock.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session a cookie's secret names, if it is still valid: not past
    /// its lifetime nor idle for `idle`. An ended one is deleted; a live one
    /// has its activity recorded (at most once a minute). Returns the session
    /// with its id (the secret's digest).
    pub async fn session(&self, secret: &str, idle: Duration) -> Result<Option<(Session, String)>> {
        let id_hash = digest(secret);
        let Some(session) = self.store.find_session(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= session.expires_at || now - session.last_seen_at >= idle {
            self.sign_out(&id_hash).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            self.store.touch_session(&id_hash, now).await?;
        }
        Ok(Some((session, id_hash)))
    }

    /// Ends a session, here and for every instance.
    pub async fn sign_out(&self, session_id: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.delete_session(session_id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A sign-in event: the user it was for is the actor, from where it came.
fn sign_in_event(user: &User, action: &'static str, origin: &Origin) -> store::NewEvent {
    Actor::User {
        workspace: user.workspace_id.clone(),
        user_id: user.id.clone(),
        email: user.email.clone(),
        origin: origin.clone(),
    }
    .event(action, Some(("user", user.email.clone())))
}
