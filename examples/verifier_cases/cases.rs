//! The shared verifier cases, built from the real token core: tokens signed by
//! `SigningKey` (or forged over raw Ed25519 where the encoding itself is under
//! test), key documents as the service publishes them, and revocation feed
//! pages signed by `RevocationFeed::sign`. Each case states its expected
//! outcome by hand; [`generate`] checks it against `token::Verifier` before
//! writing anything, and `tests/verifier_cases.rs` runs every case through
//! the remote verifier. Included by `examples/verifier_cases.rs` and by that
//! test, so both see the same cases.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer as _;
use hmac::Mac as _;
use informly::token::{
    self, AppCutoff, FEED_ASSERTION, Format, Jwks, KeySet, KeyStatus, MAX_TOKEN_LEN, PaserkKeySet,
    Policy, PublicKey, RevocationFeed, RevokedToken, SigningKey, Verifier,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the cases are written, from the package root.
pub const OUTPUT: &str = "testdata/verifier-cases.json";

/// The time of every case unless it says otherwise: 2027-01-15T08:00:00Z.
pub const NOW: i64 = 1_800_000_000;
/// The token's `iat` in the default claims: a minute before [`NOW`].
const IAT: i64 = NOW - 60;
const LEEWAY: i64 = Policy::DEFAULT_LEEWAY;
/// The staleness bound the cases assume (the default of every verifier).
pub const STALENESS: i64 = 300;
/// A follower asks for the full list rather than changes this often (s).
pub const FULL_LIST_EVERY: i64 = 600;

const WORKSPACE: &str = "ws_01J0000000000000000000000B";
const APP: &str = "app_01J0000000000000000000000C";
const OTHER_APP: &str = "app_01J0000000000000000000000E";
const TOKEN_ID: &str = "tok_01J0000000000000000000000A";
const OTHER_TOKEN_ID: &str = "tok_01J0000000000000000000000D";
const SCOPE: &str = "contacts:read contacts:write";

/// The three cursors feed pages hand out, in order.
const CURSORS: [&str; 3] = ["Y3Vyc29yLTE", "Y3Vyc29yLTI", "Y3Vyc29yLTM"];

/// The official vector 4-E-1: a `v4.local.` token.
const V4_LOCAL: &str = "v4.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAr68PS4AXe7If_ZgesdkUMvSwscFlAl1pk5HC0e8kApeaqMfGo_7OpBnwJOAbY9V7WU6abu74MmcUE8YWAiaArVI8XJ5hOb_4v9RmDkneN0S92dx0OW4pgy7omxgf3S8c3LlQg";

// ---------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------

/// The reasons every verifier maps its refusals to: small on purpose, so
/// three implementations can agree on each case. `detail` in the file names
/// the Rust `token::Error` variant, for the curious.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    TooLarge,
    Malformed,
    UnknownKey,
    BadSignature,
    InvalidClaims,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
    Revoked,
    Stale,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::TooLarge,
        Reason::Malformed,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::InvalidClaims,
        Reason::WrongIssuer,
        Reason::WrongAudience,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::Revoked,
        Reason::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TooLarge => "too_large",
            Reason::Malformed => "malformed",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::InvalidClaims => "invalid_claims",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Revoked => "revoked",
            Reason::Stale => "stale",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Reason::TooLarge => "longer than 8192 bytes; refused before any decoding",
            Reason::Malformed => {
                "not a v4.public PASETO or a JWT, or not well formed: segments, canonical \
                 unpadded base64url, the PASETO footer exactly {\"kid\":\"k4.pid.…\"}, the JWT \
                 header (alg EdDSA, typ at+jwt, a kid, no crit/jwk/jku/x5u/x5c/cty/b64/zip/enc, \
                 no other member)"
            }
            Reason::UnknownKey => {
                "the kid names no published key of the token's format, or a retired one"
            }
            Reason::BadSignature => {
                "the signature does not verify with the named key (a small-order key verifies nothing)"
            }
            Reason::InvalidClaims => {
                "claims missing, unknown, duplicated or of the wrong type, ids of the wrong \
                 shape, sub != client_id, admin scopes on an app token (or the reverse), or \
                 exp - iat over the maximum lifetime"
            }
            Reason::WrongIssuer => "iss is not exactly the configured issuer",
            Reason::WrongAudience => "aud (a string or an array) does not hold the audience",
            Reason::Expired => "now > exp + leeway",
            Reason::NotYetValid => "nbf > now + leeway, or iat > now + leeway",
            Reason::Revoked => {
                "the feed revokes its jti (from null, or from <= now), or its app's cutoff >= iat"
            }
            Reason::Stale => {
                "the token is otherwise valid, but no feed page has verified for longer than \
                 the staleness bound"
            }
        }
    }

    /// The reason a rule of the token core maps to.
    pub fn of(error: token::Error) -> Reason {
        use token::Error as E;
        match error {
            E::TooLarge => Reason::TooLarge,
            E::UnsupportedFormat
            | E::Malformed
            | E::NonCanonical
            | E::BadFooter
            | E::MissingKeyId
            | E::Algorithm
            | E::WrongType
            | E::ForbiddenHeader
            | E::Signing => Reason::Malformed,
            E::UnknownKey | E::RetiredKey | E::WrongKeyFormat => Reason::UnknownKey,
            E::BadSignature => Reason::BadSignature,
            E::InvalidClaims | E::LifetimeTooLong => Reason::InvalidClaims,
            E::WrongIssuer => Reason::WrongIssuer,
            E::WrongAudience => Reason::WrongAudience,
            E::Expired => Reason::Expired,
            E::NotYetValid | E::IssuedInFuture => Reason::NotYetValid,
            E::Revoked => Reason::Revoked,
        }
    }
}

/// What a verifier must make of a case.
#[derive(Debug, Clone)]
pub enum Expect {
    Accept(Accepted),
    Reject(Reason),
    /// The verifier cannot start: the key documents or the first feed page
    /// are refused.
    LoadError,
}

#[derive(Debug, Clone)]
pub struct Accepted {
    pub format: Format,
    pub token_id: String,
    pub app_id: Option<String>,
    pub workspace: String,
    pub scopes: Vec<&'static str>,
    pub expires_at: i64,
    /// Scopes `require` must refuse.
    pub lacks: Vec<&'static str>,
}

impl Accepted {
    /// The default claims' token.
    fn default_for(format: Format) -> Accepted {
        Accepted {
            format,
            token_id: TOKEN_ID.to_owned(),
            app_id: Some(APP.to_owned()),
            workspace: WORKSPACE.to_owned(),
            scopes: vec!["contacts:read", "contacts:write"],
            expires_at: IAT + 3600,
            lacks: vec!["contacts:delete", "apps:read"],
        }
    }
}

fn accept(format: Format) -> Expect {
    Expect::Accept(Accepted::default_for(format))
}

/// One fetch of the revocation feed: at clock time `at`, the service answers
/// `status` with `body`.
#[derive(Debug, Clone)]
pub struct Poll {
    pub at: i64,
    pub status: u16,
    pub body: String,
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub row: Option<&'static str>,
    pub title: String,
    /// The name of the key documents in the file's `keys`.
    pub keys: String,
    pub paserk: Value,
    pub jwks: Value,
    pub polls: Vec<Poll>,
    pub now: i64,
    pub token: String,
    pub expect: Expect,
}

impl Case {
    fn new(
        name: &str,
        row: Option<&'static str>,
        title: &str,
        token: String,
        expect: Expect,
    ) -> Case {
        let docs = Docs::standard();
        Case {
            name: name.to_owned(),
            row,
            title: title.to_owned(),
            keys: "standard".to_owned(),
            paserk: docs.paserk,
            jwks: docs.jwks,
            polls: vec![fresh_poll()],
            now: NOW,
            token,
            expect,
        }
    }

    fn docs(mut self, name: &str, docs: Docs) -> Case {
        self.keys = name.to_owned();
        self.paserk = docs.paserk;
        self.jwks = docs.jwks;
        self
    }

    fn polls(mut self, polls: Vec<Poll>) -> Case {
        self.polls = polls;
        self
    }

    /// Verifies at `now`, with a fresh empty feed page fetched a second
    /// before (give other polls after this).
    fn at(mut self, now: i64) -> Case {
        self.now = now;
        self.polls = vec![full_poll(now - 1, |_| {}, "the full list, empty")];
        self
    }
}

// ---------------------------------------------------------------------------
// Keys and documents
// ---------------------------------------------------------------------------

/// A signing key with its seed, so a case can sign what the library will not.
struct Key {
    key: SigningKey,
    seed: [u8; 32],
}

impl Key {
    fn new(format: Format, byte: u8) -> Key {
        let seed = [byte; 32];
        Key {
            key: SigningKey::from_seed(format, &seed).expect("a fixed, non-zero seed"),
            seed,
        }
    }

    fn kid(&self) -> &str {
        self.key.kid()
    }

    fn format(&self) -> Format {
        self.key.format()
    }

    /// The PASETO footer or JWT header the service writes for this key.
    fn head(&self) -> Vec<u8> {
        match self.format() {
            Format::Paseto => footer_for(self.kid()),
            Format::Jwt => header_for(self.kid()),
        }
    }

    /// `payload` under `head`, validly signed (PASETO with no implicit
    /// assertion, as access tokens are).
    fn sign_under(&self, head: &[u8], payload: &[u8]) -> String {
        self.key.sign_raw(head, payload).expect("sign_raw")
    }

    fn sign(&self, payload: &[u8]) -> String {
        self.sign_under(&self.head(), payload)
    }

    fn ed25519(&self, message: &[u8]) -> [u8; 64] {
        ed25519_dalek::SigningKey::from_bytes(&self.seed)
            .sign(message)
            .to_bytes()
    }

    /// A PASETO-shaped token signed over the PAE of `header`, `payload`,
    /// `footer` and `implicit`, by hand.
    fn paseto_by_hand(
        &self,
        header: &str,
        payload: &[u8],
        footer: &[u8],
        implicit: &[u8],
    ) -> String {
        let sig = self.ed25519(&pae(&[header.as_bytes(), payload, footer, implicit]));
        let message = b64(&[payload, &sig].concat());
        if footer.is_empty() {
            format!("{header}{message}")
        } else {
            format!("{header}{message}.{}", b64(footer))
        }
    }

    /// A JWS over the signing input `h.p` as given (any encoding).
    fn jws_by_hand(&self, h: &str, p: &str) -> String {
        let input = format!("{h}.{p}");
        format!("{input}.{}", b64(&self.ed25519(input.as_bytes())))
    }
}

struct Keys {
    paseto: Key,
    paseto_retiring: Key,
    paseto_pending: Key,
    paseto_retired: Key,
    jwt: Key,
    jwt_retiring: Key,
    paseto_stranger: Key,
    jwt_stranger: Key,
}

impl Keys {
    fn get() -> Keys {
        Keys {
            paseto: Key::new(Format::Paseto, 0x11),
            paseto_retiring: Key::new(Format::Paseto, 0x12),
            paseto_pending: Key::new(Format::Paseto, 0x13),
            paseto_retired: Key::new(Format::Paseto, 0x14),
            jwt: Key::new(Format::Jwt, 0x21),
            jwt_retiring: Key::new(Format::Jwt, 0x22),
            paseto_stranger: Key::new(Format::Paseto, 0x31),
            jwt_stranger: Key::new(Format::Jwt, 0x32),
        }
    }

    fn active(&self, format: Format) -> &Key {
        match format {
            Format::Paseto => &self.paseto,
            Format::Jwt => &self.jwt,
        }
    }

    fn stranger(&self, format: Format) -> &Key {
        match format {
            Format::Paseto => &self.paseto_stranger,
            Format::Jwt => &self.jwt_stranger,
        }
    }

    fn retiring(&self, format: Format) -> &Key {
        match format {
            Format::Paseto => &self.paseto_retiring,
            Format::Jwt => &self.jwt_retiring,
        }
    }
}

/// The two key documents, as `/.well-known/paserk.json` and
/// `/.well-known/jwks.json` serve them.
struct Docs {
    paserk: Value,
    jwks: Value,
}

impl Docs {
    /// PASETO keys with their status; JWT keys (a JWKS carries no status).
    fn of(paseto: &[(&PublicKey, KeyStatus)], jwt: &[&PublicKey]) -> Docs {
        let paserk: Vec<Value> = paseto
            .iter()
            .map(|(key, status)| {
                json!({ "kid": key.kid(), "paserk": key.to_paserk(), "status": status.as_str() })
            })
            .collect();
        let jwks: Vec<Value> = jwt
            .iter()
            .map(|key| serde_json::to_value(key.to_jwk()).expect("a JWK is JSON"))
            .collect();
        Docs {
            paserk: json!({ "keys": paserk }),
            jwks: json!({ "keys": jwks }),
        }
    }

    /// What the service publishes mid-rotation: an active, a retiring and a
    /// pending PASETO key; an active and a retiring JWT key.
    fn standard() -> Docs {
        let k = Keys::get();
        Docs::of(
            &[
                (&k.paseto.key.public_key(), KeyStatus::Active),
                (&k.paseto_retiring.key.public_key(), KeyStatus::Retiring),
                (&k.paseto_pending.key.public_key(), KeyStatus::Pending),
            ],
            &[&k.jwt.key.public_key(), &k.jwt_retiring.key.public_key()],
        )
    }
}

// ---------------------------------------------------------------------------
// Encodings and claims
// ---------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("canonical base64url")
}

/// PASETO pre-authentication encoding.
fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out = (pieces.len() as u64).to_le_bytes().to_vec();
    for piece in pieces {
        out.extend_from_slice(&(piece.len() as u64).to_le_bytes());
        out.extend_from_slice(piece);
    }
    out
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .expect("in range")
        .format(&Rfc3339)
        .expect("format")
}

fn footer_for(kid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "kid": kid })).expect("json")
}

fn header_for(kid: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid })).expect("json")
}

/// Sets the lowest unused bit of the last character of a canonical unpadded
/// base64url string: a lenient decoder reads the same bytes.
fn dirty_trailing_bits(b64: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_ne!(b64.len() % 4, 0, "no unused bits in {b64}");
    let last = *b64.as_bytes().last().expect("non-empty");
    let index = ALPHABET.iter().position(|c| *c == last).expect("base64url");
    format!("{}{}", &b64[..b64.len() - 1], ALPHABET[index + 1] as char)
}

/// L, the order of the Ed25519 base point, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Replaces S by S + L in a 64-byte signature (R ‖ S, S little-endian).
fn s_plus_l(sig: &mut [u8]) {
    let mut carry = 0u16;
    for (s, l) in sig[32..64].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
}

fn time_claim(format: Format, t: i64) -> Value {
    match format {
        Format::Paseto => json!(rfc3339(t)),
        Format::Jwt => json!(t),
    }
}

/// The claims the service writes for the default token, as they travel in
/// `format`.
fn claims(format: Format) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "iss": Policy::DEFAULT_ISSUER,
        "aud": Policy::DEFAULT_AUDIENCE,
        "sub": APP,
        "client_id": APP,
        "jti": TOKEN_ID,
        "workspace": WORKSPACE,
        "scope": SCOPE,
        "iat": time_claim(format, IAT),
        "nbf": time_claim(format, IAT),
        "exp": time_claim(format, IAT + 3600),
    }) else {
        unreachable!("an object literal")
    };
    map
}

/// The default claims with `edit` applied, as JSON bytes.
fn edited(format: Format, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let mut map = claims(format);
    edit(&mut map);
    serde_json::to_vec(&map).expect("json")
}

/// The default claims with `key` written as the raw JSON text `raw` (a
/// number serde_json would not keep, a duplicate, …).
fn with_raw(format: Format, key: &str, raw: &str) -> Vec<u8> {
    let mut map = claims(format);
    map.insert(key.to_owned(), json!("@@RAW@@"));
    let text = serde_json::to_string(&map).expect("json");
    text.replace("\"@@RAW@@\"", raw).into_bytes()
}

/// The default claims with `"key": value` written a second time, first.
fn with_duplicate(format: Format, key: &str, value: &Value) -> Vec<u8> {
    let json = serde_json::to_string(&claims(format)).expect("json");
    format!("{{\"{key}\":{value},{}", &json[1..]).into_bytes()
}

fn paseto_parts(token: &str) -> (Vec<u8>, String) {
    let body = token.strip_prefix("v4.public.").expect("v4.public");
    let (m, f) = body.split_once('.').expect("footer");
    (unb64(m), f.to_owned())
}

fn jwt_parts(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

fn format_name(format: Format) -> &'static str {
    format.as_str()
}

// ---------------------------------------------------------------------------
// Feed pages
// ---------------------------------------------------------------------------

fn page(issued_at: i64, since: Option<&str>, next: &str, full: bool) -> RevocationFeed {
    RevocationFeed {
        issuer: Policy::DEFAULT_ISSUER.to_owned(),
        issued_at,
        expires_at: issued_at + 60,
        since: since.map(str::to_owned),
        next: next.to_owned(),
        full,
        revoked: Vec::new(),
        cutoffs: Vec::new(),
    }
}

fn revoked(token_id: &str, from: Option<i64>) -> RevokedToken {
    RevokedToken {
        token_id: token_id.to_owned(),
        expires_at: IAT + 3600,
        from,
    }
}

fn cutoff(client_id: &str, at: i64) -> AppCutoff {
    AppCutoff {
        client_id: client_id.to_owned(),
        cutoff: at,
        expires_at: at + Policy::DEFAULT_MAX_LIFETIME,
    }
}

fn envelope(feed: &str) -> String {
    json!({ "feed": feed }).to_string()
}

/// A page signed by the service's feed signer, fetched at `at`.
fn signed_poll(at: i64, page: &RevocationFeed, note: &str) -> Poll {
    let feed = page.sign(&Keys::get().paseto.key).expect("sign the page");
    Poll {
        at,
        status: 200,
        body: envelope(&feed),
        note: note.to_owned(),
    }
}

/// The first page of a follower: the full list (no `since`), fetched at
/// `at`, built then, naming `CURSORS[0]` as next.
fn full_poll(at: i64, edit: impl FnOnce(&mut RevocationFeed), note: &str) -> Poll {
    let mut p = page(at, None, CURSORS[0], true);
    edit(&mut p);
    signed_poll(at, &p, note)
}

/// An empty full page fetched a second before [`NOW`]: the feed is fresh.
fn fresh_poll() -> Poll {
    full_poll(NOW - 1, |_| {}, "the full list, empty")
}

/// The wire form of a page, for pages signed by hand.
fn page_json(p: &RevocationFeed) -> Value {
    json!({
        "iss": p.issuer,
        "iat": rfc3339(p.issued_at),
        "exp": rfc3339(p.expires_at),
        "since": p.since,
        "next": p.next,
        "full": p.full,
        "revoked": p.revoked.iter().map(|r| json!({
            "jti": r.token_id, "exp": rfc3339(r.expires_at), "from": r.from.map(rfc3339),
        })).collect::<Vec<_>>(),
        "cutoffs": p.cutoffs.iter().map(|c| json!({
            "client_id": c.client_id, "cutoff": rfc3339(c.cutoff), "exp": rfc3339(c.expires_at),
        })).collect::<Vec<_>>(),
    })
}

/// A page's payload signed by `key` with the implicit assertion `implicit`.
fn page_by_hand(key: &Key, payload: &[u8], implicit: &[u8]) -> String {
    key.paseto_by_hand("v4.public.", payload, &footer_for(key.kid()), implicit)
}

fn raw_poll(at: i64, status: u16, body: String, note: &str) -> Poll {
    Poll {
        at,
        status,
        body,
        note: note.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

/// Every case, in the order of the file.
pub fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    baseline(&mut all);
    structure(&mut all);
    paseto_rows(&mut all);
    jwt_rows(&mut all);
    claims_and_time(&mut all);
    scopes(&mut all);
    ordering(&mut all);
    keys_and_rotation(&mut all);
    revocation(&mut all);
    feed_pages(&mut all);
    staleness(&mut all);
    all
}

fn valid(format: Format) -> String {
    Keys::get()
        .active(format)
        .sign(&serde_json::to_vec(&claims(format)).expect("json"))
}

fn baseline(all: &mut Vec<Case>) {
    let k = Keys::get();
    for format in Format::ALL {
        let f = format_name(format);
        all.push(Case::new(
            &format!("{f}-valid"),
            Some("F1"),
            &format!("a {f} token signed by the active key is accepted"),
            valid(format),
            accept(format),
        ));
        // The service's own signer, not the forging kit: the claims as
        // TokenClaims, through SigningKey::sign.
        let token_claims = token::TokenClaims {
            token_id: OTHER_TOKEN_ID.to_owned(),
            workspace: WORKSPACE.to_owned(),
            subject: token::Subject::App(OTHER_APP.to_owned()),
            scopes: token::ScopeSet::parse_for_app(["contacts:read", "coupons:validate"])
                .expect("scopes"),
            issued_at: IAT,
            not_before: IAT,
            expires_at: IAT + 7200,
        };
        let issued = k
            .active(format)
            .key
            .sign(&token_claims, &Policy::default())
            .expect("sign");
        all.push(Case::new(
            &format!("{f}-valid-issued-by-the-service-signer"),
            Some("F1"),
            &format!("a {f} token from SigningKey::sign is accepted with its claims"),
            issued,
            Expect::Accept(Accepted {
                format,
                token_id: OTHER_TOKEN_ID.to_owned(),
                app_id: Some(OTHER_APP.to_owned()),
                workspace: WORKSPACE.to_owned(),
                scopes: vec!["contacts:read", "coupons:validate"],
                expires_at: IAT + 7200,
                lacks: vec!["contacts:write", "coupons:read"],
            }),
        ));
        let admin = token::TokenClaims {
            token_id: OTHER_TOKEN_ID.to_owned(),
            workspace: WORKSPACE.to_owned(),
            subject: token::Subject::Admin("cli".to_owned()),
            scopes: token::ScopeSet::admin(),
            issued_at: IAT,
            not_before: IAT,
            expires_at: IAT + 3600,
        };
        all.push(Case::new(
            &format!("{f}-admin-token"),
            Some("E13"),
            &format!("a {f} admin token verifies, with no app id and only admin scopes"),
            k.active(format)
                .key
                .sign(&admin, &Policy::default())
                .expect("sign"),
            Expect::Accept(Accepted {
                format,
                token_id: OTHER_TOKEN_ID.to_owned(),
                app_id: None,
                workspace: WORKSPACE.to_owned(),
                scopes: vec![
                    "apps:read",
                    "apps:write",
                    "apps:delete",
                    "audit:read",
                    "webhooks:read",
                    "webhooks:write",
                    "webhooks:delete",
                ],
                expires_at: IAT + 3600,
                lacks: vec!["contacts:read"],
            }),
        ));

        // The 8 KiB cap: the longest token under it is accepted (the scope
        // claim padded with spaces, which name no scope), one byte more is not.
        let (fits, over) = sized_tokens(format);
        all.push(Case::new(
            &format!("{f}-size-at-the-cap"),
            Some("A8"),
            &format!(
                "a {f} token of {} bytes (the cap is 8192) is accepted",
                fits.len()
            ),
            fits,
            accept(format),
        ));
        all.push(Case::new(
            &format!("{f}-size-over-the-cap"),
            Some("A8"),
            &format!(
                "a validly signed {f} token of {} bytes is refused",
                over.len()
            ),
            over,
            Expect::Reject(Reason::TooLarge),
        ));
    }
}

/// The longest validly signed token of at most [`MAX_TOKEN_LEN`] bytes, and
/// the shortest longer one.
fn sized_tokens(format: Format) -> (String, String) {
    let key = Keys::get();
    let key = key.active(format);
    let token_with = |pad: usize| {
        key.sign(&edited(format, |c| {
            c.insert("scope".into(), json!(format!("{SCOPE}{}", " ".repeat(pad))));
        }))
    };
    let mut fits = None;
    for pad in 5000.. {
        let token = token_with(pad);
        if token.len() > MAX_TOKEN_LEN {
            return (fits.expect("a token under the cap"), token);
        }
        fits = Some(token);
    }
    unreachable!("the loop returns once a token is too long")
}

fn structure(all: &mut Vec<Case>) {
    let k = Keys::get();
    let reject = |name: &str, row, title: &str, token: String, reason| {
        Case::new(name, Some(row), title, token, Expect::Reject(reason))
    };
    all.push(reject(
        "empty",
        "B1",
        "the empty string",
        String::new(),
        Reason::Malformed,
    ));
    all.push(reject(
        "random-base64url",
        "B2",
        "40 bytes of base64url, no dots",
        b64(&(0u8..40).collect::<Vec<_>>()),
        Reason::Malformed,
    ));
    all.push(reject(
        "v4-local",
        "B3",
        "a v4.local token (vector 4-E-1)",
        V4_LOCAL.to_owned(),
        Reason::Malformed,
    ));
    let payload = serde_json::to_vec(&claims(Format::Paseto)).expect("json");
    let footer = footer_for(k.paseto.kid());
    all.push(reject(
        "v2-public-same-key",
        "B4",
        "a v2.public token signed with the same Ed25519 key",
        k.paseto
            .paseto_by_hand("v2.public.", &payload, &footer, b""),
        Reason::Malformed,
    ));
    let v4 = valid(Format::Paseto);
    let body = v4.strip_prefix("v4.public.").expect("v4.public");
    all.push(reject(
        "v3-public",
        "B5",
        "a v4.public token relabelled v3.public",
        format!("v3.public.{body}"),
        Reason::Malformed,
    ));
    all.push(reject(
        "v4-public-uppercase",
        "B5",
        "the header in uppercase: V4.PUBLIC.",
        format!("V4.PUBLIC.{body}"),
        Reason::Malformed,
    ));
    all.push(reject(
        "paseto-five-segments",
        "B6",
        "a PASETO token with a fifth segment",
        format!("{v4}.eyJ4IjoxfQ"),
        Reason::Malformed,
    ));
    let jwt = valid(Format::Jwt);
    let [h, p, s] = jwt_parts(&jwt);
    all.push(reject(
        "jwt-two-segments",
        "B6",
        "a JWT without its signature segment",
        format!("{h}.{p}"),
        Reason::Malformed,
    ));
    all.push(reject(
        "jwt-four-segments",
        "B6",
        "a JWT with a fourth segment",
        format!("{h}.{p}.{s}.{s}"),
        Reason::Malformed,
    ));
    let jwe_header = b64(br#"{"alg":"RSA-OAEP","enc":"A256GCM","kid":"x"}"#);
    all.push(reject(
        "jwe-five-segments",
        "B6",
        "a JWE compact serialisation (five segments)",
        format!(
            "{jwe_header}.{}.{}.{}.{}",
            b64(&[1; 32]),
            b64(&[2; 12]),
            b64(&[3; 40]),
            b64(&[4; 16])
        ),
        Reason::Malformed,
    ));

    for format in Format::ALL {
        let f = format_name(format);
        let token = valid(format);
        // B7: the signature loses its last byte.
        let truncated = match format {
            Format::Paseto => {
                let (mut m, footer) = paseto_parts(&token);
                m.pop();
                format!("v4.public.{}.{footer}", b64(&m))
            }
            Format::Jwt => {
                let [h, p, s] = jwt_parts(&token);
                let mut sig = unb64(&s);
                sig.pop();
                format!("{h}.{p}.{}", b64(&sig))
            }
        };
        all.push(reject(
            &format!("{f}-signature-truncated"),
            "B7",
            "the signature truncated to 63 bytes",
            truncated,
            Reason::BadSignature,
        ));
        // B8: one bit of the payload flipped.
        let flipped = match format {
            Format::Paseto => {
                let (mut m, footer) = paseto_parts(&token);
                m[10] ^= 0x01;
                format!("v4.public.{}.{footer}", b64(&m))
            }
            Format::Jwt => {
                let [h, p, s] = jwt_parts(&token);
                let mut payload = unb64(&p);
                payload[10] ^= 0x01;
                format!("{h}.{}.{s}", b64(&payload))
            }
        };
        all.push(reject(
            &format!("{f}-payload-bit-flipped"),
            "B8",
            "one bit of the payload flipped, the signature kept",
            flipped,
            Reason::BadSignature,
        ));
        // B12: S + L, the same signature in a non-canonical form.
        let malleated = match format {
            Format::Paseto => {
                let (mut m, footer) = paseto_parts(&token);
                let n = m.len();
                s_plus_l(&mut m[n - 64..]);
                format!("v4.public.{}.{footer}", b64(&m))
            }
            Format::Jwt => {
                let [h, p, s] = jwt_parts(&token);
                let mut sig = unb64(&s);
                s_plus_l(&mut sig);
                format!("{h}.{p}.{}", b64(&sig))
            }
        };
        all.push(reject(
            &format!("{f}-signature-s-plus-l"),
            "B12",
            "the signature's S replaced by S + L (non-canonical)",
            malleated,
            Reason::BadSignature,
        ));
        // B10: non-zero trailing bits in the last segment.
        let last = token.rsplit('.').next().expect("a segment");
        let dirty = format!(
            "{}{}",
            &token[..token.len() - last.len()],
            dirty_trailing_bits(last)
        );
        let what = match format {
            Format::Paseto => "the footer",
            Format::Jwt => "the signature",
        };
        all.push(reject(
            &format!("{f}-trailing-bits"),
            "B10",
            &format!("non-zero unused bits at the end of {what}'s base64url"),
            dirty,
            Reason::Malformed,
        ));
    }

    // B9: `=` padding.
    let (m, footer) = paseto_parts(&v4);
    let padded_footer = URL_SAFE.encode(unb64(&footer));
    assert!(padded_footer.ends_with('='));
    all.push(reject(
        "paseto-padded-footer",
        "B9",
        "the footer's base64url with = padding",
        format!("v4.public.{}.{padded_footer}", b64(&m)),
        Reason::Malformed,
    ));
    // A payload whose message (payload ‖ signature) needs padding.
    let payload = (0..3)
        .map(|pad| {
            edited(Format::Paseto, |c| {
                c.insert("scope".into(), json!(format!("{SCOPE}{}", " ".repeat(pad))));
            })
        })
        .find(|p| (p.len() + 64) % 3 != 0)
        .expect("one of three lengths");
    let (m, footer) = paseto_parts(&k.paseto.sign(&payload));
    all.push(reject(
        "paseto-padded-payload",
        "B9",
        "the message's base64url with = padding",
        format!("v4.public.{}.{footer}", URL_SAFE.encode(&m)),
        Reason::Malformed,
    ));
    let [h, p, s] = jwt_parts(&jwt);
    let padded_sig = URL_SAFE.encode(unb64(&s));
    assert!(padded_sig.ends_with('='));
    all.push(reject(
        "jwt-padded-signature",
        "B9",
        "the signature's base64url with = padding",
        format!("{h}.{p}.{padded_sig}"),
        Reason::Malformed,
    ));
    let padded_header = URL_SAFE.encode(unb64(&h));
    assert!(padded_header.ends_with('='));
    all.push(reject(
        "jwt-padded-header",
        "B9",
        "the header's base64url with = padding, signed as sent",
        k.jwt.jws_by_hand(&padded_header, &p),
        Reason::Malformed,
    ));
    // B11: a PASETO message too short to hold a signature.
    all.push(reject(
        "paseto-message-shorter-than-a-signature",
        "B11",
        "a PASETO message of 32 bytes (a signature alone is 64)",
        format!(
            "v4.public.{}.{}",
            b64(&[7; 32]),
            b64(&footer_for(k.paseto.kid()))
        ),
        Reason::Malformed,
    ));
    // B13: a key of small order published, and a signature that "verifies"
    // with it (R = identity, S = 0).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak_paseto = PublicKey::from_raw(Format::Paseto, &identity).expect("32 bytes");
    let weak_jwt = PublicKey::from_raw(Format::Jwt, &identity).expect("32 bytes");
    let standard = Keys::get();
    let docs = || {
        Docs::of(
            &[
                (&standard.paseto.key.public_key(), KeyStatus::Active),
                (&weak_paseto, KeyStatus::Active),
            ],
            &[&standard.jwt.key.public_key(), &weak_jwt],
        )
    };
    let mut forged_sig = [0u8; 64];
    forged_sig[0] = 1;
    let payload = serde_json::to_vec(&claims(Format::Paseto)).expect("json");
    let forged = format!(
        "v4.public.{}.{}",
        b64(&[&payload[..], &forged_sig].concat()),
        b64(&footer_for(weak_paseto.kid()))
    );
    all.push(
        reject(
            "paseto-small-order-key",
            "B13",
            "a signature (R = identity, S = 0) under a published small-order key",
            forged,
            Reason::BadSignature,
        )
        .docs("small-order", docs()),
    );
    let h = b64(&header_for(weak_jwt.kid()));
    let p = b64(&serde_json::to_vec(&claims(Format::Jwt)).expect("json"));
    all.push(
        reject(
            "jwt-small-order-key",
            "B13",
            "a signature (R = identity, S = 0) under a published small-order key",
            format!("{h}.{p}.{}", b64(&forged_sig)),
            Reason::BadSignature,
        )
        .docs("small-order", docs()),
    );
    // B14: an empty footer after a trailing dot.
    let payload = serde_json::to_vec(&claims(Format::Paseto)).expect("json");
    let no_footer = k.paseto.sign_under(b"", &payload);
    all.push(reject(
        "paseto-trailing-dot-empty-footer",
        "B14",
        "v4.public.<m>. (an empty footer after a trailing dot)",
        format!("{no_footer}."),
        Reason::Malformed,
    ));
}

fn paseto_rows(all: &mut Vec<Case>) {
    let k = Keys::get();
    let key = &k.paseto;
    let payload = serde_json::to_vec(&claims(Format::Paseto)).expect("json");
    let reject = |name: &str, row, title: &str, token: String, reason| {
        Case::new(
            &format!("paseto-{name}"),
            Some(row),
            title,
            token,
            Expect::Reject(reason),
        )
    };
    let pid = key.kid().to_owned();
    let pid_body = pid.strip_prefix("k4.pid.").expect("k4.pid");
    all.push(reject(
        "footer-not-json",
        "C3",
        "a validly signed token whose footer is not JSON",
        key.sign_under(b"arbitrary-string-that-isn't-json", &payload),
        Reason::Malformed,
    ));
    let public = format!("k4.public.{}", b64(key.key.public_key().as_bytes()));
    all.push(reject(
        "footer-kid-k4-public",
        "C4",
        "the footer names the key itself (k4.public)",
        key.sign_under(&footer_for(&public), &payload),
        Reason::Malformed,
    ));
    all.push(reject(
        "footer-kid-k4-lid",
        "C5",
        "the footer kid is a k4.lid",
        key.sign_under(&footer_for(&format!("k4.lid.{pid_body}")), &payload),
        Reason::Malformed,
    ));
    all.push(reject(
        "footer-kid-k4-sid",
        "C5",
        "the footer kid is a k4.sid",
        key.sign_under(&footer_for(&format!("k4.sid.{pid_body}")), &payload),
        Reason::Malformed,
    ));
    let extra = serde_json::to_vec(&json!({ "kid": pid, "role": "admin" })).expect("json");
    all.push(reject(
        "footer-extra-member",
        "C6",
        "the footer has a member besides kid",
        key.sign_under(&extra, &payload),
        Reason::Malformed,
    ));
    let mut big = json!({ "kid": pid });
    big["pad"] = json!("x".repeat(9 * 1024));
    all.push(reject(
        "footer-9-kib",
        "C7",
        "a 9 KiB footer",
        key.sign_under(&serde_json::to_vec(&big).expect("json"), &payload),
        Reason::TooLarge,
    ));
    let mut many = Map::new();
    many.insert("kid".into(), json!(pid));
    for i in 0..600 {
        many.insert(format!("k{i}"), json!(1));
    }
    all.push(reject(
        "footer-600-keys",
        "C7",
        "a footer with 600 members",
        key.sign_under(&serde_json::to_vec(&many).expect("json"), &payload),
        Reason::Malformed,
    ));
    let deep = format!("{{\"kid\":{}{}}}", "[".repeat(200), "]".repeat(200));
    all.push(reject(
        "footer-nested-200-deep",
        "C8",
        "a footer with arrays nested 200 deep",
        key.sign_under(deep.as_bytes(), &payload),
        Reason::Malformed,
    ));
    all.push(reject(
        "footer-missing",
        "F6",
        "no footer, so no kid",
        key.sign_under(b"", &payload),
        Reason::Malformed,
    ));
    all.push(reject(
        "implicit-assertion",
        "C9",
        "signed with the implicit assertion \"staging\" (access tokens carry none)",
        key.paseto_by_hand("v4.public.", &payload, &footer_for(&pid), b"staging"),
        Reason::BadSignature,
    ));
    all.push(reject(
        "signed-with-the-feed-assertion",
        "C9",
        "signed with the revocation feed's implicit assertion",
        key.paseto_by_hand("v4.public.", &payload, &footer_for(&pid), FEED_ASSERTION),
        Reason::BadSignature,
    ));
    let dup = with_duplicate(Format::Paseto, "exp", &json!("2000-01-01T00:00:00Z"));
    all.push(reject(
        "duplicate-exp",
        "C10",
        "the payload carries exp twice",
        key.sign(&dup),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "payload-array",
        "C11",
        "the payload is a JSON array",
        key.sign(br#"[{"sub":"x"}]"#),
        Reason::InvalidClaims,
    ));
    // pasetors will not sign an empty payload: by hand.
    let empty = key.paseto_by_hand("v4.public.", b"", &footer_for(&pid), b"");
    all.push(reject(
        "payload-empty",
        "C11",
        "the payload is empty (pasetors refuses the message)",
        empty,
        Reason::Malformed,
    ));
    all.push(reject(
        "payload-leading-space",
        "C11",
        "the payload is an object after a space",
        key.sign(&[b" ", &payload[..]].concat()),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "exp-as-number",
        "C12",
        "exp as a NumericDate (JWT style)",
        key.sign(&with_raw(Format::Paseto, "exp", &(IAT + 3600).to_string())),
        Reason::InvalidClaims,
    ));
    let exp = rfc3339(IAT + 3600);
    let bad_times = [
        (
            "exp-lowercase-t",
            exp.replace('T', "t"),
            "exp with a lowercase t",
        ),
        (
            "exp-lowercase-z",
            exp.replace('Z', "z"),
            "exp with a lowercase z",
        ),
        (
            "exp-space-separator",
            exp.replace('T', " "),
            "exp with a space for T",
        ),
        (
            "exp-no-offset",
            exp.trim_end_matches('Z').to_owned(),
            "exp without Z or an offset",
        ),
        ("exp-date-only", exp[..10].to_owned(), "exp as a date alone"),
    ];
    for (name, value, title) in bad_times {
        let token = key.sign(&edited(Format::Paseto, |c| {
            c.insert("exp".into(), json!(value));
        }));
        all.push(reject(name, "C13", title, token, Reason::InvalidClaims));
    }
    // An offset is fine: the same instant, written in another zone.
    let offset = OffsetDateTime::from_unix_timestamp(IAT + 3600)
        .expect("in range")
        .to_offset(time::macros::offset!(+02:00))
        .format(&Rfc3339)
        .expect("format");
    all.push(Case::new(
        "paseto-exp-with-offset",
        Some("C13"),
        "exp with a numeric offset (+02:00) names the same instant",
        key.sign(&edited(Format::Paseto, |c| {
            c.insert("exp".into(), json!(offset));
        })),
        accept(Format::Paseto),
    ));
    // C14: deterministic answers for odd but parseable times.
    let leap = key.sign(&edited(Format::Paseto, |c| {
        c.insert("exp".into(), json!("2027-06-30T23:59:60Z"));
    }));
    let mut leap_expect = Accepted::default_for(Format::Paseto);
    // 2027-06-30T23:59:59Z: the leap second is read as its last instant.
    leap_expect.expires_at = 1_814_399_999;
    all.push(Case::new(
        "paseto-exp-leap-second",
        Some("C14"),
        "exp at a leap second (23:59:60Z at the end of June) reads as 23:59:59",
        leap,
        Expect::Accept(leap_expect),
    ));
    all.push(reject(
        "exp-leap-second-mid-month",
        "C14",
        "exp at 23:59:60Z on a day that does not end a month",
        key.sign(&edited(Format::Paseto, |c| {
            c.insert("exp".into(), json!("2027-06-15T23:59:60Z"));
        })),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "exp-year-9999",
        "C14",
        "exp at 9999-12-31T23:59:59Z (past the maximum lifetime)",
        key.sign(&edited(Format::Paseto, |c| {
            c.insert("exp".into(), json!("9999-12-31T23:59:59Z"));
        })),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "nbf-year-9999",
        "C14",
        "nbf at 9999-12-31T23:59:59Z",
        key.sign(&edited(Format::Paseto, |c| {
            c.insert("nbf".into(), json!("9999-12-31T23:59:59Z"));
        })),
        Reason::NotYetValid,
    ));
    let long_fraction = format!("{}.{}Z", exp.trim_end_matches('Z'), "9".repeat(40));
    all.push(Case::new(
        "paseto-exp-40-digit-fraction",
        Some("C14"),
        "exp with 40 digits of fractional seconds (the fraction is dropped)",
        key.sign(&edited(Format::Paseto, |c| {
            c.insert("exp".into(), json!(long_fraction));
        })),
        accept(Format::Paseto),
    ));
}

fn jwt_rows(all: &mut Vec<Case>) {
    let k = Keys::get();
    let key = &k.jwt;
    let kid = key.kid().to_owned();
    let payload = serde_json::to_vec(&claims(Format::Jwt)).expect("json");
    let p = b64(&payload);
    let reject = |name: &str, row, title: &str, token: String, reason| {
        Case::new(
            &format!("jwt-{name}"),
            Some(row),
            title,
            token,
            Expect::Reject(reason),
        )
    };
    let with_header =
        |header: Value| key.sign_under(&serde_json::to_vec(&header).expect("json"), &payload);
    // D1: alg none, with no signature and with one.
    let none = b64(
        &serde_json::to_vec(&json!({ "alg": "none", "typ": "at+jwt", "kid": kid })).expect("json"),
    );
    all.push(reject(
        "alg-none-no-signature",
        "D1",
        "alg none and an empty signature",
        format!("{none}.{p}."),
        Reason::Malformed,
    ));
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        all.push(reject(
            &format!("alg-{}-signed", if alg.is_empty() { "empty" } else { alg }),
            "D1",
            &format!("alg {alg:?} over a valid EdDSA signature"),
            with_header(json!({ "alg": alg, "typ": "at+jwt", "kid": kid })),
            Reason::Malformed,
        ));
    }
    // D2: HS256 with the public key as the HMAC secret.
    let h = b64(
        &serde_json::to_vec(&json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid })).expect("json"),
    );
    let input = format!("{h}.{p}");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.key.public_key().as_bytes())
        .expect("HMAC takes any key");
    mac.update(input.as_bytes());
    let tag = b64(&mac.finalize().into_bytes());
    all.push(reject(
        "alg-hs256-public-key-secret",
        "D2",
        "HS256 keyed with the raw Ed25519 public key",
        format!("{input}.{tag}"),
        Reason::Malformed,
    ));
    for alg in ["RS256", "ES256", "PS256", "Ed25519", "eddsa"] {
        let row = match alg {
            "Ed25519" | "eddsa" => "D4",
            _ => "D3",
        };
        all.push(reject(
            &format!("alg-{}", alg.to_lowercase()),
            row,
            &format!("alg {alg} over a valid EdDSA signature"),
            with_header(json!({ "alg": alg, "typ": "at+jwt", "kid": kid })),
            Reason::Malformed,
        ));
    }
    all.push(reject(
        "typ-missing",
        "D5",
        "no typ",
        with_header(json!({ "alg": "EdDSA", "kid": kid })),
        Reason::Malformed,
    ));
    all.push(reject(
        "typ-jwt",
        "D5",
        "typ JWT",
        with_header(json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid })),
        Reason::Malformed,
    ));
    all.push(reject(
        "typ-null",
        "D5",
        "typ null",
        with_header(json!({ "alg": "EdDSA", "typ": null, "kid": kid })),
        Reason::Malformed,
    ));
    for (name, typ) in [
        ("typ-application-at-jwt", "application/at+jwt"),
        ("typ-uppercase", "AT+JWT"),
        ("typ-application-uppercase", "Application/AT+JWT"),
    ] {
        all.push(Case::new(
            &format!("jwt-{name}"),
            Some("D6"),
            &format!("typ {typ} (media types compare case-insensitively, application/ optional)"),
            with_header(json!({ "alg": "EdDSA", "typ": typ, "kid": kid })),
            accept(Format::Jwt),
        ));
    }
    all.push(reject(
        "crit-exp",
        "D7",
        "crit [\"exp\"]",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"] })),
        Reason::Malformed,
    ));
    all.push(reject(
        "crit-b64",
        "D7",
        "crit [\"b64\"] with b64 false",
        with_header(
            json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["b64"], "b64": false }),
        ),
        Reason::Malformed,
    ));
    all.push(reject(
        "crit-null",
        "D7",
        "crit null (present, so refused)",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": null })),
        Reason::Malformed,
    ));
    // D8: the attacker's key in the header, signed by it.
    let attacker = &k.jwt_stranger;
    let jwk = serde_json::to_value(attacker.key.public_key().to_jwk()).expect("jwk");
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": attacker.kid(), "jwk": jwk });
    all.push(reject(
        "embedded-jwk",
        "D8",
        "the header embeds the signer's own JWK",
        attacker.sign_under(&serde_json::to_vec(&header).expect("json"), &payload),
        Reason::Malformed,
    ));
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jwk": jwk });
    all.push(reject(
        "embedded-jwk-our-kid",
        "D8",
        "our kid, an embedded JWK, signed by our key",
        with_header(header),
        Reason::Malformed,
    ));
    for member in ["jku", "x5u"] {
        all.push(reject(
            member,
            "D9",
            &format!("{member} pointing at a local URL (never fetched)"),
            with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, member: "http://127.0.0.1:9/keys.json" })),
            Reason::Malformed,
        ));
    }
    all.push(reject(
        "x5c",
        "D9",
        "an x5c chain",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "x5c": ["MIIB"] })),
        Reason::Malformed,
    ));
    all.push(reject(
        "unknown-header-member",
        "D9",
        "a header member we do not know",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "foo": 1 })),
        Reason::Malformed,
    ));
    for (name, bad_kid) in [
        ("kid-sql", "' OR '1'='1"),
        ("kid-path", "../../../../dev/null"),
        ("kid-nul", "a\u{0}b"),
    ] {
        all.push(reject(
            name,
            "D10",
            &format!("kid {bad_kid:?}"),
            with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": bad_kid })),
            Reason::UnknownKey,
        ));
    }
    all.push(reject(
        "kid-9-kib",
        "D10",
        "a 9 KiB kid",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": "k".repeat(9 * 1024) })),
        Reason::TooLarge,
    ));
    all.push(reject(
        "kid-number",
        "D10",
        "kid as a number",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": 7 })),
        Reason::Malformed,
    ));
    let dup = format!(r#"{{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#);
    all.push(reject(
        "duplicate-alg",
        "D11",
        "the header carries alg twice",
        key.sign_under(dup.as_bytes(), &payload),
        Reason::Malformed,
    ));
    all.push(reject(
        "duplicate-exp",
        "D12",
        "the claims carry exp twice",
        key.sign(&with_duplicate(
            Format::Jwt,
            "exp",
            &json!(4_000_000_000i64),
        )),
        Reason::InvalidClaims,
    ));
    let compact = valid(Format::Jwt);
    let [h, p2, s] = jwt_parts(&compact);
    let json_serialisation =
        json!({ "payload": p2, "signatures": [{ "protected": h, "signature": s }] }).to_string();
    all.push(reject(
        "json-serialisation",
        "D13",
        "the JWS JSON serialisation of a valid token",
        json_serialisation,
        Reason::Malformed,
    ));
    all.push(reject(
        "nested-cty-jwt",
        "D14",
        "cty JWT (a nested token)",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "cty": "JWT" })),
        Reason::Malformed,
    ));
    all.push(reject(
        "payload-not-json",
        "D15",
        "a validly signed payload that is not JSON (RFC 8037 A.4's message)",
        key.sign(b"Example of Ed25519 signing"),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "kid-missing",
        "F6",
        "no kid in the header",
        with_header(json!({ "alg": "EdDSA", "typ": "at+jwt" })),
        Reason::Malformed,
    ));
    all.push(reject(
        "header-not-json",
        "B6",
        "a header that is not JSON",
        key.sign_under(b"not json", &payload),
        Reason::Malformed,
    ));
}

fn claims_and_time(all: &mut Vec<Case>) {
    let k = Keys::get();
    for format in Format::ALL {
        let f = format_name(format);
        let key = k.active(format);
        let token = |edit: &dyn Fn(&mut Map<String, Value>)| key.sign(&edited(format, edit));
        let reject = |name: &str, row, title: &str, token: String, reason| {
            Case::new(
                &format!("{f}-{name}"),
                Some(row),
                title,
                token,
                Expect::Reject(reason),
            )
        };
        let exp = IAT + 3600;
        all.push(
            reject(
                "expired-beyond-leeway",
                "E1",
                "exp 31 s before now (the leeway is 30 s)",
                key.sign(&edited(format, |_| {})),
                Reason::Expired,
            )
            .at(exp + LEEWAY + 1),
        );
        all.push(
            Case::new(
                &format!("{f}-expired-within-leeway"),
                Some("E2"),
                "exp 30 s before now: within the leeway",
                key.sign(&edited(format, |_| {})),
                accept(format),
            )
            .at(exp + LEEWAY),
        );
        let nbf = |t: i64| {
            token(&|c| {
                c.insert("nbf".into(), time_claim(format, t));
            })
        };
        all.push(reject(
            "nbf-in-ten-minutes",
            "E3",
            "nbf 10 min after now",
            nbf(NOW + 600),
            Reason::NotYetValid,
        ));
        all.push(reject(
            "nbf-beyond-leeway",
            "E3",
            "nbf 31 s after now",
            nbf(NOW + LEEWAY + 1),
            Reason::NotYetValid,
        ));
        all.push(Case::new(
            &format!("{f}-nbf-within-leeway"),
            Some("E4"),
            "nbf 2 s after now (a clock ahead)",
            nbf(NOW + 2),
            accept(format),
        ));
        all.push(Case::new(
            &format!("{f}-nbf-at-leeway"),
            Some("E4"),
            "nbf 30 s after now: the leeway's edge",
            nbf(NOW + LEEWAY),
            accept(format),
        ));
        let iat_future = token(&|c| {
            c.insert("iat".into(), time_claim(format, NOW + LEEWAY + 1));
        });
        all.push(reject(
            "iat-beyond-leeway",
            "E5",
            "iat 31 s after now (nbf now)",
            iat_future,
            Reason::NotYetValid,
        ));
        let ten_years = token(&|c| {
            c.insert("exp".into(), time_claim(format, IAT + 10 * 366 * 24 * 3600));
        });
        all.push(reject(
            "lifetime-ten-years",
            "E6",
            "exp - iat of ten years",
            ten_years,
            Reason::InvalidClaims,
        ));
        let longest = token(&|c| {
            c.insert(
                "exp".into(),
                time_claim(format, IAT + Policy::DEFAULT_MAX_LIFETIME),
            );
        });
        let mut longest_expect = Accepted::default_for(format);
        longest_expect.expires_at = IAT + Policy::DEFAULT_MAX_LIFETIME;
        all.push(Case::new(
            &format!("{f}-lifetime-at-the-maximum"),
            Some("E6"),
            "exp - iat of exactly 366 days",
            longest,
            Expect::Accept(longest_expect),
        ));
        let over = token(&|c| {
            c.insert(
                "exp".into(),
                time_claim(format, IAT + Policy::DEFAULT_MAX_LIFETIME + 1),
            );
        });
        all.push(reject(
            "lifetime-a-second-over",
            "E6",
            "exp - iat of 366 days and a second",
            over,
            Reason::InvalidClaims,
        ));
        let aud = |v: Value| {
            token(&move |c| {
                c.insert("aud".into(), v.clone());
            })
        };
        all.push(reject(
            "aud-missing",
            "E9",
            "no aud",
            token(&|c| {
                c.remove("aud");
            }),
            Reason::InvalidClaims,
        ));
        all.push(reject(
            "aud-number",
            "E9",
            "aud 123",
            aud(json!(123)),
            Reason::InvalidClaims,
        ));
        all.push(reject(
            "aud-other",
            "E9",
            "aud [\"other\"]",
            aud(json!(["other"])),
            Reason::WrongAudience,
        ));
        all.push(reject(
            "aud-other-string",
            "E9",
            "aud \"other\"",
            aud(json!("other")),
            Reason::WrongAudience,
        ));
        all.push(reject(
            "aud-empty-array",
            "E9",
            "aud []",
            aud(json!([])),
            Reason::WrongAudience,
        ));
        all.push(reject(
            "aud-array-with-a-number",
            "E9",
            "aud [\"informly-api\", 5]",
            aud(json!(["informly-api", 5])),
            Reason::InvalidClaims,
        ));
        all.push(Case::new(
            &format!("{f}-aud-array-holding-ours"),
            Some("E9"),
            "aud [\"other\", \"informly-api\"]",
            aud(json!(["other", "informly-api"])),
            accept(format),
        ));
        let iss = |v: &str| {
            let v = v.to_owned();
            token(&move |c| {
                c.insert("iss".into(), json!(v));
            })
        };
        all.push(reject(
            "iss-trailing-slash",
            "E10",
            "iss \"informly/\"",
            iss("informly/"),
            Reason::WrongIssuer,
        ));
        all.push(reject(
            "iss-other-case",
            "E10",
            "iss \"Informly\"",
            iss("Informly"),
            Reason::WrongIssuer,
        ));
        for claim in ["sub", "client_id", "jti", "iss", "iat", "nbf", "exp"] {
            all.push(reject(
                &format!("{}-missing", claim.replace('_', "-")),
                "E11",
                &format!("no {claim}"),
                token(&|c| {
                    c.remove(claim);
                }),
                Reason::InvalidClaims,
            ));
        }
        all.push(reject(
            "workspace-missing",
            "E12",
            "no workspace",
            token(&|c| {
                c.remove("workspace");
            }),
            Reason::InvalidClaims,
        ));
        for (name, value) in [
            ("number", json!(7)),
            ("array", json!([WORKSPACE])),
            ("null", Value::Null),
            ("not-an-id", json!("default")),
        ] {
            all.push(reject(
                &format!("workspace-{name}"),
                "E12",
                &format!("workspace {value}"),
                token(&|c| {
                    c.insert("workspace".into(), value.clone());
                }),
                Reason::InvalidClaims,
            ));
        }
        all.push(reject(
            "sub-not-client-id",
            "E13",
            "sub and client_id name different apps",
            token(&|c| {
                c.insert("client_id".into(), json!(OTHER_APP));
            }),
            Reason::InvalidClaims,
        ));
        all.push(reject(
            "sub-admin-client-id-app",
            "E13",
            "sub admin:cli, client_id an app",
            token(&|c| {
                c.insert("sub".into(), json!("admin:cli"));
            }),
            Reason::InvalidClaims,
        ));
        all.push(reject(
            "jti-not-a-token-id",
            "G9",
            "jti with SQL metacharacters",
            token(&|c| {
                c.insert("jti".into(), json!("tok_'; DROP TABLE tokens;--"));
            }),
            Reason::InvalidClaims,
        ));
        all.push(reject(
            "unknown-claim",
            "E11",
            "a claim the service never writes (role)",
            token(&|c| {
                c.insert("role".into(), json!("admin"));
            }),
            Reason::InvalidClaims,
        ));
    }
    // Numeric dates only in JWT (E7, E8).
    let key = &k.jwt;
    let reject = |name: &str, row, title: &str, token: String, reason| {
        Case::new(
            &format!("jwt-{name}"),
            Some(row),
            title,
            token,
            Expect::Reject(reason),
        )
    };
    for (name, raw) in [
        ("exp-negative", "-1"),
        ("exp-1e300", "1e300"),
        ("exp-past-u64", "18446744073709551616"),
        ("exp-float", "1800003540.5"),
        ("exp-true", "true"),
    ] {
        all.push(reject(
            name,
            "E7",
            &format!("exp {raw}"),
            key.sign(&with_raw(Format::Jwt, "exp", raw)),
            Reason::InvalidClaims,
        ));
    }
    all.push(reject(
        "exp-string",
        "E8",
        "exp \"never\"",
        key.sign(&with_raw(Format::Jwt, "exp", "\"never\"")),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "nbf-numeric-string",
        "E8",
        "nbf \"99999999999\"",
        key.sign(&with_raw(Format::Jwt, "nbf", "\"99999999999\"")),
        Reason::InvalidClaims,
    ));
    all.push(reject(
        "exp-rfc3339",
        "E8",
        "exp as an RFC 3339 string (PASETO style)",
        key.sign(&with_raw(
            Format::Jwt,
            "exp",
            &format!("\"{}\"", rfc3339(IAT + 3600)),
        )),
        Reason::InvalidClaims,
    ));
}

fn scopes(all: &mut Vec<Case>) {
    let k = Keys::get();
    for format in Format::ALL {
        let f = format_name(format);
        let key = k.active(format);
        let with_scope = |scope: Value| {
            key.sign(&edited(format, move |c| {
                c.insert("scope".into(), scope);
            }))
        };
        let granted = |scopes: Vec<&'static str>, lacks: Vec<&'static str>| {
            let mut a = Accepted::default_for(format);
            a.scopes = scopes;
            a.lacks = lacks;
            Expect::Accept(a)
        };
        let cases: Vec<(&str, &str, &str, Value, Expect)> = vec![
            (
                "scope-wildcard",
                "H2",
                "contacts:read contacts:* (a wildcard grants nothing)",
                json!("contacts:read contacts:*"),
                granted(
                    vec!["contacts:read"],
                    vec!["contacts:write", "contacts:delete"],
                ),
            ),
            (
                "scope-other-case",
                "H4",
                "Contacts:Read (case matters)",
                json!("Contacts:Read"),
                granted(vec![], vec!["contacts:read"]),
            ),
            (
                "scope-prefix",
                "H4",
                "contacts:read-all contacts:readcontacts:write",
                json!("contacts:read-all contacts:readcontacts:write"),
                granted(vec![], vec!["contacts:read", "contacts:write"]),
            ),
            (
                "scope-empty",
                "H5",
                "scope \"\"",
                json!(""),
                granted(vec![], vec!["contacts:read"]),
            ),
            (
                "scope-double-spaces",
                "H4",
                "scopes separated by two spaces",
                json!("contacts:read  contacts:delete"),
                granted(
                    vec!["contacts:read", "contacts:delete"],
                    vec!["contacts:write"],
                ),
            ),
            (
                "scope-array",
                "H6",
                "scope as an array",
                json!(["contacts:read"]),
                Expect::Reject(Reason::InvalidClaims),
            ),
            (
                "scope-number",
                "H6",
                "scope as a number",
                json!(7),
                Expect::Reject(Reason::InvalidClaims),
            ),
            (
                "scope-null",
                "H5",
                "scope null: read as no scope (valid, grants nothing)",
                Value::Null,
                granted(vec![], vec!["contacts:read"]),
            ),
            (
                "scope-admin-on-app-token",
                "H10",
                "an app token claiming apps:read",
                json!("contacts:read apps:read"),
                Expect::Reject(Reason::InvalidClaims),
            ),
        ];
        for (name, row, title, scope, expect) in cases {
            all.push(Case::new(
                &format!("{f}-{name}"),
                Some(row),
                title,
                with_scope(scope),
                expect,
            ));
        }
        all.push(Case::new(
            &format!("{f}-scope-missing"),
            Some("H5"),
            "no scope claim: valid, and grants nothing",
            key.sign(&edited(format, |c| {
                c.remove("scope");
            })),
            {
                let mut a = Accepted::default_for(format);
                a.scopes = vec![];
                a.lacks = vec!["contacts:read"];
                Expect::Accept(a)
            },
        ));
        all.push(Case::new(
            &format!("{f}-scope-admin-on-admin-token-with-app-scope"),
            Some("H10"),
            "an admin token claiming contacts:read",
            key.sign(&edited(format, |c| {
                c.insert("sub".into(), json!("admin:cli"));
                c.insert("client_id".into(), json!("admin:cli"));
                c.insert("scope".into(), json!("apps:read contacts:read"));
            })),
            Expect::Reject(Reason::InvalidClaims),
        ));
    }
}

/// Tokens that break two rules: the reason is the one checked first
/// (testdata/README.md, "Order matters").
fn ordering(all: &mut Vec<Case>) {
    let k = Keys::get();
    let reject = |name: &str, title: &str, token: String, reason| {
        Case::new(
            &format!("order-{name}"),
            None,
            title,
            token,
            Expect::Reject(reason),
        )
    };
    // JWT: the payload segment is decoded only after the signature verifies.
    let [h, p, _] = jwt_parts(&valid(Format::Jwt));
    let padded_payload = URL_SAFE.encode(unb64(&p));
    let signed = k.jwt.jws_by_hand(&h, &padded_payload);
    all.push(reject(
        "jwt-padded-payload-signed",
        "a padded payload segment, validly signed as sent: malformed (decoded after the signature)",
        signed.clone(),
        Reason::Malformed,
    ));
    let [h2, p2, s2] = jwt_parts(&signed);
    let mut sig = unb64(&s2);
    sig[5] ^= 0x01;
    all.push(reject(
        "jwt-padded-payload-bad-signature",
        "a padded payload segment under a bad signature: the signature is checked first",
        format!("{h2}.{p2}.{}", b64(&sig)),
        Reason::BadSignature,
    ));
    // PASETO: the message segment is decoded after the key lookup.
    let payload = serde_json::to_vec(&claims(Format::Paseto)).expect("json");
    let (m, footer) = paseto_parts(&k.paseto_stranger.sign(&payload));
    all.push(reject(
        "paseto-unknown-kid-and-padded-message",
        "an unknown kid and a padded message: the key is looked up first",
        format!(
            "v4.public.{}.{footer}",
            URL_SAFE.encode(&m).trim_end_matches('=').to_owned() + "=="
        ),
        Reason::UnknownKey,
    ));
    for format in Format::ALL {
        let f = format_name(format);
        let key = k.active(format);
        let bad_exp = match format {
            Format::Paseto => json!("2027-01-15 08:59:00Z"),
            Format::Jwt => json!(-1),
        };
        all.push(reject(
            &format!("{f}-wrong-issuer-and-bad-exp-value"),
            "a wrong iss and an exp of the right type but a bad value: the issuer is checked first",
            key.sign(&edited(format, |c| {
                c.insert("iss".into(), json!("other"));
                c.insert("exp".into(), bad_exp.clone());
            })),
            Reason::WrongIssuer,
        ));
        all.push(reject(
            &format!("{f}-wrong-issuer-and-unknown-claim"),
            "a wrong iss and an unknown claim: the claims' shape is checked first",
            key.sign(&edited(format, |c| {
                c.insert("iss".into(), json!("other"));
                c.insert("role".into(), json!("admin"));
            })),
            Reason::InvalidClaims,
        ));
        all.push(reject(
            &format!("{f}-wrong-audience-and-expired"),
            "a wrong aud on an expired token: the audience is checked first",
            key.sign(&edited(format, |c| {
                c.insert("aud".into(), json!("other"));
                c.insert("exp".into(), time_claim(format, NOW - 3600));
                c.insert("iat".into(), time_claim(format, NOW - 7200));
                c.insert("nbf".into(), time_claim(format, NOW - 7200));
            })),
            Reason::WrongAudience,
        ));
        all.push(reject(
            &format!("{f}-expired-and-not-yet-valid"),
            "exp passed and nbf in the future: exp is checked first",
            key.sign(&edited(format, |c| {
                c.insert("exp".into(), time_claim(format, NOW - 100));
                c.insert("iat".into(), time_claim(format, NOW - 200));
                c.insert("nbf".into(), time_claim(format, NOW + 100));
            })),
            Reason::Expired,
        ));
        all.push(reject(
            &format!("{f}-lifetime-and-expired"),
            "a lifetime over the maximum on an expired token: the lifetime is checked first",
            key.sign(&edited(format, |c| {
                c.insert("iat".into(), time_claim(format, NOW - 400 * 24 * 3600));
                c.insert("nbf".into(), time_claim(format, NOW - 400 * 24 * 3600));
                c.insert("exp".into(), time_claim(format, NOW - 3600));
            })),
            Reason::InvalidClaims,
        ));
    }
}

fn keys_and_rotation(all: &mut Vec<Case>) {
    let k = Keys::get();
    for format in Format::ALL {
        let f = format_name(format);
        let payload = serde_json::to_vec(&claims(format)).expect("json");
        all.push(Case::new(
            &format!("{f}-retiring-key"),
            Some("F2"),
            "signed by the previous key, now retiring (in its grace)",
            k.retiring(format).sign(&payload),
            accept(format),
        ));
        all.push(Case::new(
            &format!("{f}-unknown-kid"),
            Some("F4"),
            "a well-formed kid of a key nobody published",
            k.stranger(format).sign(&payload),
            Expect::Reject(Reason::UnknownKey),
        ));
        all.push(Case::new(
            &format!("{f}-kid-of-a-signed-by-b"),
            Some("F5"),
            "the active key's kid, signed by another key",
            k.stranger(format)
                .sign_under(&k.active(format).head(), &payload),
            Expect::Reject(Reason::BadSignature),
        ));
        let staging = Key::new(format, 0x41);
        let staging_claims = edited(format, |c| {
            c.insert("iss".into(), json!("informly-staging"));
        });
        all.push(Case::new(
            &format!("{f}-other-environment"),
            Some("F8"),
            "a token of another environment (its own key and issuer)",
            staging.sign(&staging_claims),
            Expect::Reject(Reason::UnknownKey),
        ));
    }
    let paseto_payload = serde_json::to_vec(&claims(Format::Paseto)).expect("json");
    all.push(Case::new(
        "paseto-pending-key",
        Some("F2"),
        "signed by a pending key (published before it signs)",
        k.paseto_pending.sign(&paseto_payload),
        accept(Format::Paseto),
    ));
    let retired_docs = || {
        Docs::of(
            &[
                (&k.paseto.key.public_key(), KeyStatus::Active),
                (&k.paseto_retired.key.public_key(), KeyStatus::Retired),
            ],
            &[&k.jwt.key.public_key()],
        )
    };
    all.push(
        Case::new(
            "paseto-retired-key",
            Some("F3"),
            "signed by a key the key set lists as retired",
            k.paseto_retired.sign(&paseto_payload),
            Expect::Reject(Reason::UnknownKey),
        )
        .docs("retired", retired_docs()),
    );
    let jwt_payload = serde_json::to_vec(&claims(Format::Jwt)).expect("json");
    all.push(
        Case::new(
            "jwt-retired-key",
            Some("F3"),
            "signed by a JWT key no longer in the JWKS",
            k.jwt_retiring.sign(&jwt_payload),
            Expect::Reject(Reason::UnknownKey),
        )
        .docs("retired", retired_docs()),
    );
    // F7: a key of one format named in a token of the other.
    let header = header_for(k.paseto.kid());
    all.push(Case::new(
        "jwt-kid-of-a-paseto-key",
        Some("F7"),
        "a JWT whose kid is the active PASETO key's k4.pid, signed by that key",
        k.paseto.jws_by_hand(&b64(&header), &b64(&jwt_payload)),
        Expect::Reject(Reason::UnknownKey),
    ));
    all.push(Case::new(
        "paseto-kid-of-a-jwt-key",
        Some("F7"),
        "a PASETO footer naming the JWT key's thumbprint",
        k.jwt
            .paseto_by_hand("v4.public.", &paseto_payload, &footer_for(k.jwt.kid()), b""),
        Expect::Reject(Reason::Malformed),
    ));
    // C16 / F9: key documents that are refused whole.
    let short = format!("k4.public.{}", b64(&[9; 31]));
    let mut docs = Docs::standard();
    docs.paserk["keys"]
        .as_array_mut()
        .expect("keys")
        .push(json!({ "kid": "k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "paserk": short, "status": "active" }));
    all.push(
        Case::new(
            "keys-paserk-31-bytes",
            Some("C16"),
            "paserk.json lists a k4.public of 31 bytes: the document is refused, the verifier cannot start",
            valid(Format::Paseto),
            Expect::LoadError,
        )
        .docs("paserk-31-bytes", docs),
    );
    let mut docs = Docs::standard();
    let mut jwk = serde_json::to_value(k.jwt_stranger.key.public_key().to_jwk()).expect("jwk");
    jwk["x"] = json!(b64(&[9; 31]));
    docs.jwks["keys"].as_array_mut().expect("keys").push(jwk);
    all.push(
        Case::new(
            "keys-jwk-31-bytes",
            Some("F9"),
            "jwks.json lists an Ed25519 key of 31 bytes: the document is refused, the verifier cannot start",
            valid(Format::Jwt),
            Expect::LoadError,
        )
        .docs("jwk-31-bytes", docs),
    );
    let mut docs = Docs::standard();
    docs.paserk["keys"][0]["kid"] = json!(k.paseto_stranger.kid());
    all.push(
        Case::new(
            "keys-paserk-kid-mismatch",
            Some("C16"),
            "paserk.json gives a key under another key's k4.pid: refused",
            valid(Format::Paseto),
            Expect::LoadError,
        )
        .docs("paserk-kid-mismatch", docs),
    );
}

fn revocation(all: &mut Vec<Case>) {
    for format in Format::ALL {
        let f = format_name(format);
        let token = valid(format);
        let case = |name: &str, row, title: &str, edit: &dyn Fn(&mut RevocationFeed), expect| {
            Case::new(&format!("{f}-{name}"), row, title, token.clone(), expect)
                .polls(vec![full_poll(NOW - 1, edit, title)])
        };
        all.push(case(
            "revoked",
            Some("G1"),
            "the feed revokes the token's jti",
            &|p| p.revoked.push(revoked(TOKEN_ID, None)),
            Expect::Reject(Reason::Revoked),
        ));
        all.push(case(
            "other-token-revoked",
            Some("G1"),
            "the feed revokes another jti",
            &|p| p.revoked.push(revoked(OTHER_TOKEN_ID, None)),
            accept(format),
        ));
        all.push(case(
            "app-cutoff-after-iat",
            Some("G2"),
            "the app's cutoff is after the token's iat",
            &|p| p.cutoffs.push(cutoff(APP, IAT + 1)),
            Expect::Reject(Reason::Revoked),
        ));
        all.push(case(
            "app-cutoff-at-iat",
            Some("G3"),
            "the app's cutoff is the token's iat (inclusive)",
            &|p| p.cutoffs.push(cutoff(APP, IAT)),
            Expect::Reject(Reason::Revoked),
        ));
        all.push(case(
            "app-cutoff-before-iat",
            Some("G4"),
            "the app's cutoff is a second before the token's iat",
            &|p| p.cutoffs.push(cutoff(APP, IAT - 1)),
            accept(format),
        ));
        all.push(case(
            "other-app-cutoff",
            Some("G5"),
            "another app's cutoff",
            &|p| p.cutoffs.push(cutoff(OTHER_APP, NOW)),
            accept(format),
        ));
        all.push(case(
            "scheduled-revocation-in-a-second",
            Some("G1"),
            "a roll: the token is revoked from now + 1 s",
            &|p| p.revoked.push(revoked(TOKEN_ID, Some(NOW + 1))),
            accept(format),
        ));
        all.push(case(
            "scheduled-revocation-now",
            Some("G1"),
            "a roll: the token is revoked from now (inclusive)",
            &|p| p.revoked.push(revoked(TOKEN_ID, Some(NOW))),
            Expect::Reject(Reason::Revoked),
        ));
        all.push(case(
            "scheduled-revocation-passed",
            Some("G1"),
            "a roll whose second passed before the page was built",
            &|p| p.revoked.push(revoked(TOKEN_ID, Some(NOW - 100))),
            Expect::Reject(Reason::Revoked),
        ));
        all.push(case(
            "scheduled-then-immediate",
            Some("G1"),
            "two entries for the jti, scheduled and immediate: the earlier wins",
            &|p| {
                p.revoked.push(revoked(TOKEN_ID, Some(NOW + 600)));
                p.revoked.push(revoked(TOKEN_ID, None));
            },
            Expect::Reject(Reason::Revoked),
        ));
        // A roll published earlier takes effect at its second without any
        // further page: the follower refuses the token even if it cannot
        // reach the service then.
        let roll = Case::new(
            &format!("{f}-scheduled-revocation-reached-offline"),
            Some("G1"),
            "a roll fetched 4 min ago takes effect at its second (now) with no page since",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![full_poll(
            NOW - 240,
            |p| p.revoked.push(revoked(TOKEN_ID, Some(NOW))),
            "the roll, published in advance",
        )]);
        all.push(roll);
        all.push(
            Case::new(
                &format!("{f}-scheduled-revocation-a-second-before"),
                Some("G1"),
                "the same roll, a second before its time",
                token.clone(),
                accept(format),
            )
            .polls(vec![full_poll(
                NOW - 240,
                |p| p.revoked.push(revoked(TOKEN_ID, Some(NOW + 1))),
                "the roll, published in advance",
            )]),
        );
    }
    // Pages of changes merge into what the follower holds.
    let token = valid(Format::Paseto);
    let first = |edit: &dyn Fn(&mut RevocationFeed)| full_poll(NOW - 20, edit, "the full list");
    let changes = |edit: &dyn Fn(&mut RevocationFeed)| {
        let mut p = page(NOW - 1, Some(CURSORS[0]), CURSORS[1], false);
        edit(&mut p);
        signed_poll(NOW - 1, &p, "the changes since the first page's cursor")
    };
    all.push(
        Case::new(
            "feed-revocation-in-a-page-of-changes",
            Some("G6"),
            "the second page (changes since the first) revokes the token",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            first(&|p| p.revoked.push(revoked(OTHER_TOKEN_ID, None))),
            changes(&|p| p.revoked.push(revoked(TOKEN_ID, None))),
        ]),
    );
    all.push(
        Case::new(
            "feed-changes-merge-not-replace",
            Some("G6"),
            "a page of changes without the token keeps its earlier revocation",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            first(&|p| p.revoked.push(revoked(TOKEN_ID, None))),
            changes(&|p| p.revoked.push(revoked(OTHER_TOKEN_ID, None))),
        ]),
    );
    all.push(
        Case::new(
            "feed-cutoff-only-moves-forward",
            Some("G2"),
            "a later page with an older cutoff does not move the app's cutoff back",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            first(&|p| p.cutoffs.push(cutoff(APP, IAT))),
            changes(&|p| p.cutoffs.push(cutoff(APP, IAT - 100))),
        ]),
    );
    all.push(
        Case::new(
            "feed-schedule-brought-forward",
            Some("G1"),
            "a roll, then a revocation of the same token in its overlap",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            first(&|p| p.revoked.push(revoked(TOKEN_ID, Some(NOW + 3000)))),
            changes(&|p| p.revoked.push(revoked(TOKEN_ID, None))),
        ]),
    );
    all.push(
        Case::new(
            "feed-schedule-not-postponed",
            Some("G1"),
            "a later page cannot postpone a scheduled revocation",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            first(&|p| p.revoked.push(revoked(TOKEN_ID, Some(NOW - 5)))),
            changes(&|p| p.revoked.push(revoked(TOKEN_ID, Some(NOW + 3000)))),
        ]),
    );
    // Every FULL_LIST_EVERY seconds the follower asks for the full list
    // again, which replaces what it holds.
    all.push(
        Case::new("feed-full-list-replaces", Some("G6"), "ten minutes on, the follower asks for the full list again, which replaces what it held", token.clone(), accept(Format::Paseto))
            .polls(vec![
                full_poll(NOW - 700, |p| p.cutoffs.push(cutoff(APP, IAT)), "the full list, with a cutoff"),
                full_poll(NOW - 50, |p| p.next = CURSORS[1].to_owned(), "the full list again (no since: 650 s since the last full list), without it"),
            ]),
    );
    // Entries whose token has expired are dropped; the token is refused as
    // expired anyway (expired wins: the token core answers first).
    all.push(
        Case::new(
            "feed-revoked-and-expired",
            Some("G1"),
            "a revoked token past its exp is refused as expired",
            token,
            Expect::Reject(Reason::Expired),
        )
        .at(IAT + 3600 + LEEWAY + 1)
        .polls(vec![full_poll(
            IAT + 3600 + LEEWAY + 1,
            |p| p.revoked.push(revoked(TOKEN_ID, None)),
            "the full list",
        )]),
    );
}

/// Feed pages a follower must refuse: each is the second poll, after a good
/// full page, and would revoke the token; refused, it changes nothing.
fn feed_pages(all: &mut Vec<Case>) {
    let k = Keys::get();
    let token = valid(Format::Paseto);
    let good_first = || full_poll(NOW - 20, |_| {}, "the full list, empty");
    // The page the service would send next, revoking the token.
    let next_page = || {
        let mut p = page(NOW - 1, Some(CURSORS[0]), CURSORS[1], false);
        p.revoked.push(revoked(TOKEN_ID, None));
        p
    };
    let refused = |name: &str, title: &str, second: Poll| {
        Case::new(
            &format!("feed-refused-{name}"),
            Some("G6"),
            &format!("the second page is refused ({title}): its revocation is not applied"),
            token.clone(),
            accept(Format::Paseto),
        )
        .polls(vec![good_first(), second])
    };
    let payload = serde_json::to_vec(&page_json(&next_page())).expect("json");
    // For reference: the same page, validly signed, is applied.
    all.push(
        Case::new(
            "feed-second-page-applied",
            Some("G6"),
            "the second page, validly signed, revokes the token",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            good_first(),
            signed_poll(NOW - 1, &next_page(), "the changes"),
        ]),
    );
    all.push(
        Case::new(
            "feed-second-page-signed-by-hand",
            Some("G6"),
            "the second page signed by hand (payload as JSON text, assertion v2): applied alike",
            token.clone(),
            Expect::Reject(Reason::Revoked),
        )
        .polls(vec![
            good_first(),
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(&k.paseto, &payload, FEED_ASSERTION)),
                "signed by hand",
            ),
        ]),
    );
    let bad: Vec<(&str, &str, Poll)> = vec![
        (
            "v1-assertion",
            "signed with informly:revocation-feed:v1",
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(
                    &k.paseto,
                    &payload,
                    b"informly:revocation-feed:v1",
                )),
                "v1",
            ),
        ),
        (
            "no-assertion",
            "signed as an access token, with no implicit assertion",
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(&k.paseto, &payload, b"")),
                "no assertion",
            ),
        ),
        (
            "unknown-key",
            "signed by a key not in paserk.json",
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(&k.paseto_stranger, &payload, FEED_ASSERTION)),
                "a stranger's key",
            ),
        ),
        (
            "jwt-key",
            "signed by the JWT key's seed under its thumbprint",
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(&k.jwt, &payload, FEED_ASSERTION)),
                "the JWT key",
            ),
        ),
        ("tampered", "one bit of the payload flipped", {
            let feed = next_page().sign(&k.paseto.key).expect("sign");
            let (mut m, footer) = paseto_parts(&feed);
            m[12] ^= 0x01;
            raw_poll(
                NOW - 1,
                200,
                envelope(&format!("v4.public.{}.{footer}", b64(&m))),
                "tampered",
            )
        }),
        ("wrong-issuer", "iss informly-staging", {
            let mut p = next_page();
            p.issuer = "informly-staging".to_owned();
            signed_poll(NOW - 1, &p, "another issuer")
        }),
        (
            "expired",
            "built 91 s before it was fetched: exp + leeway passed",
            {
                let mut p = next_page();
                p.issued_at = NOW - 92;
                p.expires_at = NOW - 32;
                signed_poll(NOW - 1, &p, "an old page from a cache")
            },
        ),
        ("from-the-future", "iat 31 s after the fetch", {
            let mut p = next_page();
            p.issued_at = NOW + 30;
            p.expires_at = NOW + 90;
            signed_poll(NOW - 1, &p, "a page from the future")
        }),
        (
            "older-than-the-last",
            "iat before the last page applied (a replay)",
            {
                let mut p = next_page();
                p.issued_at = NOW - 21;
                p.expires_at = NOW + 39;
                signed_poll(NOW - 1, &p, "an older page")
            },
        ),
        (
            "answers-another-cursor",
            "since is not the cursor asked with",
            {
                let mut p = next_page();
                p.since = Some(CURSORS[2].to_owned());
                signed_poll(NOW - 1, &p, "another cursor")
            },
        ),
        (
            "answers-no-cursor",
            "since null when a cursor was asked with",
            {
                let mut p = next_page();
                p.since = None;
                p.full = true;
                signed_poll(NOW - 1, &p, "a full page for the wrong request")
            },
        ),
        ("unknown-field", "an unknown member in the payload", {
            let mut v = page_json(&next_page());
            v["workspace"] = json!(WORKSPACE);
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(
                    &k.paseto,
                    &serde_json::to_vec(&v).expect("json"),
                    FEED_ASSERTION,
                )),
                "an extra member",
            )
        }),
        (
            "entry-without-from",
            "a revoked entry without from (v1 shape)",
            {
                let mut v = page_json(&next_page());
                v["revoked"][0]
                    .as_object_mut()
                    .expect("entry")
                    .remove("from");
                raw_poll(
                    NOW - 1,
                    200,
                    envelope(&page_by_hand(
                        &k.paseto,
                        &serde_json::to_vec(&v).expect("json"),
                        FEED_ASSERTION,
                    )),
                    "a v1-shaped entry",
                )
            },
        ),
        ("numeric-from", "from as a number", {
            let mut v = page_json(&next_page());
            v["revoked"][0]["from"] = json!(NOW);
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(
                    &k.paseto,
                    &serde_json::to_vec(&v).expect("json"),
                    FEED_ASSERTION,
                )),
                "a numeric from",
            )
        }),
        (
            "jti-not-a-token-id",
            "a revoked jti that is not a tok_ id",
            {
                let mut v = page_json(&next_page());
                v["revoked"][0]["jti"] = json!("x'; drop");
                raw_poll(
                    NOW - 1,
                    200,
                    envelope(&page_by_hand(
                        &k.paseto,
                        &serde_json::to_vec(&v).expect("json"),
                        FEED_ASSERTION,
                    )),
                    "a bad jti",
                )
            },
        ),
        ("duplicate-member", "the payload carries full twice", {
            let text = serde_json::to_string(&page_json(&next_page())).expect("json");
            let text = text.replacen("\"full\":false", "\"full\":false,\"full\":true", 1);
            raw_poll(
                NOW - 1,
                200,
                envelope(&page_by_hand(&k.paseto, text.as_bytes(), FEED_ASSERTION)),
                "a duplicate member",
            )
        }),
        (
            "envelope-not-json",
            "the body is not JSON",
            raw_poll(
                NOW - 1,
                200,
                "<html>bad gateway</html>".to_owned(),
                "not JSON",
            ),
        ),
        (
            "status-503",
            "the service answers 503",
            raw_poll(
                NOW - 1,
                503,
                r#"{"title":"Service Unavailable"}"#.to_owned(),
                "the database is down",
            ),
        ),
    ];
    for (name, title, poll) in bad {
        all.push(refused(name, title, poll));
    }
    // A first page that is refused: the verifier cannot start.
    all.push(
        Case::new(
            "feed-first-page-refused",
            Some("G7"),
            "the first page is signed with the v1 assertion: the verifier cannot start",
            token.clone(),
            Expect::LoadError,
        )
        .polls(vec![raw_poll(
            NOW - 1,
            200,
            envelope(&page_by_hand(
                &k.paseto,
                &serde_json::to_vec(&page_json(&page(NOW - 1, None, CURSORS[0], true)))
                    .expect("json"),
                b"informly:revocation-feed:v1",
            )),
            "v1",
        )]),
    );
    all.push(
        Case::new(
            "feed-first-page-unavailable",
            Some("G7"),
            "the feed answers 503 at start: the verifier cannot start",
            token,
            Expect::LoadError,
        )
        .polls(vec![raw_poll(
            NOW - 1,
            503,
            r#"{"title":"Service Unavailable"}"#.to_owned(),
            "down",
        )]),
    );
}

fn staleness(all: &mut Vec<Case>) {
    let k = Keys::get();
    for format in Format::ALL {
        let f = format_name(format);
        let token = valid(format);
        all.push(
            Case::new(
                &format!("{f}-feed-stale"),
                Some("G7"),
                "the last page verified 301 s ago (the bound is 300 s): fail closed",
                token.clone(),
                Expect::Reject(Reason::Stale),
            )
            .polls(vec![full_poll(
                NOW - STALENESS - 1,
                |_| {},
                "the full list, long ago",
            )]),
        );
        all.push(
            Case::new(
                &format!("{f}-feed-at-the-staleness-bound"),
                Some("G7"),
                "the last page verified 300 s ago: still fresh",
                token.clone(),
                accept(format),
            )
            .polls(vec![full_poll(
                NOW - STALENESS,
                |_| {},
                "the full list, 300 s ago",
            )]),
        );
    }
    let token = valid(Format::Paseto);
    all.push(
        Case::new(
            "feed-stale-after-failed-polls",
            Some("G7"),
            "good at -400 s, then 503 and a refused page: stale",
            token.clone(),
            Expect::Reject(Reason::Stale),
        )
        .polls(vec![
            full_poll(NOW - 400, |_| {}, "the full list"),
            raw_poll(NOW - 200, 503, "{}".to_owned(), "down"),
            raw_poll(
                NOW - 10,
                200,
                envelope(&page_by_hand(
                    &k.paseto,
                    &serde_json::to_vec(&page_json(&page(
                        NOW - 10,
                        Some(CURSORS[0]),
                        CURSORS[1],
                        false,
                    )))
                    .expect("json"),
                    b"informly:revocation-feed:v1",
                )),
                "a v1 page",
            ),
        ]),
    );
    all.push(
        Case::new(
            "feed-fresh-after-recovery",
            Some("G7"),
            "good at -400 s, 503 at -200 s, good again at -10 s: fresh",
            token.clone(),
            accept(Format::Paseto),
        )
        .polls(vec![
            full_poll(NOW - 400, |_| {}, "the full list"),
            raw_poll(NOW - 200, 503, "{}".to_owned(), "down"),
            signed_poll(
                NOW - 10,
                &page(NOW - 10, Some(CURSORS[0]), CURSORS[1], false),
                "the changes: none",
            ),
        ]),
    );
    all.push(
        Case::new(
            "feed-stale-garbage-is-still-malformed",
            Some("G7"),
            "a stale feed does not hide why garbage is refused",
            "not-a-token".to_owned(),
            Expect::Reject(Reason::Malformed),
        )
        .polls(vec![full_poll(
            NOW - 1000,
            |_| {},
            "the full list, long ago",
        )]),
    );
    all.push(
        Case::new(
            "feed-stale-before-revoked",
            Some("G7"),
            "a revoked token with a stale feed: stale is checked first",
            token.clone(),
            Expect::Reject(Reason::Stale),
        )
        .polls(vec![full_poll(
            NOW - 1000,
            |p| p.revoked.push(revoked(TOKEN_ID, None)),
            "the full list, long ago",
        )]),
    );
    all.push(
        Case::new(
            "feed-stale-expired-token",
            Some("E1"),
            "an expired token with a stale feed: expired",
            token,
            Expect::Reject(Reason::Expired),
        )
        .at(IAT + 3600 + LEEWAY + 1 + 1000)
        .polls(vec![full_poll(
            IAT + 3600 + LEEWAY + 1,
            |_| {},
            "the full list, 1000 s before now",
        )]),
    );
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// Checks a case's expectation against the token core; returns the detail
/// to record (the `token::Error` variant, or why the keys were refused).
fn check(case: &Case) -> Option<String> {
    let mut keys = KeySet::new();
    let loaded = serde_json::from_value::<PaserkKeySet>(case.paserk.clone())
        .map_err(|e| e.to_string())
        .and_then(|doc| keys.extend_from_paserk(&doc).map_err(|e| e.to_string()))
        .and_then(|()| serde_json::from_value::<Jwks>(case.jwks.clone()).map_err(|e| e.to_string()))
        .and_then(|doc| keys.extend_from_jwks(&doc).map_err(|e| e.to_string()));
    if let Err(e) = loaded {
        assert!(
            matches!(case.expect, Expect::LoadError),
            "{}: the key documents are refused ({e})",
            case.name
        );
        return Some(e);
    }
    let verified = Verifier::new(keys, Policy::default()).verify(&case.token, case.now);
    match (&case.expect, verified) {
        (Expect::Accept(a), Ok(v)) => {
            let c = v.claims();
            assert_eq!(v.format(), a.format, "{}", case.name);
            assert_eq!(c.token_id, a.token_id, "{}", case.name);
            assert_eq!(v.app_id(), a.app_id.as_deref(), "{}", case.name);
            assert_eq!(c.workspace, a.workspace, "{}", case.name);
            let scopes: Vec<&str> = c.scopes.iter().map(token::Scope::as_str).collect();
            assert_eq!(scopes, a.scopes, "{}", case.name);
            assert_eq!(c.expires_at, a.expires_at, "{}", case.name);
            None
        }
        (Expect::Reject(Reason::Revoked | Reason::Stale) | Expect::LoadError, Ok(_)) => None,
        (Expect::Reject(reason), Err(e)) => {
            assert_eq!(
                Reason::of(e),
                *reason,
                "{}: the token core says {e:?}",
                case.name
            );
            Some(format!("{e:?}"))
        }
        (expect, got) => panic!(
            "{}: expected {expect:?}, the token core says {got:?}",
            case.name
        ),
    }
}

fn case_json(case: &Case) -> Value {
    let detail = check(case);
    let expect = match &case.expect {
        Expect::Accept(a) => json!({
            "outcome": "accept",
            "claims": {
                "format": a.format.as_str(),
                "token_id": a.token_id,
                "app_id": a.app_id,
                "workspace": a.workspace,
                "scopes": a.scopes,
                "expires_at": a.expires_at,
            },
            "lacks": a.lacks,
        }),
        Expect::Reject(reason) => json!({
            "outcome": "reject",
            "reason": reason.as_str(),
            "detail": detail.unwrap_or_else(|| format!("{reason:?}")),
        }),
        Expect::LoadError => json!({ "outcome": "load_error", "detail": detail }),
    };
    json!({
        "name": case.name,
        "row": case.row,
        "title": case.title,
        "keys": case.keys,
        "polls": case.polls.iter().map(|p| json!({
            "at": p.at, "status": p.status, "body": p.body, "note": p.note,
        })).collect::<Vec<_>>(),
        "now": case.now,
        "token": case.token,
        "expect": expect,
    })
}

/// The whole file, as written.
pub fn generate() -> String {
    let cases = cases();
    let mut names = std::collections::BTreeSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.clone()),
            "two cases named {}",
            case.name
        );
    }
    let mut keys = Map::new();
    for case in &cases {
        let docs = json!({ "paserk": case.paserk, "jwks": case.jwks });
        let known = keys
            .entry(case.keys.clone())
            .or_insert_with(|| docs.clone());
        assert_eq!(*known, docs, "two key documents named {}", case.keys);
    }
    let reasons: Map<String, Value> = Reason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), json!(r.describe())))
        .collect();
    let file = json!({
        "format": "informly-verifier-cases",
        "version": 1,
        "generated_by": "cargo run --example verifier_cases (examples/verifier_cases/cases.rs)",
        "docs": "testdata/README.md",
        "policy": {
            "issuer": Policy::DEFAULT_ISSUER,
            "audience": Policy::DEFAULT_AUDIENCE,
            "leeway": LEEWAY,
            "max_lifetime": Policy::DEFAULT_MAX_LIFETIME,
            "max_admin_lifetime": Policy::DEFAULT_MAX_ADMIN_LIFETIME,
            "max_token_len": MAX_TOKEN_LEN,
            "staleness": STALENESS,
            "full_list_every": FULL_LIST_EVERY,
        },
        "feed_assertion": String::from_utf8_lossy(FEED_ASSERTION),
        "reasons": reasons,
        "keys": keys,
        "cases": cases.iter().map(case_json).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_string_pretty(&file).expect("json");
    out.push('\n');
    out
}
