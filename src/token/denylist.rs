//! Revocation as data: revoked token ids and per-app cutoffs. Held in memory by
//! verifiers, so checking it touches no database; it is consulted only after a
//! token's signature and claims have passed.
//!
//! Each entry may carry the time after which it denies nothing more (the
//! revoked token's `exp`, or the last `exp` any token of the app can have), so
//! a verifier following the revocation feed can [`Denylist::prune`] it.

use std::collections::HashMap;

use super::{Error, TokenClaims, UnixTime};

/// The expiry of an entry whose expiry is not known: never pruned.
const FOREVER: UnixTime = UnixTime::MAX;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denylist {
    /// Token id → the token's `exp`.
    tokens: HashMap<String, UnixTime>,
    /// `client_id` → (cutoff, the entry's expiry).
    cutoffs: HashMap<String, (UnixTime, UnixTime)>,
}

impl Denylist {
    pub fn new() -> Denylist {
        Denylist::default()
    }

    /// Revokes one token by id (`jti`), for good.
    pub fn revoke_token(&mut self, token_id: impl Into<String>) {
        self.revoke_token_until(token_id, FOREVER);
    }

    /// Revokes one token by id (`jti`); the entry can be pruned once the
    /// token's `expires_at` has passed. Of two expiries for one id, the later
    /// one is kept.
    pub fn revoke_token_until(&mut self, token_id: impl Into<String>, expires_at: UnixTime) {
        let entry = self.tokens.entry(token_id.into()).or_insert(expires_at);
        *entry = (*entry).max(expires_at);
    }

    /// Revokes every token of `client_id` issued at or before `cutoff`, for good.
    pub fn set_cutoff(&mut self, client_id: impl Into<String>, cutoff: UnixTime) {
        self.set_cutoff_until(client_id, cutoff, FOREVER);
    }

    /// Revokes every token of `client_id` issued at or before `cutoff`; the
    /// entry can be pruned after `expires_at`, when no such token is valid any
    /// more. Cutoffs only move forward.
    pub fn set_cutoff_until(
        &mut self,
        client_id: impl Into<String>,
        cutoff: UnixTime,
        expires_at: UnixTime,
    ) {
        let entry = self
            .cutoffs
            .entry(client_id.into())
            .or_insert((cutoff, expires_at));
        *entry = (entry.0.max(cutoff), entry.1.max(expires_at));
    }

    /// Drops the entries that expired before `horizon` (a verifier passes its
    /// time minus the leeway): the tokens they deny are refused as expired
    /// anyway. Returns how many went.
    pub fn prune(&mut self, horizon: UnixTime) -> usize {
        let before = self.len();
        self.tokens.retain(|_, expires_at| *expires_at >= horizon);
        self.cutoffs
            .retain(|_, (_, expires_at)| *expires_at >= horizon);
        before - self.len()
    }

    pub fn is_token_revoked(&self, token_id: &str) -> bool {
        self.tokens.contains_key(token_id)
    }

    /// The cutoff of `client_id`, if any.
    pub fn cutoff(&self, client_id: &str) -> Option<UnixTime> {
        self.cutoffs.get(client_id).map(|(cutoff, _)| *cutoff)
    }

    pub fn len(&self) -> usize {
        self.tokens.len() + self.cutoffs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Err(Revoked)` when the token id is denied or the token was issued at or
    /// before its app's cutoff (the boundary is inclusive: `iat` has one-second
    /// granularity, so a token from the cutoff's second may predate it).
    pub fn check(&self, claims: &TokenClaims) -> Result<(), Error> {
        if self.tokens.contains_key(&claims.token_id) {
            return Err(Error::Revoked);
        }
        let client = claims.subject.as_claim();
        if self
            .cutoffs
            .get(client.as_ref())
            .is_some_and(|(cutoff, _)| claims.issued_at <= *cutoff)
        {
            return Err(Error::Revoked);
        }
        Ok(())
    }
}
