//! Pagination cursors: opaque to clients, authenticated by us. A cursor is the
//! last id of a page plus an HMAC-SHA256 tag over (purpose, workspace, id), so
//! a forged or edited cursor, or one from another workspace, is refused (400).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The tag is truncated to this many bytes: 128 bits, ample against forgery.
const TAG_LEN: usize = 16;

/// The key, shared by every instance through the database (`secrets` table).
pub struct CursorKey(Zeroizing<Vec<u8>>);

impl CursorKey {
    /// The name of the secret in the store.
    pub const SECRET_NAME: &str = "cursor-hmac-sha256";

    pub fn new(key: Vec<u8>) -> CursorKey {
        CursorKey(Zeroizing::new(key))
    }

    /// A fresh random key, base64url, for the store.
    pub fn generate() -> String {
        crate::ids::secret()
    }

    fn mac(&self, purpose: &str, workspace: &str, id: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        for part in [purpose, workspace, id] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The cursor that resumes a `purpose` listing of `workspace` after `id`.
    pub fn seal(&self, purpose: &str, workspace: &str, id: &str) -> String {
        let tag = self.mac(purpose, workspace, id).finalize().into_bytes();
        let mut bytes = id.as_bytes().to_vec();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The id inside `cursor`, if we made it for this purpose and workspace.
    pub fn open(&self, purpose: &str, workspace: &str, cursor: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let split = bytes.len().checked_sub(TAG_LEN)?;
        let (id, tag) = bytes.split_at(split);
        let id = std::str::from_utf8(id).ok()?;
        self.mac(purpose, workspace, id)
            .verify_truncated_left(tag)
            .ok()?;
        Some(id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_purpose_and_workspace_and_only_unaltered() {
        let key = CursorKey::new(vec![7; 32]);
        let cursor = key.seal("contacts", "ws_a", "ct_1");
        assert_eq!(
            key.open("contacts", "ws_a", &cursor).as_deref(),
            Some("ct_1")
        );
        assert_eq!(key.open("contacts", "ws_b", &cursor), None);
        assert_eq!(key.open("apps", "ws_a", &cursor), None);
        assert_eq!(
            CursorKey::new(vec![8; 32]).open("contacts", "ws_a", &cursor),
            None
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[0] ^= 1;
        assert_eq!(
            key.open("contacts", "ws_a", &URL_SAFE_NO_PAD.encode(bytes)),
            None
        );
        for garbage in ["", "!!", "abc", &URL_SAFE_NO_PAD.encode("ct_1")] {
            assert_eq!(key.open("contacts", "ws_a", garbage), None, "{garbage:?}");
        }
    }
}
