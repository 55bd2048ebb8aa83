//! Opaque, time-sortable ids with a type prefix: `ws_…`, `app_…`, `tok_…`
//! (a ULID underneath, so ids sort by creation time).

pub const WORKSPACE: &str = "ws_";
pub const APP: &str = "app_";
pub const TOKEN: &str = "tok_";
pub const CONTACT: &str = "ct_";

pub fn new(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new())
}

/// Whether `s` is an id of the given type (prefix and ULID body).
pub fn is_valid(s: &str, prefix: &str) -> bool {
    crate::token::is_prefixed_id(s, prefix)
}
