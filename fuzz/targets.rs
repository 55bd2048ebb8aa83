//! The fuzz targets, shared by the cargo-fuzz binaries (`fuzz/fuzz_targets/`)
//! and the regression test that replays `fuzz/regressions/` on stable Rust
//! (`tests/fuzz_regressions.rs`), so CI runs exactly the fuzzed code. One
//! `pub fn <target>(data: &[u8])` per target; a failed assertion (or any other
//! panic) is a finding. What each target asserts: `fuzz/README.md`.
//!
//! The token targets do not stop at "no panic": they carry an oracle, an
//! independent reading of the token rules (SPEC.md, SECURITY.md §9 and §11),
//! and every verification must agree with it. So does `revocation_feed`, with
//! docs/revocation-feed.md.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use informly::token::{
    AppCutoff, Denylist, Error, FEED_ASSERTION, FeedError, Format, KeySet, KeyStatus, MAX_FEED_LEN,
    MAX_TOKEN_LEN, Policy, PublicKey, RevocationFeed, RevokedToken, Scope, ScopeError, ScopeSet,
    SigningKey, Subject, TokenClaims, UnixTime, Verified, Verifier,
};
use pasetors::keys::AsymmetricSecretKey;
use pasetors::version4::{PublicToken, V4};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tower::ServiceExt as _;

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
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .expect("a time in 0000–9999")
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
// token_paseto, token_jwt
// ---------------------------------------------------------------------------

/// PASETO v4.public tokens through `Verifier::verify`. See [`token`].
pub fn token_paseto(data: &[u8]) {
    token(Format::Paseto, data);
}

/// JWT (EdDSA) tokens through `Verifier::verify`. See [`token`].
pub fn token_jwt(data: &[u8]) {
    token(Format::Jwt, data);
}

/// The first byte picks how the rest becomes a token of `format`:
///
/// - `0 mod 4`: the rest is the token string (lossy UTF-8), as a client sends it;
/// - `1 mod 4`: the rest is the claims, signed by the active key under our
///   footer/header, so the fuzzer reaches the claim rules behind the signature;
/// - `2 mod 4`: `[n]`, `n` bytes of footer/header, then the claims, signed by
///   the active key;
/// - `3 mod 4`: `[k]`, then the claims, signed by one of the format's keys
///   (`k % 4`: active, pending/retiring, retired, outsider) under a header
///   naming any fixture key id (`k / 4`), weak keys and the other format's
///   keys included.
///
/// Every verification passes [`verify`]'s checks; in modes 1–3 it must also
/// agree exactly with the oracle ([`expect`]).
fn token(format: Format, data: &[u8]) {
    let fx = &*FIXTURE;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let _ = verify(fx, &String::from_utf8_lossy(rest));
        }
        1 => {
            let signer = fx.signer(format, Role::Active);
            signed(fx, signer, &key_header(format, signer.kid()), rest);
        }
        2 => {
            let (&n, rest) = rest.split_first().unwrap_or((&0, &[]));
            let (header, payload) = rest.split_at(usize::from(n).min(rest.len()));
            signed(fx, fx.signer(format, Role::Active), header, payload);
        }
        _ => {
            let (&k, payload) = rest.split_first().unwrap_or((&0, &[]));
            let signer = fx.signer(format, ROLES[usize::from(k % 4)]);
            let kid = &fx.keys[usize::from(k / 4) % fx.keys.len()].kid;
            signed(fx, signer, &key_header(format, kid), payload);
        }
    }
}

/// Signs `header`/`payload` with `signer`, verifies, and compares with the oracle.
fn signed(fx: &Fixture, signer: &SigningKey, header: &[u8], payload: &[u8]) {
    let Some(token) = sign(signer, header, payload) else {
        return;
    };
    let actual = verify(fx, &token);
    let expected = expect(fx, &token, signer, header, payload);
    expected.assert_matches(&actual, &token);
}

/// Verifies `token` at `NOW` and checks what must hold of any answer: the
/// error variants `verify` may give, and of an accepted token everything in
/// [`accepted`].
fn verify(fx: &Fixture, token: &str) -> Result<Verified, Error> {
    let result = fx.verifier.verify(token, NOW);
    match &result {
        Ok(verified) => accepted(fx, token, verified),
        Err(e) => {
            assert!(
                !matches!(e, Error::Signing | Error::Revoked),
                "verify gave {e:?}, an error it never should: {token:?}"
            );
            assert_eq!(
                *e == Error::TooLarge,
                token.len() > MAX_TOKEN_LEN,
                "TooLarge exactly past {MAX_TOKEN_LEN} bytes: {e:?} for {} bytes",
                token.len()
            );
        }
    }
    result
}

/// What must hold of every token the verifier accepts, however it was made.
fn accepted(fx: &Fixture, token: &str, verified: &Verified) {
    let claims = &verified.claims;
    let policy = fx.policy();
    assert!(token.len() <= MAX_TOKEN_LEN);

    // The format is the token's own, and the string is canonical (B9, B10,
    // B14): every segment is the unpadded base64url its bytes encode to, and
    // the header or footer names the key that verified it.
    let key_json = match token.strip_prefix("v4.public.") {
        Some(body) => {
            assert_eq!(verified.format, Format::Paseto, "{token:?}");
            let segments: Vec<&str> = body.split('.').collect();
            assert_eq!(segments.len(), 2, "message and footer: {token:?}");
            segments.iter().for_each(|s| assert_canonical(s, token));
            URL_SAFE_NO_PAD.decode(segments[1]).expect("canonical")
        }
        None => {
            assert_eq!(verified.format, Format::Jwt, "{token:?}");
            let segments: Vec<&str> = token.split('.').collect();
            assert_eq!(segments.len(), 3, "header, payload, signature: {token:?}");
            segments.iter().for_each(|s| assert_canonical(s, token));
            URL_SAFE_NO_PAD.decode(segments[0]).expect("canonical")
        }
    };
    let key_json: Value = serde_json::from_slice(&key_json).expect("footer/header is JSON");
    assert_eq!(
        key_json.get("kid").and_then(Value::as_str),
        Some(verified.kid.as_str()),
        "the key named is the key used: {token:?}"
    );

    // The key: in the set, of this format, not retired, not weak (F3, F7, B13).
    let info = fx.info(&verified.kid).expect("the kid is a fixture key");
    let (key, status) = fx.verifier.keys().get(&verified.kid).expect("in the set");
    assert_ne!(
        status,
        KeyStatus::Retired,
        "retired key accepted: {token:?}"
    );
    assert_eq!(key.format(), verified.format, "{token:?}");
    assert!(!info.weak, "small-order key accepted: {token:?}");
    assert_ne!(info.role, Role::Outsider);

    // The claims: valid at NOW with the leeway, within the lifetime, typed ids,
    // admin scopes exactly on admin tokens.
    assert_eq!(claims.check_time(policy, NOW), Ok(()), "{token:?}");
    assert_eq!(fx.verifier.recheck(verified, NOW), Ok(()), "{token:?}");
    assert!(
        claims.expires_at.saturating_sub(claims.issued_at)
            <= policy.max_lifetime_for(&claims.subject),
        "lifetime too long: {claims:?}"
    );
    assert!(is_ulid_id(&claims.token_id, "tok_"), "{claims:?}");
    assert!(is_ulid_id(&claims.workspace, "ws_"), "{claims:?}");
    assert!(
        claims
            .scopes
            .iter()
            .all(|s| s.is_admin() == claims.subject.is_admin()),
        "{claims:?}"
    );

    // The accepted claims can be issued again, and verify to themselves. The
    // one thing that cannot be re-issued is a PASETO time RFC 3339 cannot
    // write in UTC (e.g. an `nbf` of 0000-01-01T00:00:00+01:00, year -1 in
    // UTC): still a valid token, as its `nbf` is long past.
    let signer = info.signer.as_ref().expect("weak keys are excluded above");
    match signer.sign(claims, policy) {
        Ok(again) => {
            let reverified = fx.verifier.verify(&again, NOW);
            assert_eq!(
                reverified.as_ref(),
                Ok(verified),
                "re-issued claims verify differently: {token:?} -> {again:?}"
            );
        }
        Err(Error::Signing) => assert!(
            verified.format == Format::Paseto
                && [claims.issued_at, claims.not_before, claims.expires_at]
                    .iter()
                    .any(|t| {
                        OffsetDateTime::from_unix_timestamp(*t)
                            .ok()
                            .and_then(|t| t.format(&Rfc3339).ok())
                            .is_none()
                    }),
            "accepted claims cannot be re-issued: {claims:?}"
        ),
        Err(e) => panic!("re-issuing accepted claims failed: {e:?}"),
    }
}

fn assert_canonical(segment: &str, token: &str) {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap_or_else(|e| panic!("accepted a segment that is not base64url ({e}): {token:?}"));
    assert_eq!(
        URL_SAFE_NO_PAD.encode(bytes),
        segment,
        "accepted a non-canonical segment: {token:?}"
    );
}

// ---------------------------------------------------------------------------
// The oracle: the token rules, read again from the spec
// ---------------------------------------------------------------------------

/// What the oracle expects of a verification.
#[derive(Debug)]
enum Expect {
    /// Accepted, with exactly these claims.
    Claims(TokenClaims),
    /// Refused with exactly this error (size, header/footer, key, signature).
    Error(Error),
    /// Refused by one of the claim rules; which fires first is not specified.
    Refused,
}

impl Expect {
    fn assert_matches(&self, actual: &Result<Verified, Error>, token: &str) {
        let agree = match (self, actual) {
            (Expect::Claims(expected), Ok(verified)) => *expected == verified.claims,
            (Expect::Error(expected), Err(e)) => expected == e,
            (Expect::Refused, Err(e)) => is_claims_error(*e),
            _ => false,
        };
        assert!(
            agree,
            "verify and the oracle disagree on {token:?}:\n  verify: {actual:?}\n  oracle: {self:?}"
        );
    }
}

/// The errors of the claim stage.
fn is_claims_error(e: Error) -> bool {
    matches!(
        e,
        Error::InvalidClaims
            | Error::WrongIssuer
            | Error::WrongAudience
            | Error::Expired
            | Error::NotYetValid
            | Error::IssuedInFuture
            | Error::LifetimeTooLong
    )
}

/// The expected answer for `token`, made by `signer` from `header` and `payload`.
fn expect(fx: &Fixture, token: &str, signer: &SigningKey, header: &[u8], payload: &[u8]) -> Expect {
    let format = signer.format();
    if token.len() > MAX_TOKEN_LEN {
        return Expect::Error(Error::TooLarge);
    }
    // The verifier tells the formats apart by prefix, and a JWT header is a
    // JSON object starting `{"`: one that does not encode to `eyJ…` (e.g. `{}`,
    // `{ "alg"…`, `{"":…}`) is no JWT at all.
    if format == Format::Jwt && !token.starts_with("eyJ") {
        return Expect::Error(Error::UnsupportedFormat);
    }
    // A JWT with an empty segment is malformed before its header is read.
    if format == Format::Jwt && (header.is_empty() || payload.is_empty()) {
        return Expect::Error(Error::Malformed);
    }
    let kid = match format {
        Format::Paseto => expect_paseto_kid(header),
        Format::Jwt => expect_jwt_kid(header),
    };
    let kid = match kid {
        Ok(kid) => kid,
        Err(e) => return Expect::Error(e),
    };
    // The key named: no fallback to any other key (F4, F5).
    let key_error = match fx.info(&kid) {
        None => Some(Error::UnknownKey),
        Some(info) if info.role == Role::Outsider => Some(Error::UnknownKey),
        Some(info) if info.role == Role::Retired => Some(Error::RetiredKey),
        Some(info) if info.format != format => Some(Error::WrongKeyFormat),
        Some(info) if info.weak || info.kid != signer.kid() => Some(Error::BadSignature),
        Some(_) => None,
    };
    if let Some(e) = key_error {
        return Expect::Error(e);
    }
    // pasetors hands out the payload as a `&str`: one that is not UTF-8 fails
    // with the signature check.
    if format == Format::Paseto && std::str::from_utf8(payload).is_err() {
        return Expect::Error(Error::BadSignature);
    }
    expect_claims(fx.policy(), format, payload).map_or(Expect::Refused, Expect::Claims)
}

/// Our PASETO footer policy (SECURITY.md C3–C7, B14): exactly `{"kid": "k4.pid.…"}`.
fn expect_paseto_kid(footer: &[u8]) -> Result<String, Error> {
    if footer.is_empty() {
        // `sign_raw` writes no footer at all then.
        return Err(Error::MissingKeyId);
    }
    let members = object(footer, &[]).ok_or(Error::BadFooter)?;
    let kid = match members.as_slice() {
        [(name, Value::String(kid))] if name == "kid" => kid,
        _ => return Err(Error::BadFooter),
    };
    let is_pid = kid.strip_prefix("k4.pid.").is_some_and(|id| {
        id.len() == 44
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !is_pid {
        return Err(Error::BadFooter);
    }
    Ok(kid.clone())
}

/// Header members refused outright (SECURITY.md D7–D9, D14): present at all is
/// enough, whatever the value.
const FORBIDDEN_HEADER: [&str; 9] = [
    "crit", "jwk", "jku", "x5u", "x5c", "cty", "b64", "zip", "enc",
];

/// Our JWT header policy (SECURITY.md D1–D14): a JSON object of `alg`
/// (`EdDSA` exactly), `typ` (`at+jwt`, case-insensitively, with or without
/// `application/`) and `kid`; no other member.
fn expect_jwt_kid(header: &[u8]) -> Result<String, Error> {
    let members = object(header, &FORBIDDEN_HEADER).ok_or(Error::Malformed)?;
    let member = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    for (name, value) in &members {
        let typed = match name.as_str() {
            "alg" => value.is_string(),
            "typ" | "kid" => value.is_string() || value.is_null(),
            name => FORBIDDEN_HEADER.contains(&name),
        };
        if !typed {
            return Err(Error::Malformed);
        }
    }
    let alg = member("alg").ok_or(Error::Malformed)?;
    if members
        .iter()
        .any(|(name, _)| FORBIDDEN_HEADER.contains(&name.as_str()))
    {
        return Err(Error::ForbiddenHeader);
    }
    if alg != "EdDSA" {
        return Err(Error::Algorithm);
    }
    let typ = member("typ")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    if !matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return Err(Error::WrongType);
    }
    member("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(Error::MissingKeyId)
}

/// The ten claims; nothing else may appear (C6-like strictness, E11, E12).
const CLAIMS: [&str; 10] = [
    "iss",
    "aud",
    "sub",
    "client_id",
    "jti",
    "workspace",
    "scope",
    "iat",
    "nbf",
    "exp",
];

/// The claims a valid payload holds, or `None` if any claim rule refuses it
/// (SECURITY.md C10–C14, E1–E13 and §11).
fn expect_claims(policy: &Policy, format: Format, payload: &[u8]) -> Option<TokenClaims> {
    let members = object(payload, &[])?;
    if members
        .iter()
        .any(|(name, _)| !CLAIMS.contains(&name.as_str()))
    {
        return None;
    }
    let member = |name: &str| members.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let text = |name: &str| member(name).and_then(Value::as_str);

    // Every member of its type, first: a wrongly typed claim refuses the token
    // whatever the other claims say.
    let audience_ok = match member("aud")? {
        Value::String(one) => one == &policy.audience,
        Value::Array(many) => {
            if !many.iter().all(Value::is_string) {
                return None;
            }
            many.iter().any(|a| a == &policy.audience[..])
        }
        _ => return None,
    };
    let scope = match member("scope") {
        None | Some(Value::Null) => "",
        Some(Value::String(scope)) => scope,
        Some(_) => return None,
    };
    let (iss, sub, client_id) = (text("iss")?, text("sub")?, text("client_id")?);
    let (jti, workspace) = (text("jti")?, text("workspace")?);
    let time = |name: &str| -> Option<UnixTime> {
        let value = member(name)?;
        match format {
            // NumericDate: a non-negative integer; floats and strings refused.
            Format::Jwt => value.as_i64().filter(|t| *t >= 0),
            // RFC 3339 with the uppercase `T` and `Z` (§11 C13): the shape
            // checked here, the value (ranges, leap seconds) by `time`.
            Format::Paseto => value
                .as_str()
                .filter(|s| is_rfc3339_upper(s))
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                .map(OffsetDateTime::unix_timestamp),
        }
    };
    let (issued_at, not_before, expires_at) = (time("iat")?, time("nbf")?, time("exp")?);

    if iss != policy.issuer || !audience_ok || sub != client_id {
        return None;
    }
    let subject = match sub.strip_prefix("admin:") {
        Some(who) => {
            let name_ok = (1..=64).contains(&who.len())
                && who
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
            name_ok.then(|| Subject::Admin(who.to_owned()))?
        }
        None => is_ulid_id(sub, "app_").then(|| Subject::App(sub.to_owned()))?,
    };
    if !is_ulid_id(jti, "tok_") || !is_ulid_id(workspace, "ws_") {
        return None;
    }
    let scopes = expect_scopes(scope);
    if scopes.iter().any(|s| s.is_admin() != subject.is_admin()) {
        return None;
    }
    let lifetime = match subject {
        Subject::App(_) => policy.max_lifetime,
        Subject::Admin(_) => policy.max_admin_lifetime,
    };
    if expires_at.saturating_sub(issued_at) > lifetime
        || NOW > expires_at.saturating_add(policy.leeway)
        || not_before > NOW + policy.leeway
        || issued_at > NOW + policy.leeway
    {
        return None;
    }
    Some(TokenClaims {
        token_id: jti.to_owned(),
        workspace: workspace.to_owned(),
        subject,
        scopes,
        issued_at,
        not_before,
        expires_at,
    })
}

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

// ---------------------------------------------------------------------------
// scopes
// ---------------------------------------------------------------------------

/// Every scope, with whether it is an admin scope: the vocabulary of SPEC.md,
/// written out again rather than read from the code under test.
const SCOPES: [(&str, bool); 22] = [
    ("contacts:read", false),
    ("contacts:write", false),
    ("contacts:delete", false),
    ("surveys:read", false),
    ("surveys:write", false),
    ("surveys:delete", false),
    ("coupons:read", false),
    ("coupons:write", false),
    ("coupons:delete", false),
    ("coupons:validate", false),
    ("referrals:read", false),
    ("referrals:write", false),
    ("referrals:delete", false),
    ("testimonials:read", false),
    ("testimonials:write", false),
    ("testimonials:delete", false),
    ("tickets:read", false),
    ("tickets:write", false),
    ("tickets:delete", false),
    ("apps:read", true),
    ("apps:write", true),
    ("apps:delete", true),
];

/// The scopes a `scope` claim grants: space-separated names, each matched
/// exactly (RFC 6749 §3.3); anything else grants nothing.
fn expect_scopes(claim: &str) -> ScopeSet {
    SCOPES
        .iter()
        .filter(|(name, _)| claim.split(' ').any(|t| t == *name))
        .map(|(name, _)| Scope::lookup(name).expect("a known scope"))
        .collect()
}

/// Scope parsing: the input (lossy UTF-8) as a `scope` claim, as one scope
/// name, and, split on spaces, as the scopes asked for at issuance.
pub fn scopes(data: &[u8]) {
    let input = String::from_utf8_lossy(data);

    // The claim grants exactly the names it spells out; it prints in the
    // canonical order, and printing then parsing is the identity.
    let set = ScopeSet::from_claim(&input);
    assert_eq!(set, expect_scopes(&input), "{input:?}");
    let claim = set.to_claim();
    assert_eq!(set.to_string(), claim);
    assert_eq!(ScopeSet::from_claim(&claim), set, "{input:?} -> {claim:?}");
    assert_eq!(ScopeSet::from_claim(&claim).to_claim(), claim);
    let order: Vec<usize> = match claim.as_str() {
        "" => Vec::new(),
        claim => claim
            .split(' ')
            .map(|n| position(n).expect("known"))
            .collect(),
    };
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "not in canonical order, or repeated: {claim:?}"
    );
    assert_eq!(
        set.has_admin_scope(),
        set.iter().any(Scope::is_admin),
        "{input:?}"
    );

    // One name: known exactly as spelled, and prints back as spelled.
    match input.parse::<Scope>() {
        Ok(scope) => {
            assert_eq!(scope.to_string(), input);
            assert_eq!(scope.is_admin(), SCOPES[position(&input).expect("known")].1);
        }
        Err(e) => {
            assert_eq!(position(&input), None, "{input:?}");
            assert_eq!(e, ScopeError::Unknown(input.to_string()));
        }
    }

    // Issuance: every name known and not admin-only, at least one; the error
    // names the first name that breaks a rule.
    let names: Vec<&str> = input.split(' ').collect();
    let first_bad = names
        .iter()
        .find(|n| position(n).is_none_or(|i| SCOPES[i].1));
    match (ScopeSet::parse_for_app(&names), first_bad) {
        (Ok(granted), None) => {
            assert_eq!(granted, set, "{input:?}");
            assert!(!granted.is_empty() && !granted.has_admin_scope());
        }
        (Err(ScopeError::Unknown(name)), Some(bad)) if position(bad).is_none() => {
            assert_eq!(name, *bad);
            assert!(
                ScopeError::Unknown(name.clone())
                    .to_string()
                    .contains(&format!("`{name}`"))
            );
        }
        (Err(ScopeError::AdminOnly(name)), Some(bad)) if position(bad).is_some() => {
            assert_eq!(name, *bad);
        }
        (answer, _) => panic!("parse_for_app({names:?}) gave {answer:?}"),
    }
}

fn position(name: &str) -> Option<usize> {
    SCOPES.iter().position(|(n, _)| *n == name)
}

// ---------------------------------------------------------------------------
// footer_kid
// ---------------------------------------------------------------------------

/// Lenient base64url: padding and non-zero trailing bits allowed, to find the
/// bytes behind a non-canonical spelling.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The PASETO footer and the JWT header, where the key id is read before the
/// signature is checked. The first byte picks the format (bit 0: PASETO or
/// JWT) and, as `(byte >> 1) % 3`, how the rest is used:
///
/// - `0`: as the footer/header bytes, signed by the active key over valid
///   claims: the answer must be exactly the oracle's ([`expect_paseto_kid`],
///   [`expect_jwt_kid`]);
/// - `1`: as the footer/header *text*, spliced into such a token, signed over
///   the bytes a lenient decoder reads from it: accepted only if the text is
///   the canonical spelling (padding, trailing bits, B9/B10), never a panic;
/// - `2`: as pairs of bytes choosing a member name and a value from the
///   vocabulary of §9 (`alg`, `typ`, `kid`, `crit`, … × `null`, `"EdDSA"`, key
///   ids, `[]`, …), assembled into an object (repeats allowed), then as `0`.
///   Byte-level mutation rarely assembles such combinations: the parser's
///   coverage does not tell `"crit":null` from `"typ":null`.
pub fn footer_kid(data: &[u8]) {
    let fx = &*FIXTURE;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let format = if mode & 1 == 0 {
        Format::Paseto
    } else {
        Format::Jwt
    };
    let signer = fx.signer(format, Role::Active);
    let payload = valid_payload(format);
    match (mode >> 1) % 3 {
        0 => return signed(fx, signer, rest, &payload),
        2 => return signed(fx, signer, &members(fx, format, rest), &payload),
        _ => {}
    }
    let text = String::from_utf8_lossy(rest);
    let bytes = LENIENT
        .decode(text.as_bytes())
        .unwrap_or_else(|_| rest.to_vec());
    let Some(token) = sign(signer, &bytes, &payload) else {
        return;
    };
    // `v4.public.<m>.` (an empty footer) is never canonical (B14).
    let canonical =
        text == URL_SAFE_NO_PAD.encode(&bytes) && !(format == Format::Paseto && bytes.is_empty());
    let spliced = match format {
        Format::Paseto => match token.rsplit_once('.') {
            Some((head, _)) if !bytes.is_empty() => format!("{head}.{text}"),
            _ => format!("{token}.{text}"),
        },
        Format::Jwt => match token.split_once('.') {
            Some((_, tail)) => format!("{text}.{tail}"),
            None => unreachable!("a JWT has dots"),
        },
    };
    let actual = verify(fx, &spliced);
    if spliced == token {
        expect(fx, &token, signer, &bytes, &payload).assert_matches(&actual, &spliced);
    } else if !canonical {
        assert!(
            actual.is_err(),
            "accepted a non-canonical footer/header: {spliced:?}"
        );
    }
}

/// A footer/header object from `(name, value)` byte pairs over a fixed
/// vocabulary; an odd last byte is ignored.
fn members(fx: &Fixture, format: Format, choices: &[u8]) -> Vec<u8> {
    const NAMES: [&str; 14] = [
        "alg", "typ", "kid", "crit", "jwk", "jku", "x5u", "x5c", "cty", "b64", "zip", "enc",
        "role", "",
    ];
    let kid = |format, role| Value::from(fx.signer(format, role).kid());
    let values = [
        Value::Null,
        json!("EdDSA"),
        json!("at+jwt"),
        kid(format, Role::Active),
        kid(format, Role::Verifies),
        kid(format, Role::Retired),
        kid(other(format), Role::Active),
        Value::from(fx.weak_kid(format)),
        json!([]),
        json!({}),
        json!(0),
        json!(false),
        json!("none"),
        json!("application/AT+JWT"),
        json!(["exp"]),
        json!("k4.public.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ];
    let pairs: Vec<String> = choices
        .chunks_exact(2)
        .map(|pair| {
            let name = NAMES[usize::from(pair[0]) % NAMES.len()];
            let value = &values[usize::from(pair[1]) % values.len()];
            format!("{}:{value}", Value::from(name))
        })
        .collect();
    format!("{{{}}}", pairs.join(",")).into_bytes()
}

// ---------------------------------------------------------------------------
// revocation_feed
// ---------------------------------------------------------------------------

/// The cursor the feed seeds answer. Feeds are verified asking with none,
/// with this one, or with one that is no cursor at all.
const CURSOR: &str = "c2luY2U";
const ASKED: [Option<&str>; 3] = [None, Some(CURSOR), Some("a.b")];

/// Implicit assertions a document can be signed with: the feed's, the access
/// tokens' (none), and a later feed version's.
const ASSERTIONS: [&[u8]; 3] = [FEED_ASSERTION, b"", b"informly:revocation-feed:v2"];

/// The fixture's PASETO secret keys as pasetors keys, by kid: the feed target
/// signs payloads itself, with the implicit assertion it chooses (the crate's
/// own document signer is private to it, and takes only well-formed pages).
static FEED_SIGNERS: LazyLock<Vec<(String, AsymmetricSecretKey<V4>)>> = LazyLock::new(|| {
    FIXTURE
        .keys
        .iter()
        .filter_map(|k| k.signer.as_ref())
        .filter(|signer| signer.format() == Format::Paseto)
        .map(|signer| {
            let paserk = signer.to_secret_string();
            let b64 = paserk.strip_prefix("k4.secret.").expect("a PASERK secret");
            let bytes = URL_SAFE_NO_PAD.decode(b64).expect("base64url");
            let key = AsymmetricSecretKey::<V4>::from(&bytes).expect("seed and public key");
            (signer.kid().to_owned(), key)
        })
        .collect()
});

/// `payload` as a PASETO v4.public document signed by the fixture key `kid`,
/// under `footer` (none if empty), with the implicit assertion `implicit`.
/// `None` where PASETO cannot sign it (an empty payload).
fn sign_document(kid: &str, footer: &[u8], payload: &[u8], implicit: &[u8]) -> Option<String> {
    let (_, secret) = FEED_SIGNERS
        .iter()
        .find(|(k, _)| k == kid)
        .expect("a fixture PASETO key");
    let footer = (!footer.is_empty()).then_some(footer);
    match PublicToken::sign(secret, payload, footer, Some(implicit)) {
        Ok(document) => Some(document),
        Err(_) if payload.is_empty() => None,
        Err(e) => panic!("signing a document failed: {e:?}"),
    }
}

/// The signed revocation feed through `RevocationFeed::verify`, with the
/// fixture's key set, at `NOW`. The first byte `b` picks the cursor asked
/// with (`ASKED[(b / 5) % 3]`) and, by `b % 5`, how the rest becomes a feed:
///
/// - `0`: the rest is the feed string (lossy UTF-8), as fetched;
/// - `1`: the rest is the payload, signed with the active key under our
///   footer with the feed's implicit assertion, and also as an access token
///   (no assertion), which must never verify as a feed;
/// - `2`: `[n]`, `n` bytes of footer, then the payload, signed with the active
///   key and the implicit assertion `ASSERTIONS[(b / 15) % 3]`;
/// - `3`: `[k]`, then the payload, signed with one of the PASETO keys
///   (`k % 4`: active, pending, retired, outsider) under a footer naming any
///   fixture kid (`k / 4`);
/// - `4`: the rest chooses a page field by field from a vocabulary of valid
///   and broken values ([`built_feed`]), signed by `RevocationFeed::sign`;
///   two more bytes then break the JSON written in one way, as mode 1.
///
/// Every answer passes [`verify_feed`]'s checks; in modes 1–4 it must also be
/// exactly the oracle's ([`expect_signed_feed`], [`expect_feed`]).
pub fn revocation_feed(data: &[u8]) {
    let fx = &*FIXTURE;
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let asked = ASKED[usize::from(mode / 5) % ASKED.len()];
    let active = fx.signer(Format::Paseto, Role::Active);
    let footer = key_header(Format::Paseto, active.kid());
    match mode % 5 {
        0 => {
            let _ = verify_feed(fx, &String::from_utf8_lossy(rest), asked);
        }
        1 => {
            signed_feed(fx, active, &footer, rest, FEED_ASSERTION, asked);
            // The same payload signed as an access token is never a feed.
            if let Some(token) = sign(active, &footer, rest) {
                assert_eq!(
                    verify_feed(fx, &token, asked),
                    Err(FeedError::Token(Error::BadSignature)),
                    "a token verified as a feed: {token:?}"
                );
            }
        }
        2 => {
            let implicit = ASSERTIONS[usize::from(mode / 15) % ASSERTIONS.len()];
            let (&n, rest) = rest.split_first().unwrap_or((&0, &[]));
            let (footer, payload) = rest.split_at(usize::from(n).min(rest.len()));
            signed_feed(fx, active, footer, payload, implicit, asked);
        }
        3 => {
            let (&k, payload) = rest.split_first().unwrap_or((&0, &[]));
            let signer = fx.signer(Format::Paseto, ROLES[usize::from(k % 4)]);
            let kid = &fx.keys[usize::from(k / 4) % fx.keys.len()].kid;
            let footer = key_header(Format::Paseto, kid);
            signed_feed(fx, signer, &footer, payload, FEED_ASSERTION, asked);
        }
        _ => built_feed(fx, rest, asked),
    }
}

/// Signs `payload` as a document and verifies it as a feed: the answer must be
/// exactly the oracle's.
fn signed_feed(
    fx: &Fixture,
    signer: &SigningKey,
    footer: &[u8],
    payload: &[u8],
    implicit: &[u8],
    asked: Option<&str>,
) {
    let Some(feed) = sign_document(signer.kid(), footer, payload, implicit) else {
        return;
    };
    let actual = verify_feed(fx, &feed, asked);
    match expect_signed_feed(fx, &feed, signer, footer, implicit, payload) {
        Err(expected) => assert_eq!(
            actual,
            Err(expected),
            "verify and the oracle disagree on the feed {feed:?}, payload {:?}",
            lossy(payload)
        ),
        Ok(()) => assert_feed_answer(fx.policy(), &actual, payload, asked),
    }
}

/// Verifies `feed` asking with `asked`, and checks what must hold of any
/// answer. Refused before the signature: only the errors of that stage, and
/// `TooLarge`/`UnsupportedFormat` exactly when they apply. Past the signature
/// (accepted, or refused for its payload): the string is exactly what a
/// verifying fixture key signs with the feed's implicit assertion, the answer
/// is the oracle's for that payload, it is no access token, and an accepted
/// page passes [`accepted_feed`]. Random bytes never get past the signature,
/// so a raw input gets there only as a copy of a signed seed.
fn verify_feed(fx: &Fixture, feed: &str, asked: Option<&str>) -> Result<RevocationFeed, FeedError> {
    let policy = fx.policy();
    let result = RevocationFeed::verify(feed, fx.verifier.keys(), policy, asked, NOW);
    assert_eq!(
        result == Err(FeedError::TooLarge),
        feed.len() > MAX_FEED_LEN,
        "TooLarge exactly past {MAX_FEED_LEN} bytes: {result:?} for {} bytes",
        feed.len()
    );
    match &result {
        Err(FeedError::TooLarge) => {}
        Err(FeedError::Token(e)) => {
            assert!(
                !matches!(e, Error::Signing | Error::Revoked | Error::TooLarge)
                    && !is_claims_error(*e),
                "feed refused with {e:?}, a token error it never should: {feed:?}"
            );
            assert_eq!(
                *e == Error::UnsupportedFormat,
                !feed.starts_with("v4.public."),
                "UnsupportedFormat exactly without the v4.public. header: {e:?} for {feed:?}"
            );
        }
        _ => {
            let payload = assert_signed_feed(fx, feed);
            assert_feed_answer(policy, &result, &payload, asked);
            let as_token = verify(fx, feed);
            let refused = match feed.len() > MAX_TOKEN_LEN {
                true => Error::TooLarge,
                false => Error::BadSignature,
            };
            assert_eq!(
                as_token,
                Err(refused),
                "a feed as an access token: {feed:?}"
            );
            if let Ok(page) = &result {
                accepted_feed(fx, page, asked);
            }
        }
    }
    result
}

/// `feed` is exactly what a fixture key that verifies feeds (PASETO, in the
/// set, not retired, not weak) signs, with the feed's implicit assertion, for
/// the payload and footer it carries: Ed25519 is deterministic, so this also
/// checks every segment is canonical. Returns the payload.
fn assert_signed_feed(fx: &Fixture, feed: &str) -> Vec<u8> {
    let body = feed.strip_prefix("v4.public.").expect("the header");
    let (message, footer) = body.split_once('.').expect("a footer");
    let message = URL_SAFE_NO_PAD.decode(message).expect("base64url message");
    let footer = URL_SAFE_NO_PAD.decode(footer).expect("base64url footer");
    assert!(message.len() > 64, "a payload and a signature: {feed:?}");
    let payload = &message[..message.len() - 64];
    let footer_json: Value = serde_json::from_slice(&footer).expect("a JSON footer");
    let kid = footer_json["kid"].as_str().expect("a kid");
    let info = fx.info(kid).expect("a fixture kid");
    assert!(
        info.format == Format::Paseto
            && matches!(info.role, Role::Active | Role::Verifies)
            && !info.weak,
        "a feed verified with {kid}, a key that must verify none: {feed:?}"
    );
    let again = sign_document(kid, &footer, payload, FEED_ASSERTION);
    assert_eq!(
        again.as_deref(),
        Some(feed),
        "accepted a feed its key did not sign so: {feed:?}"
    );
    payload.to_vec()
}

/// What must hold of every page accepted: the documented checks, well-formed
/// ids, a page that signs again to itself, and what applying it does.
fn accepted_feed(fx: &Fixture, page: &RevocationFeed, asked: Option<&str>) {
    let policy = fx.policy();
    assert_eq!(page.issuer, policy.issuer, "{page:?}");
    assert_eq!(page.since.as_deref(), asked, "{page:?}");
    assert!(is_feed_cursor(&page.next), "{page:?}");
    assert!(page.since.as_deref().is_none_or(is_feed_cursor), "{page:?}");
    assert!(page.issued_at <= page.expires_at, "{page:?}");
    assert!(
        NOW <= page.expires_at.saturating_add(policy.leeway),
        "{page:?}"
    );
    assert!(
        page.issued_at <= NOW.saturating_add(policy.leeway),
        "{page:?}"
    );
    for revoked in &page.revoked {
        assert!(is_ulid_id(&revoked.token_id, "tok_"), "{page:?}");
    }
    for cutoff in &page.cutoffs {
        assert!(is_ulid_id(&cutoff.client_id, "app_"), "{page:?}");
    }

    // Signed again by our own signer, the page verifies to itself. The one
    // thing that cannot be signed again is a time RFC 3339 cannot write in
    // UTC (e.g. 0000-01-01T00:00:00+01:00, year -1).
    let active = fx.signer(Format::Paseto, Role::Active);
    match page.sign(active) {
        Ok(again) => assert_eq!(
            RevocationFeed::verify(&again, fx.verifier.keys(), policy, asked, NOW).as_ref(),
            Ok(page),
            "the page signed again verifies differently: {again:?}"
        ),
        Err(Error::Signing) => assert!(
            page_times(page).iter().any(|t| rfc3339_utc(*t).is_none()),
            "an accepted page cannot be signed again: {page:?}"
        ),
        Err(e) => panic!("signing an accepted page failed: {e:?}"),
    }
    assert_applies(page);
}

/// Every time a page holds.
fn page_times(page: &RevocationFeed) -> Vec<UnixTime> {
    let mut times = vec![page.issued_at, page.expires_at];
    times.extend(page.revoked.iter().map(|r| r.expires_at));
    times.extend(page.cutoffs.iter().flat_map(|c| [c.cutoff, c.expires_at]));
    times
}

fn rfc3339_utc(t: UnixTime) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

/// Applies `page` to a denylist that already holds the token `TOK` and a
/// cutoff for `APP` (both also in the pages' vocabulary), and compares it with
/// docs/revocation-feed.md: a full page replaces, a page of changes merges;
/// merging only adds ids and moves cutoffs forward; of two expiries for one
/// entry the later one is kept.
fn assert_applies(page: &RevocationFeed) {
    let before = (NOW + 100, (NOW - 10, NOW + 7200));
    let mut denylist = Denylist::new();
    denylist.revoke_token_until(TOK, before.0);
    denylist.set_cutoff_until(APP, before.1.0, before.1.1);
    page.apply(&mut denylist);

    let mut tokens: HashMap<&str, UnixTime> = HashMap::new();
    let mut cutoffs: HashMap<&str, (UnixTime, UnixTime)> = HashMap::new();
    if !page.full {
        tokens.insert(TOK, before.0);
        cutoffs.insert(APP, before.1);
    }
    for r in &page.revoked {
        let until = tokens.entry(r.token_id.as_str()).or_insert(r.expires_at);
        *until = (*until).max(r.expires_at);
    }
    for c in &page.cutoffs {
        let entry = cutoffs
            .entry(c.client_id.as_str())
            .or_insert((c.cutoff, c.expires_at));
        *entry = (entry.0.max(c.cutoff), entry.1.max(c.expires_at));
    }
    assert_eq!(
        denylist.len(),
        tokens.len() + cutoffs.len(),
        "applied {page:?}: {denylist:?}"
    );
    // An entry is kept by a prune at its expiry and dropped just after.
    let kept = |horizon: UnixTime, what: &dyn Fn(&Denylist) -> bool| {
        let mut pruned = denylist.clone();
        pruned.prune(horizon);
        what(&pruned)
    };
    for (id, until) in &tokens {
        let revoked = |d: &Denylist| d.is_token_revoked(id);
        assert!(revoked(&denylist), "{id} not revoked by {page:?}");
        assert!(kept(*until, &revoked), "{id} pruned before {until}");
        if *until < UnixTime::MAX {
            assert!(!kept(until + 1, &revoked), "{id} kept after {until}");
        }
    }
    for (client, (cutoff, until)) in &cutoffs {
        assert_eq!(denylist.cutoff(client), Some(*cutoff), "{page:?}");
        let present = |d: &Denylist| d.cutoff(client).is_some();
        assert!(kept(*until, &present), "{client} pruned before {until}");
        if *until < UnixTime::MAX {
            assert!(!kept(until + 1, &present), "{client} kept after {until}");
        }
    }
}

/// The oracle for a document signed by `signer` from `footer`, `payload` and
/// `implicit`, up to the payload: the exact error of the key rules of tokens
/// (footer, kid, key status, format) or of the signature with the feed's
/// implicit assertion, or `Ok` when the payload decides ([`expect_feed`]).
fn expect_signed_feed(
    fx: &Fixture,
    feed: &str,
    signer: &SigningKey,
    footer: &[u8],
    implicit: &[u8],
    payload: &[u8],
) -> Result<(), FeedError> {
    if feed.len() > MAX_FEED_LEN {
        return Err(FeedError::TooLarge);
    }
    let kid = expect_paseto_kid(footer)?;
    let key_error = match fx.info(&kid) {
        None => Some(Error::UnknownKey),
        Some(info) if info.role == Role::Outsider => Some(Error::UnknownKey),
        Some(info) if info.role == Role::Retired => Some(Error::RetiredKey),
        Some(info) if info.format != Format::Paseto => Some(Error::WrongKeyFormat),
        Some(info) if info.weak || info.kid != signer.kid() => Some(Error::BadSignature),
        Some(_) => None,
    };
    if let Some(e) = key_error {
        return Err(e.into());
    }
    // Another assertion is another signature; pasetors hands out the payload
    // as a `&str`, so one that is not UTF-8 fails with the signature check.
    if implicit != FEED_ASSERTION || std::str::from_utf8(payload).is_err() {
        return Err(Error::BadSignature.into());
    }
    Ok(())
}

/// Asserts that `actual` is the oracle's answer for the validly signed
/// `payload`.
fn assert_feed_answer(
    policy: &Policy,
    actual: &Result<RevocationFeed, FeedError>,
    payload: &[u8],
    asked: Option<&str>,
) {
    let documented = expect_feed(policy, payload, asked);
    assert!(
        *actual == documented,
        "verify and the oracle disagree on the payload {:?}, asked {asked:?}:\n  verify: {actual:?}\n  oracle: {documented:?}",
        lossy(payload)
    );
}

/// The members of a feed payload and of its entries (docs/revocation-feed.md):
/// each always present, nothing else.
const FEED_MEMBERS: [&str; 8] = [
    "iss", "iat", "exp", "since", "next", "full", "revoked", "cutoffs",
];
const REVOKED_MEMBERS: [&str; 2] = ["jti", "exp"];
const CUTOFF_MEMBERS: [&str; 3] = ["client_id", "cutoff", "exp"];

/// The answer for a validly signed payload, from docs/revocation-feed.md:
/// `Invalid` for any payload not of the documented shape, then the checks of
/// step 4 in their documented order: `iss`, `exp` and `iat` with the leeway,
/// and `since` equal to the cursor asked with.
fn expect_feed(
    policy: &Policy,
    payload: &[u8],
    asked: Option<&str>,
) -> Result<RevocationFeed, FeedError> {
    let page = read_feed(payload).ok_or(FeedError::Invalid)?;
    if page.issuer != policy.issuer {
        return Err(FeedError::WrongIssuer);
    }
    if NOW > page.expires_at.saturating_add(policy.leeway) {
        return Err(FeedError::Expired);
    }
    if page.issued_at > NOW.saturating_add(policy.leeway) {
        return Err(FeedError::IssuedInFuture);
    }
    if page.since.as_deref() != asked {
        return Err(FeedError::CursorMismatch);
    }
    Ok(page)
}

/// A payload of the documented shape, or `None`: a JSON object (starting with
/// `{`, no member repeated at any depth) of exactly the eight members; `iss` a
/// string; `iat`, `exp` times with `exp >= iat`; `since` `null` or a cursor;
/// `next` a cursor; `full` a boolean; `revoked` an array of `{"jti", "exp"}`
/// objects with `tok_` ids; `cutoffs` an array of `{"client_id", "cutoff",
/// "exp"}` objects with `app_` ids.
fn read_feed(payload: &[u8]) -> Option<RevocationFeed> {
    let feed = strict_object(payload)?;
    let feed = exactly(&feed, &FEED_MEMBERS)?;
    let since = match &feed["since"] {
        Value::Null => None,
        Value::String(since) if is_feed_cursor(since) => Some(since.clone()),
        _ => return None,
    };
    let revoked = feed["revoked"]
        .as_array()?
        .iter()
        .map(|entry| {
            let [jti, exp] = entry_values(entry, &REVOKED_MEMBERS)?[..] else {
                return None;
            };
            let jti = jti.as_str().filter(|id| is_ulid_id(id, "tok_"))?;
            Some(RevokedToken {
                token_id: jti.to_owned(),
                expires_at: feed_time(exp)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let cutoffs = feed["cutoffs"]
        .as_array()?
        .iter()
        .map(|entry| {
            let [id, cutoff, exp] = entry_values(entry, &CUTOFF_MEMBERS)?[..] else {
                return None;
            };
            let id = id.as_str().filter(|id| is_ulid_id(id, "app_"))?;
            Some(AppCutoff {
                client_id: id.to_owned(),
                cutoff: feed_time(cutoff)?,
                expires_at: feed_time(exp)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let (issued_at, expires_at) = (feed_time(&feed["iat"])?, feed_time(&feed["exp"])?);
    if expires_at < issued_at {
        return None;
    }
    Some(RevocationFeed {
        issuer: feed["iss"].as_str()?.to_owned(),
        issued_at,
        expires_at,
        since,
        next: feed["next"]
            .as_str()
            .filter(|s| is_feed_cursor(s))?
            .to_owned(),
        full: feed["full"].as_bool()?,
        revoked,
        cutoffs,
    })
}

/// The values of an entry's members, in the order of `names`, from an object
/// of exactly those members (an array of the values is not an entry).
fn entry_values<'v>(value: &'v Value, names: &[&str]) -> Option<Vec<&'v Value>> {
    let members = exactly(value, names)?;
    Some(names.iter().map(|name| &members[*name]).collect())
}

/// `value` if it is an object of exactly the members `names`.
fn exactly<'v>(value: &'v Value, names: &[&str]) -> Option<&'v Map<String, Value>> {
    let members = value.as_object()?;
    let exact = members.len() == names.len() && names.iter().all(|n| members.contains_key(*n));
    exact.then_some(members)
}

/// A feed time: RFC 3339 with the uppercase `T` and `Z`, as in PASETO claims.
fn feed_time(value: &Value) -> Option<UnixTime> {
    value
        .as_str()
        .filter(|s| is_rfc3339_upper(s))
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp)
}

/// A cursor: 1–256 base64url characters, no padding.
fn is_feed_cursor(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A JSON document that is an object starting with `{`, read with every
/// member repeated at any depth refused (serde's derived structs refuse a
/// repeated field; `Value` alone would keep the last one silently).
fn strict_object(json: &[u8]) -> Option<Value> {
    struct Strict;

    impl<'de> DeserializeSeed<'de> for Strict {
        type Value = Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Strict {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Strict)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut members = Map::new();
            while let Some(name) = map.next_key::<String>()? {
                if members.contains_key(&name) {
                    return Err(de::Error::custom("repeated member"));
                }
                let value = map.next_value_seed(Strict)?;
                members.insert(name, value);
            }
            Ok(Value::Object(members))
        }
    }

    if json.first() != Some(&b'{') {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let value = Strict.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(value)
}

/// Times a built page chooses from: around `NOW` at the leeway's edges, the
/// first and last second RFC 3339 can write, and two it cannot.
const FEED_TIMES: [UnixTime; 14] = [
    NOW,
    NOW - 30,
    NOW - 31,
    NOW + 30,
    NOW + 31,
    NOW - 90,
    NOW - 91,
    NOW - 3600,
    NOW + 3600,
    -62_167_219_200,
    253_402_300_799,
    253_402_300_800,
    -62_167_219_201,
    UnixTime::MIN,
];

/// `exp - iat` of a built page.
const FEED_LIFETIMES: [UnixTime; 7] = [60, 0, -1, 1, -60, 3600, UnixTime::MAX];

/// A page built from the input, one choice per byte, index 0 always a valid
/// value, so a short input is a valid page: issuer, `iat`, lifetime, `since`,
/// `next`, `full`, then `[n]` revoked entries of (`jti`, `exp`) and `[n]`
/// cutoffs of (`client_id`, `cutoff`, `exp`). Signed by the crate's own
/// `RevocationFeed::sign`, it must verify exactly as the page's fields say,
/// and what the signer wrote must read back the same through [`expect_feed`].
/// Two more bytes, a member and an edit, then break that JSON in one way
/// (a member removed, added, `null`, repeated, or an entry as an array) and
/// check the edited payload as mode 1 does.
fn built_feed(fx: &Fixture, data: &[u8], asked: Option<&str>) {
    let long = "A".repeat(256);
    let too_long = "A".repeat(257);
    let cursors = [
        CURSOR, "YQ", &long, "", "a.b", "c2luY2U=", "é", &too_long, " YQ",
    ];
    let tokens = [
        TOK,
        "tok_01HZZZZZZZZZZZZZZZZZZZZZZY",
        "tok_01hzzzzzzzzzzzzzzzzzzzzzzz",
        "tok_01HZZZZZZZZZZZZZZZZZZZZZZI",
        "tok_01HZZZZZZZZZZZZZZZZZZZZZZ",
        APP,
        "",
    ];
    let apps = [
        APP,
        "app_01HZZZZZZZZZZZZZZZZZZZZZZY",
        "app_01HZZZZZZZZZZZZZZZZZZZZZZU",
        TOK,
        "admin:root",
    ];
    let mut bytes = data.iter().copied();
    let mut pick = |n: usize| bytes.next().map_or(0, |b| usize::from(b) % n);
    let issuer = [Policy::DEFAULT_ISSUER, "staging", "", "Informly"][pick(4)];
    let issued_at = FEED_TIMES[pick(FEED_TIMES.len())];
    let expires_at = issued_at.saturating_add(FEED_LIFETIMES[pick(FEED_LIFETIMES.len())]);
    let since = match pick(cursors.len() + 1) {
        0 => None,
        i => Some(cursors[i - 1].to_owned()),
    };
    let next = cursors[pick(cursors.len())].to_owned();
    let full = pick(2) == 0;
    let mut revoked = Vec::new();
    for _ in 0..pick(4) {
        revoked.push(RevokedToken {
            token_id: tokens[pick(tokens.len())].to_owned(),
            expires_at: FEED_TIMES[pick(FEED_TIMES.len())],
        });
    }
    let mut cutoffs = Vec::new();
    for _ in 0..pick(4) {
        cutoffs.push(AppCutoff {
            client_id: apps[pick(apps.len())].to_owned(),
            cutoff: FEED_TIMES[pick(FEED_TIMES.len())],
            expires_at: FEED_TIMES[pick(FEED_TIMES.len())],
        });
    }
    let page = RevocationFeed {
        issuer: issuer.to_owned(),
        issued_at,
        expires_at,
        since,
        next,
        full,
        revoked,
        cutoffs,
    };

    // Only a time RFC 3339 cannot write in UTC stops the signer.
    let active = fx.signer(Format::Paseto, Role::Active);
    let signed = page.sign(active);
    if page_times(&page).iter().any(|t| rfc3339_utc(*t).is_none()) {
        assert_eq!(signed, Err(Error::Signing), "{page:?}");
        return;
    }
    let feed = signed.unwrap_or_else(|e| panic!("signing {page:?} failed: {e:?}"));
    let well_formed = is_feed_cursor(&page.next)
        && page.since.as_deref().is_none_or(is_feed_cursor)
        && page.expires_at >= page.issued_at
        && page.revoked.iter().all(|r| is_ulid_id(&r.token_id, "tok_"))
        && page
            .cutoffs
            .iter()
            .all(|c| is_ulid_id(&c.client_id, "app_"));
    let expected = match well_formed {
        false => Err(FeedError::Invalid),
        true if page.issuer != fx.policy().issuer => Err(FeedError::WrongIssuer),
        true if NOW > page.expires_at.saturating_add(fx.policy().leeway) => Err(FeedError::Expired),
        true if page.issued_at > NOW.saturating_add(fx.policy().leeway) => {
            Err(FeedError::IssuedInFuture)
        }
        true if page.since.as_deref() != asked => Err(FeedError::CursorMismatch),
        true => Ok(page.clone()),
    };
    let actual = verify_feed(fx, &feed, asked);
    assert_eq!(
        actual, expected,
        "{page:?} signed as {feed:?}, asked {asked:?}"
    );
    // What the signer wrote reads back as the page it was given.
    let payload = assert_signed_feed(fx, &feed);
    assert_eq!(
        expect_feed(fx.policy(), &payload, asked),
        expected,
        "{page:?} was written as {:?}",
        lossy(&payload)
    );

    // Then, if the input goes on, that JSON broken in one way the signer never
    // breaks it, signed as a feed and checked against the oracle. Byte
    // mutation rarely makes these edits (see findings 6 and 7).
    let Ok(Value::Object(mut members)) = serde_json::from_slice::<Value>(&payload) else {
        unreachable!("the signer writes an object")
    };
    let name = FEED_MEMBERS[pick(FEED_MEMBERS.len())];
    let edited = match pick(6) {
        0 => return,
        1 => {
            members.remove(name);
            serde_json::to_string(&members)
        }
        2 => {
            members.insert("workspace".to_owned(), Value::from(WS));
            serde_json::to_string(&members)
        }
        3 => {
            members.insert(name.to_owned(), Value::Null);
            serde_json::to_string(&members)
        }
        4 => {
            // The first entry as the array of its values, in member order.
            let (list, names) = match pick(2) {
                0 => ("revoked", &REVOKED_MEMBERS[..]),
                _ => ("cutoffs", &CUTOFF_MEMBERS[..]),
            };
            let Some(entry) = members.get_mut(list).and_then(|l| l.get_mut(0)) else {
                return;
            };
            *entry = Value::Array(names.iter().map(|n| entry[*n].clone()).collect());
            serde_json::to_string(&members)
        }
        _ => {
            // The member repeated, with the value `null`.
            let written = serde_json::to_string(&members).expect("JSON");
            let open = &written[..written.len() - 1];
            Ok(format!("{open},{}:null}}", Value::from(name)))
        }
    };
    let footer = key_header(Format::Paseto, active.kid());
    let edited = edited.expect("JSON");
    signed_feed(
        fx,
        active,
        &footer,
        edited.as_bytes(),
        FEED_ASSERTION,
        asked,
    );
}

// ---------------------------------------------------------------------------
// contacts_body
// ---------------------------------------------------------------------------

/// The Contacts request bodies through the real router: the input is the
/// body of `POST /v1/contacts` and of `PATCH /v1/contacts/{id}` (an existing
/// contact), sent with a valid token of every contacts scope. Asserts: never
/// a 5xx, only the statuses each route documents, problem+json on every
/// error; what a 201/200 returns is what was sent; and nothing lost, nothing
/// left (SECURITY.md §9 row I): after each input the workspace holds exactly
/// the one contact, unchanged.
pub fn contacts_body(data: &[u8]) {
    let api = Api::get();

    // POST: a new contact, or a 4xx; a created contact is deleted again.
    let created = api.send(Method::POST, "/v1/contacts", data.to_vec());
    created.assert_status("POST", data, &[201, 400, 409, 413, 422]);
    match created.status.as_u16() {
        201 => {
            let sent = body_object(data).expect("a 201 came from a JSON object");
            let contact = created.json();
            let id = contact["id"].as_str().expect("an id");
            assert!(is_ulid_id(id, "ct_"), "{contact}");
            let location = format!("/v1/contacts/{id}");
            assert_eq!(created.headers[header::LOCATION], location.as_str());
            let mut expected = json!({
                "id": id,
                "first_name": null, "last_name": null, "phone": null, "company": null,
                "tags": [], "attributes": {},
                "created_at": api.contact["created_at"],
                "updated_at": api.contact["updated_at"],
            });
            for (name, value) in sent {
                expected[&name] = as_stored(&name, value);
            }
            assert_eq!(contact, expected, "created from {:?}", lossy(data));
            assert_ne!(
                lowercase_email(&contact),
                lowercase_email(&api.contact),
                "two contacts with one email"
            );
            let deleted = api.send(Method::DELETE, &location, Vec::new());
            assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        }
        409 => {
            let sent = Value::Object(body_object(data).expect("JSON").into_iter().collect());
            assert_eq!(
                lowercase_email(&sent),
                lowercase_email(&api.contact),
                "409 without a duplicate email: {:?}",
                lossy(data)
            );
        }
        _ => {}
    }

    // PATCH the existing contact: only the fields sent change, `null` clears.
    let patched = api.send(Method::PATCH, &api.path, data.to_vec());
    patched.assert_status("PATCH", data, &[200, 400, 413, 422]);
    if patched.status == StatusCode::OK {
        let mut expected = api.contact.clone();
        for (name, value) in body_object(data).expect("a 200 came from a JSON object") {
            expected[&name] = as_stored(&name, value);
        }
        assert_eq!(patched.json(), expected, "patched with {:?}", lossy(data));
        let restored = api.send(Method::PATCH, &api.path, api.restore.clone());
        assert_eq!(restored.status, StatusCode::OK);
    }

    // Nothing lost, nothing left.
    let list = api.send(Method::GET, "/v1/contacts", Vec::new());
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!({ "data": [api.contact], "next_cursor": null }),
        "after {:?}",
        lossy(data)
    );
}

/// A request body as the server reads it: a JSON object after any JSON
/// whitespace (unlike a token's claims, which must start with `{`).
fn body_object(data: &[u8]) -> Option<Vec<(String, Value)>> {
    let start = data
        .iter()
        .position(|b| !b" \t\n\r".contains(b))
        .unwrap_or(data.len());
    object(&data[start..], &[])
}

/// A field as the API shows it once stored: `null` tags and attributes are
/// empty ones.
fn as_stored(name: &str, value: Value) -> Value {
    match (name, value) {
        ("tags", Value::Null) => json!([]),
        ("attributes", Value::Null) => json!({}),
        (_, value) => value,
    }
}

fn lossy(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn lowercase_email(contact: &Value) -> Option<String> {
    contact["email"].as_str().map(str::to_lowercase)
}

/// The server in-process: a SQLite store in a temporary directory (on tmpfs
/// where there is one), the real router, and a token issued once. Built on
/// first use and kept for the life of the process.
struct Api {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    authorization: String,
    /// The one contact of the workspace, as the API shows it.
    contact: Value,
    /// Its path, and the body that puts every field back.
    path: String,
    restore: Vec<u8>,
    home: PathBuf,
}

static API: OnceLock<Api> = OnceLock::new();

/// The body of the one contact.
const CONTACT: &str = r#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace",
    "phone":"+44 20 7946 0000","company":"Analytical Engines","tags":["vip","engine"],
    "attributes":{"plan":"pro","seats":3,"trial":false,"ref":null}}"#;

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// The status is one the route documents (never a 5xx), and an error is
    /// problem+json saying the same status.
    fn assert_status(&self, route: &str, data: &[u8], allowed: &[u16]) {
        let status = self.status.as_u16();
        assert!(
            allowed.contains(&status),
            "{route} answered {status} {:?} to {:?}",
            String::from_utf8_lossy(&self.body),
            lossy(data)
        );
        let content_type = self.headers.get(header::CONTENT_TYPE);
        if self.status.is_success() {
            assert_eq!(
                content_type.map(|v| v.as_bytes()),
                Some(&b"application/json"[..])
            );
        } else {
            assert_eq!(
                content_type.map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..]),
                "{route} {status}"
            );
            assert_eq!(self.json()["status"], status, "{route} {status}");
        }
    }
}

/// Removes the homes left by earlier processes that died without running
/// their exit handler (a crash, or libFuzzer's crash minimisation): those
/// named `informly-fuzz-<pid>-…` whose process is gone.
fn remove_stale_homes(parent: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("informly-fuzz-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Api {
    fn get() -> &'static Api {
        API.get_or_init(Api::start)
    }

    fn start() -> Api {
        use informly::cache::TokenCache;
        use informly::clock::{Clock, ManualClock};
        use informly::http::AppState;
        use informly::http::cursor::CursorKey;
        use informly::keys::LiveKeys;
        use informly::revocation::Revocations;
        use informly::service::{IssueRequest, Service};
        use informly::store::Store;
        use informly::token::Expiry;

        let shm = std::path::Path::new("/dev/shm");
        let parent = match shm.is_dir() {
            true => shm.to_owned(),
            false => std::env::temp_dir(),
        };
        remove_stale_homes(&parent);
        let home = tempfile::Builder::new()
            .prefix(&format!("informly-fuzz-{}-", std::process::id()))
            .tempdir_in(&parent)
            .expect("a temporary directory")
            .keep();
        // Statics are never dropped: remove the directory at exit instead.
        extern "C" fn remove_home() {
            if let Some(api) = API.get() {
                let _ = std::fs::remove_dir_all(&api.home);
            }
        }
        // SAFETY: registers a plain function taking and returning nothing.
        unsafe { libc::atexit(remove_home) };
        let keys_dir = home.join("keys");
        std::fs::create_dir(&keys_dir).expect("keys dir");
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(&keys_dir, private).expect("chmod 700");

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (router, authorization) = runtime.block_on(async {
            let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(NOW));
            let policy = Policy::default();
            let url = format!("sqlite://{}", home.join("informly.db").display());
            let store = Store::open(&url).await.expect("store");
            let workspace = store
                .ensure_default_workspace(clock.now())
                .await
                .expect("workspace");
            let keys =
                Arc::new(LiveKeys::open(&keys_dir, policy.clone(), clock.now()).expect("key ring"));
            let service = Service::new(store.clone(), policy.clone(), clock.clone());
            let app = service
                .create_app(&workspace, "fuzz", None)
                .await
                .expect("app");
            let issued = service
                .issue_token(
                    &keys,
                    &app,
                    IssueRequest {
                        name: None,
                        scopes: vec![
                            "contacts:read".into(),
                            "contacts:write".into(),
                            "contacts:delete".into(),
                        ],
                        expiry: Expiry::In(3600),
                        format: Format::Paseto,
                    },
                )
                .await
                .expect("token");
            let revocations = Revocations::load(&store, NOW - policy.leeway, NOW * 1_000_000, 300)
                .await
                .expect("denylist");
            let state = AppState::new(
                service,
                keys,
                Arc::new(revocations),
                CursorKey::new(vec![7; 32]),
                TokenCache::new(16, policy.leeway),
                informly::dashboard::Config::default(),
            );
            let router = informly::http::app(state, Duration::from_secs(30));
            (router, format!("Bearer {}", issued.token.as_str()))
        });
        let mut api = Api {
            runtime,
            router,
            authorization,
            contact: Value::Null,
            path: String::new(),
            restore: Vec::new(),
            home,
        };
        let created = api.send(Method::POST, "/v1/contacts", CONTACT.into());
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        api.contact = created.json();
        api.path = format!("/v1/contacts/{}", api.contact["id"].as_str().expect("id"));
        let fields: Map<String, Value> = serde_json::from_str(CONTACT).expect("JSON");
        api.restore = serde_json::to_vec(&fields).expect("JSON");
        api
    }

    fn send(&self, method: Method, uri: &str, body: Vec<u8>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, &self.authorization)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await;
            let response = response.unwrap_or_else(|e| match e {});
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
            Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        })
    }
}

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

/// Seed inputs per target, as (target, name, bytes): real tokens and claims
/// made with the fixture keys, footers and headers from SECURITY.md §9, scope
/// lists, contact bodies, and revocation feeds and their payloads (valid, and
/// each broken one way). Written to `fuzz/corpus/` by the ignored test
/// `write_seed_corpora` (fuzz/README.md).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let fx = &*FIXTURE;
    let mut seeds = Vec::new();
    for (target, format) in [("token_paseto", Format::Paseto), ("token_jwt", Format::Jwt)] {
        let mut add = |name: &str, mode: u8, bytes: &[u8]| {
            let mut data = vec![mode];
            data.extend_from_slice(bytes);
            seeds.push((target, name.to_owned(), data));
        };
        let active = fx.signer(format, Role::Active);
        let app = valid_payload(format);
        let admin = payload(
            format,
            "admin:cli",
            "apps:read apps:write",
            NOW - 60,
            NOW + 600,
        );
        let expired = payload(format, APP, "contacts:read", NOW - 7200, NOW - 3600);
        let header = key_header(format, active.kid());
        for (role, name) in [
            (Role::Active, "token-active"),
            (Role::Verifies, "token-second-key"),
            (Role::Retired, "token-retired-key"),
            (Role::Outsider, "token-outsider-key"),
        ] {
            let key = fx.signer(format, role);
            let token = sign(key, &key_header(format, key.kid()), &app).expect("signs");
            add(name, 0, token.as_bytes());
        }
        let token = sign(active, &header, &admin).expect("signs");
        add("token-admin", 0, token.as_bytes());
        let token = sign(active, &header, &expired).expect("signs");
        add("token-expired", 0, token.as_bytes());
        // A forgery that verifies under a small-order key with a plain
        // Ed25519 check: R = identity, S = 0.
        let mut forged_signature = [0u8; 64];
        forged_signature[0] = 1;
        let weak_header = key_header(format, fx.weak_kid(format));
        let forged = match format {
            Format::Paseto => format!(
                "v4.public.{}.{}",
                URL_SAFE_NO_PAD.encode([&app[..], &forged_signature].concat()),
                URL_SAFE_NO_PAD.encode(&weak_header)
            ),
            Format::Jwt => format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(&weak_header),
                URL_SAFE_NO_PAD.encode(&app),
                URL_SAFE_NO_PAD.encode(forged_signature)
            ),
        };
        add("token-weak-key-forgery", 0, forged.as_bytes());
        add("claims-app", 1, &app);
        add("claims-admin", 1, &admin);
        add("claims-expired", 1, &expired);
        let audiences = String::from_utf8(app.clone()).expect("UTF-8").replace(
            r#""aud":"informly-api""#,
            r#""aud":["other","informly-api"]"#,
        );
        add("claims-audience-array", 1, audiences.as_bytes());
        let mut parts = vec![u8::try_from(header.len()).expect("short")];
        parts.extend_from_slice(&header);
        parts.extend_from_slice(&app);
        add("parts-canonical", 2, &parts);
        // Mode 3: [k] picks the signer (k % 4) and the kid (k / 4).
        let kid_index = |kid: &str| fx.keys.iter().position(|k| k.kid == kid).expect("a key");
        let active_kid = kid_index(active.kid()) as u8;
        let other_format = kid_index(fx.signer(other(format), Role::Active).kid()) as u8;
        add(
            "signer-retired-kid-active",
            3,
            &[&[2 + 4 * active_kid], &app[..]].concat(),
        );
        add(
            "signer-active-kid-other-format",
            3,
            &[&[4 * other_format], &app[..]].concat(),
        );
    }

    for (name, mode, footer) in [
        (
            "paseto-kid",
            0u8,
            key_header(
                Format::Paseto,
                fx.signer(Format::Paseto, Role::Active).kid(),
            ),
        ),
        (
            "jwt-header",
            1,
            key_header(Format::Jwt, fx.signer(Format::Jwt, Role::Active).kid()),
        ),
        (
            "paseto-not-json",
            0,
            b"arbitrary-string-that-isn't-json".to_vec(),
        ),
        (
            "paseto-public-key",
            0,
            br#"{"kid":"k4.public.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#.to_vec(),
        ),
        (
            "paseto-extra-member",
            0,
            br#"{"kid":"k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","role":"admin"}"#
                .to_vec(),
        ),
        (
            "jwt-alg-none",
            1,
            br#"{"alg":"none","typ":"at+jwt","kid":"x"}"#.to_vec(),
        ),
        (
            "jwt-crit",
            1,
            br#"{"alg":"EdDSA","typ":"at+jwt","kid":"x","crit":["exp"]}"#.to_vec(),
        ),
        (
            "jwt-typ-case",
            1,
            br#"{"alg":"EdDSA","typ":"Application/AT+JWT","kid":"x"}"#.to_vec(),
        ),
        (
            "jwt-duplicate-alg",
            1,
            br#"{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"x"}"#.to_vec(),
        ),
    ] {
        let mut data = vec![mode];
        data.extend_from_slice(&footer);
        seeds.push(("footer_kid", name.to_owned(), data));
    }
    // Mode 2, member pairs: the canonical footer and header.
    seeds.push(("footer_kid", "paseto-members".to_owned(), vec![4, 2, 3]));
    seeds.push((
        "footer_kid",
        "jwt-members".to_owned(),
        vec![5, 0, 1, 1, 2, 2, 3],
    ));
    let pid = fx.signer(Format::Paseto, Role::Active).kid().to_owned();
    let text = URL_SAFE_NO_PAD.encode(key_header(Format::Paseto, &pid));
    seeds.push((
        "footer_kid",
        "paseto-text".to_owned(),
        [b"\x02", text.as_bytes()].concat(),
    ));
    let padded = format!("{}==", URL_SAFE_NO_PAD.encode(b"{\"kid\":\"x\"}"));
    seeds.push((
        "footer_kid",
        "paseto-text-padded".to_owned(),
        [b"\x02", padded.as_bytes()].concat(),
    ));

    // revocation_feed: first byte `b`: `b % 5` the mode, `ASKED[(b / 5) % 3]`
    // the cursor asked with, `ASSERTIONS[(b / 15) % 3]` mode 2's assertion.
    let feed_payload = |since: Option<&str>, full: bool| {
        json!({
            "iss": Policy::DEFAULT_ISSUER,
            "iat": rfc3339(NOW - 10),
            "exp": rfc3339(NOW + 50),
            "since": since,
            "next": "bmV4dA",
            "full": full,
            "revoked": [
                {"jti": TOK, "exp": rfc3339(NOW + 3600)},
                {"jti": "tok_01HZZZZZZZZZZZZZZZZZZZZZZY", "exp": rfc3339(NOW + 60)},
            ],
            "cutoffs": [
                {"client_id": APP, "cutoff": rfc3339(NOW - 60), "exp": rfc3339(NOW + 7200)},
            ],
        })
    };
    let full = feed_payload(None, true);
    let changes = feed_payload(Some(CURSOR), false);
    let text = |v: &Value| serde_json::to_vec(v).expect("JSON");
    let edited = |f: &dyn Fn(&mut Map<String, Value>)| {
        let mut v = full.clone();
        f(v.as_object_mut().expect("an object"));
        text(&v)
    };
    let active = fx.signer(Format::Paseto, Role::Active);
    let footer = key_header(Format::Paseto, active.kid());
    let feed_of = |payload: &[u8]| {
        sign_document(active.kid(), &footer, payload, FEED_ASSERTION).expect("signs")
    };
    let kid_index = |kid: &str| fx.keys.iter().position(|k| k.kid == kid).expect("a key");
    let active_kid = u8::try_from(kid_index(active.kid())).expect("few keys");
    let jwt_kid = u8::try_from(kid_index(fx.signer(Format::Jwt, Role::Active).kid())).expect("few");
    let token = sign(active, &footer, &valid_payload(Format::Paseto)).expect("signs");
    let mut with_footer = vec![u8::try_from(footer.len()).expect("short")];
    with_footer.extend_from_slice(&footer);
    with_footer.extend_from_slice(&text(&full));
    let duplicate = String::from_utf8(text(&full)).expect("UTF-8").replacen(
        "\"full\":true",
        "\"full\":true,\"full\":false",
        1,
    );
    let feed_seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("feed-full", 0, feed_of(&text(&full)).into_bytes()),
        ("feed-changes", 5, feed_of(&text(&changes)).into_bytes()),
        (
            "feed-asked-another-cursor",
            0,
            feed_of(&text(&changes)).into_bytes(),
        ),
        ("feed-access-token", 0, token.into_bytes()),
        ("feed-not-a-feed", 0, b"v4.public.not-a-feed".to_vec()),
        ("payload-full", 1, text(&full)),
        ("payload-changes", 6, text(&changes)),
        (
            "payload-empty-page",
            1,
            edited(&|m| {
                m["revoked"] = json!([]);
                m["cutoffs"] = json!([]);
            }),
        ),
        (
            "payload-unknown-member",
            1,
            edited(&|m| {
                m.insert("workspace".into(), json!("ws_x"));
            }),
        ),
        ("payload-duplicate-member", 1, duplicate.into_bytes()),
        (
            "payload-numeric-time",
            1,
            edited(&|m| m["iat"] = json!(NOW)),
        ),
        (
            "payload-offset-time",
            1,
            edited(&|m| {
                m["exp"] = json!("2027-01-15T09:00:50+01:00");
            }),
        ),
        (
            "payload-expired",
            1,
            edited(&|m| {
                m["iat"] = json!(rfc3339(NOW - 120));
                m["exp"] = json!(rfc3339(NOW - 31));
            }),
        ),
        (
            "payload-exp-before-iat",
            1,
            edited(&|m| m["exp"] = json!(rfc3339(NOW - 11))),
        ),
        (
            "payload-bad-jti",
            1,
            edited(&|m| m["revoked"][0]["jti"] = json!("tok_x")),
        ),
        ("payload-array", 1, b"[]".to_vec()),
        ("parts-canonical", 2, with_footer.clone()),
        ("parts-token-assertion", 17, with_footer),
        (
            "signer-retired-kid-active",
            3,
            [&[2 + 4 * active_kid], &text(&full)[..]].concat(),
        ),
        (
            "signer-active-kid-jwt",
            3,
            [&[4 * jwt_kid], &text(&full)[..]].concat(),
        ),
        ("built-valid", 4, Vec::new()),
        (
            "built-entries",
            9,
            vec![0, 0, 0, 1, 0, 1, 2, 0, 8, 1, 0, 1, 0, 5, 8],
        ),
    ];
    for (name, mode, bytes) in feed_seeds {
        seeds.push((
            "revocation_feed",
            name.to_owned(),
            [&[mode], &bytes[..]].concat(),
        ));
    }

    for (name, scope) in [
        ("app", "contacts:read contacts:write"),
        ("every", &SCOPES.map(|(n, _)| n).join(" ")[..]),
        ("admin", "apps:read apps:write apps:delete"),
        (
            "near-misses",
            "contacts:* Contacts:Read contacts:read-all contacts",
        ),
        ("double-space", "contacts:read  contacts:write"),
        ("empty", ""),
    ] {
        seeds.push(("scopes", name.to_owned(), scope.as_bytes().to_vec()));
    }

    for (name, body) in [
        ("full", CONTACT.replace("ada@", "grace@")),
        ("minimal", r#"{"email":"a@b.co"}"#.to_owned()),
        (
            "patch-clear",
            r#"{"first_name":null,"tags":null,"attributes":null}"#.to_owned(),
        ),
        ("email-null", r#"{"email":null}"#.to_owned()),
        (
            "duplicate-email",
            r#"{"email":"ADA@example.com"}"#.to_owned(),
        ),
        (
            "unknown-field",
            r#"{"email":"a@b.co","workspace_id":"ws_x"}"#.to_owned(),
        ),
        (
            "duplicate-key",
            r#"{"email":"a@b.co","email":"c@d.co"}"#.to_owned(),
        ),
        (
            "nested-attribute",
            r#"{"email":"a@b.co","attributes":{"a":{"b":1}}}"#.to_owned(),
        ),
        (
            "duplicate-attribute",
            r#"{"email":"a@b.co","attributes":{"a":1,"a":2}}"#.to_owned(),
        ),
        (
            "nul",
            r#"{"email":"a@b.co","first_name":"a\u0000b"}"#.to_owned(),
        ),
        (
            "unicode",
            "{\"email\":\"a@b.co\",\"company\":\"\u{202e}Ünïcödé 🦀\"}".to_owned(),
        ),
        ("tags", r#"{"email":"a@b.co","tags":["", "x"]}"#.to_owned()),
        ("not-json", "{\"email\":".to_owned()),
        ("deep", format!("{}{}", "[".repeat(200), "]".repeat(200))),
        ("surrogate", r#"{"email":"\ud800@b.co"}"#.to_owned()),
        (
            "numbers",
            r#"{"email":"a@b.co","attributes":{"n":1e400}}"#.to_owned(),
        ),
    ] {
        seeds.push(("contacts_body", name.to_owned(), body.into_bytes()));
    }
    seeds
}
