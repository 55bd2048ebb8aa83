//! `informly verify`: checks a token with the published keys (files or
//! URLs), as a downstream service would, and prints its claims.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::output::print;
use crate::clock::{Clock, rfc3339};
use crate::config::Settings;
use crate::keys::KeyRing;
use crate::remote::RemoteVerifier;
use crate::token::{self, Format, Jwks, KeySet, KeyStatus, PaserkKeySet, PublicKey, Verifier};

pub(super) struct KeyUrls {
    pub(super) jwks: Option<String>,
    pub(super) paserk: Option<String>,
    pub(super) revocations: Option<String>,
}

impl KeyUrls {
    fn any(&self) -> bool {
        self.jwks.is_some() || self.paserk.is_some() || self.revocations.is_some()
    }
}

pub(super) async fn verify(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    token: &str,
    jwks: Option<PathBuf>,
    paserk: Option<String>,
    urls: KeyUrls,
) -> Result<()> {
    let token = if token == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut buf)
            .context("cannot read the token from standard input")?;
        buf.trim().to_owned()
    } else {
        token.to_owned()
    };
    let now = clock.unix();
    let keys = match (jwks, paserk) {
        (Some(path), _) => {
            let doc: Jwks = serde_json::from_slice(&read_small(&path)?)
                .with_context(|| format!("{} is not a JWKS document", path.display()))?;
            let mut set = KeySet::new();
            set.extend_from_jwks(&doc)
                .with_context(|| format!("{}", path.display()))?;
            set
        }
        (None, Some(paserk)) if looks_like_paserk(&paserk) => {
            let mut set = KeySet::new();
            set.insert(
                PublicKey::from_paserk(&paserk).context("--paserk")?,
                KeyStatus::Active,
            )?;
            set
        }
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let doc: PaserkKeySet = serde_json::from_slice(&read_small(&path)?)
                .with_context(|| format!("{} is not a PASERK key set document", path.display()))?;
            let mut set = KeySet::new();
            set.extend_from_paserk(&doc)
                .with_context(|| format!("{}", path.display()))?;
            set
        }
        // Keys come from the URLs alone.
        (None, None) if urls.any() => KeySet::new(),
        (None, None) => KeyRing::load(&settings.keys_dir)?.key_set(clock.now()),
    };
    if urls.any() {
        return verify_remote(settings, clock, &token, keys, urls).await;
    }
    let verifier = Verifier::new(keys, settings.policy());
    let verified = verifier.verify(&token, now).map_err(|e| {
        let format = if token.starts_with("v4.") {
            Format::Paseto
        } else {
            Format::Jwt
        };
        let has_format = verifier.keys().iter().any(|(k, _)| k.format() == format);
        match e {
            token::Error::UnknownKey if !has_format => anyhow::anyhow!(
                "token rejected: {e}: no {format} public keys were given ({})",
                match format {
                    Format::Paseto => "use --paserk",
                    Format::Jwt => "use --jwks",
                }
            ),
            e => anyhow::anyhow!("token rejected: {e}"),
        }
    })?;
    print_verified(settings, &verified, false);
    eprintln!(
        "note: verified offline with public keys only; revocation is not checked (it needs the database, or --revocations-url)"
    );
    Ok(())
}

/// Verifies as a downstream service does, with [`RemoteVerifier`]: keys
/// fetched from the URLs (plus any given as files), and the revocation feed
/// fetched once, verified and applied.
async fn verify_remote(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    token: &str,
    keys: KeySet,
    urls: KeyUrls,
) -> Result<()> {
    if urls.jwks.is_none() && urls.paserk.is_none() && keys.is_empty() {
        bail!(
            "--revocations-url needs keys: give --paserk-url (the feed is signed with a PASETO key)"
        );
    }
    let mut builder = RemoteVerifier::builder()
        .policy(settings.policy())
        .clock(clock)
        .keys(keys);
    if let Some(url) = urls.jwks {
        builder = builder.jwks_url(url);
    }
    if let Some(url) = urls.paserk {
        builder = builder.paserk_url(url);
    }
    let checked = urls.revocations.is_some();
    builder = match urls.revocations {
        Some(url) => builder.revocations_url(url),
        None => builder.without_revocations(),
    };
    let verifier = builder.build().await?;
    let verified = verifier.verify(token).await;
    verifier.shutdown();
    let verified = verified.map_err(|e| anyhow::anyhow!("token rejected: {e}"))?;
    print_verified(settings, &verified, checked);
    if !checked {
        eprintln!("note: revocation is not checked (give --revocations-url)");
    }
    Ok(())
}

/// Prints a verified token's claims (never the token itself).
fn print_verified(settings: &Settings, verified: &token::Verified, revocation_checked: bool) {
    let claims = &verified.claims();
    let value = json!({
        "valid": true,
        "revocation_checked": revocation_checked,
        "format": verified.format(),
        "kid": verified.kid(),
        "token_id": claims.token_id,
        "workspace": claims.workspace,
        "subject": claims.subject.as_claim(),
        "scopes": claims.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "issued_at": rfc3339(claims.issued_at),
        "not_before": rfc3339(claims.not_before),
        "expires_at": rfc3339(claims.expires_at),
    });
    print(settings.json, &value, || {
        format!(
            "valid {} token\n  id:        {}\n  workspace: {}\n  subject:   {}\n  scopes:    {}\n  issued:    {}\n  expires:   {}\n  key:       {}",
            verified.format(),
            claims.token_id,
            claims.workspace,
            claims.subject.as_claim(),
            claims.scopes,
            rfc3339(claims.issued_at),
            rfc3339(claims.expires_at),
            verified.kid(),
        )
    });
}

/// A PASERK string (`k<version>.<type>.…`) rather than a file path: a key of
/// another version is then refused as a key, not looked for as a file.
fn looks_like_paserk(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() > 3 && b[0] == b'k' && b[1].is_ascii_digit() && b[2] == b'.'
}

/// Reads a key document, refusing anything larger than a key document can be.
fn read_small(path: &std::path::Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .take(1024 * 1024 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() > 1024 * 1024 {
        bail!(
            "{} is larger than 1 MiB: not a key document",
            path.display()
        );
    }
    Ok(buf)
}
