//! Mints many valid tokens straight from the key ring, without the database
//! (verification needs none), for the load benchmark's full-cache run.
//!
//! `cargo run --release --example mint_tokens -- KEYS_DIR WORKSPACE_ID APP_ID COUNT OUT_FILE`

use std::io::Write as _;

use informly::keys::KeyRing;
use informly::token::{Format, Policy, ScopeSet, Subject, TokenClaims};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, keys_dir, workspace, app, count, out] = args.as_slice() else {
        return Err("usage: mint_tokens KEYS_DIR WORKSPACE_ID APP_ID COUNT OUT_FILE".into());
    };
    let now = time::OffsetDateTime::now_utc();
    let ring = KeyRing::load(std::path::Path::new(keys_dir))?;
    let key = ring
        .active(Format::Paseto, now)
        .ok_or("no active PASETO key")?;
    let policy = Policy::default();
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for _ in 0..count.parse::<usize>()? {
        let claims = TokenClaims {
            token_id: informly::ids::TokenId::generate().to_string(),
            workspace: workspace.clone(),
            subject: Subject::App(app.clone()),
            scopes: ScopeSet::parse_for_app(["contacts:read"])?,
            issued_at: now.unix_timestamp(),
            not_before: now.unix_timestamp(),
            expires_at: now.unix_timestamp() + 7200,
        };
        writeln!(file, "{}", key.key.sign(&claims, &policy)?)?;
    }
    Ok(())
}
