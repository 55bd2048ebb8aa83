//! PASETO v4.public: signing and the checks before and around pasetors' verify.
//!
//! pasetors checks the header, strict base64 and the signature. We add what our
//! contract asks beyond the spec: a footer that is exactly `{"kid":"k4.pid.…"}`
//! and canonical token strings (no empty trailing footer).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::token::{Public, TrustedToken, UntrustedToken};
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Serialize};

use super::Error;

pub(super) const HEADER: &str = "v4.public.";

/// The one footer we write and accept.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer<'a> {
    #[serde(borrow)]
    kid: Cow<'a, str>,
}

/// The implicit assertion (PASETO §"Implicit Assertions") of access tokens:
/// none, i.e. empty. Other documents we sign, such as the revocation feed, bind
/// a distinct one into the signature, so that one kind never verifies as the
/// other.
pub(super) const TOKEN_ASSERTION: &[u8] = b"";

pub(super) fn sign(
    secret: &AsymmetricSecretKey<V4>,
    kid: &str,
    payload: &[u8],
    implicit: &[u8],
) -> Result<String, Error> {
    let footer = serde_json::to_vec(&Footer {
        kid: Cow::Borrowed(kid),
    })
    .map_err(|_| Error::Signing)?;
    sign_asserting(secret, payload, &footer, implicit)
}

pub(super) fn sign_raw(
    secret: &AsymmetricSecretKey<V4>,
    payload: &[u8],
    footer: &[u8],
) -> Result<String, Error> {
    sign_asserting(secret, payload, footer, TOKEN_ASSERTION)
}

pub(super) fn sign_asserting(
    secret: &AsymmetricSecretKey<V4>,
    payload: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> Result<String, Error> {
    let footer = (!footer.is_empty()).then_some(footer);
    PublicToken::sign(secret, payload, footer, Some(implicit)).map_err(|_| Error::Signing)
}

/// Reads the key id from the footer, before the signature is checked. This is
/// the only footer field we read untrusted, and only to pick a key.
pub(super) fn key_id(token: &str) -> Result<String, Error> {
    let body = token.strip_prefix(HEADER).ok_or(Error::UnsupportedFormat)?;
    let mut parts = body.split('.');
    let (Some(message), footer) = (parts.next(), parts.next()) else {
        return Err(Error::Malformed);
    };
    if message.is_empty() || parts.next().is_some() {
        return Err(Error::Malformed);
    }
    let footer = match footer {
        None => return Err(Error::MissingKeyId),
        // `v4.public.<m>.`: a second spelling of a footer-less token.
        Some("") => return Err(Error::NonCanonical),
        Some(footer) => footer,
    };
    let footer = URL_SAFE_NO_PAD
        .decode(footer)
        .map_err(|_| Error::NonCanonical)?;
    if footer.first() != Some(&b'{') {
        return Err(Error::BadFooter);
    }
    let footer: Footer = serde_json::from_slice(&footer).map_err(|_| Error::BadFooter)?;
    if !is_pid(&footer.kid) {
        return Err(Error::BadFooter);
    }
    Ok(footer.kid.into_owned())
}

/// `k4.pid.` and 44 base64url characters. Any other PASERK type (`k4.public`,
/// `k4.lid`, `k4.sid`, …) is refused: a key never comes from the token.
fn is_pid(kid: &str) -> bool {
    kid.strip_prefix("k4.pid.").is_some_and(|id| {
        id.len() == 44
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Checks the signature, with the implicit assertion `implicit` (see
/// [`TOKEN_ASSERTION`]); the trusted token holds the payload.
pub(super) fn verify(
    key: &AsymmetricPublicKey<V4>,
    token: &str,
    implicit: &[u8],
) -> Result<TrustedToken, Error> {
    let untrusted = UntrustedToken::<Public, V4>::try_from(token).map_err(|e| match e {
        pasetors::errors::Error::Base64 => Error::NonCanonical,
        _ => Error::Malformed,
    })?;
    PublicToken::verify(key, &untrusted, None, Some(implicit)).map_err(|_| Error::BadSignature)
}
