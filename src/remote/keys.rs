//! The remote verifier's keys: fetched from the published documents (PASERK
//! key set, JWKS) or read from key files, merged and swapped in; refreshes
//! run one at a time, and those an unknown key id asks for are rate-limited.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::fetch::redact;
use super::{LoadError, Shared};
use crate::token::{Jwks, KeySet, PaserkKeySet, Verifier};

/// Key documents longer than this are refused: a few keys take a few KiB.
const MAX_KEYS_LEN: usize = 1024 * 1024;

/// Where keys come from. Every source is read on each refresh and the keys
/// merged (the first source naming a key id wins).
#[derive(Debug, Clone)]
pub(super) enum KeySource {
    /// `/.well-known/jwks.json`: JWT keys.
    JwksUrl(String),
    /// `/.well-known/paserk.json`: PASETO keys, with their status.
    PaserkUrl(String),
    /// A JWKS or PASERK key set file (`informly keys export-public`), re-read
    /// on each refresh.
    File(PathBuf),
}

/// What key refreshes need besides the verifier they swap.
pub(super) struct KeyRefresh {
    sources: Vec<KeySource>,
    /// Keys given up front, kept across refreshes.
    fixed: KeySet,
    /// The least time between two rate-limited refreshes.
    min_interval: Duration,
    /// When keys were last fetched; held across a refresh (single flight).
    last: Mutex<Option<Instant>>,
    /// Refreshes attempted since start.
    count: AtomicU64,
}

impl KeyRefresh {
    pub(super) fn new(
        sources: Vec<KeySource>,
        fixed: KeySet,
        min_interval: Duration,
    ) -> KeyRefresh {
        KeyRefresh {
            sources,
            fixed,
            min_interval,
            last: Mutex::new(None),
            count: AtomicU64::new(0),
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

impl Shared {
    /// Fetches every key source and swaps the new key set in. Concurrent
    /// callers wait for one fetch; with `rate_limited`, a refresh within
    /// `key_refresh_min` of the last attempt (failed or not) is skipped.
    /// Returns whether keys were fetched.
    pub(super) async fn refresh_keys(&self, rate_limited: bool) -> Result<bool, LoadError> {
        let refresh = &self.key_refresh;
        let mut last = refresh.last.lock().await;
        if rate_limited && last.is_some_and(|at| at.elapsed() < refresh.min_interval) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        refresh.count.fetch_add(1, Ordering::AcqRel);
        let keys = self.load_keys().await?;
        crate::authn::metrics::keys_reloaded(self.clock.unix(), keys.len());
        self.authn
            .keys()
            .store(Arc::new(Verifier::new(keys, self.policy.clone())));
        Ok(true)
    }

    async fn load_keys(&self) -> Result<KeySet, LoadError> {
        let mut keys = self.key_refresh.fixed.clone();
        for source in &self.key_refresh.sources {
            let loaded = match source {
                KeySource::PaserkUrl(url) => {
                    let body = self.http.get(url, None, MAX_KEYS_LEN).await?;
                    read_paserk(&body, &redact(url))?
                }
                KeySource::JwksUrl(url) => {
                    let body = self.http.get(url, None, MAX_KEYS_LEN).await?;
                    read_jwks(&body, &redact(url))?
                }
                KeySource::File(path) => read_key_file(path)?,
            };
            for (key, status) in loaded.iter() {
                // The first source naming a key id wins.
                let _ = keys.insert(key.clone(), status);
            }
        }
        Ok(keys)
    }
}

fn read_paserk(body: &[u8], origin: &str) -> Result<KeySet, LoadError> {
    let doc: PaserkKeySet = serde_json::from_slice(body).map_err(|_| LoadError::Document {
        origin: origin.to_owned(),
        what: "PASERK key set",
    })?;
    let mut keys = KeySet::new();
    keys.extend_from_paserk(&doc)
        .map_err(|error| LoadError::Keys {
            origin: origin.to_owned(),
            error,
        })?;
    Ok(keys)
}

fn read_jwks(body: &[u8], origin: &str) -> Result<KeySet, LoadError> {
    let doc: Jwks = serde_json::from_slice(body).map_err(|_| LoadError::Document {
        origin: origin.to_owned(),
        what: "JWKS",
    })?;
    let mut keys = KeySet::new();
    keys.extend_from_jwks(&doc)
        .map_err(|error| LoadError::Keys {
            origin: origin.to_owned(),
            error,
        })?;
    Ok(keys)
}

/// A key file holds either document; a JWKS entry has `kty`, a PASERK one
/// `paserk`, so at most one reading succeeds.
fn read_key_file(path: &Path) -> Result<KeySet, LoadError> {
    let origin = path.display().to_string();
    let file_error = |message: String| LoadError::File {
        path: origin.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?;
    if meta.len() > MAX_KEYS_LEN as u64 {
        return Err(file_error(format!("longer than {MAX_KEYS_LEN} bytes")));
    }
    let body = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    if serde_json::from_slice::<Jwks>(&body).is_ok() {
        return read_jwks(&body, &origin);
    }
    read_paserk(&body, &origin).map_err(|e| match e {
        LoadError::Document { origin, .. } => LoadError::Document {
            origin,
            what: "JWKS or PASERK key set",
        },
        other => other,
    })
}
