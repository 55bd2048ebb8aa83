//! The verifier: one entry point for both formats, in the order that keeps
//! garbage cheap — size, format, key id, key lookup (in memory), signature, and
//! only then the claims.

use std::borrow::Cow;

use super::claims::{TokenClaims, parse_wire};
use super::keys::PublicInner;
use super::{Error, Format, KeySet, MAX_TOKEN_LEN, Policy, Scope, ScopeSet, UnixTime, jwt, paseto};

/// A token that passed every rule but revocation (see [`super::Denylist`]).
/// Only the verifier makes one: the fields are private, so holding a
/// `Verified` means a signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    claims: TokenClaims,
    format: Format,
    kid: String,
}

impl Verified {
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The id of the key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The app the token speaks for; `None` for an admin token.
    pub fn app_id(&self) -> Option<&str> {
        self.claims.subject.app_id()
    }

    /// The workspace the token belongs to.
    pub fn workspace(&self) -> &str {
        &self.claims.workspace
    }

    pub fn scopes(&self) -> ScopeSet {
        self.claims.scopes
    }

    /// One call for a route's requirement: `Err` names the missing scope, so
    /// a service can answer 403 `insufficient_scope` with it.
    pub fn require(&self, scope: Scope) -> Result<&Verified, MissingScope> {
        if self.claims.scopes.contains(scope) {
            Ok(self)
        } else {
            Err(MissingScope(scope))
        }
    }
}

/// A verified token lacks the scope a route requires (HTTP 403, not 401: the
/// token is fine, it just does not allow this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("token lacks the scope {0}")]
pub struct MissingScope(pub Scope);

/// Verifies tokens against a set of public keys and a policy.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeySet,
    policy: Policy,
}

impl Verifier {
    pub fn new(keys: KeySet, policy: Policy) -> Verifier {
        Verifier { keys, policy }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Verifies `token` at time `now`. The format is read from the token itself.
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<Verified, Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::TooLarge);
        }
        if token.starts_with(paseto::HEADER) {
            self.verify_paseto(token, now)
        } else if token.starts_with("eyJ") {
            self.verify_jwt(token, now)
        } else {
            Err(Error::UnsupportedFormat)
        }
    }

    fn verify_paseto(&self, token: &str, now: UnixTime) -> Result<Verified, Error> {
        let kid = paseto::key_id(token)?;
        let PublicInner::Paseto(key) = self.key(&kid, Format::Paseto)? else {
            return Err(Error::WrongKeyFormat);
        };
        let message = paseto::verify(key.as_ref(), token, paseto::TOKEN_ASSERTION)?;
        let wire = parse_wire::<Cow<str>>(&message)?;
        let claims = TokenClaims::from_wire(wire, &self.policy, now)?;
        Ok(Verified {
            claims,
            format: Format::Paseto,
            kid,
        })
    }

    fn verify_jwt(&self, token: &str, now: UnixTime) -> Result<Verified, Error> {
        let parts = jwt::parse(token)?;
        let PublicInner::Jwt(key) = self.key(&parts.kid, Format::Jwt)? else {
            return Err(Error::WrongKeyFormat);
        };
        let payload = parts.verify(key.as_ref())?;
        let wire = parse_wire::<i64>(&payload)?;
        let claims = TokenClaims::from_wire(wire, &self.policy, now)?;
        Ok(Verified {
            claims,
            format: Format::Jwt,
            kid: parts.kid,
        })
    }

    /// Re-checks a token verified earlier (e.g. held in a cache) at `now`: its
    /// key must still be known and not retired, and its times must hold. The
    /// signature and the claims that do not change with time need no second look.
    pub fn recheck(&self, verified: &Verified, now: UnixTime) -> Result<(), Error> {
        self.key(&verified.kid, verified.format)?;
        verified.claims.check_time(&self.policy, now)
    }

    /// The key named by `kid`, if it exists, verifies, and is of `format`.
    fn key(&self, kid: &str, format: Format) -> Result<&PublicInner, Error> {
        self.keys.verifying_key(kid, format)
    }
}
