//! Key material: signing keys (secret, zeroized, never printed), public keys,
//! key ids, and the public key documents (JWKS and the PASERK key set).
//!
//! A key belongs to one format for its whole life (PASETO algorithm lucidity,
//! RFC 8725 §3.12): a PASETO key never signs or verifies a JWT and vice versa.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk as LibJwk, OctetKeyPairParameters,
    OctetKeyPairType, ThumbprintHash,
};
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::version4::V4;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Error, Format, Policy, TokenClaims, jwt, paseto};

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("an Ed25519 key is 32 bytes, this one is {0}")]
    Length(usize),
    #[error("the secret seed is all zeros")]
    ZeroSeed,
    #[error("not valid base64url (unpadded, canonical)")]
    Base64,
    #[error("not a PASERK {0} key")]
    Paserk(&'static str),
    #[error("the secret key does not match its public key")]
    Mismatch,
    #[error("not an Ed25519 JWK: {0}")]
    Jwk(&'static str),
    #[error("key id {0} does not match the key")]
    KidMismatch(String),
    #[error("key id {0} appears twice")]
    DuplicateKid(String),
    #[error("could not generate a key: {0}")]
    Generate(String),
}

/// The PASERK `k4.pid` of a PASETO public key: its key id.
pub fn paseto_kid(key: &AsymmetricPublicKey<V4>) -> String {
    paserk_string(&Id::from(key))
}

/// The RFC 7638 JWK thumbprint (SHA-256) of an Ed25519 public key: the key id
/// of a JWT key.
pub fn jwt_kid(x: &[u8; 32]) -> String {
    let jwk = LibJwk {
        common: CommonParameters::default(),
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(x),
        }),
    };
    // jsonwebtoken refuses only key types it has no thumbprint for (an
    // Ed25519 curve on an EC key and the like), never an OKP Ed25519 key.
    jwk.thumbprint(ThumbprintHash::SHA256)
        .unwrap_or_else(|_| unreachable!("an Ed25519 OKP key has an RFC 7638 thumbprint"))
}

fn paserk_string(value: &dyn FormatAsPaserk) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = value.fmt(&mut out);
    out
}

fn decode_32(b64: &str) -> Result<[u8; 32], KeyError> {
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(b64).map_err(|_| KeyError::Base64)?);
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::Length(bytes.len()))
}

/// A private signing key. Its secret is zeroized on drop and never printed.
pub struct SigningKey {
    format: Format,
    kid: String,
    public: [u8; 32],
    seed: Zeroizing<[u8; 32]>,
    inner: SigningInner,
}

/// The key as each format's signer wants it, prepared once.
enum SigningInner {
    /// pasetors' key for its PASERK string; dalek's signs (the same
    /// deterministic signature, byte for byte).
    Paseto(AsymmetricSecretKey<V4>, ed25519_dalek::SigningKey),
    Jwt(ed25519_dalek::SigningKey),
}

impl SigningKey {
    /// A fresh random key for `format`.
    pub fn generate(format: Format) -> Result<SigningKey, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        use rand_core::RngCore as _;
        rand_core::OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        SigningKey::from_seed(format, &seed)
    }

    /// The key with this 32-byte Ed25519 seed. An all-zero seed is refused
    /// (pasetors would panic on it).
    pub fn from_seed(format: Format, seed: &[u8; 32]) -> Result<SigningKey, KeyError> {
        if seed.iter().all(|b| *b == 0) {
            return Err(KeyError::ZeroSeed);
        }
        let dalek = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = dalek.verifying_key().to_bytes();
        let (kid, inner) = match format {
            Format::Paseto => {
                let mut keypair = Zeroizing::new([0u8; 64]);
                keypair[..32].copy_from_slice(seed);
                keypair[32..].copy_from_slice(&public);
                let secret = AsymmetricSecretKey::<V4>::from(keypair.as_slice())
                    .map_err(|_| KeyError::Mismatch)?;
                let pk =
                    AsymmetricPublicKey::<V4>::from(&public).map_err(|_| KeyError::Length(32))?;
                (paseto_kid(&pk), SigningInner::Paseto(secret, dalek))
            }
            Format::Jwt => (jwt_kid(&public), SigningInner::Jwt(dalek)),
        };
        Ok(SigningKey {
            format,
            kid,
            public,
            seed: Zeroizing::new(*seed),
            inner,
        })
    }

    /// Reads a PASERK `k4.secret.…` (seed ‖ public key) as a PASETO key.
    pub fn from_paserk(paserk: &str) -> Result<SigningKey, KeyError> {
        let b64 = paserk
            .strip_prefix("k4.secret.")
            .ok_or(KeyError::Paserk("k4.secret"))?;
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(b64).map_err(|_| KeyError::Base64)?);
        if bytes.len() != 64 {
            return Err(KeyError::Length(bytes.len()));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes[..32]);
        let key = SigningKey::from_seed(Format::Paseto, &seed)?;
        if key.public[..] != bytes[32..] {
            return Err(KeyError::Mismatch);
        }
        Ok(key)
    }

    /// Reads a JWT key from its base64url seed (the JWK `d` parameter).
    pub fn from_jwk_d(d: &str) -> Result<SigningKey, KeyError> {
        let seed = Zeroizing::new(decode_32(d)?);
        SigningKey::from_seed(Format::Jwt, &seed)
    }

    /// The secret as stored in a key file: PASERK `k4.secret.…` for PASETO
    /// keys, the base64url seed (JWK `d`) for JWT keys.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        match &self.inner {
            SigningInner::Paseto(secret, _) => Zeroizing::new(paserk_string(secret)),
            SigningInner::Jwt(_) => Zeroizing::new(URL_SAFE_NO_PAD.encode(self.seed.as_slice())),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> PublicKey {
        // The bytes come from our own derivation: always 32 and valid.
        PublicKey::from_bytes(self.format, &self.public)
    }

    /// Signs `claims` into a token string of this key's format.
    pub fn sign(&self, claims: &TokenClaims, policy: &Policy) -> Result<String, Error> {
        match &self.inner {
            SigningInner::Paseto(_, key) => {
                let wire = claims.to_wire::<std::borrow::Cow<str>>(policy)?;
                let payload = serde_json::to_vec(&wire).map_err(|_| Error::Signing)?;
                paseto::sign(key, &self.kid, &payload, paseto::TOKEN_ASSERTION)
            }
            SigningInner::Jwt(key) => {
                let wire = claims.to_wire::<i64>(policy)?;
                let payload = serde_json::to_vec(&wire).map_err(|_| Error::Signing)?;
                jwt::sign(key, &self.kid, &payload)
            }
        }
    }

    /// Signs `payload` as a PASETO v4.public token with our `{"kid"}` footer and
    /// the implicit assertion `implicit`: how documents other than access
    /// tokens (the revocation feed) are signed. A JWT key refuses.
    pub(super) fn sign_paseto_document(
        &self,
        payload: &[u8],
        implicit: &[u8],
    ) -> Result<String, Error> {
        match &self.inner {
            SigningInner::Paseto(_, key) => paseto::sign(key, &self.kid, payload, implicit),
            SigningInner::Jwt(_) => Err(Error::WrongKeyFormat),
        }
    }

    /// Signs raw parts without any claim rules. Tests use it to forge tokens
    /// that are validly signed but break a rule.
    #[doc(hidden)]
    pub fn sign_raw(&self, header_or_footer: &[u8], payload: &[u8]) -> Result<String, Error> {
        match &self.inner {
            SigningInner::Paseto(_, key) => paseto::sign_raw(key, payload, header_or_footer),
            SigningInner::Jwt(key) => jwt::sign_raw(key, header_or_footer, payload),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("format", &self.format)
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A public key, typed by format, with its key id.
#[derive(Clone)]
pub struct PublicKey {
    format: Format,
    kid: String,
    bytes: [u8; 32],
    /// False for bytes that are not a point, or are a point of small order:
    /// such a key verifies nothing. (ed25519-dalek's `verify`, the one
    /// jsonwebtoken uses too, accepts R = identity, S = 0 on any message for
    /// the identity key, so a weak JWT key would let anyone forge tokens.)
    usable: bool,
    inner: PublicInner,
}

/// The key as each format's verifier wants it, prepared once: for JWT the
/// decompressed point, so a verification costs the signature check alone.
#[derive(Clone)]
pub(super) enum PublicInner {
    /// `None` when the bytes are not a curve point (both formats verify
    /// with ed25519-dalek).
    Paseto(Option<ed25519_dalek::VerifyingKey>),
    Jwt(Option<ed25519_dalek::VerifyingKey>),
}

impl PublicKey {
    fn from_bytes(format: Format, bytes: &[u8; 32]) -> PublicKey {
        let point = ed25519_dalek::VerifyingKey::from_bytes(bytes).ok();
        let (kid, inner) = match format {
            Format::Paseto => {
                let pk = AsymmetricPublicKey::<V4>::from(bytes)
                    .unwrap_or_else(|_| unreachable!("a 32-byte key is a valid v4 public key"));
                (paseto_kid(&pk), PublicInner::Paseto(point))
            }
            Format::Jwt => (jwt_kid(bytes), PublicInner::Jwt(point)),
        };
        PublicKey {
            format,
            kid,
            bytes: *bytes,
            usable: point.is_some_and(|k| !k.is_weak()),
            inner,
        }
    }

    /// A public key from its raw 32 bytes; any other length is refused (jsonwebtoken
    /// would panic on fewer and silently truncate more).
    pub fn from_raw(format: Format, bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let bytes = <&[u8; 32]>::try_from(bytes).map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(PublicKey::from_bytes(format, bytes))
    }

    /// Reads a PASERK `k4.public.…` as a PASETO key.
    pub fn from_paserk(paserk: &str) -> Result<PublicKey, KeyError> {
        let b64 = paserk
            .strip_prefix("k4.public.")
            .ok_or(KeyError::Paserk("k4.public"))?;
        Ok(PublicKey::from_bytes(Format::Paseto, &decode_32(b64)?))
    }

    /// Reads an Ed25519 JWK (`kty` OKP, `crv` Ed25519) as a JWT key. Its `kid`
    /// must be the key's thumbprint; `alg` and `use`, when given, must be EdDSA
    /// and sig.
    pub fn from_jwk(jwk: &Jwk) -> Result<PublicKey, KeyError> {
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(KeyError::Jwk("kty must be OKP and crv Ed25519"));
        }
        if jwk.alg.as_deref().is_some_and(|alg| alg != "EdDSA") {
            return Err(KeyError::Jwk("alg must be EdDSA"));
        }
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::Jwk("use must be sig"));
        }
        let key = PublicKey::from_bytes(Format::Jwt, &decode_32(&jwk.x)?);
        if key.kid != jwk.kid {
            return Err(KeyError::KidMismatch(jwk.kid.clone()));
        }
        Ok(key)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The Ed25519 check a JWT verification makes with this key, on raw bytes:
    /// exposed for the conformance tests (Wycheproof).
    #[doc(hidden)]
    pub fn verify_jwt_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        let (PublicInner::Jwt(Some(key)), true) = (&self.inner, self.usable) else {
            return false;
        };
        ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| key.verify(message, &signature).is_ok())
    }

    /// The Ed25519 check a PASETO verification makes with this key, on raw
    /// bytes (there, over the pre-authentication encoding): exposed for the
    /// conformance tests (Wycheproof).
    #[doc(hidden)]
    pub fn verify_paseto_signature(&self, message: &[u8], signature: &[u8]) -> bool {
        let (PublicInner::Paseto(Some(key)), true) = (&self.inner, self.usable) else {
            return false;
        };
        ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok())
    }

    pub(super) fn inner(&self) -> &PublicInner {
        &self.inner
    }

    /// Whether this key can verify a signature at all (see `usable`).
    pub(super) fn is_usable(&self) -> bool {
        self.usable
    }

    /// PASERK `k4.public.…` (meaningful for PASETO keys).
    pub fn to_paserk(&self) -> String {
        format!("k4.public.{}", URL_SAFE_NO_PAD.encode(self.bytes))
    }

    /// The public JWK (meaningful for JWT keys).
    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: URL_SAFE_NO_PAD.encode(self.bytes),
            kid: self.kid.clone(),
            alg: Some("EdDSA".to_owned()),
            use_: Some("sig".to_owned()),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("format", &self.format)
            .field("kid", &self.kid)
            .finish()
    }
}

/// Where a key is in its life. Pending, active and retiring keys verify;
/// only the active key signs; retired keys are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Pending,
    Active,
    Retiring,
    Retired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Pending => "pending",
            KeyStatus::Active => "active",
            KeyStatus::Retiring => "retiring",
            KeyStatus::Retired => "retired",
        }
    }

    pub fn verifies(self) -> bool {
        self != KeyStatus::Retired
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public keys a verifier knows, by key id. A lookup is the only way from a
/// token to a key: there is no "try every key" fallback.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, (PublicKey, KeyStatus)>,
}

impl KeySet {
    pub fn new() -> KeySet {
        KeySet::default()
    }

    pub fn insert(&mut self, key: PublicKey, status: KeyStatus) -> Result<(), KeyError> {
        if self.keys.contains_key(key.kid()) {
            return Err(KeyError::DuplicateKid(key.kid().to_owned()));
        }
        self.keys.insert(key.kid().to_owned(), (key, status));
        Ok(())
    }

    pub fn get(&self, kid: &str) -> Option<(&PublicKey, KeyStatus)> {
        self.keys.get(kid).map(|(key, status)| (key, *status))
    }

    /// The key named by `kid`, if it exists, verifies, and is of `format`: the
    /// one way from a token (or a feed) to a key.
    pub(super) fn verifying_key(&self, kid: &str, format: Format) -> Result<&PublicInner, Error> {
        let (key, status) = self.get(kid).ok_or(Error::UnknownKey)?;
        if status == KeyStatus::Retired {
            return Err(Error::RetiredKey);
        }
        if key.format() != format {
            return Err(Error::WrongKeyFormat);
        }
        // A small-order or undecodable key verifies nothing (SECURITY.md B13):
        // ed25519-dalek's `verify_strict` (PASETO) refuses it, its `verify`
        // (JWT) does not.
        if !key.is_usable() {
            return Err(Error::BadSignature);
        }
        Ok(key.inner())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys in a stable order: by format, then key id.
    pub fn iter(&self) -> impl Iterator<Item = (&PublicKey, KeyStatus)> {
        let mut keys: Vec<_> = self.keys.values().map(|(k, s)| (k, *s)).collect();
        keys.sort_by(|a, b| (a.0.format, &a.0.kid).cmp(&(b.0.format, &b.0.kid)));
        keys.into_iter()
    }

    /// Adds every key of a JWKS document (all treated as active).
    pub fn extend_from_jwks(&mut self, jwks: &Jwks) -> Result<(), KeyError> {
        for jwk in &jwks.keys {
            self.insert(PublicKey::from_jwk(jwk)?, KeyStatus::Active)?;
        }
        Ok(())
    }

    /// Adds every key of a PASERK key set document. Each `kid` must be the
    /// key's `k4.pid`; a `retired` entry is kept as retired.
    pub fn extend_from_paserk(&mut self, set: &PaserkKeySet) -> Result<(), KeyError> {
        for entry in &set.keys {
            let key = PublicKey::from_paserk(&entry.paserk)?;
            if key.kid != entry.kid {
                return Err(KeyError::KidMismatch(entry.kid.clone()));
            }
            self.insert(key, entry.status)?;
        }
        Ok(())
    }

    /// The JWKS document: every JWT key that still verifies.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self
                .iter()
                .filter(|(k, s)| k.format == Format::Jwt && s.verifies())
                .map(|(k, _)| k.to_jwk())
                .collect(),
        }
    }

    /// The PASERK key set document: every PASETO key that still verifies.
    pub fn paserk_set(&self) -> PaserkKeySet {
        PaserkKeySet {
            keys: self
                .iter()
                .filter(|(k, s)| k.format == Format::Paseto && s.verifies())
                .map(|(k, status)| PaserkKey {
                    kid: k.kid.clone(),
                    paserk: k.to_paserk(),
                    status,
                })
                .collect(),
        }
    }
}

/// A JSON Web Key Set (RFC 7517 §5) of Ed25519 keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// An Ed25519 public JWK (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// `/.well-known/paserk.json`: `{"keys": [{"kid", "paserk", "status"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaserkKeySet {
    pub keys: Vec<PaserkKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaserkKey {
    pub kid: String,
    pub paserk: String,
    pub status: KeyStatus,
}
