//! The token core: claims, scopes, issuing and verifying PASETO v4.public and
//! JWT (RFC 9068) tokens, and reading the signed revocation feed. Pure: no I/O,
//! no clock of its own (callers pass `now`), no async. This module is all a
//! downstream verifier needs (feature `verifier`).
//!
//! ```
//! use informly::token::{Format, KeySet, KeyStatus, Policy, Scope, ScopeSet, SigningKey,
//!     Subject, TokenClaims, Verifier};
//!
//! let now = 1_800_000_000;
//! let key = SigningKey::generate(Format::Paseto)?;
//! let claims = TokenClaims {
//!     token_id: "tok_01J0000000000000000000000A".into(),
//!     workspace: "ws_01J0000000000000000000000B".into(),
//!     subject: Subject::App("app_01J0000000000000000000000C".into()),
//!     scopes: ScopeSet::parse_for_app(["contacts:read"])?,
//!     issued_at: now,
//!     not_before: now,
//!     expires_at: now + 3600,
//! };
//! let token = key.sign(&claims, &Policy::default())?;
//!
//! // A downstream service knows only the public keys (e.g. from paserk.json).
//! let mut keys = KeySet::new();
//! keys.insert(key.public_key(), KeyStatus::Active)?;
//! let verifier = Verifier::new(keys, Policy::default());
//! let verified = verifier.verify(&token, now + 10)?;
//! assert!(verified.scopes().contains(Scope::CONTACTS_READ));
//! assert!(!verified.scopes().contains(Scope::CONTACTS_WRITE));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod claims;
mod denylist;
pub mod expiry;
mod feed;
pub(crate) mod json;
mod jwt;
mod keys;
mod paseto;
mod scope;
mod verify;

pub use claims::{Policy, Subject, TokenClaims, UnixTime, is_prefixed_id};
pub use denylist::Denylist;
pub use expiry::{Expiry, ExpiryError};
pub use feed::{AppCutoff, FEED_ASSERTION, FeedError, MAX_FEED_LEN, RevocationFeed, RevokedToken};
pub use keys::{
    Jwk, Jwks, KeyError, KeySet, KeyStatus, PaserkKey, PaserkKeySet, PublicKey, SigningKey,
    jwt_kid, paseto_kid,
};
pub use scope::{MODULES, Module, Scope, ScopeError, ScopeSet};
pub use verify::{MissingScope, Verified, Verifier};

/// The PASETO v4.public signature check alone, on raw key bytes: exposed for
/// the differential test and fuzz target that hold it to pasetors' answers
/// ([`paseto_signature_by_pasetors`]), and for the Wycheproof cases.
#[doc(hidden)]
pub fn paseto_signature(key: &[u8; 32], token: &str, implicit: &[u8]) -> Result<Vec<u8>, Error> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(key).ok();
    paseto::verify(key.as_ref(), token, implicit)
}

#[doc(hidden)]
pub use paseto::verify_with_pasetors as paseto_signature_by_pasetors;

use std::fmt;
use std::str::FromStr;

/// Tokens longer than this are rejected before any decoding work.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The two token formats. A key belongs to exactly one of them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Paseto,
    Jwt,
}

impl Format {
    pub const ALL: [Format; 2] = [Format::Paseto, Format::Jwt];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Paseto => "paseto",
            Format::Jwt => "jwt",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "paseto" => Ok(Format::Paseto),
            "jwt" => Ok(Format::Jwt),
            other => Err(format!(
                "unknown token format `{other}`: expected paseto or jwt"
            )),
        }
    }
}

/// Why a token was rejected. Variants are exact so tests (and logs) can tell the
/// rules apart; the HTTP layer shows clients only "expired", "not yet valid" or a
/// generic "invalid token", so none of this leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLarge,
    #[error("token is neither v4.public PASETO nor a JWT")]
    UnsupportedFormat,
    #[error("token is not well formed")]
    Malformed,
    #[error("token encoding is not canonical")]
    NonCanonical,
    #[error("token footer is not exactly {{\"kid\": …}}")]
    BadFooter,
    #[error("token names no key id")]
    MissingKeyId,
    #[error("token names an unknown key")]
    UnknownKey,
    #[error("token was signed by a retired key")]
    RetiredKey,
    #[error("token names a key of the other format")]
    WrongKeyFormat,
    #[error("token algorithm is not EdDSA")]
    Algorithm,
    #[error("token type is not at+jwt")]
    WrongType,
    #[error("token header carries a forbidden parameter (crit, jwk, jku, x5u, x5c, cty, …)")]
    ForbiddenHeader,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token claims are missing, duplicated or of the wrong type")]
    InvalidClaims,
    #[error("token issuer is wrong")]
    WrongIssuer,
    #[error("token audience is wrong")]
    WrongAudience,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token lifetime exceeds the maximum")]
    LifetimeTooLong,
    #[error("token has been revoked")]
    Revoked,
    #[error("signing failed")]
    Signing,
}
