//! The token-forging kit: tokens signed with a given key over whatever header
//! (or footer) and payload bytes a test chooses, so that each test breaks one
//! rule of SPEC.md "Token formats" / SECURITY.md §9 while everything else
//! stays valid. `sign_raw` signs arbitrary parts the way the service would;
//! raw Ed25519 over the PASETO PAE or the JWS signing input is for the tests
//! where the encoding itself is under test (padding, trailing bits, another
//! version, an implicit assertion).

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer as _;
use informly::keys::KeyRing;
use informly::token::{Format, Policy, SigningKey, TokenClaims};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Home;

// ---------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("canonical base64url")
}

/// `bytes` in base64url with its `=` padding (which canonical tokens never
/// carry).
pub fn padded(bytes: &[u8]) -> String {
    let out = URL_SAFE.encode(bytes);
    assert!(out.ends_with('='), "{} bytes need no padding", bytes.len());
    out
}

/// Sets the lowest unused bit of the last character of a canonical unpadded
/// base64url string: a lenient decoder reads the same bytes.
pub fn dirty_trailing_bits(b64: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_ne!(b64.len() % 4, 0, "no unused bits in {b64}");
    let last = *b64.as_bytes().last().expect("non-empty");
    let index = ALPHABET.iter().position(|c| *c == last).expect("base64url");
    format!("{}{}", &b64[..b64.len() - 1], ALPHABET[index + 1] as char)
}

/// PASETO pre-authentication encoding.
pub fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = (pieces.len() as u64).to_le_bytes().to_vec();
    for piece in pieces {
        out.extend_from_slice(&(piece.len() as u64).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out
}

pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .expect("in range")
        .format(&Rfc3339)
        .expect("format")
}

/// A time claim as `format` writes it: RFC 3339 (PASETO) or NumericDate (JWT).
pub fn time_claim(format: Format, t: i64) -> Value {
    match format {
        Format::Paseto => json!(rfc3339(t)),
        Format::Jwt => json!(t),
    }
}

// ---------------------------------------------------------------------------
// Taking tokens apart
// ---------------------------------------------------------------------------

/// The parts of a `v4.public` token: the decoded message (payload ‖
/// signature) and the footer as sent.
pub fn paseto_parts(token: &str) -> (Vec<u8>, String) {
    let body = token.strip_prefix("v4.public.").expect("v4.public");
    let (m, f) = body.split_once('.').expect("footer");
    (unb64(m), f.to_owned())
}

/// The three segments of a JWT, as sent.
pub fn jwt_parts(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

/// The same token with one signature character changed (still canonical
/// base64url: the character changed is not the last of its segment).
pub fn flip_signature(token: &str) -> String {
    // `v4.public.<payload+signature>[.footer]` and `header.payload.signature`:
    // the signature is in the third segment either way.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let target = &mut parts[2];
    let at = target.len() - 10;
    let new = if target.as_bytes()[at] == b'A' {
        "B"
    } else {
        "A"
    };
    target.replace_range(at..at + 1, new);
    parts.join(".")
}

/// L, the order of the Ed25519 base point, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Replaces S by S + L in a 64-byte signature (R ‖ S, S little-endian).
pub fn s_plus_l(sig: &mut [u8]) {
    let mut carry = 0u16;
    for (s, l) in sig[32..64].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
}

// ---------------------------------------------------------------------------
// Claims, edited
// ---------------------------------------------------------------------------

/// The claims the service writes for a token of `app` in `workspace`, with
/// `scope`, issued at `now` for an hour, as they travel in `format`.
pub fn app_claims(
    format: Format,
    workspace: &str,
    app: &str,
    jti: &str,
    scope: &str,
    now: i64,
) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "iss": Policy::DEFAULT_ISSUER,
        "aud": Policy::DEFAULT_AUDIENCE,
        "sub": app,
        "client_id": app,
        "jti": jti,
        "workspace": workspace,
        "scope": scope,
        "iat": time_claim(format, now),
        "nbf": time_claim(format, now),
        "exp": time_claim(format, now + 3600),
    }) else {
        unreachable!()
    };
    map
}

/// The JSON of `claims` with `"key": value` written a second time, first in
/// the object, so the duplicate comes before the original.
pub fn with_duplicate(claims: &Map<String, Value>, key: &str, value: &Value) -> Vec<u8> {
    let json = serde_json::to_string(claims).expect("json");
    format!("{{\"{key}\":{value},{}", &json[1..]).into_bytes()
}

/// The JSON of `claims` with `scope` padded by trailing spaces (empty scope
/// names grant nothing) until its length, plus `extra`, is ≡ `r` (mod 3), so
/// the base64url of the segment has padding and unused bits.
pub fn payload_len_mod3(
    mut claims: Map<String, Value>,
    scope: &str,
    extra: usize,
    r: usize,
) -> Vec<u8> {
    for pad in 0..3 {
        claims.insert("scope".into(), json!(format!("{scope}{}", " ".repeat(pad))));
        let json = serde_json::to_vec(&claims).expect("json");
        if (json.len() + extra) % 3 == r {
            return json;
        }
    }
    unreachable!()
}

// ---------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------

/// The PASETO footer the service writes for `kid`.
pub fn footer_for(kid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "kid": kid })).expect("json")
}

/// The JWT header the service writes for `kid`.
pub fn header_for(kid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid })).expect("json")
}

/// The footer (PASETO) or header (JWT) the service writes for `key`.
pub fn head_for(key: &SigningKey) -> Vec<u8> {
    match key.format() {
        Format::Paseto => footer_for(key.kid()),
        Format::Jwt => header_for(key.kid()),
    }
}

/// A token of `key`'s format carrying `payload`, validly signed by `key`,
/// under the footer/header the service would write for it.
pub fn forge(key: &SigningKey, payload: &[u8]) -> String {
    key.sign_raw(&head_for(key), payload).expect("sign_raw")
}

/// Raw Ed25519 by the key of `seed`.
pub fn ed25519(seed: &[u8; 32], message: &[u8]) -> [u8; 64] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .sign(message)
        .to_bytes()
}

/// Raw Ed25519 over a PAE, as PASETO v4.public (or v2.public) signs.
pub fn paseto_raw_sig(seed: &[u8; 32], pieces: &[&[u8]]) -> [u8; 64] {
    ed25519(seed, &pae(pieces))
}

/// Raw Ed25519 over a JWS signing input, base64url.
pub fn jwt_raw_sig(seed: &[u8; 32], signing_input: &str) -> String {
    b64(&ed25519(seed, signing_input.as_bytes()))
}

/// A private key with its seed, so a test can sign what the library will not
/// (a PAE with an implicit assertion, a v2.public header, padded base64).
pub struct Key {
    pub key: SigningKey,
    pub seed: [u8; 32],
}

impl Key {
    pub fn of(key: &SigningKey) -> Key {
        let secret = key.to_secret_string();
        let bytes = match key.format() {
            Format::Paseto => unb64(secret.strip_prefix("k4.secret.").expect("PASERK")),
            Format::Jwt => unb64(&secret),
        };
        let seed: [u8; 32] = bytes[..32].try_into().expect("32 bytes");
        Key {
            key: SigningKey::from_seed(key.format(), &seed).expect("seed"),
            seed,
        }
    }

    /// A key of `format` the server has never heard of.
    pub fn stranger(format: Format) -> Key {
        Key::of(&SigningKey::generate(format).expect("generate"))
    }

    /// The key that signs `format` in `home`'s keys directory now.
    pub fn active(home: &Home, format: Format) -> Key {
        let ring = KeyRing::load(&home.keys_dir()).expect("load the key ring");
        let entry = ring
            .active(format, OffsetDateTime::now_utc())
            .expect("an active key");
        Key::of(&entry.key)
    }

    /// The key of `kid` in `home`'s keys directory, whatever its state.
    pub fn with_kid(home: &Home, kid: &str) -> Key {
        let ring = KeyRing::load(&home.keys_dir()).expect("load the key ring");
        let entry = ring
            .entries()
            .iter()
            .find(|e| e.kid() == kid)
            .expect("the signing key is in the ring");
        Key::of(&entry.key)
    }

    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    pub fn format(&self) -> Format {
        self.key.format()
    }

    /// The PASETO footer or JWT header the service writes for this key.
    pub fn head(&self) -> Vec<u8> {
        head_for(&self.key)
    }

    /// `payload` under `head` (a PASETO footer or JWT header), validly signed.
    pub fn sign_raw(&self, head: &[u8], payload: &[u8]) -> String {
        self.key.sign_raw(head, payload).expect("sign_raw")
    }

    /// `payload` under this key's usual head, validly signed.
    pub fn sign(&self, payload: &[u8]) -> String {
        forge(&self.key, payload)
    }

    /// `claims` signed through the library, as the service signs them (a test
    /// with access to the private keys can; the server never signs these).
    pub fn sign_claims(&self, claims: &TokenClaims) -> String {
        self.key
            .sign(claims, &Policy::default())
            .expect("sign the forged claims")
    }

    pub fn ed25519(&self, message: &[u8]) -> [u8; 64] {
        ed25519(&self.seed, message)
    }

    /// A PASETO-shaped token signed by hand over the PAE of `pae_pieces`:
    /// `header`, then the message (payload ‖ signature) and the footer.
    pub fn paseto_by_hand(
        &self,
        header: &str,
        payload: &[u8],
        footer: &[u8],
        pae_pieces: &[&[u8]],
    ) -> String {
        let sig = paseto_raw_sig(&self.seed, pae_pieces);
        let message = b64(&[payload, &sig].concat());
        match footer.is_empty() {
            true => format!("{header}{message}"),
            false => format!("{header}{message}.{}", b64(footer)),
        }
    }

    /// A JWS over the signing input `h.p`, as given (any encoding).
    pub fn jws_by_hand(&self, h: &str, p: &str) -> String {
        let input = format!("{h}.{p}");
        format!("{input}.{}", jwt_raw_sig(&self.seed, &input))
    }
}
