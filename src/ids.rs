//! Opaque, time-sortable ids with a type prefix: `ws_…`, `app_…`, `tok_…`,
//! `ct_…`, `usr_…`, `we_…`, `msg_…`, `att_…` (a ULID underneath, so ids sort by creation time).
//!
//! Each kind of id is its own type ([`WorkspaceId`], [`AppId`], …), parsed
//! once at the edge (`parse`) or read back from the database, so an app id can
//! never be passed where a token id belongs.

use std::fmt;
use std::sync::Mutex;

/// Monotonic within this process: ids made in the same millisecond still sort
/// in the order they were made.
static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

fn new(prefix: &str) -> String {
    let ulid = GENERATOR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .generate()
        // 2^80 ids in one millisecond: fall back to a random one.
        .unwrap_or_else(|_| ulid::Ulid::new());
    format!("{prefix}{ulid}")
}

/// What every kind of id offers, for code that takes any of them.
pub trait Id: Sized {
    /// What the id names, for messages ("app `app_…` not found").
    const WHAT: &'static str;
    fn parse(s: &str) -> Option<Self>;
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident => $prefix:literal, $what:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            /// What the id names, for messages ("app `app_…` not found").
            pub const WHAT: &'static str = $what;

            /// A fresh id.
            pub fn generate() -> $name {
                $name(new($prefix))
            }

            /// Reads an id from outside (a path, a flag, a token claim):
            /// `None` unless it has this type's prefix and a ULID body.
            pub fn parse(s: &str) -> Option<$name> {
                crate::token::is_prefixed_id(s, $prefix).then(|| $name(s.to_owned()))
            }

            /// An id we wrote ourselves, read back from the database or
            /// from a token whose signature we verified: well formed. (Not
            /// every kind is read back as its type.)
            #[allow(dead_code)]
            pub(crate) fn trusted(s: String) -> $name {
                $name(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Id for $name {
            const WHAT: &'static str = $what;
            fn parse(s: &str) -> Option<$name> {
                $name::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    )*};
}

ids! {
    /// A workspace: the tenant every other record belongs to.
    WorkspaceId => "ws_", "workspace";
    /// An app: an integration that holds tokens.
    AppId => "app_", "app";
    /// A token (its `jti`).
    TokenId => "tok_", "token";
    /// A contact of the Contacts API.
    ContactId => "ct_", "contact";
    /// A dashboard user.
    UserId => "usr_", "dashboard user";
    /// A webhook endpoint.
    WebhookEndpointId => "we_", "webhook endpoint";
    /// A webhook message: its `webhook-id`, the same on every attempt.
    MessageId => "msg_", "webhook message";
    /// A delivery attempt of a webhook message.
    AttemptId => "att_", "delivery attempt";
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_well_formed_and_sort_in_creation_order() {
        let ids: Vec<ContactId> = (0..1000).map(|_| ContactId::generate()).collect();
        assert!(ids.iter().all(|id| ContactId::parse(id.as_str()).is_some()));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn an_id_of_one_kind_does_not_parse_as_another() {
        let app = AppId::generate();
        assert!(TokenId::parse(app.as_str()).is_none());
        assert!(AppId::parse(&format!("{app}x")).is_none());
        assert!(AppId::parse("app_").is_none());
    }
}
