//! JWT access tokens (RFC 9068) signed with EdDSA.
//!
//! The Ed25519 signature is ed25519-dalek's, the crate behind jsonwebtoken's
//! `rust_crypto` backend, called with keys prepared once: jsonwebtoken's
//! `crypto::sign`/`verify` re-parse the key on every call (a PKCS#8 parse and a
//! public-key derivation to sign, a point decompression to verify), which more
//! than doubled the cost of issuing. jsonwebtoken still computes the key ids
//! (RFC 7638 thumbprints) and checks our tokens in the tests. The header is
//! parsed here, strictly (`typ`, `crit` and embedded keys are ours to check
//! anyway), and the claims go through the same rules as PASETO so both formats
//! answer alike.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::Error;

/// The header we write: `{"alg":"EdDSA","typ":"at+jwt","kid":…}`.
#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The header we accept. Any member not named here is refused; the ones named
/// only to be refused get their own error so logs say what was tried.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderIn<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    jwk: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    jku: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    x5u: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    x5c: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    cty: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    b64: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    zip: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    enc: Option<IgnoredAny>,
}

/// `Some` for a member that is there at all, `null` included: a plain
/// `Option` reads `"crit": null` as no `crit`, and would let the header through
/// (SECURITY.md D7).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<IgnoredAny>, D::Error> {
    IgnoredAny::deserialize(d).map(Some)
}

impl HeaderIn<'_> {
    fn has_forbidden_member(&self) -> bool {
        self.crit.is_some()
            || self.jwk.is_some()
            || self.jku.is_some()
            || self.x5u.is_some()
            || self.x5c.is_some()
            || self.cty.is_some()
            || self.b64.is_some()
            || self.zip.is_some()
            || self.enc.is_some()
    }
}

pub(super) fn sign(key: &SigningKey, kid: &str, payload: &[u8]) -> Result<String, Error> {
    let header = serde_json::to_vec(&HeaderOut {
        alg: "EdDSA",
        typ: "at+jwt",
        kid,
    })
    .map_err(|_| Error::Signing)?;
    sign_raw(key, &header, payload)
}

pub(super) fn sign_raw(key: &SigningKey, header: &[u8], payload: &[u8]) -> Result<String, Error> {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    Ok(token)
}

/// A compact JWS split into its parts, with the header checked.
pub(super) struct Parts<'t> {
    pub kid: String,
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

/// Splits the token and checks the header, before any signature work.
pub(super) fn parse(token: &str) -> Result<Parts<'_>, Error> {
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(Error::Malformed);
    };
    let (header, payload, signature) = (
        &token[..first],
        &token[first + 1..second],
        &token[second + 1..],
    );
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(Error::Malformed);
    }
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Error::NonCanonical)?;
    if header.first() != Some(&b'{') {
        return Err(Error::Malformed);
    }
    let header: HeaderIn = serde_json::from_slice(&header).map_err(|_| Error::Malformed)?;
    if header.has_forbidden_member() {
        return Err(Error::ForbiddenHeader);
    }
    // The allow-list is one algorithm; the name is compared exactly, so `none`,
    // `HS256`, `eddsa` and RFC 9864's `Ed25519` all fail here.
    if header.alg != "EdDSA" {
        return Err(Error::Algorithm);
    }
    // RFC 9068 §4 and RFC 7515 §4.1.9: media types compare case-insensitively,
    // and the `application/` prefix may be left out.
    let typ = header.typ.as_deref().unwrap_or_default();
    let typ = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    if !typ.eq_ignore_ascii_case("at+jwt") {
        return Err(Error::WrongType);
    }
    let kid = header.kid.ok_or(Error::MissingKeyId)?.into_owned();
    Ok(Parts {
        kid,
        signing_input: &token[..second],
        payload,
        signature,
    })
}

impl Parts<'_> {
    /// Checks the signature with `key` (EdDSA only) and returns the payload.
    /// `None` is a key whose bytes are not a curve point: nothing verifies.
    pub(super) fn verify(&self, key: Option<&VerifyingKey>) -> Result<Vec<u8>, Error> {
        let mut signature = [0u8; 64];
        match URL_SAFE_NO_PAD.decode_slice(self.signature, &mut signature) {
            Ok(64) => {}
            Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                return Err(Error::BadSignature);
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err(Error::NonCanonical),
        }
        let key = key.ok_or(Error::BadSignature)?;
        // `verify`, as jsonwebtoken's backend calls it: S < L is checked; weak
        // keys are refused before this (`PublicKey::usable`).
        key.verify(
            self.signing_input.as_bytes(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| Error::BadSignature)?;
        URL_SAFE_NO_PAD
            .decode(self.payload)
            .map_err(|_| Error::NonCanonical)
    }
}
