//! Tokens: issue (signed by the active key of the format asked for, recorded
//! in the same step) and revoke.

use zeroize::Zeroizing;

use super::{Actor, Error, Result, Service, invalid};
use crate::ids::{AppId, TokenId};
use crate::keys::Generated;
use crate::store::{NewToken, TokenRecord};
use crate::text;
use crate::token::{Expiry, Format, KeyStatus, ScopeSet, Subject, TokenClaims};

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

/// What the service would answer a token now, from its record and the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
    /// The key that signed it is retired (or gone): it is refused.
    KeyRetired,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
            TokenStatus::KeyRetired => "key_retired",
        }
    }
}

/// What is signed and recorded, once the request is valid.
struct Grant<'a> {
    subject: Subject,
    scopes: ScopeSet,
    expiry: Expiry,
    format: Format,
    name: Option<&'a str>,
}

impl Service {
    /// Issues an app token signed by the active key of the requested format.
    pub async fn issue_token(
        &self,
        actor: &Actor,
        app: &AppId,
        request: IssueRequest,
    ) -> Result<Issued> {
        // An unknown app is not found, whatever else is wrong.
        let app = self.app(actor, app).await?;
        if let Some(name) = &request.name {
            text::NAME.check("name", name)?;
        }
        let scopes = ScopeSet::parse_for_app(&request.scopes)
            .map_err(|e| invalid("scopes", e.to_string()))?;
        let grant = Grant {
            subject: Subject::App(app.id.to_string()),
            scopes,
            expiry: request.expiry,
            format: request.format,
            name: request.name.as_deref(),
        };
        self.issue(actor, grant).await
    }

    /// Issues an admin token (`apps:*`) for the actor's workspace.
    pub async fn issue_admin_token(&self, actor: &Actor, expiry: Expiry) -> Result<Issued> {
        let grant = Grant {
            subject: Subject::Admin("cli".to_owned()),
            scopes: ScopeSet::admin(),
            expiry,
            format: Format::Paseto,
            name: Some("admin token"),
        };
        self.issue(actor, grant).await
    }

    async fn issue(&self, actor: &Actor, grant: Grant<'_>) -> Result<Issued> {
        let now = self.clock.unix();
        let field = match grant.expiry {
            Expiry::In(_) => "expires_in",
            Expiry::At(_) => "expires_at",
        };
        let expires_at = grant
            .expiry
            .resolve(now, self.policy.max_lifetime_for(&grant.subject))
            .map_err(|e| invalid(field, e.to_string()))?;
        // Only a valid request may generate the first key of a format.
        let keys = self.keys()?;
        let generated_key =
            super::keys::ensure_signing_key(&self.store, &keys, grant.format, self.clock.now())
                .await?;
        let snapshot = keys.snapshot();
        let key = snapshot
            .ring
            .active(grant.format, self.clock.now())
            .ok_or(Error::NoSigningKey(grant.format))?;
        let token_id = TokenId::generate();
        let claims = TokenClaims {
            token_id: token_id.to_string(),
            workspace: actor.workspace().to_string(),
            subject: grant.subject,
            scopes: grant.scopes,
            issued_at: now,
            not_before: now,
            expires_at,
        };
        // Sign before recording: if signing failed nothing would be stored, and if
        // recording fails the string is dropped unseen.
        let token = Zeroizing::new(key.key.sign(&claims, &self.policy)?);
        let app_id = claims.subject.app_id().and_then(AppId::parse);
        let mut tx = self.store.begin().await?;
        let record = tx
            .insert_token(&NewToken {
                id: &token_id,
                workspace_id: actor.workspace(),
                app_id: app_id.as_ref(),
                subject: &claims.subject.as_claim(),
                name: grant.name,
                scopes: &claims.scopes.to_claim(),
                format: grant.format,
                kid: key.kid(),
                issued_at: claims.issued_at,
                expires_at: claims.expires_at,
            })
            .await?;
        tx.commit().await?;
        Ok(Issued {
            record,
            token,
            generated_key,
        })
    }

    /// What the service would answer the token of `record` now: revoked,
    /// expired, refused for its key, or active.
    pub fn status_of(&self, record: &TokenRecord) -> TokenStatus {
        let now = self.clock.now();
        if record.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if record.expires_at <= now.unix_timestamp() {
            TokenStatus::Expired
        } else if !self.kid_verifies(&record.kid, now) {
            TokenStatus::KeyRetired
        } else {
            TokenStatus::Active
        }
    }

    /// Whether tokens signed by `kid` are accepted now (the key is in the
    /// ring and not retired). Without a readable key ring, no key is
    /// doubted.
    pub(super) fn kid_verifies(&self, kid: &str, now: time::OffsetDateTime) -> bool {
        let Ok(keys) = self.keys() else {
            return true;
        };
        let snapshot = keys.snapshot();
        let ring = &snapshot.ring;
        ring.entries()
            .iter()
            .find(|entry| entry.kid() == kid)
            .is_some_and(|entry| ring.status(entry, now) != KeyStatus::Retired)
    }

    /// A token of the actor's workspace, of `app` when one is named (a token
    /// of another app is not found there).
    pub async fn token(
        &self,
        actor: &Actor,
        app: Option<&AppId>,
        token: &TokenId,
    ) -> Result<TokenRecord> {
        let record = self.store.get_token(actor.workspace(), token).await?;
        if app.is_some() && record.app_id.as_ref() != app {
            return Err(crate::store::Error::not_found(TokenId::WHAT, token).into());
        }
        Ok(record)
    }

    /// Revokes a token until it expires: on record, and on this instance's
    /// denylist at once (other instances follow within their refresh).
    /// Revoking a revoked token changes nothing.
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        app: Option<&AppId>,
        token: &TokenId,
    ) -> Result<TokenRecord> {
        let record = self.token(actor, app, token).await?;
        let mut tx = self.store.begin().await?;
        let record = tx.revoke_token(&record, self.clock.now()).await?;
        tx.commit().await?;
        if let Some(denylist) = &self.denylist {
            denylist.revoke_token(record.id.as_str()).await;
        }
        Ok(record)
    }

    /// Revokes every token of an app and keeps the app: the app-wide cutoff
    /// that deleting it records (see [`crate::store::Tx::revoke_app_tokens`]
    /// for the tokens of the current second). Tokens issued after it work.
    pub async fn revoke_app_tokens(&self, actor: &Actor, app: &AppId) -> Result<()> {
        let now = self.clock.now();
        let keep_until = self.cutoff_kept_until(now);
        let mut tx = self.store.begin().await?;
        let one_by_one = tx
            .revoke_app_tokens(actor.workspace(), app, now, keep_until)
            .await?;
        tx.commit().await?;
        if let Some(denylist) = &self.denylist {
            denylist
                .set_cutoff(app.as_str(), now.unix_timestamp() - 1)
                .await;
            for (token, _) in one_by_one {
                denylist.revoke_token(token.as_str()).await;
            }
        }
        Ok(())
    }
}
