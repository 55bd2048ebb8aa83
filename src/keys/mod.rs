//! The key ring on disk: one file per private key in the keys directory, each
//! with its format, creation and activation times, and retirement if any.
//!
//! A key's state is a function of those times and the clock, so every process
//! reading the same directory agrees without coordination:
//! - `pending`: activates in the future; published and accepted, not signing;
//! - `active`: the newest key of its format whose activation time has passed;
//!   exactly one per format signs;
//! - `retiring`: an older activated key; still accepted, no longer signing;
//! - `retired`: explicitly retired; refused.

mod file;
mod live;

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::token::{Format, KeySet, KeyStatus, SigningKey};

pub use file::KeyFile;
pub use live::{Generated, KeyChange, LiveKeys, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "keys directory {0} does not exist: create it with `mkdir -m 700 {0}` or point --keys-dir (INFORMLY_KEYS_DIR) at the right one"
    )]
    DirMissing(PathBuf),
    #[error("keys directory {0} is not a directory")]
    NotADir(PathBuf),
    #[error(
        "keys directory {0} is writable by group or others (mode {1:04o}): run `chmod 700 {0}`"
    )]
    DirWritable(PathBuf, u32),
    #[error(
        "key file {0} is readable or writable by group or others (mode {1:04o}): run `chmod 600 {0}`"
    )]
    Unprotected(PathBuf, u32),
    #[error("key file {0} is a symbolic link: put the key file itself in the keys directory")]
    Symlink(PathBuf),
    #[error("key file {0} is not a regular file")]
    NotAFile(PathBuf),
    #[error(
        "key file {0} is {1} bytes, not a key file (at most 4096): move it out of the keys directory"
    )]
    Size(PathBuf, u64),
    #[error("key file {0} is not a valid key file: {1}")]
    Invalid(PathBuf, String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("no key with id {0}")]
    UnknownKid(String),
    #[error(
        "key {0} is the active {1} key: rotate first (`informly keys rotate --format {1}`), then retire it"
    )]
    RetireActive(String, Format),
    #[error("key {0} is already retired")]
    AlreadyRetired(String),
    #[error("could not generate a key: {0}")]
    Generate(String),
}

/// One key of the ring.
#[derive(Debug)]
pub struct KeyEntry {
    pub key: SigningKey,
    pub created_at: OffsetDateTime,
    pub activates_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub path: PathBuf,
}

impl KeyEntry {
    pub fn format(&self) -> Format {
        self.key.format()
    }

    pub fn kid(&self) -> &str {
        self.key.kid()
    }
}

/// Every key in the keys directory.
#[derive(Debug)]
pub struct KeyRing {
    dir: PathBuf,
    entries: Vec<KeyEntry>,
}

impl KeyRing {
    /// Loads every `*.key` file of `dir`, refusing the directory or any file
    /// that is unsafe or malformed (with the file and the fix in the message).
    pub fn load(dir: &Path) -> Result<KeyRing, Error> {
        let entries = file::load_dir(dir)?;
        Ok(KeyRing {
            dir: dir.to_owned(),
            entries,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// The state of `entry` at `now`.
    pub fn status(&self, entry: &KeyEntry, now: OffsetDateTime) -> KeyStatus {
        if entry.retired_at.is_some() {
            KeyStatus::Retired
        } else if entry.activates_at > now {
            KeyStatus::Pending
        } else if self
            .active(entry.format(), now)
            .is_some_and(|active| active.kid() == entry.kid())
        {
            KeyStatus::Active
        } else {
            KeyStatus::Retiring
        }
    }

    /// The key that signs tokens of `format` at `now`: the most recently
    /// activated key that is not retired (then the most recently created, then
    /// the greatest key id, so the answer is always one key).
    pub fn active(&self, format: Format, now: OffsetDateTime) -> Option<&KeyEntry> {
        self.entries
            .iter()
            .filter(|e| e.format() == format && e.retired_at.is_none() && e.activates_at <= now)
            .max_by(|a, b| {
                (a.activates_at, a.created_at, a.kid()).cmp(&(
                    b.activates_at,
                    b.created_at,
                    b.kid(),
                ))
            })
    }

    /// The public keys with their states at `now`, for verification and for the
    /// published documents.
    pub fn key_set(&self, now: OffsetDateTime) -> KeySet {
        let mut set = KeySet::new();
        for entry in &self.entries {
            // Key ids are unique in a loaded ring (checked at load).
            let _ = set.insert(entry.key.public_key(), self.status(entry, now));
        }
        set
    }

    /// Makes sure `format` has a key that signs at `now`, generating the first
    /// one if the ring has none that can ever sign. Returns the generated key.
    pub fn ensure_signing_key(
        &mut self,
        format: Format,
        now: OffsetDateTime,
    ) -> Result<Option<&KeyEntry>, Error> {
        if self.active(format, now).is_some() {
            return Ok(None);
        }
        self.add(format, now, now).map(Some)
    }

    /// Adds a new key of `format` that activates `activate_after` seconds from
    /// `now` (pending until then).
    pub fn rotate(
        &mut self,
        format: Format,
        now: OffsetDateTime,
        activate_after: i64,
    ) -> Result<&KeyEntry, Error> {
        self.add(format, now, now + Duration::seconds(activate_after.max(0)))
    }

    fn add(
        &mut self,
        format: Format,
        now: OffsetDateTime,
        activates_at: OffsetDateTime,
    ) -> Result<&KeyEntry, Error> {
        let key = SigningKey::generate(format).map_err(|e| Error::Generate(e.to_string()))?;
        // Creation times strictly increase, so of two keys activating at the same
        // instant the newer one signs, whatever the clock's resolution.
        let created_at = self
            .entries
            .iter()
            .map(|e| e.created_at + Duration::nanoseconds(1))
            .fold(now, OffsetDateTime::max);
        let entry = file::create(&self.dir, key, created_at, activates_at)?;
        self.entries.push(entry);
        Ok(&self.entries[self.entries.len() - 1])
    }

    /// Retires `kid`: from now on tokens it signed are refused. The active key
    /// of a format cannot be retired (rotate first), so a format never loses
    /// its signer by accident.
    pub fn retire(&mut self, kid: &str, now: OffsetDateTime) -> Result<&KeyEntry, Error> {
        let index = self
            .entries
            .iter()
            .position(|e| e.kid() == kid)
            .ok_or_else(|| Error::UnknownKid(kid.to_owned()))?;
        let entry = &self.entries[index];
        match self.status(entry, now) {
            KeyStatus::Retired => return Err(Error::AlreadyRetired(kid.to_owned())),
            KeyStatus::Active => return Err(Error::RetireActive(kid.to_owned(), entry.format())),
            KeyStatus::Pending | KeyStatus::Retiring => {}
        }
        let entry = &mut self.entries[index];
        entry.retired_at = Some(now);
        file::write(entry)?;
        Ok(&self.entries[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const T0: i64 = 1_800_000_000;

    /// T0 plus `secs` (and a little, so keys made in one test differ in time).
    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(T0 + secs).unwrap()
    }

    fn ring() -> (tempfile::TempDir, KeyRing) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let ring = KeyRing::load(dir.path()).unwrap();
        (dir, ring)
    }

    #[test]
    fn the_first_key_of_each_format_is_generated_once_and_is_active() {
        let (_dir, mut ring) = ring();
        for format in Format::ALL {
            let kid = ring
                .ensure_signing_key(format, at(0))
                .unwrap()
                .unwrap()
                .kid()
                .to_owned();
            assert!(ring.ensure_signing_key(format, at(0)).unwrap().is_none());
            assert_eq!(ring.active(format, at(0)).unwrap().kid(), kid);
        }
        assert_eq!(ring.entries().len(), 2);
    }

    #[test]
    fn rotation_with_delay_goes_pending_then_active_and_the_old_key_retires_gracefully() {
        let (dir, mut ring) = ring();
        let old = ring
            .ensure_signing_key(Format::Paseto, at(0))
            .unwrap()
            .unwrap()
            .kid()
            .to_owned();
        let new = ring
            .rotate(Format::Paseto, at(10), 300)
            .unwrap()
            .kid()
            .to_owned();

        let status = |ring: &KeyRing, kid: &str, now| {
            let entry = ring.entries().iter().find(|e| e.kid() == kid).unwrap();
            ring.status(entry, now)
        };
        assert_eq!(status(&ring, &new, at(10)), KeyStatus::Pending);
        assert_eq!(status(&ring, &old, at(10)), KeyStatus::Active);
        assert_eq!(status(&ring, &new, at(310)), KeyStatus::Active);
        assert_eq!(status(&ring, &old, at(310)), KeyStatus::Retiring);

        // Another process reading the directory sees the same states.
        let reloaded = KeyRing::load(dir.path()).unwrap();
        assert_eq!(status(&reloaded, &new, at(310)), KeyStatus::Active);
        assert_eq!(status(&reloaded, &old, at(10)), KeyStatus::Active);
    }

    #[test]
    fn exactly_one_key_per_format_is_active_at_any_time() {
        let (_dir, mut ring) = ring();
        ring.ensure_signing_key(Format::Jwt, at(0)).unwrap();
        ring.rotate(Format::Jwt, at(0), 0).unwrap();
        ring.rotate(Format::Jwt, at(0), 60).unwrap();
        ring.ensure_signing_key(Format::Paseto, at(0)).unwrap();
        for now in [at(0), at(59), at(60), at(1000)] {
            for format in Format::ALL {
                let active = ring
                    .entries()
                    .iter()
                    .filter(|e| e.format() == format && ring.status(e, now) == KeyStatus::Active)
                    .count();
                assert_eq!(active, 1, "{format} at {now}");
            }
        }
    }

    #[test]
    fn a_key_rotated_in_the_same_instant_as_the_last_one_takes_over() {
        let (_dir, mut ring) = ring();
        let first = ring
            .ensure_signing_key(Format::Jwt, at(0))
            .unwrap()
            .unwrap()
            .kid()
            .to_owned();
        for _ in 0..5 {
            let new = ring.rotate(Format::Jwt, at(0), 0).unwrap().kid().to_owned();
            assert_eq!(ring.active(Format::Jwt, at(0)).unwrap().kid(), new);
        }
        let entry = ring.entries().iter().find(|e| e.kid() == first).unwrap();
        assert_eq!(ring.status(entry, at(0)), KeyStatus::Retiring);
    }

    #[test]
    fn the_active_key_cannot_be_retired_but_a_retiring_one_can() {
        let (dir, mut ring) = ring();
        let old = ring
            .ensure_signing_key(Format::Jwt, at(0))
            .unwrap()
            .unwrap()
            .kid()
            .to_owned();
        assert!(matches!(
            ring.retire(&old, at(0)),
            Err(Error::RetireActive(..))
        ));
        ring.rotate(Format::Jwt, at(1), 0).unwrap();
        ring.retire(&old, at(2)).unwrap();
        assert!(matches!(
            ring.retire(&old, at(3)),
            Err(Error::AlreadyRetired(_))
        ));
        assert!(matches!(
            ring.retire("nope", at(0)),
            Err(Error::UnknownKid(_))
        ));

        let reloaded = KeyRing::load(dir.path()).unwrap();
        let entry = reloaded.entries().iter().find(|e| e.kid() == old).unwrap();
        assert_eq!(reloaded.status(entry, at(3)), KeyStatus::Retired);
        assert_eq!(
            reloaded.key_set(at(3)).get(&old).unwrap().1,
            KeyStatus::Retired
        );
    }
}
