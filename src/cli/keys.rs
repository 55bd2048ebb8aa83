//! The key commands that only read the keys directory: list and export.

use anyhow::Result;
use serde_json::json;

use super::output::{date, print, table};
use crate::clock::Clock;
use crate::config::Settings;
use crate::keys::KeyRing;

pub(super) fn list(settings: &Settings, clock: &dyn Clock) -> Result<()> {
    let json = settings.json;
    let now = clock.now();
    let ring = KeyRing::load(&settings.keys_dir)?;
    let rows: Vec<_> = ring
        .entries()
        .iter()
        .map(|e| {
            json!({
                "kid": e.kid(),
                "format": e.format(),
                "status": ring.status(e, now),
                "created_at": date(&e.created_at),
                "activates_at": date(&e.activates_at),
                "retired_at": e.retired_at.as_ref().map(date),
            })
        })
        .collect();
    print(json, &rows, || {
        table(
            &["KID", "FORMAT", "STATUS", "ACTIVATES"],
            ring.entries().iter().map(|e| {
                vec![
                    e.kid().to_owned(),
                    e.format().to_string(),
                    ring.status(e, now).to_string(),
                    date(&e.activates_at),
                ]
            }),
        )
    });
    Ok(())
}

pub(super) fn export(settings: &Settings, clock: &dyn Clock, jwks: bool) -> Result<()> {
    let set = KeyRing::load(&settings.keys_dir)?.key_set(clock.now());
    let doc = if jwks {
        serde_json::to_value(set.jwks())?
    } else {
        serde_json::to_value(set.paserk_set())?
    };
    println!("{doc:#}");
    Ok(())
}
