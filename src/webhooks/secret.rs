//! Signing secrets. Each endpoint's secret is derived (HKDF-SHA256) from one
//! master key kept in the keys directory beside the signing keys, by the
//! endpoint's id and the secret's generation: the database holds no secret,
//! so a copy of it cannot forge a message, and every instance sharing the
//! keys directory signs alike.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::RngCore as _;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The master key, 32 random bytes.
pub struct MasterKey(Zeroizing<[u8; 32]>);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: not a webhook master key (32 bytes, base64url)")]
    Invalid(PathBuf),
    #[error("{0} is readable by others (mode {1:o}): it must be 0600")]
    Mode(PathBuf, u32),
}

impl MasterKey {
    /// The file's name in the keys directory.
    pub const FILE: &str = "webhooks.secret";

    /// Reads the master key from `dir`, creating it (0600) if missing.
    pub fn load_or_create(dir: &Path) -> Result<MasterKey, Error> {
        let path = dir.join(Self::FILE);
        let io = |e| Error::Io(path.clone(), e);
        let mut fresh = Zeroizing::new([0u8; 32]);
        rand_core::OsRng.fill_bytes(fresh.as_mut());
        let mut line = Zeroizing::new(URL_SAFE_NO_PAD.encode(fresh.as_slice()));
        line.push('\n');
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(line.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                return Ok(MasterKey(fresh));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Mode(path, mode));
        }
        let text = Zeroizing::new(fs::read_to_string(&path).map_err(io)?);
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| Error::Invalid(path.clone()))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::Invalid(path.clone()))?;
        Ok(MasterKey(Zeroizing::new(key)))
    }

    /// The secret of generation `version` of `endpoint`.
    pub fn endpoint_secret(&self, endpoint: &str, version: i64) -> EndpointSecret {
        let hkdf = Hkdf::<Sha256>::new(None, self.0.as_slice());
        let mut key = Zeroizing::new(vec![0u8; 32]);
        let info = format!("informly webhook endpoint secret\0{endpoint}\0{version}");
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32.
        hkdf.expand(info.as_bytes(), key.as_mut())
            .unwrap_or_else(|_| unreachable!());
        EndpointSecret(key)
    }
}

/// One endpoint's signing secret.
pub struct EndpointSecret(Zeroizing<Vec<u8>>);

impl EndpointSecret {
    /// As shown to the admin, once: `whsec_` and the key in base64.
    pub fn reveal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("whsec_{}", STANDARD.encode(self.0.as_slice())))
    }

    /// The signature of a message: base64 of HMAC-SHA256 over
    /// `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// The `webhook-signature` header: `v1,<signature>` for each secret,
/// separated by spaces (the newest first).
pub fn signature_header(
    secrets: &[EndpointSecret],
    id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .map(|secret| format!("v1,{}", secret.sign(id, timestamp, body)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(dir.path()).unwrap();
        let again = MasterKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(MasterKey::FILE);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (a, b) = (
            first.endpoint_secret("we_1", 1),
            again.endpoint_secret("we_1", 1),
        );
        assert_eq!(*a.reveal(), *b.reveal());
        assert_ne!(*a.reveal(), *first.endpoint_secret("we_1", 2).reveal());
        assert_ne!(*a.reveal(), *first.endpoint_secret("we_2", 1).reveal());

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load_or_create(dir.path()).err().unwrap();
        assert!(err.to_string().contains("must be 0600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "short\n").unwrap();
        let err = MasterKey::load_or_create(dir.path()).err().unwrap();
        assert!(
            err.to_string().contains("not a webhook master key"),
            "{err}"
        );
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The specification's own example (its reference libraries' tests):
        // the secret, id, timestamp and body, and the signature they give.
        let secret = EndpointSecret(Zeroizing::new(
            STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        ));
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
