//! Official and third-party test vectors, read at runtime from
//! `../shared/testdata/` (see its README for provenance and licences).
//!
//! Each vector file gets one test. Vectors are run through the libraries'
//! low-level primitives (to pin what the libraries do) and through our own key
//! loading and `Verifier` (to pin what the service does with them).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use informly::token::{
    Error, Format, KeyError, KeySet, KeyStatus, Policy, PublicKey, SigningKey, Verifier, jwt_kid,
    paseto_kid,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey, SymmetricKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::{Local, Public, UntrustedToken};
use pasetors::version4::{LocalToken, PublicToken, V4};
use serde_json::Value;

/// Any time will do for vectors that must be rejected before their claims are read.
const NOW: i64 = 1_800_000_000;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata")
}

fn load(rel: &str) -> Value {
    let path = testdata().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(s(v, key)).unwrap_or_else(|e| panic!("`{key}` is not hex: {e}"))
}

fn seed32(bytes: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(bytes).expect("32-byte seed")
}

fn tests(file: &Value) -> &Vec<Value> {
    file["tests"].as_array().expect("a `tests` array")
}

fn expect_fail(t: &Value) -> bool {
    t["expect-fail"].as_bool().expect("`expect-fail` is a bool")
}

fn paserk_of(value: &dyn FormatAsPaserk) -> String {
    let mut out = String::new();
    value.fmt(&mut out).expect("writing a PASERK into a String");
    out
}

fn verifier_with(keys: impl IntoIterator<Item = PublicKey>) -> Verifier {
    let mut set = KeySet::new();
    for key in keys {
        set.insert(key, KeyStatus::Active).expect("distinct keys");
    }
    Verifier::new(set, Policy::default())
}

/// Some Ed25519 JWT key, for verifiers that must reject everything.
fn some_jwt_verifier() -> Verifier {
    let key = SigningKey::from_seed(Format::Jwt, &[7; 32]).expect("non-zero seed");
    verifier_with([key.public_key()])
}

// ---------------------------------------------------------------------------
// paseto/v4.json
// ---------------------------------------------------------------------------

#[test]
fn paseto_v4_vectors() {
    let file = load("paseto/v4.json");
    let mut public_seen = 0;
    let mut fail_seen = 0;

    for t in tests(&file) {
        let name = s(t, "name");
        let token = s(t, "token");
        let footer = s(t, "footer").as_bytes();
        let implicit = s(t, "implicit-assertion").as_bytes();
        let footer_opt = (!footer.is_empty()).then_some(footer);
        let implicit_opt = (!implicit.is_empty()).then_some(implicit);

        if name.starts_with("4-S-") {
            public_seen += 1;
            assert!(!expect_fail(t), "{name}");
            let pk_bytes = hex_field(t, "public-key");
            let seed = seed32(&hex_field(t, "secret-key-seed"));

            // C1: the low-level pasetors API decodes the token to `payload` exactly.
            let pk = AsymmetricPublicKey::<V4>::from(&pk_bytes).expect("32-byte key");
            let untrusted = UntrustedToken::<Public, V4>::try_from(token).expect(name);
            let trusted = PublicToken::verify(&pk, &untrusted, footer_opt, implicit_opt)
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(trusted.payload(), s(t, "payload"), "{name}");
            assert_eq!(trusted.footer(), footer, "{name}");

            // Our key loading agrees on the key.
            let public = PublicKey::from_raw(Format::Paseto, &pk_bytes).expect(name);
            let signing = SigningKey::from_seed(Format::Paseto, &seed).expect(name);
            assert_eq!(public.as_bytes().as_slice(), pk_bytes.as_slice(), "{name}");
            assert_eq!(signing.public_key().as_bytes(), public.as_bytes(), "{name}");
            assert_eq!(signing.kid(), public.kid(), "{name}");
            assert_eq!(public.kid(), paseto_kid(&pk), "{name}");

            // Our Verifier refuses them: no footer (4-S-1) or a footer whose kid
            // is not a k4.pid (4-S-2, 4-S-3).
            let expected = match name {
                "4-S-1" => Error::MissingKeyId,
                "4-S-2" | "4-S-3" => Error::BadFooter,
                other => panic!("unexpected public vector {other}"),
            };
            let verifier = verifier_with([public]);
            assert_eq!(
                verifier.verify(token, NOW).map(|_| ()),
                Err(expected),
                "{name}"
            );
        } else if name.starts_with("4-F-") {
            fail_seen += 1;
            assert!(expect_fail(t), "{name}");

            // Through our Verifier (given every v4 public key the file holds):
            // v4.public vectors fail on their footer, the rest on their header.
            let vector_pk =
                hex::decode("1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2")
                    .expect("hex");
            let verifier =
                verifier_with([PublicKey::from_raw(Format::Paseto, &vector_pk).expect("key")]);
            let ours = verifier.verify(token, NOW).map(|_| ());
            let expected = if token.starts_with("v4.public.") {
                Error::BadFooter
            } else {
                Error::UnsupportedFormat
            };
            assert_eq!(ours, Err(expected), "{name} through our Verifier");

            // Through pasetors, with the key material the vector gives.
            let pasetors_failed = if token.starts_with("v4.public.") {
                // 4-F-2: a public token given a local key; the only public key
                // around is the 4-S one, and the signature does not hold.
                let pk = AsymmetricPublicKey::<V4>::from(&vector_pk).expect("key");
                UntrustedToken::<Public, V4>::try_from(token)
                    .and_then(|u| PublicToken::verify(&pk, &u, footer_opt, implicit_opt))
                    .is_err()
            } else if let Some(pk_hex) = t["public-key"].as_str() {
                // 4-F-1: a v4.local token given a public key.
                let pk = AsymmetricPublicKey::<V4>::from(&hex::decode(pk_hex).expect("hex"))
                    .expect("key");
                UntrustedToken::<Public, V4>::try_from(token)
                    .and_then(|u| PublicToken::verify(&pk, &u, footer_opt, implicit_opt))
                    .is_err()
            } else {
                // 4-F-3..5: local tokens with a local key: wrong version, bad base64.
                let key = SymmetricKey::<V4>::from(&hex_field(t, "key")).expect("32-byte key");
                UntrustedToken::<Local, V4>::try_from(token)
                    .and_then(|u| LocalToken::decrypt(&key, &u, footer_opt, implicit_opt))
                    .is_err()
            };
            assert!(pasetors_failed, "{name} must fail through pasetors");
        } else {
            // 4-E-*: v4.local. Our verifier only speaks v4.public (B3).
            assert!(name.starts_with("4-E-"), "{name}");
            assert_eq!(
                some_jwt_verifier().verify(token, NOW).map(|_| ()),
                Err(Error::UnsupportedFormat),
                "{name}"
            );
        }
    }
    assert_eq!(public_seen, 3);
    assert_eq!(fail_seen, 5);
}

// ---------------------------------------------------------------------------
// paserk/*.json
// ---------------------------------------------------------------------------

#[test]
fn paserk_k4_public_vectors() {
    let file = load("paserk/k4.public.json");
    let (mut ok, mut failed) = (0, 0);
    for t in tests(&file) {
        let name = s(t, "name");
        let key = hex_field(t, "key");
        if expect_fail(t) {
            failed += 1;
            // Wrong length (k4.public-fail-1 is a 49-byte P-384 key).
            assert_eq!(
                PublicKey::from_raw(Format::Paseto, &key).map(|_| ()),
                Err(KeyError::Length(key.len())),
                "{name}"
            );
            let b64 = URL_SAFE_NO_PAD.encode(&key);
            // Wrong version or type.
            for wrong in [
                format!("k3.public.{b64}"),
                format!("k2.public.{b64}"),
                format!("k4.secret.{b64}"),
                format!("K4.PUBLIC.{b64}"),
            ] {
                assert_eq!(
                    PublicKey::from_paserk(&wrong).map(|_| ()),
                    Err(KeyError::Paserk("k4.public")),
                    "{name}: {wrong}"
                );
            }
            assert_eq!(
                PublicKey::from_paserk(&format!("k4.public.{b64}")).map(|_| ()),
                Err(KeyError::Length(key.len())),
                "{name}"
            );
        } else {
            ok += 1;
            let paserk = s(t, "paserk");
            let public = PublicKey::from_raw(Format::Paseto, &key).expect(name);
            assert_eq!(public.to_paserk(), paserk, "{name}");
            let back = PublicKey::from_paserk(paserk).expect(name);
            assert_eq!(back.as_bytes().as_slice(), key.as_slice(), "{name}");
            assert_eq!(back.format(), Format::Paseto, "{name}");
            assert_eq!(back.kid(), public.kid(), "{name}");
            // pasetors writes the same PASERK.
            let pk = AsymmetricPublicKey::<V4>::from(&key).expect(name);
            assert_eq!(paserk_of(&pk), paserk, "{name}");
            // A PASERK of the right type with padding is not canonical.
            assert_eq!(
                PublicKey::from_paserk(&format!("{paserk}=")).map(|_| ()),
                Err(KeyError::Base64),
                "{name}"
            );
        }
    }
    assert_eq!((ok, failed), (3, 1));
}

#[test]
fn paserk_k4_secret_vectors() {
    let file = load("paserk/k4.secret.json");
    let (mut ok, mut refused_zero, mut failed) = (0, 0, 0);
    for t in tests(&file) {
        let name = s(t, "name");
        let key = hex_field(t, "key");
        if expect_fail(t) {
            failed += 1;
            let b64 = URL_SAFE_NO_PAD.encode(&key);
            assert_eq!(
                SigningKey::from_paserk(&format!("k4.secret.{b64}")).map(|_| ()),
                Err(KeyError::Length(key.len())),
                "{name}"
            );
            for wrong in [format!("k3.secret.{b64}"), format!("k4.public.{b64}")] {
                assert_eq!(
                    SigningKey::from_paserk(&wrong).map(|_| ()),
                    Err(KeyError::Paserk("k4.secret")),
                    "{name}: {wrong}"
                );
            }
            continue;
        }
        let paserk = s(t, "paserk");
        let seed = seed32(&hex_field(t, "secret-key-seed"));
        let public = hex_field(t, "public-key");
        if seed == [0; 32] {
            // k4.secret-1 has an all-zero seed. Our key policy refuses it
            // (SECURITY.md C15): pasetors would panic on it, so it must never
            // reach pasetors, whichever way it comes in.
            refused_zero += 1;
            assert_eq!(
                SigningKey::from_paserk(paserk).map(|_| ()),
                Err(KeyError::ZeroSeed),
                "{name}"
            );
            for format in Format::ALL {
                assert_eq!(
                    SigningKey::from_seed(format, &seed).map(|_| ()),
                    Err(KeyError::ZeroSeed),
                    "{name}"
                );
            }
            continue;
        }
        ok += 1;
        let key_from_paserk = SigningKey::from_paserk(paserk).expect(name);
        assert_eq!(key_from_paserk.format(), Format::Paseto, "{name}");
        assert_eq!(
            key_from_paserk.public_key().as_bytes().as_slice(),
            public.as_slice(),
            "{name}"
        );
        let key_from_seed = SigningKey::from_seed(Format::Paseto, &seed).expect(name);
        assert_eq!(key_from_seed.to_secret_string().as_str(), paserk, "{name}");
        assert_eq!(key_from_seed.kid(), key_from_paserk.kid(), "{name}");

        // A k4.secret whose public half does not match its seed is refused.
        let mut tampered = key.clone();
        tampered[63] ^= 1;
        assert_eq!(
            SigningKey::from_paserk(&format!("k4.secret.{}", URL_SAFE_NO_PAD.encode(&tampered)))
                .map(|_| ()),
            Err(KeyError::Mismatch),
            "{name}"
        );
    }
    assert_eq!((ok, refused_zero, failed), (2, 1, 2));
}

#[test]
fn paserk_k4_pid_vectors() {
    let file = load("paserk/k4.pid.json");
    let (mut ok, mut failed) = (0, 0);
    for t in tests(&file) {
        let name = s(t, "name");
        let key = hex_field(t, "key");
        if expect_fail(t) {
            failed += 1;
            assert_eq!(
                PublicKey::from_raw(Format::Paseto, &key).map(|_| ()),
                Err(KeyError::Length(key.len())),
                "{name}"
            );
            assert!(
                AsymmetricPublicKey::<V4>::from(&key).is_err(),
                "{name}: pasetors too"
            );
        } else {
            ok += 1;
            let paserk = s(t, "paserk");
            let public = PublicKey::from_raw(Format::Paseto, &key).expect(name);
            assert_eq!(public.kid(), paserk, "{name}");
            let pk = AsymmetricPublicKey::<V4>::from(&key).expect(name);
            assert_eq!(paseto_kid(&pk), paserk, "{name}");
        }
    }
    assert_eq!((ok, failed), (3, 2));
}

#[test]
fn paserk_k4_sid_vectors() {
    // The service never uses k4.sid; this pins that pasetors computes it as the
    // spec says, for every key our key policy accepts. The all-zero seed of
    // k4.sid-1 is refused by us (KeyError::ZeroSeed) and so never reaches pasetors.
    let file = load("paserk/k4.sid.json");
    let (mut ok, mut refused_zero, mut failed) = (0, 0, 0);
    for t in tests(&file) {
        let name = s(t, "name");
        let key = hex_field(t, "key");
        if expect_fail(t) {
            failed += 1;
            assert!(AsymmetricSecretKey::<V4>::from(&key).is_err(), "{name}");
            assert_eq!(
                SigningKey::from_paserk(&format!("k4.secret.{}", URL_SAFE_NO_PAD.encode(&key)))
                    .map(|_| ()),
                Err(KeyError::Length(key.len())),
                "{name}"
            );
            continue;
        }
        let seed = seed32(&hex_field(t, "seed"));
        if seed == [0; 32] {
            refused_zero += 1;
            assert_eq!(
                SigningKey::from_seed(Format::Paseto, &seed).map(|_| ()),
                Err(KeyError::ZeroSeed),
                "{name}"
            );
            continue;
        }
        ok += 1;
        let ours = SigningKey::from_seed(Format::Paseto, &seed).expect(name);
        assert_eq!(
            ours.public_key().as_bytes().as_slice(),
            &key[32..],
            "{name}"
        );
        let secret = AsymmetricSecretKey::<V4>::from(&key).expect(name);
        assert_eq!(paserk_of(&Id::from(&secret)), s(t, "paserk"), "{name}");
    }
    assert_eq!((ok, refused_zero, failed), (2, 1, 1));
}

// ---------------------------------------------------------------------------
// jwt/ed25519-jws-vectors.json
// ---------------------------------------------------------------------------

#[test]
fn jwt_ed25519_rfc8037_vectors() {
    let file = load("jwt/ed25519-jws-vectors.json");
    let jwk = &file["key"]["private_jwk"];
    let (d, x) = (s(jwk, "d"), s(jwk, "x"));
    let x_bytes = seed32(&URL_SAFE_NO_PAD.decode(x).expect("x is base64url"));

    // RFC 8037 A.3: the thumbprint is our JWT kid.
    let thumbprint = s(&file["thumbprint"], "b64url");
    assert_eq!(thumbprint, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_eq!(jwt_kid(&x_bytes), thumbprint);

    // RFC 8037 A.1/A.2: d gives x.
    let signing = SigningKey::from_jwk_d(d).expect("RFC 8037 key");
    assert_eq!(signing.format(), Format::Jwt);
    assert_eq!(signing.public_key().as_bytes(), &x_bytes);
    assert_eq!(signing.kid(), thumbprint);
    assert_eq!(signing.to_secret_string().as_str(), d);
    assert_eq!(
        hex::encode(x_bytes),
        s(&file["key"], "public_key_hex"),
        "x matches public_key_hex"
    );

    // RFC 8037 A.4/A.5.
    let valid = &file["valid"].as_array().expect("valid")[0];
    let compact = s(valid, "compact");
    let decoding = DecodingKey::from_ed_components(x).expect("x");
    let (signing_input, signature) = compact.rsplit_once('.').expect("three parts");
    assert_eq!(signing_input, s(valid, "signing_input"));
    let a4_verifies = jsonwebtoken::crypto::verify(
        signature,
        signing_input.as_bytes(),
        &decoding,
        Algorithm::EdDSA,
    )
    .expect("EdDSA verify runs");
    assert!(a4_verifies, "RFC 8037 A.4 verifies");
    // Ed25519 is deterministic: our signer reproduces A.4 bit for bit.
    let ours = signing
        .sign_raw(
            s(valid, "protected_header_json").as_bytes(),
            s(valid, "payload_text").as_bytes(),
        )
        .expect("sign_raw");
    assert_eq!(ours, compact);
    // Through the whole Verifier, A.4 is rejected (D15): its header has no
    // `typ` (and no `kid`), and its payload is not a claims set.
    let rfc_verifier = verifier_with([PublicKey::from_raw(Format::Jwt, &x_bytes).expect("x")]);
    assert_eq!(
        rfc_verifier.verify(compact, NOW).map(|_| ()),
        Err(Error::WrongType)
    );

    // RFC 8032 TEST 1 through both Ed25519 implementations.
    for p in file["rfc8032_primitive"].as_array().expect("primitive") {
        let pk = seed32(&hex_field(p, "public_key_hex"));
        let msg = hex_field(p, "message_hex");
        let sig: [u8; 64] = hex_field(p, "signature_hex").try_into().expect("64 bytes");
        let dalek = ed25519_dalek::VerifyingKey::from_bytes(&pk).expect("point");
        dalek
            .verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&sig))
            .expect("dalek verifies TEST 1");
        ed25519_compact::PublicKey::from_slice(&pk)
            .expect("pk")
            .verify(
                &msg,
                &ed25519_compact::Signature::from_slice(&sig).expect("sig"),
            )
            .expect("ed25519-compact verifies TEST 1");
        // And our key derivation reproduces the RFC 8032 public key and signature.
        let ours = SigningKey::from_seed(Format::Jwt, &seed32(&hex_field(p, "secret_key_hex")))
            .expect("seed");
        assert_eq!(ours.public_key().as_bytes(), &pk);
        let dalek_sk =
            ed25519_dalek::SigningKey::from_bytes(&seed32(&hex_field(p, "secret_key_hex")));
        use ed25519_dalek::Signer as _;
        assert_eq!(dalek_sk.sign(&msg).to_bytes(), sig);
    }

    // Every invalid entry is rejected by the primitive and by our Verifier.
    // Our Verifier's exact variant is pinned per entry: the derived A.4
    // mutations all keep A.4's `{"alg":"EdDSA"}` header, which has no `typ`, so
    // the header check catches them before the signature is looked at (the
    // signature-level rejections are pinned by the primitive check here and by
    // tests/token_rules.rs on our own tokens).
    let expected_ours: &[(&str, Error)] = &[
        ("rfc7515-A.5-unsecured", Error::Malformed),
        ("rfc7515-A.1-hs256", Error::Algorithm),
        ("derived-A.4-sig-bitflip", Error::WrongType),
        ("derived-A.4-sig-truncated-63", Error::WrongType),
        ("derived-A.4-sig-empty", Error::Malformed),
        ("derived-A.4-two-segments", Error::Malformed),
        ("derived-A.4-four-segments", Error::Malformed),
        ("derived-A.4-payload-modified", Error::WrongType),
        ("derived-A.4-alg-none-header", Error::Malformed),
        ("derived-A.4-sig-padded", Error::WrongType),
        ("derived-A.4-sig-noncanonical-base64", Error::WrongType),
        ("derived-A.4-sig-s-plus-l", Error::WrongType),
        ("derived-A.4-other-key", Error::WrongType),
        ("derived-hs256-confusion-rawkey", Error::Algorithm),
        ("derived-hs256-confusion-spki-pem", Error::Algorithm),
    ];
    let invalid = file["invalid"].as_array().expect("invalid");
    assert_eq!(invalid.len(), expected_ours.len());
    for (entry, (id, expected)) in invalid.iter().zip(expected_ours) {
        assert_eq!(s(entry, "id"), *id);
        let compact = s(entry, "compact");

        // The primitive: false or Err, for whatever split we can make.
        let primitive_accepts = match compact.rsplit_once('.') {
            Some((input, sig)) => matches!(
                jsonwebtoken::crypto::verify(sig, input.as_bytes(), &decoding, Algorithm::EdDSA),
                Ok(true)
            ),
            None => false,
        };
        assert!(
            !primitive_accepts,
            "{id}: jsonwebtoken::crypto::verify accepted it"
        );

        assert_eq!(
            rfc_verifier.verify(compact, NOW).map(|_| ()),
            Err(*expected),
            "{id} through our Verifier"
        );
    }
}

// ---------------------------------------------------------------------------
// wycheproof/ed25519_test.json
// ---------------------------------------------------------------------------

/// The JWT path: our JWT key's signature check (ed25519-dalek `verify` on a
/// prepared key, behind the weak-key refusal).
fn jwt_path_accepts(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    PublicKey::from_raw(Format::Jwt, pk).is_ok_and(|key| key.verify_jwt_signature(msg, sig))
}

/// jsonwebtoken's EdDSA verify (ed25519-dalek `verify`), as a second opinion.
fn jwt_backend_accepts(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(pk)) else {
        return false;
    };
    matches!(
        jsonwebtoken::crypto::verify(&URL_SAFE_NO_PAD.encode(sig), msg, &key, Algorithm::EdDSA),
        Ok(true)
    )
}

/// The PASETO path: our PASETO key's signature check (ed25519-dalek
/// `verify_strict`, behind the weak-key refusal).
fn paseto_path_accepts(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    PublicKey::from_raw(Format::Paseto, pk).is_ok_and(|key| key.verify_paseto_signature(msg, sig))
}

/// ed25519-compact, as pasetors calls it (the PASETO path before
/// ed25519-dalek), as a second opinion.
fn paseto_backend_accepts(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(pk) = ed25519_compact::PublicKey::from_slice(pk) else {
        return false;
    };
    let Ok(sig) = ed25519_compact::Signature::from_slice(sig) else {
        return false;
    };
    pk.verify(msg, &sig).is_ok()
}

#[test]
fn wycheproof_ed25519_against_both_backends() {
    let file = load("wycheproof/ed25519_test.json");
    // Cases where a backend disagrees with Wycheproof's `result`, as
    // (tcId, flags). Start empty: any entry here must be explained.
    let expected_jwt: Vec<(u64, Vec<String>)> = vec![];
    let expected_paseto: Vec<(u64, Vec<String>)> = vec![];
    let expected_jsonwebtoken: Vec<(u64, Vec<String>)> = vec![];
    let expected_compact: Vec<(u64, Vec<String>)> = vec![];

    let mut disagree_jsonwebtoken = Vec::new();
    let mut disagree_compact = Vec::new();
    let mut disagree_jwt = Vec::new();
    let mut disagree_paseto = Vec::new();
    let (mut total, mut valid, mut invalid, mut acceptable) = (0, 0, 0, 0);
    for group in file["testGroups"].as_array().expect("groups") {
        let pk = hex::decode(s(&group["publicKey"], "pk")).expect("pk hex");
        assert_eq!(pk.len(), 32);
        for t in group["tests"].as_array().expect("tests") {
            total += 1;
            let tc_id = t["tcId"].as_u64().expect("tcId");
            let msg = hex_field(t, "msg");
            let sig = hex_field(t, "sig");
            let flags: Vec<String> = t["flags"]
                .as_array()
                .expect("flags")
                .iter()
                .map(|f| f.as_str().expect("flag").to_owned())
                .collect();
            let want = match s(t, "result") {
                "valid" => {
                    valid += 1;
                    Some(true)
                }
                "invalid" => {
                    invalid += 1;
                    Some(false)
                }
                "acceptable" => {
                    acceptable += 1;
                    None
                }
                other => panic!("tcId {tc_id}: unknown result {other}"),
            };
            let jwt = jwt_path_accepts(&pk, &msg, &sig);
            let jsonwebtoken = jwt_backend_accepts(&pk, &msg, &sig);
            let paseto = paseto_path_accepts(&pk, &msg, &sig);
            let compact = paseto_backend_accepts(&pk, &msg, &sig);
            if let Some(want) = want {
                if compact != want {
                    disagree_compact.push((tc_id, flags.clone()));
                }
                if jsonwebtoken != want {
                    disagree_jsonwebtoken.push((tc_id, flags.clone()));
                }
                if jwt != want {
                    disagree_jwt.push((tc_id, flags.clone()));
                }
                if paseto != want {
                    disagree_paseto.push((tc_id, flags));
                }
            }
        }
    }
    eprintln!(
        "wycheproof ed25519: {total} cases ({valid} valid, {invalid} invalid, {acceptable} acceptable)"
    );
    eprintln!(
        "  our JWT path (ed25519-dalek verify) disagreements: {}: {disagree_jwt:?}",
        disagree_jwt.len()
    );
    eprintln!(
        "  jsonwebtoken::crypto::verify disagreements: {}: {disagree_jsonwebtoken:?}",
        disagree_jsonwebtoken.len()
    );
    eprintln!(
        "  our PASETO path (ed25519-dalek verify_strict) disagreements: {}: {disagree_paseto:?}",
        disagree_paseto.len()
    );
    eprintln!(
        "  ed25519-compact (pasetors) disagreements: {}: {disagree_compact:?}",
        disagree_compact.len()
    );
    assert_eq!(total, 151);
    assert_eq!(disagree_jwt, expected_jwt, "JWT path");
    assert_eq!(disagree_jsonwebtoken, expected_jsonwebtoken, "jsonwebtoken");
    assert_eq!(disagree_paseto, expected_paseto, "PASETO path");
    assert_eq!(disagree_compact, expected_compact, "ed25519-compact");
}

// ---------------------------------------------------------------------------
// wycheproof/json_web_signature_test.json
// ---------------------------------------------------------------------------

#[test]
fn wycheproof_jws_all_rejected_by_our_verifier() {
    let file = load("wycheproof/json_web_signature_test.json");
    let verifier = some_jwt_verifier();
    let mut seen = 0;
    let mut by_variant = std::collections::BTreeMap::<String, u32>::new();
    for group in file["testGroups"].as_array().expect("groups") {
        for t in group["tests"].as_array().expect("tests") {
            let tc_id = t["tcId"].as_u64().expect("tcId");
            // `jws` is a compact string in every case of this file; a JSON
            // serialisation would be fed in as its JSON text.
            let jws = match &t["jws"] {
                Value::String(compact) => compact.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            seen += 1;
            let result = std::panic::catch_unwind(|| verifier.verify(&jws, NOW));
            let result = result.unwrap_or_else(|_| panic!("tcId {tc_id} panicked"));
            let err = result
                .err()
                .unwrap_or_else(|| panic!("tcId {tc_id} was accepted"));
            *by_variant.entry(format!("{err:?}")).or_default() += 1;
        }
    }
    eprintln!("wycheproof JWS: {seen} cases, all rejected: {by_variant:?}");
    assert_eq!(seen, 401);
}
