//! The fuzz targets, shared by the cargo-fuzz binaries (`fuzz/fuzz_targets/`)
//! and the regression test that replays `fuzz/regressions/` on stable Rust
//! (`tests/fuzz_regressions.rs`), so CI runs exactly the fuzzed code. One
//! `pub fn <target>(data: &[u8])` per target, each in a file of its own; a
//! failed assertion (or any other panic) is a finding. What each target
//! asserts: `fuzz/README.md`. Here: the fixture and helpers several targets use.
//!
//! The token targets do not stop at "no panic": they carry an oracle, an
//! independent reading of the token rules (SPEC.md, SECURITY.md §9 and §11),
//! and every verification must agree with it. So does `revocation_feed`, with
//! docs/revocation-feed.md.
#![allow(dead_code)]

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use informly::token::{
    Error, Format, KeySet, KeyStatus, Policy, PublicKey, SigningKey, UnixTime, Verifier,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod contacts_body;
mod footer_kid;
mod paseto_signature;
mod revocation_feed;
mod scopes;
mod token;

// Each fuzz binary calls one target: the others' re-exports go unused there.
#[allow(unused_imports)]
pub use self::{
    contacts_body::contacts_body, footer_kid::footer_kid, paseto_signature::paseto_signature,
    revocation_feed::revocation_feed, scopes::scopes, token::token_jwt, token::token_paseto,
};

// ---------------------------------------------------------------------------
// The token fixture: fixed keys, a fixed clock
// ---------------------------------------------------------------------------

/// The fixed clock of the token targets: 2027-01-15T08:00:00Z.
pub const NOW: UnixTime = 1_800_000_000;

const TOK: &str = "tok_01HZZZZZZZZZZZZZZZZZZZZZZZ";
const WS: &str = "ws_01HZZZZZZZZZZZZZZZZZZZZZZZ";
const APP: &str = "app_01HZZZZZZZZZZZZZZZZZZZZZZZ";

/// The compressed identity point: a public key of small order, which must
/// verify nothing (SECURITY.md B13).
const WEAK_KEY: [u8; 32] = {
    let mut key = [0u8; 32];
    key[0] = 1;
    key
};

/// What a key is to the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Active,
    /// Verifies without being active: pending (PASETO) or retiring (JWT).
    Verifies,
    Retired,
    /// Not in the key set at all.
    Outsider,
}

const ROLES: [Role; 4] = [Role::Active, Role::Verifies, Role::Retired, Role::Outsider];

/// One key of the fixture, as the oracle knows it.
struct KeyInfo {
    kid: String,
    format: Format,
    role: Role,
    /// Small order: in the set as active, and must never verify.
    weak: bool,
    /// `None` for the weak keys, which have no secret.
    signer: Option<SigningKey>,
}

struct Fixture {
    verifier: Verifier,
    keys: Vec<KeyInfo>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);

impl Fixture {
    /// The seeds are those of tests/token_rules.rs.
    fn new() -> Fixture {
        let seeded = [
            (Format::Paseto, Role::Active, 1),
            (Format::Jwt, Role::Active, 2),
            (Format::Paseto, Role::Retired, 3),
            (Format::Jwt, Role::Retired, 4),
            (Format::Paseto, Role::Verifies, 5),
            (Format::Jwt, Role::Verifies, 6),
            (Format::Paseto, Role::Outsider, 7),
            (Format::Jwt, Role::Outsider, 8),
        ];
        let mut set = KeySet::new();
        let mut keys = Vec::new();
        for (format, role, seed) in seeded {
            let signer = SigningKey::from_seed(format, &[seed; 32]).expect("non-zero seed");
            let status = match (role, format) {
                (Role::Active, _) => Some(KeyStatus::Active),
                (Role::Verifies, Format::Paseto) => Some(KeyStatus::Pending),
                (Role::Verifies, Format::Jwt) => Some(KeyStatus::Retiring),
                (Role::Retired, _) => Some(KeyStatus::Retired),
                (Role::Outsider, _) => None,
            };
            if let Some(status) = status {
                set.insert(signer.public_key(), status)
                    .expect("distinct keys");
            }
            keys.push(KeyInfo {
                kid: signer.kid().to_owned(),
                format,
                role,
                weak: false,
                signer: Some(signer),
            });
        }
        for format in Format::ALL {
            let weak = PublicKey::from_raw(format, &WEAK_KEY).expect("32 bytes");
            keys.push(KeyInfo {
                kid: weak.kid().to_owned(),
                format,
                role: Role::Active,
                weak: true,
                signer: None,
            });
            set.insert(weak, KeyStatus::Active).expect("distinct keys");
        }
        Fixture {
            verifier: Verifier::new(set, Policy::default()),
            keys,
        }
    }

    fn policy(&self) -> &Policy {
        self.verifier.policy()
    }

    fn info(&self, kid: &str) -> Option<&KeyInfo> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    fn signer(&self, format: Format, role: Role) -> &SigningKey {
        self.keys
            .iter()
            .find(|k| k.format == format && k.role == role && !k.weak)
            .and_then(|k| k.signer.as_ref())
            .expect("every format has a key in every role")
    }

    fn weak_kid(&self, format: Format) -> &str {
        let weak = self.keys.iter().find(|k| k.format == format && k.weak);
        &weak.expect("a weak key per format").kid
    }
}

/// The footer (PASETO) or header (JWT) our issuer writes, naming `kid`.
fn key_header(format: Format, kid: &str) -> Vec<u8> {
    let header = match format {
        Format::Paseto => json!({ "kid": kid }),
        Format::Jwt => json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid }),
    };
    serde_json::to_vec(&header).expect("JSON")
}

/// Well-formed claims for an app token, valid at `NOW`, in `format`'s wire form.
fn valid_payload(format: Format) -> Vec<u8> {
    payload(
        format,
        APP,
        "contacts:read contacts:write",
        NOW - 60,
        NOW + 3600,
    )
}

fn payload(format: Format, sub: &str, scope: &str, iat: UnixTime, exp: UnixTime) -> Vec<u8> {
    let time = |t: UnixTime| match format {
        Format::Paseto => Value::String(rfc3339(t)),
        Format::Jwt => Value::from(t),
    };
    serde_json::to_vec(&json!({
        "iss": Policy::DEFAULT_ISSUER,
        "aud": Policy::DEFAULT_AUDIENCE,
        "sub": sub,
        "client_id": sub,
        "jti": TOK,
        "workspace": WS,
        "scope": scope,
        "iat": time(iat),
        "nbf": time(iat),
        "exp": time(exp),
    }))
    .expect("JSON")
}

fn other(format: Format) -> Format {
    match format {
        Format::Paseto => Format::Jwt,
        Format::Jwt => Format::Paseto,
    }
}

fn rfc3339(t: UnixTime) -> String {
    rfc3339_utc(t).expect("a time in 0000–9999")
}

/// `t` in RFC 3339, UTC; `None` for a time it cannot write (before year 0000
/// or after 9999).
fn rfc3339_utc(t: UnixTime) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

/// `sign_raw`, or `None` where the format cannot sign it (PASETO refuses an
/// empty payload).
fn sign(key: &SigningKey, header: &[u8], payload: &[u8]) -> Option<String> {
    match key.sign_raw(header, payload) {
        Ok(token) => Some(token),
        Err(Error::Signing) if key.format() == Format::Paseto && payload.is_empty() => None,
        Err(e) => panic!("sign_raw failed: {e:?}"),
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by several targets
// ---------------------------------------------------------------------------

/// RFC 3339 `date-time` (§5.6) as the PASETO spec writes it:
/// `YYYY-MM-DDTHH:MM:SS`, optional `.` and fraction digits, then `Z` or
/// `+HH:MM`/`-HH:MM`. The `time` crate's parser alone is looser: it takes any
/// byte as the date/time separator (`2027-01-15*07:59:00Z`), and `t`/`z`.
fn is_rfc3339_upper(s: &str) -> bool {
    fn digits(b: &[u8]) -> bool {
        !b.is_empty() && b.iter().all(u8::is_ascii_digit)
    }
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let (date_time, rest) = b.split_at(19);
    let shape_ok = digits(&date_time[0..4])
        && date_time[4] == b'-'
        && digits(&date_time[5..7])
        && date_time[7] == b'-'
        && digits(&date_time[8..10])
        && date_time[10] == b'T'
        && digits(&date_time[11..13])
        && date_time[13] == b':'
        && digits(&date_time[14..16])
        && date_time[16] == b':'
        && digits(&date_time[17..19]);
    let offset = match rest.strip_prefix(b".") {
        Some(fraction) => {
            let end = fraction
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            if end == 0 {
                return false;
            }
            &fraction[end..]
        }
        None => rest,
    };
    let offset_ok = match offset {
        b"Z" => true,
        [sign, h1, h2, b':', m1, m2] => {
            (*sign == b'+' || *sign == b'-') && digits(&[*h1, *h2, *m1, *m2])
        }
        _ => false,
    };
    shape_ok && offset_ok
}

/// A time of PASETO claims, and of feeds: a string, RFC 3339 with the
/// uppercase `T` and `Z` (SECURITY.md §11 C13), the shape checked by
/// [`is_rfc3339_upper`], the value (ranges, leap seconds) by `time`.
fn paseto_time(value: &Value) -> Option<UnixTime> {
    value
        .as_str()
        .filter(|s| is_rfc3339_upper(s))
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp)
}

/// `prefix` and a 26-character ULID: Crockford base32, uppercase.
fn is_ulid_id(s: &str, prefix: &str) -> bool {
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    s.strip_prefix(prefix)
        .is_some_and(|id| id.len() == 26 && id.bytes().all(|b| CROCKFORD.contains(&b)))
}

/// A JSON object read member by member, in order, or `None` for anything else:
/// not starting with `{` exactly, not JSON, another type, or a member repeated
/// (serde_json's `Value` would keep the last one silently). The values of the
/// `skipped` members are skipped the way serde skips an `IgnoredAny` (which,
/// in serde_json, does not check that a skipped string is UTF-8), and kept as
/// `null`.
fn object(json: &[u8], skipped: &[&str]) -> Option<Vec<(String, Value)>> {
    struct Members<'s>(&'s [&'s str]);

    impl<'de> DeserializeSeed<'de> for Members<'_> {
        type Value = Vec<(String, Value)>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for Members<'_> {
        type Value = Vec<(String, Value)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members: Vec<(String, Value)> = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                if members.iter().any(|(n, _)| *n == name) {
                    return Err(de::Error::custom("repeated member"));
                }
                let value = if self.0.contains(&name.as_str()) {
                    map.next_value::<IgnoredAny>()?;
                    Value::Null
                } else {
                    map.next_value::<Value>()?
                };
                members.push((name, value));
            }
            Ok(members)
        }
    }

    if json.first() != Some(&b'{') {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let members = Members(skipped).deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(members)
}

fn lossy(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

/// Seed inputs of one or more targets, as (target, name, bytes).
type Seeds = Vec<(&'static str, String, Vec<u8>)>;

/// Seed inputs per target, as (target, name, bytes): real tokens and claims
/// made with the fixture keys, footers and headers from SECURITY.md §9, scope
/// lists, contact bodies, and revocation feeds and their payloads (valid, and
/// each broken one way). Written to `fuzz/corpus/` by the ignored test
/// `write_seed_corpora` (fuzz/README.md).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    token::seeds(&mut seeds);
    footer_kid::seeds(&mut seeds);
    revocation_feed::seeds(&mut seeds);
    scopes::seeds(&mut seeds);
    contacts_body::seeds(&mut seeds);
    seeds
}
