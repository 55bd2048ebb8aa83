//! Tokens: issue (signed by the active key of the format asked for, recorded
//! in the same step), roll (a new token replaces an old one, which is revoked
//! after an overlap) and revoke.

use zeroize::Zeroizing;

use super::{Actor, Error, Result, Service, invalid};
use crate::ids::{AppId, TokenId};
use crate::keys::Generated;
use crate::store;
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

/// What a roll asks for: the new token's expiry, how long the old token stays
/// valid, and what else changes (by default the old token's scopes, name and
/// format).
pub struct RollRequest {
    pub expiry: Expiry,
    /// Seconds the old token stays valid, 0 to [`MAX_OVERLAP`]; default
    /// [`DEFAULT_OVERLAP`]. Never past the old token's own expiry.
    pub overlap: Option<i64>,
    pub scopes: Option<Vec<String>>,
    pub name: Option<String>,
    pub format: Option<Format>,
}

/// How long a rolled token stays valid unless the roll says otherwise.
pub const DEFAULT_OVERLAP: i64 = 24 * 60 * 60;
/// The longest overlap a roll may ask for.
pub const MAX_OVERLAP: i64 = 7 * 24 * 60 * 60;

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
    /// Rolled: accepted until its scheduled revocation takes effect.
    Rolling,
    Expired,
    Revoked,
    /// The key that signed it is retired (or gone): it is refused.
    KeyRetired,
}

impl std::str::FromStr for TokenStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<TokenStatus, String> {
        [
            TokenStatus::Active,
            TokenStatus::Rolling,
            TokenStatus::Expired,
            TokenStatus::Revoked,
            TokenStatus::KeyRetired,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| {
            format!("unknown status `{s}`: use active, rolling, expired, revoked or key_retired")
        })
    }
}

impl TokenStatus {
    /// Whether the service accepts the token now.
    pub fn is_accepted(self) -> bool {
        matches!(self, TokenStatus::Active | TokenStatus::Rolling)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Rolling => "rolling",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
            TokenStatus::KeyRetired => "key_retired",
        }
    }
}

/// A signed token not yet recorded.
struct Signed {
    id: TokenId,
    claims: TokenClaims,
    token: Zeroizing<String>,
    format: Format,
    kid: String,
    generated_key: Option<Generated>,
}

impl Signed {
    /// The record to insert; `replaces` is the token a roll replaces.
    fn record<'a>(
        &'a self,
        actor: &'a Actor,
        app_id: Option<&'a AppId>,
        name: Option<&'a str>,
        subject: &'a str,
        scopes: &'a str,
        replaces: Option<&'a TokenId>,
    ) -> NewToken<'a> {
        NewToken {
            id: &self.id,
            workspace_id: actor.workspace(),
            app_id,
            subject,
            name,
            scopes,
            format: self.format,
            kid: &self.kid,
            issued_at: self.claims.issued_at,
            expires_at: self.claims.expires_at,
            replaces,
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
        let signed = self.sign(actor, &grant).await?;
        let app_id = signed.claims.subject.app_id().and_then(AppId::parse);
        let (subject, scopes) = (
            signed.claims.subject.as_claim(),
            signed.claims.scopes.to_claim(),
        );
        let mut tx = self.store.begin().await?;
        let record = tx
            .insert_token(&signed.record(
                actor,
                app_id.as_ref(),
                grant.name,
                &subject,
                &scopes,
                None,
            ))
            .await?;
        let event = actor.event("token.created", Some(("token", record.id.to_string())));
        let now = self.clock.now();
        tx.record_audit(actor.workspace(), event, now).await?;
        if record.app_id.is_some() {
            let data = super::webhooks::token_data(&record);
            self.queue_webhook(&mut tx, Some(actor.workspace()), "token.created", data, now)
                .await?;
        }
        tx.commit().await?;
        self.wake_deliverer();
        Ok(Issued {
            record,
            token: signed.token,
            generated_key: signed.generated_key,
        })
    }

    /// Signs the token a valid `grant` asks for, with the active key of its
    /// format (generating the first one if need be). Nothing is recorded:
    /// if recording fails, the string is dropped unseen.
    async fn sign(&self, actor: &Actor, grant: &Grant<'_>) -> Result<Signed> {
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
        let id = TokenId::generate();
        let claims = TokenClaims {
            token_id: id.to_string(),
            workspace: actor.workspace().to_string(),
            subject: grant.subject.clone(),
            scopes: grant.scopes,
            issued_at: now,
            not_before: now,
            expires_at,
        };
        let token = Zeroizing::new(key.key.sign(&claims, &self.policy)?);
        Ok(Signed {
            id,
            claims,
            token,
            format: grant.format,
            kid: key.kid().to_owned(),
            generated_key,
        })
    }

    /// Rolls a token: issues its successor (by default with its scopes, name
    /// and format) and schedules its revocation `overlap` from now (never
    /// past its own expiry), in one transaction. The successor's record names
    /// the token it replaces. A revoked, expired, key-retired or already
    /// rolled token cannot be rolled (a conflict saying which).
    pub async fn roll_token(
        &self,
        actor: &Actor,
        app: &AppId,
        token: &TokenId,
        request: RollRequest,
    ) -> Result<Issued> {
        let app = self.app(actor, app).await?;
        let old = self.token(actor, Some(&app.id), token).await?;
        if let Some(successor) = &old.replaced_by {
            return Err(conflict(format!(
                "token `{}` was already rolled: its successor is `{successor}`",
                old.id
            )));
        }
        match self.status_of(&old) {
            TokenStatus::Active => {}
            TokenStatus::Revoked => {
                return Err(conflict(format!("token `{}` is revoked", old.id)));
            }
            TokenStatus::Expired => {
                return Err(conflict(format!("token `{}` has expired", old.id)));
            }
            TokenStatus::KeyRetired => {
                return Err(conflict(format!(
                    "token `{}` is refused already: the key that signed it was retired",
                    old.id
                )));
            }
            TokenStatus::Rolling => {
                return Err(conflict(format!("token `{}` was already rolled", old.id)));
            }
        }
        let overlap = request.overlap.unwrap_or(DEFAULT_OVERLAP);
        if !(0..=MAX_OVERLAP).contains(&overlap) {
            return Err(invalid(
                "overlap",
                "the old token may stay valid from 0 seconds to 7 days (7d)",
            ));
        }
        let name = request.name.or_else(|| old.name.clone());
        if let Some(name) = &name {
            text::NAME.check("name", name)?;
        }
        let scopes = match &request.scopes {
            Some(scopes) => ScopeSet::parse_for_app(scopes),
            None => ScopeSet::parse_for_app(&old.scopes),
        }
        .map_err(|e| invalid("scopes", e.to_string()))?;
        let grant = Grant {
            subject: Subject::App(app.id.to_string()),
            scopes,
            expiry: request.expiry,
            format: request.format.unwrap_or(old.format),
            name: name.as_deref(),
        };
        let signed = self.sign(actor, &grant).await?;
        let takes_effect = (self.clock.unix() + overlap).min(old.expires_at);
        let (subject, scopes) = (
            signed.claims.subject.as_claim(),
            signed.claims.scopes.to_claim(),
        );
        let mut tx = self.store.begin().await?;
        let record = tx
            .insert_token(&signed.record(
                actor,
                Some(&app.id),
                grant.name,
                &subject,
                &scopes,
                Some(&old.id),
            ))
            .await?;
        tx.record_roll(&old, &record.id, takes_effect, self.clock.now())
            .await?;
        let mut event = actor.event("token.rolled", Some(("token", old.id.to_string())));
        event.changes = Some(serde_json::json!({
            "replaced_by": [null, record.id],
            "revoked_at": [null, crate::clock::rfc3339(takes_effect)],
        }));
        let now = self.clock.now();
        tx.record_audit(actor.workspace(), event, now).await?;
        let mut data = super::webhooks::token_data(&old);
        data["replaced_by"] = serde_json::json!(record.id);
        data["revoked_at"] = crate::clock::rfc3339(takes_effect).into();
        self.queue_webhook(&mut tx, Some(actor.workspace()), "token.rolled", data, now)
            .await?;
        tx.commit().await?;
        self.wake_deliverer();
        if let Some(denylist) = &self.denylist {
            denylist
                .schedule_revocation(old.id.as_str(), takes_effect, old.expires_at)
                .await;
        }
        Ok(Issued {
            record,
            token: signed.token,
            generated_key: signed.generated_key,
        })
    }

    /// What the service would answer the token of `record` now: revoked,
    /// expired, refused for its key, or active.
    pub fn status_of(&self, record: &TokenRecord) -> TokenStatus {
        let now = self.clock.now();
        if record.revoked_at.is_some_and(|at| at <= now) {
            TokenStatus::Revoked
        } else if record.expires_at <= now.unix_timestamp() {
            TokenStatus::Expired
        } else if !self.kid_verifies(&record.kid, now) {
            TokenStatus::KeyRetired
        } else if record.revoked_at.is_some() {
            TokenStatus::Rolling
        } else {
            TokenStatus::Active
        }
    }

    /// The app tokens of the actor's workspace (every app), soonest to
    /// expire first: with `expiring_within`, only those accepted now that
    /// expire within it; with `status`, only those of that status.
    pub async fn workspace_tokens(
        &self,
        actor: &Actor,
        expiring_within: Option<time::Duration>,
        status: Option<TokenStatus>,
    ) -> Result<Vec<(TokenRecord, TokenStatus)>> {
        let tokens = self.store.list_workspace_tokens(actor.workspace()).await?;
        Ok(tokens
            .into_iter()
            .map(|t| {
                let status = self.status_of(&t);
                (t, status)
            })
            .filter(|(t, s)| {
                let expiring = expiring_within.is_none_or(|within| self.expires_within(t, within));
                expiring && status.is_none_or(|wanted| *s == wanted)
            })
            .collect())
    }

    /// Whether the token of `record` is accepted now and expires within
    /// `within`: one to warn of.
    pub fn expires_within(&self, record: &TokenRecord, within: time::Duration) -> bool {
        let horizon = (self.clock.now() + within).unix_timestamp();
        self.status_of(record).is_accepted() && record.expires_at <= horizon
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
        let was_accepted = self.status_of(&record).is_accepted();
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let record = tx.revoke_token(&record, now).await?;
        let event = actor.event("token.revoked", Some(("token", record.id.to_string())));
        tx.record_audit(actor.workspace(), event, now).await?;
        // Revoking a revoked or expired token changes nothing to announce.
        if was_accepted && record.app_id.is_some() {
            let mut data = super::webhooks::token_data(&record);
            data["revoked_at"] = crate::clock::rfc3339_precise(now).into();
            self.queue_webhook(&mut tx, Some(actor.workspace()), "token.revoked", data, now)
                .await?;
        }
        tx.commit().await?;
        self.wake_deliverer();
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
        // The tokens this refuses, each announced as revoked.
        let accepted: Vec<TokenRecord> = self
            .store
            .list_tokens(actor.workspace(), app)
            .await?
            .into_iter()
            .filter(|t| self.status_of(t).is_accepted())
            .collect();
        let mut tx = self.store.begin().await?;
        let one_by_one = tx
            .revoke_app_tokens(actor.workspace(), app, now, keep_until)
            .await?;
        let event = actor.event("app.tokens_revoked", Some(("app", app.to_string())));
        tx.record_audit(actor.workspace(), event, now).await?;
        for token in &accepted {
            let mut data = super::webhooks::token_data(token);
            data["revoked_at"] = crate::clock::rfc3339_precise(now).into();
            self.queue_webhook(&mut tx, Some(actor.workspace()), "token.revoked", data, now)
                .await?;
        }
        tx.commit().await?;
        self.wake_deliverer();
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

fn conflict(message: String) -> Error {
    Error::Store(store::Error::Conflict(message))
}
