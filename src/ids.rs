//! Opaque, time-sortable ids with a type prefix: `ws_…`, `app_…`, `tok_…`,
//! `ct_…`, `usr_…` (a ULID underneath, so ids sort by creation time).

use std::sync::Mutex;

pub const WORKSPACE: &str = "ws_";
pub const APP: &str = "app_";
pub const TOKEN: &str = "tok_";
pub const CONTACT: &str = "ct_";
pub const USER: &str = "usr_";

/// Monotonic within this process: ids made in the same millisecond still sort
/// in the order they were made.
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

pub fn new(prefix: &str) -> String {
    let ulid = GENERATOR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .generate()
        // 2^80 ids in one millisecond: fall back to a random one.
        .unwrap_or_else(|_| ulid::Ulid::new());
    format!("{prefix}{ulid}")
}

/// A fresh secret: 256 random bits from the OS, base64url (43 characters).
/// For secrets that are stored or sent as text: cookie and CSRF values,
/// shared server keys.
pub fn secret() -> String {
    use base64::Engine as _;
    use rand_core::RngCore as _;
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    rand_core::OsRng.fill_bytes(bytes.as_mut());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice())
}

/// Whether `s` is an id of the given type (prefix and ULID body).
pub fn is_valid(s: &str, prefix: &str) -> bool {
    crate::token::is_prefixed_id(s, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_well_formed_and_sort_in_creation_order() {
        let ids: Vec<String> = (0..1000).map(|_| new(CONTACT)).collect();
        assert!(ids.iter().all(|id| is_valid(id, CONTACT)));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
