//! `paseto_signature`: the PASETO v4.public signature check (ed25519-dalek
//! over the pre-authentication encoding, `src/token/paseto.rs`) against
//! pasetors' on the same token, key and implicit assertion: every answer,
//! accepted message or error, must be the same.

use informly::token::{
    Format, SigningKey, paseto_signature as ours, paseto_signature_by_pasetors as theirs,
};
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::version4::{PublicToken, V4};

const SEED: [u8; 32] = [42; 32];

/// The first byte picks the input:
///
/// - even: the rest is the token string (lossy UTF-8), no implicit assertion;
/// - odd: `[f][i][at][with]`, then `f` bytes of footer, `i` of implicit
///   assertion and the message, signed; then, unless `with` is 0, the
///   token's character at `at` becomes `with` (a base64url character, a dot,
///   or anything), so the fuzzer reaches near-valid signatures.
pub fn paseto_signature(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = keypair();
    let (token, implicit) = if mode % 2 == 0 {
        (String::from_utf8_lossy(rest).into_owned(), Vec::new())
    } else {
        let [f, i, at, with, rest @ ..] = rest else {
            return;
        };
        let (footer, rest) = rest.split_at(usize::from(*f).min(rest.len()));
        let (implicit, message) = rest.split_at(usize::from(*i).min(rest.len()));
        let footer = (!footer.is_empty()).then_some(footer);
        let Ok(mut token) = PublicToken::sign(&key.0, message, footer, Some(implicit)) else {
            return;
        };
        if *with != 0 {
            let mut bytes = token.into_bytes();
            let at = usize::from(*at) % bytes.len();
            bytes[at] = *with;
            token = String::from_utf8_lossy(&bytes).into_owned();
        }
        (token, implicit.to_vec())
    };
    let public = key.1.as_bytes().try_into().unwrap_or([0; 32]);
    let (a, b) = (
        ours(&public, &token, &implicit),
        theirs(&public, &token, &implicit),
    );
    assert_eq!(a, b, "dalek and pasetors disagree on {token:?}");
}

/// A fixed key pair: PASETO's secret key is the seed and the public key.
fn keypair() -> (AsymmetricSecretKey<V4>, AsymmetricPublicKey<V4>) {
    let public = *SigningKey::from_seed(Format::Paseto, &SEED)
        .unwrap_or_else(|_| unreachable!())
        .public_key()
        .as_bytes();
    let mut secret = SEED.to_vec();
    secret.extend_from_slice(&public);
    let sk = AsymmetricSecretKey::<V4>::from(&secret).unwrap_or_else(|_| unreachable!());
    let pk = AsymmetricPublicKey::<V4>::from(&public).unwrap_or_else(|_| unreachable!());
    (sk, pk)
}
