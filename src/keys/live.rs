//! The key ring as a running process sees it: an atomically swapped snapshot
//! (ring + verifier), reloaded from the directory, so the verify hot path takes
//! no lock and key changes made by another process are picked up without a
//! restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use time::OffsetDateTime;

use super::{Error, KeyRing};
use crate::authn;
use crate::token::{Format, Policy, Verifier};

/// One consistent view of the keys.
#[derive(Debug)]
pub struct Snapshot {
    pub ring: KeyRing,
    pub verifier: Verifier,
}

impl Snapshot {
    fn new(ring: KeyRing, policy: &Policy, now: OffsetDateTime) -> Snapshot {
        let verifier = Verifier::new(ring.key_set(now), policy.clone());
        Snapshot { ring, verifier }
    }
}

/// A first key generated because a format had none: its id and file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub format: Format,
    pub kid: String,
    pub path: PathBuf,
}

#[derive(Debug)]
pub struct LiveKeys {
    dir: PathBuf,
    policy: Policy,
    current: ArcSwap<Snapshot>,
    /// Serialises writers (first-key generation) within this process.
    writing: Mutex<()>,
}

impl LiveKeys {
    /// Loads the keys directory.
    pub fn open(dir: &Path, policy: Policy, now: OffsetDateTime) -> Result<LiveKeys, Error> {
        let ring = KeyRing::load(dir)?;
        let snapshot = Snapshot::new(ring, &policy, now);
        Ok(LiveKeys {
            dir: dir.to_owned(),
            policy,
            current: ArcSwap::from_pointee(snapshot),
            writing: Mutex::new(()),
        })
    }

    /// The current snapshot. Lock-free.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Re-reads the directory and swaps the snapshot in. On error the previous
    /// snapshot stays in force.
    pub fn reload(&self, now: OffsetDateTime) -> Result<(), Error> {
        let ring = KeyRing::load(&self.dir)?;
        self.current
            .store(Arc::new(Snapshot::new(ring, &self.policy, now)));
        Ok(())
    }

    /// Makes sure `format` has a key that signs at `now`, generating the first
    /// one if there is none.
    pub fn ensure_signing_key(
        &self,
        format: Format,
        now: OffsetDateTime,
    ) -> Result<Option<Generated>, Error> {
        if self.snapshot().ring.active(format, now).is_some() {
            return Ok(None);
        }
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        // Re-read: another process (or thread) may have made one meanwhile.
        let mut ring = KeyRing::load(&self.dir)?;
        let generated = ring
            .ensure_signing_key(format, now)?
            .map(|entry| Generated {
                format,
                kid: entry.kid().to_owned(),
                path: entry.path.clone(),
            });
        self.current
            .store(Arc::new(Snapshot::new(ring, &self.policy, now)));
        Ok(generated)
    }
}

/// The authenticator reads the verifier of the snapshot in force, so it
/// verifies with exactly the keys this process signs with.
impl authn::Keys for LiveKeys {
    fn with_verifier<R>(&self, f: impl FnOnce(&Verifier) -> R) -> R {
        f(&self.current.load().verifier)
    }
}
