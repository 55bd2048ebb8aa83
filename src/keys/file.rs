//! Key files: reading them safely and writing them atomically.
//!
//! Like OpenSSH with private keys, we refuse files others can read, symlinks,
//! and anything that is not a small regular file. Writes go to a temporary file
//! created with mode 0600 in the same directory, are synced, then renamed over
//! the target, so a reader sees the old file or the new one, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Error, KeyEntry};
use crate::token::{Format, SigningKey};

/// Larger files are not ours; refuse before reading them.
const MAX_FILE_LEN: u64 = 4096;
const EXTENSION: &str = "key";

/// What a key file holds (JSON). `secret` is PASERK `k4.secret.…` for PASETO
/// keys and the base64url Ed25519 seed (the JWK `d`) for JWT keys.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub format: Format,
    pub kid: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub activates_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    pub secret: Zeroizing<String>,
}

pub(super) fn load_dir(dir: &Path) -> Result<Vec<KeyEntry>, Error> {
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::DirMissing(dir.to_owned()));
        }
        Err(e) => return Err(Error::Io(dir.to_owned(), e)),
    };
    if !meta.is_dir() {
        return Err(Error::NotADir(dir.to_owned()));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Error::DirWritable(dir.to_owned(), mode));
    }

    let mut paths = Vec::new();
    for item in fs::read_dir(dir).map_err(|e| Error::Io(dir.to_owned(), e))? {
        let item = item.map_err(|e| Error::Io(dir.to_owned(), e))?;
        let path = item.path();
        let name = item.file_name();
        let name = name.to_string_lossy();
        // Temporary files of an interrupted write start with a dot.
        if !name.starts_with('.') && path.extension().is_some_and(|ext| ext == EXTENSION) {
            paths.push(path);
        }
    }
    paths.sort();

    let mut entries: Vec<KeyEntry> = Vec::with_capacity(paths.len());
    for path in paths {
        let entry = read(&path)?;
        if entries.iter().any(|e| e.kid() == entry.kid()) {
            return Err(Error::Invalid(
                path,
                format!("key {} is also in another file", entry.kid()),
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

fn read(path: &Path) -> Result<KeyEntry, Error> {
    let io = |e| Error::Io(path.to_owned(), e);
    // O_NOFOLLOW: a symlink fails to open instead of being followed, so the
    // checks below are about the file we actually read.
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::Symlink(path.to_owned()));
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::NotAFile(path.to_owned()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::Unprotected(path.to_owned(), mode));
    }
    if meta.len() == 0 || meta.len() > MAX_FILE_LEN {
        return Err(Error::Size(path.to_owned(), meta.len()));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(|_| Error::Invalid(path.to_owned(), "not UTF-8 text".to_owned()))?;

    let invalid = |why: String| Error::Invalid(path.to_owned(), why);
    let stored: KeyFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let key = match stored.format {
        Format::Paseto => SigningKey::from_paserk(&stored.secret),
        Format::Jwt => SigningKey::from_jwk_d(&stored.secret),
    }
    .map_err(|e| invalid(e.to_string()))?;
    if key.kid() != stored.kid {
        return Err(invalid(format!(
            "kid {} does not match the key",
            stored.kid
        )));
    }
    Ok(KeyEntry {
        key,
        created_at: stored.created_at,
        activates_at: stored.activates_at,
        retired_at: stored.retired_at,
        path: path.to_owned(),
    })
}

/// Writes a new key file for `key` and returns its entry.
pub(super) fn create(
    dir: &Path,
    key: SigningKey,
    now: OffsetDateTime,
    activates_at: OffsetDateTime,
) -> Result<KeyEntry, Error> {
    // The kid is base64url: safe in a file name. Drop the `k4.pid.` prefix.
    let id = key.kid().rsplit('.').next().unwrap_or(key.kid());
    let path = dir.join(format!("{}-{id}.{EXTENSION}", key.format()));
    let entry = KeyEntry {
        key,
        created_at: now,
        activates_at,
        retired_at: None,
        path,
    };
    write(&entry)?;
    Ok(entry)
}

/// Writes `entry` to its path atomically, mode 0600.
pub(super) fn write(entry: &KeyEntry) -> Result<(), Error> {
    let path = &entry.path;
    let io = |e| Error::Io(path.clone(), e);
    let stored = KeyFile {
        format: entry.format(),
        kid: entry.kid().to_owned(),
        created_at: entry.created_at,
        activates_at: entry.activates_at,
        retired_at: entry.retired_at,
        secret: entry.key.to_secret_string(),
    };
    let mut json = Zeroizing::new(
        serde_json::to_vec_pretty(&stored)
            .map_err(|e| Error::Invalid(path.clone(), e.to_string()))?,
    );
    json.push(b'\n');

    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRing;

    fn dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    fn one_key(dir: &Path) -> PathBuf {
        let mut ring = KeyRing::load(dir).unwrap();
        ring.ensure_signing_key(Format::Paseto, OffsetDateTime::now_utc())
            .unwrap();
        ring.entries()[0].path.clone()
    }

    fn load_err(dir: &Path) -> String {
        KeyRing::load(dir).unwrap_err().to_string()
    }

    #[test]
    fn key_files_are_written_with_mode_0600_and_read_back() {
        let dir = dir();
        let path = one_key(dir.path());
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(KeyRing::load(dir.path()).unwrap().entries().len(), 1);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_directory_is_refused_with_the_fix() {
        let dir = dir();
        let missing = dir.path().join("nope");
        let err = load_err(&missing);
        assert!(
            err.contains("does not exist") && err.contains("mkdir -m 700"),
            "{err}"
        );
    }

    #[test]
    fn a_group_readable_key_file_is_refused_naming_the_file_and_chmod() {
        let dir = dir();
        let path = one_key(dir.path());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_err(dir.path());
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains("mode 0644") && err.contains("chmod 600"),
            "{err}"
        );
    }

    #[test]
    fn a_world_writable_directory_is_refused() {
        let dir = dir();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(load_err(dir.path()).contains("chmod 700"));
    }

    #[test]
    fn a_symlinked_key_file_is_refused() {
        let dir = dir();
        let path = one_key(dir.path());
        let elsewhere = dir.path().join("real.json");
        fs::rename(&path, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        assert!(load_err(dir.path()).contains("symbolic link"));
    }

    #[test]
    fn empty_and_oversized_key_files_are_refused() {
        let dir = dir();
        let path = dir.path().join("paseto-x.key");
        for len in [0usize, 10 * 1024 * 1024] {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .unwrap();
            file.write_all(&vec![b' '; len]).unwrap();
            let err = load_err(dir.path());
            assert!(err.contains(&format!("is {len} bytes")), "{err}");
        }
    }

    fn rewrite_secret(path: &Path, secret: &str) {
        let mut stored: serde_json::Value =
            serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        stored["secret"] = secret.into();
        fs::write(path, serde_json::to_vec(&stored).unwrap()).unwrap();
    }

    #[test]
    fn an_all_zero_seed_is_refused_before_it_reaches_pasetors() {
        let dir = dir();
        let path = one_key(dir.path());
        // k4.secret-1 from the PASERK vectors: seed of zeros.
        rewrite_secret(
            &path,
            "k4.secret.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA7aie8zrakLWKjqNAqbw1zZTIVdx3iQ6Y6wEihi1naKQ",
        );
        let err = load_err(dir.path());
        assert!(
            err.contains("all zeros") && err.contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_secret_of_the_wrong_size_is_refused() {
        let dir = dir();
        let path = one_key(dir.path());
        rewrite_secret(&path, "k4.secret.AAAA");
        assert!(load_err(dir.path()).contains("32 bytes") || load_err(dir.path()).contains("is 3"));
    }

    #[test]
    fn a_kid_that_does_not_match_the_key_is_refused() {
        let dir = dir();
        let path = one_key(dir.path());
        let mut stored: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        stored["kid"] = "k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
        fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
        assert!(load_err(dir.path()).contains("does not match"));
    }
}
