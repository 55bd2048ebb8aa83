//! One test per verification rule of SPEC.md "Token formats" and SECURITY.md §9
//! rows B, C, D, E, F (and G for the in-memory denylist), each asserting the
//! exact `informly::token::Error` variant.
//!
//! Rule-breaking tokens are forged with validly signed parts (`sign_raw`, or
//! raw Ed25519 over the PASETO PAE / JWS signing input when the encoding itself
//! is the thing under test), so each test isolates one rule.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use informly::token::{
    Denylist, Error, Format, KeySet, KeyStatus, MAX_TOKEN_LEN, Policy, PublicKey, Scope, ScopeSet,
    SigningKey, Subject, TokenClaims, UnixTime, Verified, Verifier, jwt_kid, paseto_kid,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::{Map, Value, json};

// `t`: a time claim as the format writes it, RFC 3339 (PASETO) or NumericDate (JWT).
use common::forge::time_claim as t;
use common::forge::{
    app_claims, b64, dirty_trailing_bits, footer_for, forge, header_for, jwt_parts, jwt_raw_sig,
    padded, paseto_parts, paseto_raw_sig, payload_len_mod3, s_plus_l, unb64, with_duplicate,
};

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

/// The fixed clock: 2027-01-15T08:00:00Z.
const NOW: UnixTime = 1_800_000_000;
const DAY: i64 = 86_400;

const TOK: &str = "tok_01HZZZZZZZZZZZZZZZZZZZZZZZ";
const TOK_2: &str = "tok_01HYYYYYYYYYYYYYYYYYYYYYYY";
const WS: &str = "ws_01HZZZZZZZZZZZZZZZZZZZZZZZ";
const APP: &str = "app_01HZZZZZZZZZZZZZZZZZZZZZZZ";
const APP_Y: &str = "app_01HYYYYYYYYYYYYYYYYYYYYYYY";
/// The scope claim of `claims()`.
const SCOPE: &str = "contacts:read contacts:write";

const PASETO_SEED: [u8; 32] = [1; 32];
const JWT_SEED: [u8; 32] = [2; 32];
const PASETO_RETIRED_SEED: [u8; 32] = [3; 32];
const JWT_RETIRED_SEED: [u8; 32] = [4; 32];
const PASETO_PENDING_SEED: [u8; 32] = [5; 32];
const JWT_RETIRING_SEED: [u8; 32] = [6; 32];
const PASETO_OUTSIDER_SEED: [u8; 32] = [7; 32];
const JWT_OUTSIDER_SEED: [u8; 32] = [8; 32];

/// Every app scope, in the service's order.
const APP_SCOPES: [&str; 19] = [
    "contacts:read",
    "contacts:write",
    "contacts:delete",
    "surveys:read",
    "surveys:write",
    "surveys:delete",
    "coupons:read",
    "coupons:write",
    "coupons:delete",
    "coupons:validate",
    "referrals:read",
    "referrals:write",
    "referrals:delete",
    "testimonials:read",
    "testimonials:write",
    "testimonials:delete",
    "tickets:read",
    "tickets:write",
    "tickets:delete",
];

fn key(format: Format, seed: [u8; 32]) -> SigningKey {
    SigningKey::from_seed(format, &seed).expect("non-zero seed")
}

/// The active signing key of `format`.
fn active(format: Format) -> SigningKey {
    match format {
        Format::Paseto => key(Format::Paseto, PASETO_SEED),
        Format::Jwt => key(Format::Jwt, JWT_SEED),
    }
}

/// A key of `format` the verifier has never heard of.
fn outsider(format: Format) -> SigningKey {
    match format {
        Format::Paseto => key(Format::Paseto, PASETO_OUTSIDER_SEED),
        Format::Jwt => key(Format::Jwt, JWT_OUTSIDER_SEED),
    }
}

fn keyset() -> KeySet {
    let mut keys = KeySet::new();
    for (format, seed, status) in [
        (Format::Paseto, PASETO_SEED, KeyStatus::Active),
        (Format::Jwt, JWT_SEED, KeyStatus::Active),
        (Format::Paseto, PASETO_RETIRED_SEED, KeyStatus::Retired),
        (Format::Jwt, JWT_RETIRED_SEED, KeyStatus::Retired),
        (Format::Paseto, PASETO_PENDING_SEED, KeyStatus::Pending),
        (Format::Jwt, JWT_RETIRING_SEED, KeyStatus::Retiring),
    ] {
        keys.insert(key(format, seed).public_key(), status)
            .expect("distinct keys");
    }
    keys
}

fn verifier() -> Verifier {
    Verifier::new(keyset(), Policy::default())
}

fn verify(token: &str) -> Result<Verified, Error> {
    verifier().verify(token, NOW)
}

fn outcome(token: &str) -> Result<(), Error> {
    verify(token).map(|_| ())
}

fn scopes(names: &[&str]) -> ScopeSet {
    names
        .iter()
        .map(|n| Scope::lookup(n).expect("known scope"))
        .collect()
}

fn claims() -> TokenClaims {
    TokenClaims {
        token_id: TOK.to_owned(),
        workspace: WS.to_owned(),
        subject: Subject::App(APP.to_owned()),
        scopes: scopes(&["contacts:read", "contacts:write"]),
        issued_at: NOW,
        not_before: NOW,
        expires_at: NOW + 3600,
    }
}

fn issue(format: Format, claims: &TokenClaims) -> String {
    active(format)
        .sign(claims, &Policy::default())
        .expect("sign")
}

/// The claims of `claims()` as they travel in `format`.
fn wire(format: Format) -> Map<String, Value> {
    app_claims(format, WS, APP, TOK, SCOPE, NOW)
}

/// The baseline claims of `format`, edited, signed by the active key, verified.
fn with_claims(format: Format, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<(), Error> {
    let mut map = wire(format);
    edit(&mut map);
    let payload = serde_json::to_vec(&map).expect("json");
    outcome(&forge(&active(format), &payload))
}

/// Asserts `expected` for the same claims edit in both formats.
fn assert_claims_rule(
    expected: Result<(), Error>,
    what: &str,
    edit: impl Fn(Format, &mut Map<String, Value>),
) {
    for format in Format::ALL {
        assert_eq!(
            with_claims(format, |m| edit(format, m)),
            expected,
            "{what} ({format})"
        );
    }
}

// ---------------------------------------------------------------------------
// Baseline (F1) and the forging helpers themselves
// ---------------------------------------------------------------------------

#[test]
fn paseto_token_signed_by_the_active_key_verifies_and_round_trips_its_claims() {
    let token = issue(Format::Paseto, &claims());
    assert!(token.starts_with("v4.public."));
    let verified = verify(&token).expect("valid");
    assert_eq!(*verified.claims(), claims());
    assert_eq!(verified.format(), Format::Paseto);
    assert_eq!(verified.kid(), active(Format::Paseto).kid());
    assert!(verified.kid().starts_with("k4.pid."));
    // The footer is exactly {"kid": pid}.
    let (_, footer) = paseto_parts(&token);
    assert_eq!(unb64(&footer), footer_for(verified.kid()));
}

#[test]
fn jwt_token_signed_by_the_active_key_verifies_and_round_trips_its_claims() {
    let token = issue(Format::Jwt, &claims());
    let verified = verify(&token).expect("valid");
    assert_eq!(*verified.claims(), claims());
    assert_eq!(verified.format(), Format::Jwt);
    assert_eq!(verified.kid(), active(Format::Jwt).kid());
    let [header, _, _] = jwt_parts(&token);
    let header: Value = serde_json::from_slice(&unb64(&header)).expect("json");
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": active(Format::Jwt).kid()})
    );
}

#[test]
fn forged_baseline_claims_verify_in_both_formats() {
    for format in Format::ALL {
        let payload = serde_json::to_vec(&wire(format)).expect("json");
        let verified = verify(&forge(&active(format), &payload)).expect("baseline");
        assert_eq!(*verified.claims(), claims(), "{format}");
    }
}

// ---------------------------------------------------------------------------
// B. Token structure
// ---------------------------------------------------------------------------

#[test]
fn empty_token_is_an_unsupported_format() {
    assert_eq!(outcome(""), Err(Error::UnsupportedFormat));
}

#[test]
fn random_base64url_without_dots_is_an_unsupported_format() {
    let random: Vec<u8> = (0u8..40)
        .map(|i| i.wrapping_mul(97).wrapping_add(13))
        .collect();
    let token = b64(&random);
    assert!(!token.contains('.') && !token.starts_with("eyJ"));
    assert_eq!(outcome(&token), Err(Error::UnsupportedFormat));
}

#[test]
fn v4_local_token_is_an_unsupported_format() {
    // Official vector 4-E-1.
    let token = "v4.local.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAr68PS4AXe7If_ZgesdkUMvSwscFlAl1pk5HC0e8kApeaqMfGo_7OpBnwJOAbY9V7WU6abu74MmcUE8YWAiaArVI8XJ5hOb_4v9RmDkneN0S92dx0OW4pgy7omxgf3S8c3LlQg";
    assert_eq!(outcome(token), Err(Error::UnsupportedFormat));
}

#[test]
fn v2_public_token_signed_with_the_same_key_is_an_unsupported_format() {
    let payload = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    let footer = footer_for(active(Format::Paseto).kid());
    let sig = paseto_raw_sig(&PASETO_SEED, &[b"v2.public.", &payload, &footer]);
    let token = format!(
        "v2.public.{}.{}",
        b64(&[payload, sig.to_vec()].concat()),
        b64(&footer)
    );
    assert_eq!(outcome(&token), Err(Error::UnsupportedFormat));
}

#[test]
fn v3_public_and_uppercase_v4_public_headers_are_unsupported_formats() {
    let token = issue(Format::Paseto, &claims());
    let body = token.strip_prefix("v4.public.").expect("prefix");
    for header in [
        "v3.public.",
        "V4.PUBLIC.",
        "v4.Public.",
        "v4.publi.",
        " v4.public.",
        "v4public.",
    ] {
        assert_eq!(
            outcome(&format!("{header}{body}")),
            Err(Error::UnsupportedFormat),
            "{header:?}"
        );
    }
}

#[test]
fn paseto_with_five_segments_or_an_empty_message_is_malformed() {
    let token = issue(Format::Paseto, &claims());
    assert_eq!(outcome(&format!("{token}.e30")), Err(Error::Malformed));
    let (_, footer) = paseto_parts(&token);
    assert_eq!(
        outcome(&format!("v4.public..{footer}")),
        Err(Error::Malformed)
    );
    assert_eq!(outcome("v4.public."), Err(Error::Malformed));
}

#[test]
fn jwt_with_two_or_four_segments_and_jwe_with_five_are_malformed() {
    let token = issue(Format::Jwt, &claims());
    let [h, p, s] = jwt_parts(&token);
    for bad in [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}"),
        h.clone(),
        format!("{h}..{s}"),
        format!("{h}.{p}."),
    ] {
        assert_eq!(outcome(&bad), Err(Error::Malformed), "{bad}");
    }
}

#[test]
fn paseto_signature_truncated_by_one_byte_is_a_bad_signature() {
    let token = issue(Format::Paseto, &claims());
    let (mut message, footer) = paseto_parts(&token);
    message.pop();
    let truncated = format!("v4.public.{}.{footer}", b64(&message));
    assert_eq!(outcome(&truncated), Err(Error::BadSignature));
}

#[test]
fn jwt_signature_truncated_by_one_byte_is_a_bad_signature() {
    let token = issue(Format::Jwt, &claims());
    let [h, p, s] = jwt_parts(&token);
    let mut sig = unb64(&s);
    sig.pop();
    assert_eq!(sig.len(), 63);
    assert_eq!(
        outcome(&format!("{h}.{p}.{}", b64(&sig))),
        Err(Error::BadSignature)
    );
}

#[test]
fn one_bit_flipped_in_the_payload_is_a_bad_signature() {
    let token = issue(Format::Paseto, &claims());
    let (mut message, footer) = paseto_parts(&token);
    message[20] ^= 0x01;
    let flipped = format!("v4.public.{}.{footer}", b64(&message));
    assert_eq!(outcome(&flipped), Err(Error::BadSignature), "paseto");

    let token = issue(Format::Jwt, &claims());
    let [h, p, s] = jwt_parts(&token);
    let mut payload = unb64(&p);
    payload[20] ^= 0x01;
    assert_eq!(
        outcome(&format!("{h}.{}.{s}", b64(&payload))),
        Err(Error::BadSignature),
        "jwt"
    );
}

#[test]
fn padding_in_any_paseto_segment_is_non_canonical() {
    let kid = active(Format::Paseto).kid().to_owned();
    let footer = footer_for(&kid);
    // Message (payload ‖ 64-byte signature) of a length that needs padding.
    let payload = payload_len_mod3(wire(Format::Paseto), SCOPE, 64, 1);
    let sig = paseto_raw_sig(&PASETO_SEED, &[b"v4.public.", &payload, &footer, b""]);
    let message = [payload, sig.to_vec()].concat();
    let canonical = format!("v4.public.{}.{}", b64(&message), b64(&footer));
    assert_eq!(
        outcome(&canonical).map(|_| ()),
        Ok(()),
        "the unpadded token is valid"
    );

    let padded_message = format!("v4.public.{}.{}", padded(&message), b64(&footer));
    assert_eq!(
        outcome(&padded_message),
        Err(Error::NonCanonical),
        "message"
    );
    let padded_footer = format!("v4.public.{}.{}", b64(&message), padded(&footer));
    assert_eq!(outcome(&padded_footer), Err(Error::NonCanonical), "footer");
}

#[test]
fn padding_in_any_jwt_segment_is_non_canonical() {
    let kid = active(Format::Jwt).kid().to_owned();
    // A header of a length that needs padding: spaces are valid JSON whitespace.
    let mut header = header_for(&kid);
    while header.len().is_multiple_of(3) {
        header.insert(1, b' ');
    }
    let payload = payload_len_mod3(wire(Format::Jwt), SCOPE, 0, 1);
    let build = |h: String, p: String| {
        let input = format!("{h}.{p}");
        let sig = jwt_raw_sig(&JWT_SEED, &input);
        (input, sig)
    };

    let (input, sig) = build(b64(&header), b64(&payload));
    assert_eq!(
        outcome(&format!("{input}.{sig}")),
        Ok(()),
        "the unpadded token is valid"
    );

    let (input, sig) = build(padded(&header), b64(&payload));
    assert_eq!(
        outcome(&format!("{input}.{sig}")),
        Err(Error::NonCanonical),
        "header"
    );
    let (input, sig) = build(b64(&header), padded(&payload));
    assert_eq!(
        outcome(&format!("{input}.{sig}")),
        Err(Error::NonCanonical),
        "payload"
    );
    let (input, sig) = build(b64(&header), b64(&payload));
    let sig = padded(&unb64(&sig));
    assert_eq!(
        outcome(&format!("{input}.{sig}")),
        Err(Error::NonCanonical),
        "signature"
    );
}

#[test]
fn non_zero_trailing_bits_in_any_paseto_segment_are_non_canonical() {
    let kid = active(Format::Paseto).kid().to_owned();
    let footer = footer_for(&kid);
    let payload = payload_len_mod3(wire(Format::Paseto), SCOPE, 64, 1);
    let sig = paseto_raw_sig(&PASETO_SEED, &[b"v4.public.", &payload, &footer, b""]);
    let message = [payload, sig.to_vec()].concat();
    let canonical = format!("v4.public.{}.{}", b64(&message), b64(&footer));
    assert_eq!(outcome(&canonical), Ok(()));

    let dirty_message = format!(
        "v4.public.{}.{}",
        dirty_trailing_bits(&b64(&message)),
        b64(&footer)
    );
    assert_eq!(outcome(&dirty_message), Err(Error::NonCanonical), "message");
    let dirty_footer = format!(
        "v4.public.{}.{}",
        b64(&message),
        dirty_trailing_bits(&b64(&footer))
    );
    assert_eq!(outcome(&dirty_footer), Err(Error::NonCanonical), "footer");
}

#[test]
fn non_zero_trailing_bits_in_any_jwt_segment_are_non_canonical() {
    let kid = active(Format::Jwt).kid().to_owned();
    let mut header = header_for(&kid);
    while header.len().is_multiple_of(3) {
        header.insert(1, b' ');
    }
    let payload = payload_len_mod3(wire(Format::Jwt), SCOPE, 0, 1);
    let signed = |h: String, p: String| {
        let input = format!("{h}.{p}");
        let sig = jwt_raw_sig(&JWT_SEED, &input);
        format!("{input}.{sig}")
    };
    assert_eq!(outcome(&signed(b64(&header), b64(&payload))), Ok(()));

    let dirty_header = signed(dirty_trailing_bits(&b64(&header)), b64(&payload));
    assert_eq!(outcome(&dirty_header), Err(Error::NonCanonical), "header");
    let dirty_payload = signed(b64(&header), dirty_trailing_bits(&b64(&payload)));
    assert_eq!(outcome(&dirty_payload), Err(Error::NonCanonical), "payload");
    let [h, p, s] = jwt_parts(&signed(b64(&header), b64(&payload)));
    let dirty_sig = format!("{h}.{p}.{}", dirty_trailing_bits(&s));
    assert_eq!(outcome(&dirty_sig), Err(Error::NonCanonical), "signature");
}

#[test]
fn paseto_message_no_longer_than_a_signature_is_malformed() {
    let kid = active(Format::Paseto).kid().to_owned();
    let footer = b64(&footer_for(&kid));
    for len in [1usize, 10, 63, 64] {
        let token = format!("v4.public.{}.{footer}", b64(&vec![0x41; len]));
        assert_eq!(outcome(&token), Err(Error::Malformed), "{len} bytes");
    }
    // An empty payload, validly signed (pasetors refuses to sign one, so sign
    // the PAE directly): 64 bytes of message, nothing but the signature.
    let sig = paseto_raw_sig(&PASETO_SEED, &[b"v4.public.", b"", &footer_for(&kid), b""]);
    let token = format!("v4.public.{}.{footer}", b64(&sig));
    assert_eq!(outcome(&token), Err(Error::Malformed), "empty payload");
}

#[test]
fn signature_with_s_plus_l_is_a_bad_signature() {
    let token = issue(Format::Paseto, &claims());
    let (mut message, footer) = paseto_parts(&token);
    let n = message.len();
    s_plus_l(&mut message[n - 64..]);
    let malleated = format!("v4.public.{}.{footer}", b64(&message));
    assert_eq!(outcome(&malleated), Err(Error::BadSignature), "paseto");

    let token = issue(Format::Jwt, &claims());
    let [h, p, s] = jwt_parts(&token);
    let mut sig = unb64(&s);
    s_plus_l(&mut sig);
    assert_eq!(
        outcome(&format!("{h}.{p}.{}", b64(&sig))),
        Err(Error::BadSignature),
        "jwt"
    );
}

#[test]
fn signature_from_a_small_order_public_key_is_a_bad_signature() {
    // The identity point: for it, R = identity and S = 0 satisfy the
    // cofactorless equation [S]B = R + [k]A for every message.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let forged_sig = {
        let mut sig = [0u8; 64];
        sig[0] = 1;
        sig
    };
    for format in Format::ALL {
        let weak = PublicKey::from_raw(format, &identity).expect("32 bytes");
        let mut keys = KeySet::new();
        keys.insert(weak.clone(), KeyStatus::Active)
            .expect("insert");
        let verifier = Verifier::new(keys, Policy::default());
        let payload = serde_json::to_vec(&wire(format)).expect("json");
        let token = match format {
            Format::Paseto => {
                let footer = footer_for(weak.kid());
                format!(
                    "v4.public.{}.{}",
                    b64(&[payload, forged_sig.to_vec()].concat()),
                    b64(&footer)
                )
            }
            Format::Jwt => format!(
                "{}.{}.{}",
                b64(&header_for(weak.kid())),
                b64(&payload),
                b64(&forged_sig)
            ),
        };
        assert_eq!(
            verifier.verify(&token, NOW).map(|_| ()),
            Err(Error::BadSignature),
            "{format}"
        );
    }
}

#[test]
fn paseto_rejects_trailing_dot_with_empty_footer() {
    // A footer-less token (validly signed) is refused for its missing kid; the
    // same token with a trailing dot is a second spelling of it and refused as such.
    let paseto = active(Format::Paseto);
    let payload = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    let no_footer = paseto.sign_raw(b"", &payload).expect("sign");
    assert_eq!(no_footer.matches('.').count(), 2);
    assert_eq!(outcome(&no_footer), Err(Error::MissingKeyId));
    assert_eq!(outcome(&format!("{no_footer}.")), Err(Error::NonCanonical));
}

// ---------------------------------------------------------------------------
// C. PASETO-specific
// ---------------------------------------------------------------------------

fn paseto_with_footer(footer: &[u8]) -> Result<(), Error> {
    let payload = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    outcome(
        &active(Format::Paseto)
            .sign_raw(footer, &payload)
            .expect("sign"),
    )
}

#[test]
fn paseto_footer_that_is_not_json_is_a_bad_footer() {
    for footer in [
        &b"arbitrary-string-that-isn't-json"[..],
        b"kid=k4.pid.x",
        b"[\"kid\"]",
        b"null",
        b"{\"kid\":",
    ] {
        assert_eq!(
            paseto_with_footer(footer),
            Err(Error::BadFooter),
            "{}",
            String::from_utf8_lossy(footer)
        );
    }
}

#[test]
fn paseto_footer_kid_holding_a_public_key_is_a_bad_footer() {
    let paseto = active(Format::Paseto);
    let footer = footer_for(&paseto.public_key().to_paserk());
    assert_eq!(paseto_with_footer(&footer), Err(Error::BadFooter));
}

#[test]
fn paseto_footer_kid_of_another_type_or_shape_is_a_bad_footer() {
    let pid = active(Format::Paseto).kid().to_owned();
    let id = pid.strip_prefix("k4.pid.").expect("pid").to_owned();
    for kid in [
        format!("k4.lid.{id}"),
        format!("k4.sid.{id}"),
        format!("k3.pid.{id}"),
        format!("K4.PID.{id}"),
        format!("k4.pid.{}", &id[1..]),
        format!("k4.pid.{id}A"),
        format!("k4.pid.{}+", &id[1..]),
        String::new(),
    ] {
        assert_eq!(
            paseto_with_footer(&footer_for(&kid)),
            Err(Error::BadFooter),
            "{kid}"
        );
    }
    for footer in [
        json!({"kid": 5}),
        json!({"kid": null}),
        json!({"kid": [pid]}),
        json!({}),
    ] {
        assert_eq!(
            paseto_with_footer(&serde_json::to_vec(&footer).expect("json")),
            Err(Error::BadFooter),
            "{footer}"
        );
    }
}

#[test]
fn paseto_footer_with_a_key_other_than_kid_is_a_bad_footer() {
    let pid = active(Format::Paseto).kid().to_owned();
    let role = json!({"kid": pid, "role": "admin"});
    assert_eq!(
        paseto_with_footer(&serde_json::to_vec(&role).expect("json")),
        Err(Error::BadFooter)
    );
    // Duplicate kid, even when both name our key.
    let dup = format!(r#"{{"kid":"{pid}","kid":"{pid}"}}"#);
    assert_eq!(paseto_with_footer(dup.as_bytes()), Err(Error::BadFooter));
}

#[test]
fn paseto_footer_of_nine_kib_is_too_large_and_one_of_six_hundred_keys_is_a_bad_footer() {
    let pid = active(Format::Paseto).kid().to_owned();
    let big = json!({"kid": pid, "x": "a".repeat(9 * 1024)});
    assert_eq!(
        paseto_with_footer(&serde_json::to_vec(&big).expect("json")),
        Err(Error::TooLarge)
    );

    let mut many = Map::new();
    many.insert("kid".into(), json!(pid));
    for i in 0..600 {
        many.insert(format!("k{i}"), json!(0));
    }
    let footer = serde_json::to_vec(&many).expect("json");
    let payload = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    let token = active(Format::Paseto)
        .sign_raw(&footer, &payload)
        .expect("sign");
    assert!(
        token.len() <= MAX_TOKEN_LEN,
        "fits under the cap: {}",
        token.len()
    );
    assert_eq!(outcome(&token), Err(Error::BadFooter));
}

#[test]
fn paseto_footer_nested_two_hundred_deep_is_a_bad_footer_without_overflow() {
    let footer = format!(r#"{{"kid":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    assert_eq!(paseto_with_footer(footer.as_bytes()), Err(Error::BadFooter));
}

#[test]
fn paseto_token_signed_with_an_implicit_assertion_is_a_bad_signature() {
    // Issued for another environment with an implicit assertion; we supply none.
    let payload = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    let footer = footer_for(active(Format::Paseto).kid());
    let sig = paseto_raw_sig(
        &PASETO_SEED,
        &[b"v4.public.", &payload, &footer, b"staging"],
    );
    let token = format!(
        "v4.public.{}.{}",
        b64(&[payload.clone(), sig.to_vec()].concat()),
        b64(&footer)
    );
    assert_eq!(outcome(&token), Err(Error::BadSignature));
    // The same construction with an empty assertion is valid (control).
    let sig = paseto_raw_sig(&PASETO_SEED, &[b"v4.public.", &payload, &footer, b""]);
    let token = format!(
        "v4.public.{}.{}",
        b64(&[payload, sig.to_vec()].concat()),
        b64(&footer)
    );
    assert_eq!(outcome(&token), Ok(()));
}

#[test]
fn paseto_payload_with_duplicate_keys_is_invalid_claims() {
    let key = active(Format::Paseto);
    // Duplicate exp: the earlier one in the future, the later one in the past.
    let dup = with_duplicate(
        &wire(Format::Paseto),
        "exp",
        &json!("2030-01-01T00:00:00+00:00"),
    );
    assert_eq!(
        outcome(&forge(&key, &dup)),
        Err(Error::InvalidClaims),
        "exp"
    );
    for claim in ["iss", "aud", "sub", "jti", "workspace", "scope"] {
        let value = wire(Format::Paseto)[claim].clone();
        let dup = with_duplicate(&wire(Format::Paseto), claim, &value);
        assert_eq!(
            outcome(&forge(&key, &dup)),
            Err(Error::InvalidClaims),
            "{claim}"
        );
    }
}

#[test]
fn paseto_payload_that_is_an_array_or_not_an_object_is_invalid_claims() {
    let key = active(Format::Paseto);
    let array = serde_json::to_vec(&json!([wire(Format::Paseto)])).expect("json");
    let as_tuple = serde_json::to_vec(&Value::Array(wire(Format::Paseto).into_values().collect()))
        .expect("json");
    let object = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    let leading_space = [b" ".as_slice(), &object].concat();
    for payload in [
        array,
        as_tuple,
        b"[{\"sub\":\"x\"}]".to_vec(),
        b"null".to_vec(),
        b"\"str\"".to_vec(),
        b"42".to_vec(),
        b" ".to_vec(),
        leading_space,
        b"{}".to_vec(),
    ] {
        assert_eq!(
            outcome(&forge(&key, &payload)),
            Err(Error::InvalidClaims),
            "{}",
            String::from_utf8_lossy(&payload)
        );
    }
}

#[test]
fn paseto_exp_as_a_number_is_invalid_claims() {
    for claim in ["exp", "nbf", "iat"] {
        assert_eq!(
            with_claims(Format::Paseto, |m| {
                m.insert(claim.into(), json!(1_893_456_000));
            }),
            Err(Error::InvalidClaims),
            "{claim}"
        );
    }
}

#[test]
fn paseto_times_with_lowercase_t_or_z_a_space_or_no_offset_are_invalid_claims() {
    for claim in ["exp", "nbf", "iat"] {
        for bad in [
            "2027-01-15t09:00:00Z",
            "2027-01-15T09:00:00z",
            "2027-01-15t09:00:00z",
            "2027-01-15 09:00:00Z",
            "2027-01-15T09:00:00",
            "2027-01-15T09:00:00.5",
            "2027-01-15",
            "1800003600",
            "",
            "2027-01-15T09:00:00+0000",
            "2027-01-15T09:00:00 +00:00",
            "2027-1-15T09:00:00Z",
        ] {
            // Keep each claim's value near its baseline so only the spelling matters.
            let value = match claim {
                "exp" => bad.to_owned(),
                _ => bad.replace("09:00:00", "08:00:00"),
            };
            assert_eq!(
                with_claims(Format::Paseto, |m| {
                    m.insert(claim.into(), json!(value));
                }),
                Err(Error::InvalidClaims),
                "{claim} = {value:?}"
            );
        }
    }
    // Control: uppercase T and Z, or a numeric offset, are accepted.
    for good in [
        "2027-01-15T09:00:00Z",
        "2027-01-15T09:00:00+00:00",
        "2027-01-15T10:00:00+01:00",
        "2027-01-15T09:00:00.5Z",
    ] {
        assert_eq!(
            with_claims(Format::Paseto, |m| {
                m.insert("exp".into(), json!(good));
            }),
            Ok(()),
            "{good}"
        );
    }
}

#[test]
fn paseto_leap_second_year_9999_and_long_fractions_are_deterministic_and_never_panic() {
    let fraction40 = format!("2027-06-30T23:59:59.{}Z", "1234567890".repeat(4));
    let cases: [(&str, &str, String, Result<(), Error>); 6] = [
        // The `time` crate reads 23:59:60 as the last instant of 23:59:59.
        (
            "leap second exp",
            "exp",
            "2027-06-30T23:59:60Z".to_owned(),
            Ok(()),
        ),
        ("40-digit fraction exp", "exp", fraction40, Ok(())),
        (
            "year 9999 exp",
            "exp",
            "9999-12-31T23:59:59Z".to_owned(),
            Err(Error::LifetimeTooLong),
        ),
        (
            "year 9999 iat",
            "iat",
            "9999-12-31T23:59:59Z".to_owned(),
            Err(Error::IssuedInFuture),
        ),
        (
            "year 0 iat",
            "iat",
            "0000-01-01T00:00:00Z".to_owned(),
            Err(Error::LifetimeTooLong),
        ),
        (
            "leap second outside a day's end",
            "exp",
            "2027-01-15T08:30:60Z".to_owned(),
            Err(Error::InvalidClaims),
        ),
    ];
    for (what, claim, value, expected) in cases {
        let run = || {
            with_claims(Format::Paseto, |m| {
                m.insert(claim.into(), json!(value));
            })
        };
        let first = run();
        assert_eq!(first, run(), "{what}: deterministic");
        assert_eq!(first, expected, "{what}");
    }
    // Issuing with times outside what RFC 3339 can write fails cleanly.
    let mut absurd = claims();
    absurd.expires_at = i64::MAX;
    assert_eq!(
        active(Format::Paseto).sign(&absurd, &Policy::default()),
        Err(Error::Signing)
    );
}

// ---------------------------------------------------------------------------
// D. JWT-specific
// ---------------------------------------------------------------------------

fn payload() -> Vec<u8> {
    serde_json::to_vec(&wire(Format::Jwt)).expect("json")
}

/// A JWT with `header`, validly signed by the active JWT key.
fn jwt_with_header(header: &Value) -> String {
    active(Format::Jwt)
        .sign_raw(&serde_json::to_vec(header).expect("json"), &payload())
        .expect("sign")
}

fn jwt_kid_of_active() -> String {
    active(Format::Jwt).kid().to_owned()
}

#[test]
fn jwt_alg_none_in_any_case_or_empty_is_rejected() {
    let kid = jwt_kid_of_active();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        // With a (valid EdDSA) signature the algorithm is refused...
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::Algorithm),
            "{alg:?}"
        );
        // ...and unsecured, the empty signature is refused first.
        let [h, p, _] = jwt_parts(&jwt_with_header(&header));
        assert_eq!(
            outcome(&format!("{h}.{p}.")),
            Err(Error::Malformed),
            "{alg:?} unsecured"
        );
    }
    // RFC 7515 A.5 exactly.
    let a5 = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";
    assert_eq!(outcome(a5), Err(Error::Malformed));
}

#[test]
fn jwt_hs256_signed_with_the_public_key_as_hmac_secret_is_an_algorithm_error() {
    let jwt = active(Format::Jwt);
    let raw = jwt.public_key().as_bytes().to_vec();
    let spki_der = [
        hex::decode("302a300506032b6570032100").expect("hex"),
        raw.clone(),
    ]
    .concat();
    let spki_pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&spki_der)
    );
    for secret in [raw, spki_der, spki_pem.into_bytes()] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(jwt.kid().to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &wire(Format::Jwt),
            &jsonwebtoken::EncodingKey::from_secret(&secret).expect("an HMAC key"),
        )
        .expect("HS256 encode");
        assert_eq!(outcome(&token), Err(Error::Algorithm));
    }
}

#[test]
fn jwt_rs256_es256_ps256_and_other_algorithms_are_algorithm_errors() {
    let kid = jwt_kid_of_active();
    for alg in [
        "RS256", "ES256", "PS256", "HS256", "HS512", "ES256K", "EdDSA ", " EdDSA",
    ] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::Algorithm),
            "{alg:?}"
        );
    }
}

#[test]
fn jwt_alg_ed25519_or_lowercase_eddsa_is_an_algorithm_error() {
    let kid = jwt_kid_of_active();
    for alg in ["Ed25519", "eddsa", "EDDSA", "Ed448"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::Algorithm),
            "{alg}"
        );
    }
}

#[test]
fn jwt_alg_missing_or_not_a_string_is_malformed() {
    let kid = jwt_kid_of_active();
    for header in [
        json!({"typ": "at+jwt", "kid": kid}),
        json!({"alg": null, "typ": "at+jwt", "kid": kid}),
        json!({"alg": ["EdDSA"], "typ": "at+jwt", "kid": kid}),
    ] {
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::Malformed),
            "{header}"
        );
    }
}

#[test]
fn jwt_typ_missing_or_jwt_is_a_wrong_type() {
    let kid = jwt_kid_of_active();
    assert_eq!(
        outcome(&jwt_with_header(&json!({"alg": "EdDSA", "kid": kid}))),
        Err(Error::WrongType)
    );
    for typ in [
        "JWT",
        "jwt",
        "at+JWT+x",
        "application/jwt",
        "at+jwt ",
        "",
        "application/",
    ] {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": kid});
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::WrongType),
            "{typ:?}"
        );
    }
}

#[test]
fn jwt_typ_application_at_jwt_or_uppercase_is_accepted() {
    let kid = jwt_kid_of_active();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+Jwt",
    ] {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": kid});
        let verified = verify(&jwt_with_header(&header)).unwrap_or_else(|e| panic!("{typ}: {e:?}"));
        assert_eq!(*verified.claims(), claims(), "{typ}");
    }
}

#[test]
fn jwt_crit_header_is_forbidden() {
    let kid = jwt_kid_of_active();
    for header in [
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["b64"], "b64": false}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": []}),
    ] {
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::ForbiddenHeader),
            "{header}"
        );
    }
}

#[test]
fn jwt_embedded_jwk_signed_by_the_attacker_is_forbidden() {
    let attacker = outsider(Format::Jwt);
    let jwk = serde_json::to_value(attacker.public_key().to_jwk()).expect("jwk");
    for kid in [attacker.kid().to_owned(), jwt_kid_of_active()] {
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jwk": jwk});
        let token = attacker
            .sign_raw(&serde_json::to_vec(&header).expect("json"), &payload())
            .expect("sign");
        assert_eq!(outcome(&token), Err(Error::ForbiddenHeader), "kid {kid}");
    }
}

#[test]
fn jwt_jku_x5u_and_x5c_headers_are_forbidden_and_never_fetched() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/keys.json", listener.local_addr().expect("addr"));
    let kid = jwt_kid_of_active();
    for (member, value) in [
        ("jku", json!(url)),
        ("x5u", json!(url)),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ] {
        let mut header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        header[member] = value;
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::ForbiddenHeader),
            "{member}"
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Err(e) => panic!("listener error: {e}"),
        Ok((_, peer)) => panic!("the verifier connected to the jku/x5u URL from {peer}"),
    }
}

#[test]
fn jwt_hostile_kid_values_are_unknown_keys() {
    for kid in [
        "' OR '1'='1".to_owned(),
        "../../../../dev/null".to_owned(),
        "k\u{0}id".to_owned(),
        String::new(),
        active(Format::Jwt).kid().to_uppercase(),
    ] {
        let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::UnknownKey),
            "{kid:?}"
        );
    }
    let huge = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k".repeat(100 * 1024)});
    assert_eq!(outcome(&jwt_with_header(&huge)), Err(Error::TooLarge));
    // A kid that is not a string is not a header we accept.
    let number = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": 7});
    assert_eq!(outcome(&jwt_with_header(&number)), Err(Error::Malformed));
}

#[test]
fn jwt_header_with_duplicate_alg_is_malformed() {
    let kid = jwt_kid_of_active();
    for header in [
        format!(r#"{{"alg":"EdDSA","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"none","alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"EdDSA","typ":"at+jwt","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","kid":"{kid}"}}"#),
    ] {
        let token = active(Format::Jwt)
            .sign_raw(header.as_bytes(), &payload())
            .expect("sign");
        assert_eq!(outcome(&token), Err(Error::Malformed), "{header}");
    }
}

#[test]
fn jwt_header_with_an_unknown_member_or_not_an_object_is_malformed() {
    let kid = jwt_kid_of_active();
    let unknown = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "x5t": "abc"});
    assert_eq!(outcome(&jwt_with_header(&unknown)), Err(Error::Malformed));
    for header in [&b"[\"EdDSA\"]"[..], b"\"EdDSA\"", b"{", b"not json"] {
        let token = active(Format::Jwt)
            .sign_raw(header, &payload())
            .expect("sign");
        if !token.starts_with("eyJ") {
            // Not a JWT to our dispatcher at all.
            assert_eq!(outcome(&token), Err(Error::UnsupportedFormat));
        } else {
            assert_eq!(outcome(&token), Err(Error::Malformed));
        }
    }
}

#[test]
fn jwt_claims_with_duplicate_exp_are_invalid_claims() {
    let key = active(Format::Jwt);
    let dup = with_duplicate(&wire(Format::Jwt), "exp", &json!(4_102_444_800u64));
    assert_eq!(
        outcome(&forge(&key, &dup)),
        Err(Error::InvalidClaims),
        "exp"
    );
    for claim in [
        "iss",
        "aud",
        "sub",
        "client_id",
        "jti",
        "workspace",
        "scope",
        "iat",
        "nbf",
    ] {
        let value = wire(Format::Jwt)[claim].clone();
        let dup = with_duplicate(&wire(Format::Jwt), claim, &value);
        assert_eq!(
            outcome(&forge(&key, &dup)),
            Err(Error::InvalidClaims),
            "{claim}"
        );
    }
}

#[test]
fn jws_json_serialisation_is_an_unsupported_format() {
    let [h, p, s] = jwt_parts(&issue(Format::Jwt, &claims()));
    let flattened = json!({"payload": p, "protected": h, "signature": s}).to_string();
    let general =
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}).to_string();
    assert_eq!(outcome(&flattened), Err(Error::UnsupportedFormat));
    assert_eq!(outcome(&general), Err(Error::UnsupportedFormat));
}

#[test]
fn nested_jwt_with_cty_is_forbidden() {
    let kid = jwt_kid_of_active();
    let inner = issue(Format::Jwt, &claims());
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "cty": "JWT"});
    let token = active(Format::Jwt)
        .sign_raw(
            &serde_json::to_vec(&header).expect("json"),
            inner.as_bytes(),
        )
        .expect("sign");
    assert_eq!(outcome(&token), Err(Error::ForbiddenHeader));
    for member in ["zip", "enc"] {
        let mut header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
        header[member] = json!("DEF");
        assert_eq!(
            outcome(&jwt_with_header(&header)),
            Err(Error::ForbiddenHeader),
            "{member}"
        );
    }
}

#[test]
fn validly_signed_non_json_payload_is_invalid_claims() {
    // RFC 8037 A.4's payload, signed under our header rules.
    let token = active(Format::Jwt)
        .sign_raw(
            &header_for(active(Format::Jwt).kid()),
            b"Example of Ed25519 signing",
        )
        .expect("sign");
    assert_eq!(outcome(&token), Err(Error::InvalidClaims), "jwt");
    let token = forge(&active(Format::Paseto), b"Example of Ed25519 signing");
    assert_eq!(outcome(&token), Err(Error::InvalidClaims), "paseto");
}

// ---------------------------------------------------------------------------
// E. Claims and time
// ---------------------------------------------------------------------------

#[test]
fn exp_one_second_beyond_the_leeway_is_expired() {
    assert_claims_rule(Err(Error::Expired), "exp = now - 31", |f, m| {
        m.insert("iat".into(), t(f, NOW - 3600));
        m.insert("nbf".into(), t(f, NOW - 3600));
        m.insert("exp".into(), t(f, NOW - 31));
    });
    assert_claims_rule(Err(Error::Expired), "exp long past", |f, m| {
        m.insert("iat".into(), t(f, NOW - 10 * DAY));
        m.insert("nbf".into(), t(f, NOW - 10 * DAY));
        m.insert("exp".into(), t(f, NOW - 9 * DAY));
    });
}

#[test]
fn exp_exactly_at_the_leeway_boundary_is_accepted() {
    for exp in [NOW - 30, NOW - 1, NOW] {
        assert_claims_rule(Ok(()), &format!("exp = now{:+}", exp - NOW), |f, m| {
            m.insert("iat".into(), t(f, NOW - 3600));
            m.insert("nbf".into(), t(f, NOW - 3600));
            m.insert("exp".into(), t(f, exp));
        });
    }
}

#[test]
fn nbf_beyond_the_leeway_is_not_yet_valid() {
    for nbf in [NOW + 31, NOW + 600] {
        assert_claims_rule(
            Err(Error::NotYetValid),
            &format!("nbf = now+{}", nbf - NOW),
            |f, m| {
                m.insert("nbf".into(), t(f, nbf));
            },
        );
    }
}

#[test]
fn nbf_within_the_leeway_is_accepted() {
    for nbf in [NOW + 2, NOW + 30] {
        assert_claims_rule(Ok(()), &format!("nbf = now+{}", nbf - NOW), |f, m| {
            m.insert("nbf".into(), t(f, nbf));
        });
    }
}

#[test]
fn iat_beyond_the_leeway_is_issued_in_the_future() {
    assert_claims_rule(Err(Error::IssuedInFuture), "iat = now+31", |f, m| {
        m.insert("iat".into(), t(f, NOW + 31));
    });
    assert_claims_rule(Ok(()), "iat = now+30", |f, m| {
        m.insert("iat".into(), t(f, NOW + 30));
    });
}

#[test]
fn leeway_is_configurable() {
    let policy = Policy {
        leeway: 0,
        ..Policy::default()
    };
    let verifier = Verifier::new(keyset(), policy.clone());
    for format in Format::ALL {
        let mut c = claims();
        c.expires_at = NOW - 1;
        c.issued_at = NOW - 3600;
        c.not_before = NOW - 3600;
        let token = active(format).sign(&c, &policy).expect("sign");
        assert_eq!(
            verifier.verify(&token, NOW).map(|_| ()),
            Err(Error::Expired),
            "{format}"
        );
        assert_eq!(
            verifier.verify(&token, NOW - 1).map(|_| ()),
            Ok(()),
            "{format}"
        );
    }
}

#[test]
fn lifetime_over_the_app_maximum_is_too_long() {
    let max = Policy::DEFAULT_MAX_LIFETIME;
    assert_eq!(max, 366 * DAY);
    assert_claims_rule(Ok(()), "exactly 366 days", |f, m| {
        m.insert("exp".into(), t(f, NOW + max));
    });
    assert_claims_rule(Err(Error::LifetimeTooLong), "366 days + 1 s", |f, m| {
        m.insert("exp".into(), t(f, NOW + max + 1));
    });
    assert_claims_rule(Err(Error::LifetimeTooLong), "10 years", |f, m| {
        m.insert("exp".into(), t(f, NOW + 3653 * DAY));
    });
}

fn admin_wire(f: Format, m: &mut Map<String, Value>) {
    m.insert("sub".into(), json!("admin:ops"));
    m.insert("client_id".into(), json!("admin:ops"));
    m.insert("scope".into(), json!("apps:read apps:write apps:delete"));
    let _ = f;
}

#[test]
fn lifetime_over_the_admin_maximum_is_too_long() {
    let max = Policy::DEFAULT_MAX_ADMIN_LIFETIME;
    assert_eq!(max, DAY);
    assert_claims_rule(Ok(()), "admin, exactly 24 h", |f, m| {
        admin_wire(f, m);
        m.insert("exp".into(), t(f, NOW + max));
    });
    assert_claims_rule(Err(Error::LifetimeTooLong), "admin, 24 h + 1 s", |f, m| {
        admin_wire(f, m);
        m.insert("exp".into(), t(f, NOW + max + 1));
    });
}

#[test]
fn jwt_exp_negative_huge_or_fractional_is_invalid_claims() {
    for raw in [
        "-1",
        "1e300",
        "18446744073709551616",
        "9223372036854775808",
        "1800003600.0",
        "1800003600.5",
        "1.8000036e9",
        "null",
        "true",
    ] {
        let json = serde_json::to_string(&wire(Format::Jwt)).expect("json");
        let json = json.replace(
            &format!("\"exp\":{}", NOW + 3600),
            &format!("\"exp\":{raw}"),
        );
        assert!(json.contains(&format!("\"exp\":{raw}")));
        let token = forge(&active(Format::Jwt), json.as_bytes());
        assert_eq!(outcome(&token), Err(Error::InvalidClaims), "exp = {raw}");
    }
    // The largest i64 is a number we read, and it is far too long a lifetime.
    assert_eq!(
        with_claims(Format::Jwt, |m| {
            m.insert("exp".into(), json!(i64::MAX));
        }),
        Err(Error::LifetimeTooLong)
    );
}

#[test]
fn jwt_time_claims_as_strings_are_invalid_claims() {
    for (claim, value) in [
        ("exp", "never"),
        ("nbf", "99999999999"),
        ("iat", "1800000000"),
        ("exp", "2027-01-15T09:00:00Z"),
    ] {
        assert_eq!(
            with_claims(Format::Jwt, |m| {
                m.insert(claim.into(), json!(value));
            }),
            Err(Error::InvalidClaims),
            "{claim} = {value:?}"
        );
    }
}

#[test]
fn aud_missing_or_not_naming_us_is_rejected_and_an_array_containing_us_is_accepted() {
    assert_claims_rule(Err(Error::InvalidClaims), "aud missing", |_, m| {
        m.remove("aud");
    });
    let table: [(Value, Result<(), Error>); 9] = [
        (json!(123), Err(Error::InvalidClaims)),
        (json!(null), Err(Error::InvalidClaims)),
        (json!({"aud": "informly-api"}), Err(Error::InvalidClaims)),
        (json!(["informly-api", 5]), Err(Error::InvalidClaims)),
        (json!(["other"]), Err(Error::WrongAudience)),
        (json!([]), Err(Error::WrongAudience)),
        (json!("other"), Err(Error::WrongAudience)),
        (json!("Informly-API"), Err(Error::WrongAudience)),
        (json!(["other", "informly-api"]), Ok(())),
    ];
    for (aud, expected) in table {
        assert_claims_rule(expected, &format!("aud = {aud}"), |_, m| {
            m.insert("aud".into(), aud.clone());
        });
    }
}

#[test]
fn iss_with_trailing_slash_or_other_case_is_a_wrong_issuer() {
    for iss in [
        "informly/",
        "Informly",
        "INFORMLY",
        " informly",
        "https://informly",
        "",
    ] {
        assert_claims_rule(
            Err(Error::WrongIssuer),
            &format!("iss = {iss:?}"),
            |_, m| {
                m.insert("iss".into(), json!(iss));
            },
        );
    }
    assert_claims_rule(Err(Error::InvalidClaims), "iss missing", |_, m| {
        m.remove("iss");
    });
    assert_claims_rule(Err(Error::InvalidClaims), "iss a number", |_, m| {
        m.insert("iss".into(), json!(1));
    });
}

#[test]
fn missing_sub_client_id_or_jti_is_invalid_claims() {
    for claim in ["sub", "client_id", "jti"] {
        assert_claims_rule(
            Err(Error::InvalidClaims),
            &format!("{claim} missing"),
            |_, m| {
                m.remove(claim);
            },
        );
    }
    assert_claims_rule(Err(Error::InvalidClaims), "sub != client_id", |_, m| {
        m.insert("client_id".into(), json!(APP_Y));
    });
    for jti in [
        "tok_01hzzzzzzzzzzzzzzzzzzzzzzz",
        "tok_01HZZ",
        "app_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "tok_01HZZZZZZZZZZZZZZZZZZZZZZI",
    ] {
        assert_claims_rule(
            Err(Error::InvalidClaims),
            &format!("jti = {jti}"),
            |_, m| {
                m.insert("jti".into(), json!(jti));
            },
        );
    }
}

#[test]
fn workspace_missing_or_of_the_wrong_type_is_invalid_claims() {
    assert_claims_rule(Err(Error::InvalidClaims), "workspace missing", |_, m| {
        m.remove("workspace");
    });
    for value in [
        json!(5),
        json!([WS]),
        json!(null),
        json!({"id": WS}),
        json!("ws_nope"),
        json!(APP),
    ] {
        assert_claims_rule(
            Err(Error::InvalidClaims),
            &format!("workspace = {value}"),
            |_, m| {
                m.insert("workspace".into(), value.clone());
            },
        );
    }
}

#[test]
fn unknown_claims_and_a_scope_of_the_wrong_type_are_invalid_claims() {
    assert_claims_rule(Err(Error::InvalidClaims), "unknown claim", |_, m| {
        m.insert("admin".into(), json!(true));
    });
    // H6: an array or a number is the wrong type.
    for scope in [
        json!(["contacts:read"]),
        json!(5),
        json!({"contacts": "read"}),
    ] {
        assert_claims_rule(
            Err(Error::InvalidClaims),
            &format!("scope = {scope}"),
            |_, m| {
                m.insert("scope".into(), scope.clone());
            },
        );
    }
    // H5: `scope` missing, empty or null is a valid token that grants nothing
    // (serde reads null into the optional claim as absent).
    for scope in [None, Some(json!("")), Some(json!(null))] {
        for format in Format::ALL {
            let mut map = wire(format);
            match &scope {
                None => map.remove("scope"),
                Some(value) => map.insert("scope".into(), value.clone()),
            };
            let verified = verify(&forge(
                &active(format),
                &serde_json::to_vec(&map).expect("json"),
            ))
            .unwrap_or_else(|e| panic!("scope {scope:?} ({format}): {e:?}"));
            assert!(
                verified.claims().scopes.is_empty(),
                "scope {scope:?} ({format})"
            );
        }
    }
    // Unknown scope names grant nothing but are not an error.
    for format in Format::ALL {
        let mut map = wire(format);
        map.insert(
            "scope".into(),
            json!("contacts:read contacts:* Contacts:Write"),
        );
        let verified = verify(&forge(
            &active(format),
            &serde_json::to_vec(&map).expect("json"),
        ))
        .expect("verifies");
        assert_eq!(
            verified.claims().scopes,
            scopes(&["contacts:read"]),
            "{format}"
        );
    }
}

#[test]
fn app_and_admin_subjects_are_disjoint() {
    // An admin token verifies as an admin subject, never as an app.
    for format in Format::ALL {
        let mut map = wire(format);
        admin_wire(format, &mut map);
        let verified = verify(&forge(
            &active(format),
            &serde_json::to_vec(&map).expect("json"),
        ))
        .expect("admin token");
        assert_eq!(
            verified.claims().subject,
            Subject::Admin("ops".to_owned()),
            "{format}"
        );
        assert_eq!(verified.claims().subject.app_id(), None);
        assert_eq!(
            verified.claims().scopes,
            scopes(&["apps:read", "apps:write", "apps:delete"])
        );
    }
    assert_claims_rule(
        Err(Error::InvalidClaims),
        "admin scope on an app token",
        |_, m| {
            m.insert("scope".into(), json!("contacts:read apps:write"));
        },
    );
    assert_claims_rule(
        Err(Error::InvalidClaims),
        "app scope on an admin token",
        |f, m| {
            admin_wire(f, m);
            m.insert("scope".into(), json!("apps:read contacts:read"));
        },
    );
    for sub in [
        "admin:",
        "ADMIN:ops",
        "admin:Ops",
        "user_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "app_x",
    ] {
        assert_claims_rule(
            Err(Error::InvalidClaims),
            &format!("sub = {sub}"),
            |_, m| {
                m.insert("sub".into(), json!(sub));
                m.insert("client_id".into(), json!(sub));
            },
        );
    }
}

// ---------------------------------------------------------------------------
// F. Keys, kid and rotation
// ---------------------------------------------------------------------------

#[test]
fn pending_and_retiring_keys_verify() {
    for (format, seed) in [
        (Format::Paseto, PASETO_PENDING_SEED),
        (Format::Jwt, JWT_RETIRING_SEED),
    ] {
        let token = key(format, seed)
            .sign(&claims(), &Policy::default())
            .expect("sign");
        let verified = verify(&token).expect("verifies");
        assert_eq!(verified.kid(), key(format, seed).kid(), "{format}");
    }
}

#[test]
fn retired_key_is_rejected_even_with_a_valid_signature() {
    for (format, seed) in [
        (Format::Paseto, PASETO_RETIRED_SEED),
        (Format::Jwt, JWT_RETIRED_SEED),
    ] {
        let token = key(format, seed)
            .sign(&claims(), &Policy::default())
            .expect("sign");
        assert_eq!(outcome(&token), Err(Error::RetiredKey), "{format}");
    }
}

#[test]
fn unknown_well_formed_kid_is_an_unknown_key() {
    for format in Format::ALL {
        let token = outsider(format)
            .sign(&claims(), &Policy::default())
            .expect("sign");
        assert_eq!(outcome(&token), Err(Error::UnknownKey), "{format}");
    }
}

#[test]
fn kid_of_key_a_signed_by_key_b_is_a_bad_signature() {
    for format in Format::ALL {
        let a = active(format);
        let b = outsider(format);
        let payload = serde_json::to_vec(&wire(format)).expect("json");
        let token = match format {
            Format::Paseto => b.sign_raw(&footer_for(a.kid()), &payload),
            Format::Jwt => b.sign_raw(&header_for(a.kid()), &payload),
        }
        .expect("sign");
        assert_eq!(outcome(&token), Err(Error::BadSignature), "{format}");
    }
}

#[test]
fn token_without_kid_is_missing_key_id() {
    let payload = serde_json::to_vec(&wire(Format::Paseto)).expect("json");
    let paseto = active(Format::Paseto)
        .sign_raw(b"", &payload)
        .expect("sign");
    assert_eq!(outcome(&paseto), Err(Error::MissingKeyId), "paseto");
    let jwt = jwt_with_header(&json!({"alg": "EdDSA", "typ": "at+jwt"}));
    assert_eq!(outcome(&jwt), Err(Error::MissingKeyId), "jwt");
}

#[test]
fn jwt_naming_a_paseto_key_is_a_wrong_key_format() {
    let paseto_pid = active(Format::Paseto).kid().to_owned();
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": paseto_pid});
    assert_eq!(
        outcome(&jwt_with_header(&header)),
        Err(Error::WrongKeyFormat)
    );
    // Even signed with the PASETO key's own secret (same Ed25519 bytes, used
    // as a JWT key): the keyring is typed.
    let same_bytes_as_jwt = key(Format::Jwt, PASETO_SEED);
    let token = same_bytes_as_jwt
        .sign_raw(&serde_json::to_vec(&header).expect("json"), &payload())
        .expect("sign");
    assert_eq!(outcome(&token), Err(Error::WrongKeyFormat));
}

#[test]
fn paseto_footer_naming_a_jwt_kid_is_a_bad_footer() {
    // A JWT kid (a JWK thumbprint) is not a k4.pid: refused before any lookup.
    let thumbprint = active(Format::Jwt).kid().to_owned();
    let token = active(Format::Paseto)
        .sign_raw(
            &footer_for(&thumbprint),
            &serde_json::to_vec(&wire(Format::Paseto)).expect("json"),
        )
        .expect("sign");
    assert_eq!(outcome(&token), Err(Error::BadFooter));
    // And the PASETO key id of the JWT key's bytes is simply unknown.
    let bytes = active(Format::Jwt).public_key().as_bytes().to_owned();
    let pk =
        pasetors::keys::AsymmetricPublicKey::<pasetors::version4::V4>::from(&bytes).expect("key");
    let pid = paseto_kid(&pk);
    let same_bytes_as_paseto = key(Format::Paseto, JWT_SEED);
    assert_eq!(same_bytes_as_paseto.kid(), pid);
    let token = same_bytes_as_paseto
        .sign(&claims(), &Policy::default())
        .expect("sign");
    assert_eq!(outcome(&token), Err(Error::UnknownKey));
    assert_eq!(jwt_kid(&bytes), thumbprint);
}

// ---------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------

#[test]
fn token_over_8_kib_is_too_large_before_any_decoding() {
    assert_eq!(MAX_TOKEN_LEN, 8192);
    // Garbage past the cap is refused for its size, not its content.
    for len in [MAX_TOKEN_LEN + 1, 64 * 1024] {
        for prefix in ["v4.public.", "eyJ", "x"] {
            let token = format!("{prefix}{}", "!".repeat(len - prefix.len()));
            assert_eq!(outcome(&token), Err(Error::TooLarge), "{prefix} {len}");
        }
    }
    // A valid token of exactly 8192 bytes is accepted; one byte more is not.
    let mut exact = None;
    'search: for format in Format::ALL {
        let sized = |pad: usize| {
            let mut map = wire(format);
            map.insert(
                "scope".into(),
                json!(format!("contacts:read{}", " ".repeat(pad))),
            );
            forge(&active(format), &serde_json::to_vec(&map).expect("json"))
        };
        let base = sized(0).len();
        let estimate = (MAX_TOKEN_LEN - base) * 3 / 4;
        for pad in estimate.saturating_sub(8)..estimate + 8 {
            let token = sized(pad);
            if token.len() == MAX_TOKEN_LEN {
                exact = Some(token);
                break 'search;
            }
        }
    }
    let exact = exact.expect("some format reaches exactly 8192 bytes");
    let verified = verify(&exact).expect("8192 bytes is within the cap");
    assert_eq!(verified.claims().scopes, scopes(&["contacts:read"]));
    assert_eq!(outcome(&format!("{exact}A")), Err(Error::TooLarge));
}

// ---------------------------------------------------------------------------
// G. Revocation (in-memory denylist)
// ---------------------------------------------------------------------------

fn verified_claims(format: Format, c: &TokenClaims) -> TokenClaims {
    verify(&issue(format, c)).expect("valid").claims().clone()
}

#[test]
fn revoked_jti_is_rejected_by_the_denylist() {
    let mut denylist = Denylist::new();
    assert!(denylist.is_empty());
    denylist.revoke_token(TOK);
    for format in Format::ALL {
        let revoked = verified_claims(format, &claims());
        assert_eq!(
            denylist.check(&revoked, NOW),
            Err(Error::Revoked),
            "{format}"
        );
        let other = TokenClaims {
            token_id: TOK_2.to_owned(),
            ..claims()
        };
        assert_eq!(
            denylist.check(&verified_claims(format, &other), NOW),
            Ok(()),
            "{format}"
        );
    }
}

#[test]
fn cutoff_is_inclusive_at_the_same_second() {
    let cutoff = NOW - 100;
    let mut denylist = Denylist::new();
    denylist.set_cutoff(APP, cutoff);
    for format in Format::ALL {
        for (iat, expected) in [
            (cutoff - 1, Err(Error::Revoked)),
            (cutoff, Err(Error::Revoked)),
            (cutoff + 1, Ok(())),
        ] {
            let c = TokenClaims {
                issued_at: iat,
                not_before: iat,
                ..claims()
            };
            assert_eq!(
                denylist.check(&verified_claims(format, &c), NOW),
                expected,
                "{format} iat = cutoff{:+}",
                iat - cutoff
            );
        }
    }
    // A later, earlier cutoff does not move it back.
    denylist.set_cutoff(APP, cutoff - 1000);
    let c = TokenClaims {
        issued_at: cutoff,
        ..claims()
    };
    assert_eq!(denylist.check(&c, NOW), Err(Error::Revoked));
}

#[test]
fn cutoff_for_one_app_does_not_affect_another() {
    let mut denylist = Denylist::new();
    denylist.set_cutoff(APP, NOW);
    let y = TokenClaims {
        subject: Subject::App(APP_Y.to_owned()),
        ..claims()
    };
    for format in Format::ALL {
        assert_eq!(
            denylist.check(&verified_claims(format, &claims()), NOW),
            Err(Error::Revoked)
        );
        assert_eq!(
            denylist.check(&verified_claims(format, &y), NOW),
            Ok(()),
            "{format}"
        );
    }
}

// ---------------------------------------------------------------------------
// Property: issue, verify, round-trip, and any single-byte change breaks it
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x1f0_2027),
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_issued_token_verifies_round_trips_and_fails_after_any_single_byte_change(
        jwt in any::<bool>(),
        seed in any::<[u8; 32]>(),
        mask in 1u32..(1 << APP_SCOPES.len()),
        lifetime in 60i64..=366 * DAY,
        position in any::<prop::sample::Index>(),
        delta in 1u8..=255,
    ) {
        let format = if jwt { Format::Jwt } else { Format::Paseto };
        let seed = if seed == [0; 32] { [9; 32] } else { seed };
        let signer = key(format, seed);
        let mut keys = KeySet::new();
        keys.insert(signer.public_key(), KeyStatus::Active).expect("insert");
        let verifier = Verifier::new(keys, Policy::default());

        let scope_set: ScopeSet = APP_SCOPES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| Scope::lookup(n).expect("known"))
            .collect();
        let c = TokenClaims {
            scopes: scope_set,
            expires_at: NOW + lifetime,
            ..claims()
        };
        let token = signer.sign(&c, &Policy::default()).expect("sign");
        let verified = verifier.verify(&token, NOW).expect("a freshly issued token verifies");
        prop_assert_eq!(verified.claims(), &c);
        prop_assert_eq!(verified.format(), format);
        prop_assert_eq!(verified.kid(), signer.kid());

        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        let mutated = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert_ne!(&mutated, &token);
        let result = verifier.verify(&mutated, NOW);
        prop_assert!(result.is_err(), "byte {} of {} changed by {}: {:?}", i, token, delta, result);
    }
}
