//! Revocation as data: revoked token ids and per-app cutoffs. Held in memory by
//! verifiers, so checking it touches no database; it is consulted only after a
//! token's signature and claims have passed.
//!
//! Each entry may carry the time after which it denies nothing more (the
//! revoked token's `exp`, or the last `exp` any token of the app can have), so
//! a verifier following the revocation feed can [`Denylist::prune`] it.
//!
//! A token's revocation may be scheduled: a rolled token stays valid until its
//! revocation takes effect, and is refused from that second on. The schedule
//! is known in advance, so every verifier refuses it at the same second, even
//! one that cannot reach the service at that moment.

use std::collections::HashMap;

use super::{Error, TokenClaims, UnixTime};

/// The expiry of an entry whose expiry is not known: never pruned.
const FOREVER: UnixTime = UnixTime::MAX;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denylist {
    /// Token id → (the second its revocation takes effect, the token's `exp`).
    tokens: HashMap<String, (UnixTime, UnixTime)>,
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

    /// Revokes one token by id (`jti`) at once; the entry can be pruned once
    /// the token's `expires_at` has passed.
    pub fn revoke_token_until(&mut self, token_id: impl Into<String>, expires_at: UnixTime) {
        self.schedule_revocation(token_id, UnixTime::MIN, expires_at);
    }

    /// Revokes one token by id (`jti`) from the second `from` on: before it
    /// the token is accepted, from it refused. Of two schedules for one id the
    /// earlier `from` wins (a revocation now overrides a roll's overlap), and
    /// of two expiries the later.
    pub fn schedule_revocation(
        &mut self,
        token_id: impl Into<String>,
        from: UnixTime,
        expires_at: UnixTime,
    ) {
        let entry = self
            .tokens
            .entry(token_id.into())
            .or_insert((from, expires_at));
        *entry = (entry.0.min(from), entry.1.max(expires_at));
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
        self.tokens
            .retain(|_, (_, expires_at)| *expires_at >= horizon);
        self.cutoffs
            .retain(|_, (_, expires_at)| *expires_at >= horizon);
        before - self.len()
    }

    /// Whether `token_id` has an entry, in effect or scheduled.
    pub fn is_token_revoked(&self, token_id: &str) -> bool {
        self.tokens.contains_key(token_id)
    }

    /// The second from which `token_id` is refused, if it has an entry
    /// (`UnixTime::MIN`: at once).
    pub fn revoked_from(&self, token_id: &str) -> Option<UnixTime> {
        self.tokens.get(token_id).map(|(from, _)| *from)
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

    /// `Err(Revoked)` at `now` when the token id's revocation has taken
    /// effect, or the token was issued at or before its app's cutoff (the
    /// boundary is inclusive: `iat` has one-second granularity, so a token
    /// from the cutoff's second may predate it).
    pub fn check(&self, claims: &TokenClaims, now: UnixTime) -> Result<(), Error> {
        if self
            .tokens
            .get(&claims.token_id)
            .is_some_and(|(from, _)| now >= *from)
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{ScopeSet, Subject};

    const NOW: UnixTime = 1_800_000_000;
    const TOKEN: &str = "tok_01J0000000000000000000000A";

    fn claims() -> TokenClaims {
        TokenClaims {
            token_id: TOKEN.to_owned(),
            workspace: "ws_01J0000000000000000000000B".to_owned(),
            subject: Subject::App("app_01J0000000000000000000000C".to_owned()),
            scopes: ScopeSet::EMPTY,
            issued_at: NOW - 100,
            not_before: NOW - 100,
            expires_at: NOW + 3600,
        }
    }

    #[test]
    fn a_scheduled_revocation_accepts_the_token_until_the_second_before_and_refuses_it_from_then() {
        let mut denylist = Denylist::new();
        denylist.schedule_revocation(TOKEN, NOW + 60, NOW + 3600);
        assert_eq!(denylist.check(&claims(), NOW + 59), Ok(()));
        assert_eq!(denylist.check(&claims(), NOW + 60), Err(Error::Revoked));
        assert_eq!(denylist.revoked_from(TOKEN), Some(NOW + 60));

        // A later schedule does not postpone it; a revocation now brings it
        // forward.
        denylist.schedule_revocation(TOKEN, NOW + 600, NOW + 3600);
        assert_eq!(denylist.check(&claims(), NOW + 60), Err(Error::Revoked));
        denylist.revoke_token_until(TOKEN, NOW + 3600);
        assert_eq!(denylist.check(&claims(), NOW), Err(Error::Revoked));
        assert_eq!(denylist.revoked_from(TOKEN), Some(UnixTime::MIN));

        // Pruned with the token's expiry, like any entry.
        assert_eq!(denylist.prune(NOW + 3601), 1);
        assert!(denylist.is_empty());
    }
}
