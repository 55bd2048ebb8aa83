//! `token_paseto` and `token_jwt`: `Verifier::verify` on tokens of each
//! format, checked against the token oracle, an independent reading of the
//! token rules that `footer_kid` and `revocation_feed` use too.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use informly::token::{
    Error, Format, KeyStatus, MAX_TOKEN_LEN, Policy, SigningKey, Subject, TokenClaims, UnixTime,
    Verified,
};
use serde_json::Value;

use super::scopes::expect_scopes;
use super::{
    APP, FIXTURE, Fixture, NOW, ROLES, Role, Seeds, is_ulid_id, key_header, object, other,
    paseto_time, payload, rfc3339_utc, sign, valid_payload,
};

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
pub(super) fn signed(fx: &Fixture, signer: &SigningKey, header: &[u8], payload: &[u8]) {
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
pub(super) fn verify(fx: &Fixture, token: &str) -> Result<Verified, Error> {
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
    let claims = &verified.claims();
    let policy = fx.policy();
    assert!(token.len() <= MAX_TOKEN_LEN);

    // The format is the token's own, and the string is canonical (B9, B10,
    // B14): every segment is the unpadded base64url its bytes encode to, and
    // the header or footer names the key that verified it.
    let key_json = match token.strip_prefix("v4.public.") {
        Some(body) => {
            assert_eq!(verified.format(), Format::Paseto, "{token:?}");
            let segments: Vec<&str> = body.split('.').collect();
            assert_eq!(segments.len(), 2, "message and footer: {token:?}");
            segments.iter().for_each(|s| assert_canonical(s, token));
            URL_SAFE_NO_PAD.decode(segments[1]).expect("canonical")
        }
        None => {
            assert_eq!(verified.format(), Format::Jwt, "{token:?}");
            let segments: Vec<&str> = token.split('.').collect();
            assert_eq!(segments.len(), 3, "header, payload, signature: {token:?}");
            segments.iter().for_each(|s| assert_canonical(s, token));
            URL_SAFE_NO_PAD.decode(segments[0]).expect("canonical")
        }
    };
    let key_json: Value = serde_json::from_slice(&key_json).expect("footer/header is JSON");
    assert_eq!(
        key_json.get("kid").and_then(Value::as_str),
        Some(verified.kid()),
        "the key named is the key used: {token:?}"
    );

    // The key: in the set, of this format, not retired, not weak (F3, F7, B13).
    let info = fx.info(verified.kid()).expect("the kid is a fixture key");
    let (key, status) = fx.verifier.keys().get(verified.kid()).expect("in the set");
    assert_ne!(
        status,
        KeyStatus::Retired,
        "retired key accepted: {token:?}"
    );
    assert_eq!(key.format(), verified.format(), "{token:?}");
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
            verified.format() == Format::Paseto
                && [claims.issued_at, claims.not_before, claims.expires_at]
                    .iter()
                    .any(|t| rfc3339_utc(*t).is_none()),
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
pub(super) enum Expect {
    /// Accepted, with exactly these claims.
    Claims(TokenClaims),
    /// Refused with exactly this error (size, header/footer, key, signature).
    Error(Error),
    /// Refused by one of the claim rules; which fires first is not specified.
    Refused,
}

impl Expect {
    pub(super) fn assert_matches(&self, actual: &Result<Verified, Error>, token: &str) {
        let agree = match (self, actual) {
            (Expect::Claims(expected), Ok(verified)) => expected == verified.claims(),
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
pub(super) fn is_claims_error(e: Error) -> bool {
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
pub(super) fn expect(
    fx: &Fixture,
    token: &str,
    signer: &SigningKey,
    header: &[u8],
    payload: &[u8],
) -> Expect {
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
    if let Some(e) = expect_key_error(fx, format, &kid, signer) {
        return Expect::Error(e);
    }
    // pasetors hands out the payload as a `&str`: one that is not UTF-8 fails
    // with the signature check.
    if format == Format::Paseto && std::str::from_utf8(payload).is_err() {
        return Expect::Error(Error::BadSignature);
    }
    expect_claims(fx.policy(), format, payload).map_or(Expect::Refused, Expect::Claims)
}

/// The error of the key named `kid`, for a token of `format` signed by
/// `signer`, if any: the key named is the one used, with no fallback to any
/// other key (F4, F5).
pub(super) fn expect_key_error(
    fx: &Fixture,
    format: Format,
    kid: &str,
    signer: &SigningKey,
) -> Option<Error> {
    match fx.info(kid) {
        None => Some(Error::UnknownKey),
        Some(info) if info.role == Role::Outsider => Some(Error::UnknownKey),
        Some(info) if info.role == Role::Retired => Some(Error::RetiredKey),
        Some(info) if info.format != format => Some(Error::WrongKeyFormat),
        Some(info) if info.weak || info.kid != signer.kid() => Some(Error::BadSignature),
        Some(_) => None,
    }
}

/// Our PASETO footer policy (SECURITY.md C3–C7, B14): exactly `{"kid": "k4.pid.…"}`.
pub(super) fn expect_paseto_kid(footer: &[u8]) -> Result<String, Error> {
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
            // RFC 3339 with the uppercase `T` and `Z` (§11 C13).
            Format::Paseto => paseto_time(value),
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

/// The seeds of `token_paseto` and `token_jwt`: real tokens and claims made
/// with the fixture keys.
pub(super) fn seeds(seeds: &mut Seeds) {
    let fx = &*FIXTURE;
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
}
