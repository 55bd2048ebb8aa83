//! `footer_kid`: the PASETO footer and the JWT header, read before the
//! signature, against the token oracle.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use informly::token::Format;
use serde_json::{Value, json};

use super::token::{expect, signed, verify};
use super::{FIXTURE, Fixture, Role, Seeds, key_header, other, sign, valid_payload};

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
///   claims: the answer must be exactly the oracle's
///   ([`expect_paseto_kid`](super::token::expect_paseto_kid),
///   [`expect_jwt_kid`](super::token::expect_jwt_kid));
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

/// The seeds of `footer_kid`: footers and headers from SECURITY.md §9.
pub(super) fn seeds(seeds: &mut Seeds) {
    let fx = &*FIXTURE;
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
}
