//! Issuing and revoking: where the key ring, the store, the policy and the
//! clock meet. The CLI calls this, and so will the HTTP handlers.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::dashboard::password;
use crate::keys::{Generated, LiveKeys};
use crate::store::{self, App, NewToken, Store, TokenRecord, User, Workspace};
use crate::token::{self, Expiry, Format, Policy, ScopeSet, Subject, TokenClaims, UnixTime};
use crate::{ids, keys};

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
    Keys(#[from] keys::Error),
    #[error("no active {0} signing key")]
    NoSigningKey(Format),
    #[error("could not sign the token: {0}")]
    Token(#[from] token::Error),
    #[error("could not hash the password: {0}")]
    Password(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

/// What an app token is asked for with.
pub struct IssueRequest {
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub expiry: Expiry,
    pub format: Format,
}

/// A freshly issued token: the record, and the string, shown this once.
pub struct Issued {
    pub record: TokenRecord,
    pub token: Zeroizing<String>,
    /// The first key of its format, if this issuance had to generate it.
    pub generated_key: Option<Generated>,
}

pub struct Service {
    pub store: Store,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
}

impl Service {
    pub fn new(store: Store, policy: Policy, clock: Arc<dyn Clock>) -> Service {
        Service {
            store,
            policy,
            clock,
        }
    }

    pub async fn create_workspace(&self, name: &str) -> Result<Workspace> {
        check_text("name", name, 1, 100)?;
        Ok(self.store.create_workspace(name, self.clock.now()).await?)
    }

    pub async fn create_app(
        &self,
        workspace: &Workspace,
        name: &str,
        description: Option<&str>,
    ) -> Result<App> {
        check_text("name", name, 1, 100)?;
        if let Some(description) = description {
            check_text("description", description, 0, 500)?;
        }
        let app = self
            .store
            .create_app(&workspace.id, name, description, self.clock.now())
            .await?;
        Ok(app)
    }

    /// Renames an app or changes its description (`Some(None)` clears it).
    pub async fn update_app(
        &self,
        app: &App,
        name: Option<&str>,
        description: Option<Option<&str>>,
    ) -> Result<App> {
        if let Some(name) = name {
            check_text("name", name, 1, 100)?;
        }
        if let Some(Some(description)) = description {
            check_text("description", description, 0, 500)?;
        }
        Ok(self
            .store
            .update_app(
                &app.workspace_id,
                &app.id,
                name,
                description,
                self.clock.now(),
            )
            .await?)
    }

    /// Deletes an app; every token it had is rejected from now on. Returns the
    /// cutoff: tokens of the app issued at or before it are refused.
    pub async fn delete_app(&self, app: &App) -> Result<UnixTime> {
        let now = self.clock.unix();
        let keep_until = now
            .saturating_add(self.policy.max_lifetime)
            .saturating_add(self.policy.leeway);
        self.store
            .delete_app(app, now, keep_until, self.clock.now())
            .await?;
        Ok(now)
    }

    /// Issues an app token signed by the active key of the requested format.
    pub async fn issue_token(
        &self,
        keys: &LiveKeys,
        app: &App,
        request: IssueRequest,
    ) -> Result<Issued> {
        if let Some(name) = &request.name {
            check_text("name", name, 1, 100)?;
        }
        let scopes = ScopeSet::parse_for_app(&request.scopes)
            .map_err(|e| invalid("scopes", e.to_string()))?;
        self.issue(
            keys,
            &app.workspace_id,
            Subject::App(app.id.clone()),
            scopes,
            request.expiry,
            request.format,
            request.name.as_deref(),
        )
        .await
    }

    /// Issues an admin token (`apps:*`) for a workspace.
    pub async fn issue_admin_token(
        &self,
        keys: &LiveKeys,
        workspace: &Workspace,
        expiry: Expiry,
    ) -> Result<Issued> {
        self.issue(
            keys,
            &workspace.id,
            Subject::Admin("cli".to_owned()),
            ScopeSet::admin(),
            expiry,
            Format::Paseto,
            Some("admin token"),
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        keys: &LiveKeys,
        workspace_id: &str,
        subject: Subject,
        scopes: ScopeSet,
        expiry: Expiry,
        format: Format,
        name: Option<&str>,
    ) -> Result<Issued> {
        let now = self.clock.unix();
        let field = match expiry {
            Expiry::In(_) => "expires_in",
            Expiry::At(_) => "expires_at",
        };
        let expires_at = expiry
            .resolve(now, self.policy.max_lifetime_for(&subject))
            .map_err(|e| invalid(field, e.to_string()))?;
        // Only a valid request may generate the first key of a format.
        let generated_key = keys.ensure_signing_key(format, self.clock.now())?;
        let snapshot = keys.snapshot();
        let key = snapshot
            .ring
            .active(format, self.clock.now())
            .ok_or(Error::NoSigningKey(format))?;
        let claims = TokenClaims {
            token_id: ids::new(ids::TOKEN),
            workspace: workspace_id.to_owned(),
            subject,
            scopes,
            issued_at: now,
            not_before: now,
            expires_at,
        };
        // Sign before recording: if signing failed nothing would be stored, and if
        // recording fails the string is dropped unseen.
        let token = Zeroizing::new(key.key.sign(&claims, &self.policy)?);
        let record = self
            .store
            .insert_token(&NewToken {
                id: &claims.token_id,
                workspace_id,
                app_id: claims.subject.app_id(),
                subject: &claims.subject.as_claim(),
                name,
                scopes: &claims.scopes.to_claim(),
                format,
                kid: key.kid(),
                issued_at: claims.issued_at,
                expires_at: claims.expires_at,
            })
            .await?;
        Ok(Issued {
            record,
            token,
            generated_key,
        })
    }

    /// Adds a dashboard user to a workspace; the password is stored as an
    /// Argon2id hash, hashed off the async runtime.
    pub async fn add_user(
        &self,
        workspace: &Workspace,
        email: &str,
        password: Zeroizing<String>,
    ) -> Result<User> {
        check_email(email)?;
        password::check(&password).map_err(|message| invalid("password", message))?;
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| Error::Password(e.to_string()))?
            .map_err(|e| Error::Password(e.to_string()))?;
        Ok(self
            .store
            .create_user(&workspace.id, email, &hash, self.clock.now())
            .await?)
    }

    /// Revokes a token until it expires.
    pub async fn revoke_token(&self, token: &TokenRecord) -> Result<TokenRecord> {
        Ok(self.store.revoke_token(token, self.clock.now()).await?)
    }
}

/// The longest email address accepted (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// An email address: RFC 5321/5322 syntax, at most [`MAX_EMAIL_LEN`] bytes.
pub fn check_email(value: &str) -> Result<()> {
    if value.len() > MAX_EMAIL_LEN || !email_address::EmailAddress::is_valid(value) {
        return Err(invalid("email", "must be a valid email address"));
    }
    check_text("email", value, 1, MAX_EMAIL_LEN)
}

/// Text fields: a length in characters, and no control characters (which
/// PostgreSQL would refuse for NUL anyway, so both backends answer alike).
pub fn check_text(field: &'static str, value: &str, min: usize, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(invalid(
            field,
            format!("must be {min} to {max} characters, got {len}"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}
