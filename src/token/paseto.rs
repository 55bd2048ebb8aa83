//! PASETO v4.public, signed and verified with ed25519-dalek.
//!
//! Signing and verifying are PASETO's `v4.Sign` and `v4.Verify`
//! (specification §4.3): the header, strict base64, then the Ed25519
//! signature over the pre-authentication encoding of the header, message,
//! footer and implicit assertion. Verification is dalek's strict one
//! (small-order and non-canonical points refused). dalek is the crate JWT
//! uses too, and the fastest pure-Rust Ed25519 here: pasetors signs and
//! verifies with ed25519-compact, 1.4× slower to verify. pasetors keeps keys
//! and PASERK, and is the oracle a test and a fuzz target hold our
//! verification to. We add what our contract asks beyond the spec: a footer
//! that is exactly `{"kid":"k4.pid.…"}` and canonical token strings (no
//! empty trailing footer).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
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
    key: &ed25519_dalek::SigningKey,
    kid: &str,
    payload: &[u8],
    implicit: &[u8],
) -> Result<String, Error> {
    let footer = serde_json::to_vec(&Footer {
        kid: Cow::Borrowed(kid),
    })
    .map_err(|_| Error::Signing)?;
    Ok(sign_asserting(key, payload, &footer, implicit))
}

pub(super) fn sign_raw(
    key: &ed25519_dalek::SigningKey,
    payload: &[u8],
    footer: &[u8],
) -> Result<String, Error> {
    Ok(sign_asserting(key, payload, footer, TOKEN_ASSERTION))
}

/// PASETO's `v4.Sign` (specification §4.3): the Ed25519 signature over
/// PAE(header, message, footer, implicit assertion), appended to the
/// message; the footer, if any, after a dot. Ed25519 signatures are
/// deterministic: the same token pasetors would make, byte for byte (the
/// official vectors check it).
fn sign_asserting(
    key: &ed25519_dalek::SigningKey,
    payload: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> String {
    use ed25519_dalek::Signer as _;
    let signature = key.sign(&pae(&[HEADER.as_bytes(), payload, footer, implicit]));
    let mut body = Vec::with_capacity(payload.len() + SIGNATURE_LEN);
    body.extend_from_slice(payload);
    body.extend_from_slice(&signature.to_bytes());
    let mut token = String::with_capacity(HEADER.len() + (body.len() + footer.len()) * 4 / 3 + 4);
    token.push_str(HEADER);
    URL_SAFE_NO_PAD.encode_string(&body, &mut token);
    if !footer.is_empty() {
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(footer, &mut token);
    }
    token
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

/// The length of an Ed25519 signature, at the end of a v4.public token's
/// decoded body.
const SIGNATURE_LEN: usize = 64;

/// Checks the signature of a v4.public token with the implicit assertion
/// `implicit` (see [`TOKEN_ASSERTION`]) and returns its message (the
/// claims). `key` is `None` for bytes that are not a curve point.
///
/// The answers are pasetors' (the verifier before this one, kept as the
/// oracle of the `paseto_signature` fuzz target): a body that is not canonical base64 is `NonCanonical`, one too
/// short to hold a message and a signature is `Malformed`, and a message
/// that is not UTF-8 is refused like a bad signature.
pub(super) fn verify(
    key: Option<&VerifyingKey>,
    token: &str,
    implicit: &[u8],
) -> Result<Vec<u8>, Error> {
    // In pasetors' order: the parts, the body, its length, then the footer.
    let body = token.strip_prefix(HEADER).ok_or(Error::Malformed)?;
    let mut parts = body.split('.');
    let (signed, footer) = (parts.next().unwrap_or_default(), parts.next());
    if signed.is_empty() || parts.next().is_some() {
        return Err(Error::Malformed);
    }
    let mut signed = URL_SAFE_NO_PAD
        .decode(signed)
        .map_err(|_| Error::NonCanonical)?;
    // At least one byte of message: pasetors refuses an empty one.
    if signed.len() <= SIGNATURE_LEN {
        return Err(Error::Malformed);
    }
    let footer = URL_SAFE_NO_PAD
        .decode(footer.unwrap_or_default())
        .map_err(|_| Error::NonCanonical)?;
    let split = signed.len() - SIGNATURE_LEN;
    let signature = Signature::from_slice(&signed[split..]).map_err(|_| Error::BadSignature)?;
    let message = &signed[..split];
    let key = key.ok_or(Error::BadSignature)?;
    key.verify_strict(
        &pae(&[HEADER.as_bytes(), message, &footer, implicit]),
        &signature,
    )
    .map_err(|_| Error::BadSignature)?;
    if std::str::from_utf8(message).is_err() {
        return Err(Error::BadSignature);
    }
    signed.truncate(split);
    Ok(signed)
}

/// PAE, the pre-authentication encoding (PASETO specification §2.2): the
/// number of pieces, then each piece's length and bytes, every number a
/// little-endian 64-bit integer with its top bit clear.
fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let total = 8 + pieces.iter().map(|piece| 8 + piece.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    let le64 = |n: usize| ((n as u64) & (u64::MAX >> 1)).to_le_bytes();
    out.extend_from_slice(&le64(pieces.len()));
    for piece in pieces {
        out.extend_from_slice(&le64(piece.len()));
        out.extend_from_slice(piece);
    }
    out
}

/// The same check through pasetors: the oracle the tests and the fuzz
/// target compare [`verify`] with.
#[doc(hidden)]
pub fn verify_with_pasetors(
    key: &[u8; 32],
    token: &str,
    implicit: &[u8],
) -> Result<Vec<u8>, Error> {
    use pasetors::keys::AsymmetricPublicKey;
    use pasetors::token::{Public, UntrustedToken};
    let key = AsymmetricPublicKey::<V4>::from(key).map_err(|_| Error::BadSignature)?;
    let untrusted = UntrustedToken::<Public, V4>::try_from(token).map_err(|e| match e {
        pasetors::errors::Error::Base64 => Error::NonCanonical,
        _ => Error::Malformed,
    })?;
    let trusted = PublicToken::verify(&key, &untrusted, None, Some(implicit))
        .map_err(|_| Error::BadSignature)?;
    Ok(trusted.payload().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_encodes_the_specifications_examples() {
        // PASETO specification §2.2.1.
        assert_eq!(pae(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(
            pae(&[b""]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        );
        assert_eq!(
            pae(&[b"test"]),
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00test"
        );
    }
}
