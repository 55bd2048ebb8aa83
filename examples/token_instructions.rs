//! Runs one token operation N times, for counting its instructions, which
//! repeat exactly where timings on a shared machine do not:
//!
//! ```sh
//! cargo build --release --example token_instructions
//! for op in setup verify raw_verify issue raw_sign; do
//!     echo "$op $(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!         target/release/examples/token_instructions $op 500 2>&1 | grep -o 'Collected : [0-9]*')"
//! done
//! ```
//!
//! (`perf stat -e instructions` counts the same where the kernel exposes the
//! counter; this machine's does not.)
//!
//! `setup` does everything but the operation (keys, the token, the verifier),
//! so each operation costs (its count − setup's) / N. The operations are
//! those of `benches/tokens.rs` for PASETO: `verify` (a cache miss through the
//! service's verifier) against `raw_verify` (ed25519-dalek's `verify_strict`
//! of a message the size of the token), `issue` against `raw_sign`.

use std::hint::black_box;

use ed25519_dalek::Signer as _;
use informly::token::{
    Format, KeySet, KeyStatus, Policy, ScopeSet, SigningKey, Subject, TokenClaims, Verifier,
};

const NOW: i64 = 1_800_000_000;
const SEED: [u8; 32] = [7; 32];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(op), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok())) else {
        eprintln!("usage: token_instructions setup|verify|raw_verify|issue|raw_sign N");
        std::process::exit(2);
    };
    let policy = Policy::default();
    let claims = TokenClaims {
        token_id: "tok_01J00000000000000000000001".to_owned(),
        workspace: "ws_01J0000000000000000000000B".to_owned(),
        subject: Subject::App("app_01J0000000000000000000000C".to_owned()),
        scopes: ScopeSet::parse_for_app(["contacts:read", "contacts:write"]).expect("scopes"),
        issued_at: NOW,
        not_before: NOW,
        expires_at: NOW + 30 * 86_400,
    };
    let key = SigningKey::from_seed(Format::Paseto, &SEED).expect("key");
    let mut keys = KeySet::new();
    keys.insert(key.public_key(), KeyStatus::Active)
        .expect("key set");
    let verifier = Verifier::new(keys, policy.clone());
    let token = key.sign(&claims, &policy).expect("token");
    let message = token.as_bytes();
    let dalek = ed25519_dalek::SigningKey::from_bytes(&SEED);
    let verifying = dalek.verifying_key();
    let signature = dalek.sign(message);

    for _ in 0..n {
        match op.as_str() {
            "setup" => {}
            "verify" => {
                black_box(verifier.verify(black_box(&token), NOW).expect("verifies"));
            }
            "raw_verify" => verifying
                .verify_strict(black_box(message), &signature)
                .expect("verifies"),
            "issue" => {
                black_box(key.sign(black_box(&claims), &policy).expect("signs"));
            }
            "raw_sign" => {
                black_box(dalek.sign(black_box(message)));
            }
            other => {
                eprintln!("unknown operation {other}");
                std::process::exit(2);
            }
        }
    }
}
