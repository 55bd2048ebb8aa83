//! Revocation as data: revoked token ids and per-app cutoffs. Held in memory by
//! verifiers, so checking it touches no database; it is consulted only after a
//! token's signature and claims have passed.

use std::collections::{HashMap, HashSet};

use super::{Error, TokenClaims, UnixTime};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Denylist {
    tokens: HashSet<String>,
    cutoffs: HashMap<String, UnixTime>,
}

impl Denylist {
    pub fn new() -> Denylist {
        Denylist::default()
    }

    /// Revokes one token by id (`jti`).
    pub fn revoke_token(&mut self, token_id: impl Into<String>) {
        self.tokens.insert(token_id.into());
    }

    /// Revokes every token of `client_id` issued at or before `cutoff`.
    pub fn set_cutoff(&mut self, client_id: impl Into<String>, cutoff: UnixTime) {
        let entry = self.cutoffs.entry(client_id.into()).or_insert(cutoff);
        *entry = (*entry).max(cutoff);
    }

    pub fn is_token_revoked(&self, token_id: &str) -> bool {
        self.tokens.contains(token_id)
    }

    /// The cutoff of `client_id`, if any.
    pub fn cutoff(&self, client_id: &str) -> Option<UnixTime> {
        self.cutoffs.get(client_id).copied()
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
        if self.tokens.contains(&claims.token_id) {
            return Err(Error::Revoked);
        }
        let client = claims.subject.as_claim();
        if self
            .cutoffs
            .get(client.as_ref())
            .is_some_and(|cutoff| claims.issued_at <= *cutoff)
        {
            return Err(Error::Revoked);
        }
        Ok(())
    }
}
