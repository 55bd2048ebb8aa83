//! `revocation_feed`: `RevocationFeed::verify` on signed feeds, against an
//! oracle read from docs/revocation-feed.md.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use informly::token::{
    AppCutoff, Denylist, Error, FEED_ASSERTION, FeedError, Format, MAX_FEED_LEN, MAX_TOKEN_LEN,
    Policy, RevocationFeed, RevokedToken, SigningKey, UnixTime,
};
use pasetors::keys::AsymmetricSecretKey;
use pasetors::version4::{PublicToken, V4};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use super::token::{expect_key_error, expect_paseto_kid, is_claims_error, verify};
use super::{
    APP, FIXTURE, Fixture, NOW, ROLES, Role, Seeds, TOK, WS, is_ulid_id, key_header, lossy,
    paseto_time, rfc3339, rfc3339_utc, sign, valid_payload,
};

/// The cursor the feed seeds answer. Feeds are verified asking with none,
/// with this one, or with one that is no cursor at all.
const CURSOR: &str = "c2luY2U";
const ASKED: [Option<&str>; 3] = [None, Some(CURSOR), Some("a.b")];

/// Implicit assertions a document can be signed with: the feed's, the access
/// tokens' (none), and the earlier feed version's (v1, without `from`).
const ASSERTIONS: [&[u8]; 3] = [FEED_ASSERTION, b"", b"informly:revocation-feed:v1"];

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
    if let Some(e) = expect_key_error(fx, Format::Paseto, &kid, signer) {
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
const REVOKED_MEMBERS: [&str; 3] = ["jti", "exp", "from"];
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
/// `next` a cursor; `full` a boolean; `revoked` an array of `{"jti", "exp",
/// "from"}` objects with `tok_` ids (`from` `null` or a time); `cutoffs` an array of `{"client_id", "cutoff",
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
            let [jti, exp, from] = entry_values(entry, &REVOKED_MEMBERS)?[..] else {
                return None;
            };
            let jti = jti.as_str().filter(|id| is_ulid_id(id, "tok_"))?;
            let from = match from {
                Value::Null => None,
                from => Some(paseto_time(from)?),
            };
            Some(RevokedToken {
                token_id: jti.to_owned(),
                expires_at: paseto_time(exp)?,
                from,
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
                cutoff: paseto_time(cutoff)?,
                expires_at: paseto_time(exp)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let (issued_at, expires_at) = (paseto_time(&feed["iat"])?, paseto_time(&feed["exp"])?);
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
            from: match pick(FEED_TIMES.len() + 1) {
                0 => None,
                i => Some(FEED_TIMES[i - 1]),
            },
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

/// The seeds of `revocation_feed`: feeds and their payloads, valid and each
/// broken one way.
pub(super) fn seeds(seeds: &mut Seeds) {
    let fx = &*FIXTURE;
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
                {"jti": TOK, "exp": rfc3339(NOW + 3600), "from": null},
                {"jti": "tok_01HZZZZZZZZZZZZZZZZZZZZZZY", "exp": rfc3339(NOW + 60), "from": rfc3339(NOW + 30)},
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
}
