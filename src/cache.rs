//! The verified-token cache. API consumers send the same token on every
//! request; verifying it once is enough. Entries are keyed by the SHA-256 of
//! the whole token string (never a prefix or the `jti` alone, so only the very
//! same string can hit), hold the verified claims, and leave the cache when
//! their token expires. A hit still goes through every rule that can change
//! after verification — the key's status, `exp`/`nbf`/`iat` against the clock,
//! and the denylist — so revocation and expiry are exactly as without it.
//!
//! Memory: at most `capacity` entries; measured at about 0.8 KiB each (key,
//! claims, moka's bookkeeping): the server's RSS peaks at 92 MiB with the
//! default 100,000 full (BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::authn::{self, Recalled};
use crate::token::{self, Verified};

/// A digest of a whole token string.
pub type TokenKey = [u8; 32];

pub struct TokenCache {
    entries: Option<Cache<TokenKey, Arc<Verified>>>,
}

impl TokenCache {
    pub const DEFAULT_CAPACITY: u64 = 100_000;

    /// A cache of at most `capacity` tokens (0 disables it). Entries are kept
    /// until their token's `exp` plus `leeway` seconds.
    pub fn new(capacity: u64, leeway: i64) -> TokenCache {
        let entries = (capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilTokenExpiry { leeway })
                .build()
        });
        TokenCache { entries }
    }

    /// Whether it remembers anything (a capacity of 0 turns it off).
    pub fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    pub fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    pub fn get(&self, key: &TokenKey) -> Option<Arc<Verified>> {
        self.entries.as_ref()?.get(key)
    }

    pub fn insert(&self, key: TokenKey, verified: Arc<Verified>) {
        if let Some(entries) = &self.entries {
            entries.insert(key, verified);
        }
    }
}

/// What the authenticator asks of a cache: the token is digested once, to
/// look and, on a miss, to remember.
impl authn::Cache for TokenCache {
    fn recall_or(
        &self,
        token: &str,
        verify: &mut dyn FnMut() -> Result<Arc<Verified>, token::Error>,
    ) -> Result<Recalled, token::Error> {
        let key = TokenCache::key(token);
        if let Some(hit) = self.get(&key) {
            return Ok(Recalled::Hit(hit));
        }
        let verified = verify()?;
        self.insert(key, verified.clone());
        Ok(Recalled::Fresh(verified))
    }

    fn entries(&self) -> u64 {
        self.entries
            .as_ref()
            .map_or(0, |entries| entries.entry_count())
    }
}

/// Each entry lives until its token expires (plus the leeway, during which
/// the token is still accepted).
struct UntilTokenExpiry {
    leeway: i64,
}

impl Expiry<TokenKey, Arc<Verified>> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _: &TokenKey,
        verified: &Arc<Verified>,
        _: Instant,
    ) -> Option<Duration> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let left = verified.claims().expires_at.saturating_add(self.leeway) - now;
        Some(Duration::from_secs(left.max(0) as u64))
    }
}
