//! The key ring as a running process sees it: an atomically swapped snapshot
//! (ring + verifier), reloaded from the directory, so the verify hot path takes
//! no lock and key changes made by another process are picked up without a
//! restart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use time::OffsetDateTime;

use super::{Error, KeyRing};
use crate::authn;
use crate::token::{Format, KeyStatus, Policy, Verifier};

/// One consistent view of the keys.
#[derive(Debug)]
pub struct Snapshot {
    pub ring: KeyRing,
    pub verifier: Verifier,
    /// When it was taken: the keys' states are the states at this time.
    pub taken_at: OffsetDateTime,
}

impl Snapshot {
    fn new(ring: KeyRing, policy: &Policy, now: OffsetDateTime) -> Snapshot {
        let verifier = Verifier::new(ring.key_set(now), policy.clone());
        Snapshot {
            ring,
            verifier,
            taken_at: now,
        }
    }

    /// Each key's state, by kid.
    fn states(&self) -> BTreeMap<String, (Format, KeyStatus)> {
        self.ring
            .entries()
            .iter()
            .map(|e| {
                let status = self.ring.status(e, self.taken_at);
                (e.kid().to_owned(), (e.format(), status))
            })
            .collect()
    }
}

/// A key whose state a reload changed: new (`from` is `None`), gone from the
/// directory (`to` is `None`), or moved on (pending → active → retiring →
/// retired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub kid: String,
    pub format: Format,
    pub from: Option<KeyStatus>,
    pub to: Option<KeyStatus>,
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

    /// Re-reads the directory and swaps the snapshot in; returns the keys
    /// whose state changed since the last one. On error the previous
    /// snapshot stays in force.
    pub fn reload(&self, now: OffsetDateTime) -> Result<Vec<KeyChange>, Error> {
        let ring = KeyRing::load(&self.dir)?;
        let next = Arc::new(Snapshot::new(ring, &self.policy, now));
        let before = self.current.swap(next.clone()).states();
        let after = next.states();
        let kids: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        Ok(kids
            .into_iter()
            .filter_map(|kid| {
                let (from, to) = (before.get(kid), after.get(kid));
                (from.map(|s| s.1) != to.map(|s| s.1)).then(|| KeyChange {
                    kid: kid.clone(),
                    format: from.or(to).map_or(Format::Paseto, |s| s.0),
                    from: from.map(|s| s.1),
                    to: to.map(|s| s.1),
                })
            })
            .collect())
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
