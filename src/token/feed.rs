//! The revocation feed: the denylist (or its changes since a cursor) as a
//! signed document, so a downstream verifier can follow it through a cache or a
//! CDN and check it offline with the published PASETO keys.
//!
//! A feed is a PASETO v4.public token with our `{"kid"}` footer, signed with
//! the implicit assertion [`FEED_ASSERTION`]: access tokens are signed with
//! none, so a feed never verifies as an access token, nor a token as a feed.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::claims::TimeClaim;
use super::json::Object;
use super::keys::PublicInner;
use super::{
    Denylist, Error, Format, KeySet, Policy, SigningKey, UnixTime, is_prefixed_id, paseto,
};

/// The PASETO implicit assertion of a revocation feed, format version 2. A
/// change to the payload that an older reader would misread gets a new one:
/// version 2 added `revoked[].from`, the second a scheduled revocation (a
/// roll) takes effect, which a version 1 reader would have applied at once.
pub const FEED_ASSERTION: &[u8] = b"informly:revocation-feed:v2";

/// Feeds longer than this are refused before any decoding work.
pub const MAX_FEED_LEN: usize = 16 * 1024 * 1024;

/// Cursors are short opaque strings; anything longer was not made by us.
const MAX_CURSOR_LEN: usize = 256;

/// One page of the feed, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationFeed {
    /// `iss`: the deployment that signed it (the token issuer).
    pub issuer: String,
    /// `iat`: the server's time when it built the page.
    pub issued_at: UnixTime,
    /// `exp`: the page is refused after this (plus the leeway), so an old page
    /// replayed by a cache or an attacker cannot roll a verifier back.
    pub expires_at: UnixTime,
    /// `since`: the cursor the page answers, as the client sent it (`None`
    /// when it sent none). Binds the page to the request.
    pub since: Option<String>,
    /// `next`: the cursor to ask with next time.
    pub next: String,
    /// `full`: the page is the whole denylist, which replaces what the client
    /// holds; otherwise it holds changes to merge in.
    pub full: bool,
    /// `revoked`: revoked token ids with their tokens' expiry.
    pub revoked: Vec<RevokedToken>,
    /// `cutoffs`: per-app cutoffs.
    pub cutoffs: Vec<AppCutoff>,
}

/// A revoked token: `{"jti", "exp", "from"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    /// `jti`: the token id.
    pub token_id: String,
    /// `exp`: the token's expiry; after it the entry denies nothing more.
    pub expires_at: UnixTime,
    /// `from`: the second the revocation takes effect (a rolled token is
    /// accepted until then); `None` (`null`): at once.
    pub from: Option<UnixTime>,
}

/// An app's cutoff: `{"client_id", "cutoff", "exp"}`. Every token of the app
/// issued at or before `cutoff` is revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCutoff {
    /// `client_id`: the app id, as in the tokens' `client_id` and `sub`.
    pub client_id: String,
    /// `cutoff`: inclusive (`iat <= cutoff` is revoked).
    pub cutoff: UnixTime,
    /// `exp`: no token of the app can be valid after this.
    pub expires_at: UnixTime,
}

/// Why a feed was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("feed is longer than {MAX_FEED_LEN} bytes")]
    TooLarge,
    /// The token layer refused it: format, footer, key (unknown, retired, of
    /// the other format) or signature, including a token that is not a feed.
    #[error("feed {0}")]
    Token(Error),
    #[error("feed payload is missing fields, has unknown ones or values of the wrong type")]
    Invalid,
    #[error("feed issuer is wrong")]
    WrongIssuer,
    #[error("feed has expired")]
    Expired,
    #[error("feed was issued in the future")]
    IssuedInFuture,
    #[error("feed answers another cursor than the one asked for")]
    CursorMismatch,
}

impl From<Error> for FeedError {
    fn from(e: Error) -> Self {
        FeedError::Token(e)
    }
}

/// The payload as it travels: times are RFC 3339 strings, as in PASETO tokens.
/// Unknown and duplicate fields are refused.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFeed<'a> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(borrow)]
    iat: Cow<'a, str>,
    #[serde(borrow)]
    exp: Cow<'a, str>,
    /// Always present (`null` without a cursor): a missing member is refused.
    #[serde(deserialize_with = "present")]
    since: Option<Cow<'a, str>>,
    #[serde(borrow)]
    next: Cow<'a, str>,
    full: bool,
    #[serde(borrow)]
    revoked: Vec<Object<WireRevoked<'a>>>,
    #[serde(borrow)]
    cutoffs: Vec<Object<WireCutoff<'a>>>,
}

/// serde's derive reads a missing `Option` member as `None`; a member read
/// through this must be there (`null` is `None`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRevoked<'a> {
    #[serde(borrow)]
    jti: Cow<'a, str>,
    #[serde(borrow)]
    exp: Cow<'a, str>,
    /// Always present (`null`: at once).
    #[serde(borrow, deserialize_with = "present")]
    from: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCutoff<'a> {
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow)]
    cutoff: Cow<'a, str>,
    #[serde(borrow)]
    exp: Cow<'a, str>,
}

fn write_time(t: UnixTime) -> Result<Cow<'static, str>, Error> {
    <Cow<'static, str> as TimeClaim>::write(t)
}

fn read_time(t: &str) -> Result<UnixTime, FeedError> {
    Cow::Borrowed(t).read().map_err(|_| FeedError::Invalid)
}

/// A cursor is 1–256 base64url characters: opaque, but never anything else.
fn is_cursor(s: &str) -> bool {
    (1..=MAX_CURSOR_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl RevocationFeed {
    /// Signs this page with `key`, which must be a PASETO key (the active one).
    pub fn sign(&self, key: &SigningKey) -> Result<String, Error> {
        let wire = WireFeed {
            iss: Cow::Borrowed(&self.issuer),
            iat: write_time(self.issued_at)?,
            exp: write_time(self.expires_at)?,
            since: self.since.as_deref().map(Cow::Borrowed),
            next: Cow::Borrowed(&self.next),
            full: self.full,
            revoked: self
                .revoked
                .iter()
                .map(|r| {
                    Ok(Object(WireRevoked {
                        jti: Cow::Borrowed(&r.token_id),
                        exp: write_time(r.expires_at)?,
                        from: r.from.map(write_time).transpose()?,
                    }))
                })
                .collect::<Result<_, Error>>()?,
            cutoffs: self
                .cutoffs
                .iter()
                .map(|c| {
                    Ok(Object(WireCutoff {
                        client_id: Cow::Borrowed(&c.client_id),
                        cutoff: write_time(c.cutoff)?,
                        exp: write_time(c.expires_at)?,
                    }))
                })
                .collect::<Result<_, Error>>()?,
        };
        let payload = serde_json::to_vec(&wire).map_err(|_| Error::Signing)?;
        key.sign_paseto_document(&payload, FEED_ASSERTION)
    }

    /// Verifies a feed offline at `now`, with the public keys of `keys` (e.g.
    /// read from `/.well-known/paserk.json`) and the issuer and leeway of
    /// `policy`. `asked` is the cursor the client sent (`None` for none): the
    /// page must say it answers exactly that one.
    ///
    /// Key rules are those of tokens: the footer's `kid` picks the key, which
    /// must be a known PASETO key that is not retired.
    pub fn verify(
        feed: &str,
        keys: &KeySet,
        policy: &Policy,
        asked: Option<&str>,
        now: UnixTime,
    ) -> Result<RevocationFeed, FeedError> {
        if feed.len() > MAX_FEED_LEN {
            return Err(FeedError::TooLarge);
        }
        if !feed.starts_with(paseto::HEADER) {
            return Err(Error::UnsupportedFormat.into());
        }
        let kid = paseto::key_id(feed)?;
        let PublicInner::Paseto(key) = keys.verifying_key(&kid, Format::Paseto)? else {
            return Err(Error::WrongKeyFormat.into());
        };
        let message = paseto::verify(key.as_ref(), feed, FEED_ASSERTION)?;
        let page = RevocationFeed::parse(&message)?;
        if page.issuer != policy.issuer {
            return Err(FeedError::WrongIssuer);
        }
        if now > page.expires_at.saturating_add(policy.leeway) {
            return Err(FeedError::Expired);
        }
        if page.issued_at > now.saturating_add(policy.leeway) {
            return Err(FeedError::IssuedInFuture);
        }
        if page.since.as_deref() != asked {
            return Err(FeedError::CursorMismatch);
        }
        Ok(page)
    }

    /// Reads a signed payload into a page, checking every field's shape.
    fn parse(json: &[u8]) -> Result<RevocationFeed, FeedError> {
        if json.first() != Some(&b'{') {
            return Err(FeedError::Invalid);
        }
        let wire: WireFeed = serde_json::from_slice(json).map_err(|_| FeedError::Invalid)?;
        let cursors_ok = is_cursor(&wire.next) && wire.since.as_deref().is_none_or(is_cursor);
        if !cursors_ok {
            return Err(FeedError::Invalid);
        }
        let issued_at = read_time(&wire.iat)?;
        let expires_at = read_time(&wire.exp)?;
        if expires_at < issued_at {
            return Err(FeedError::Invalid);
        }
        let revoked = wire
            .revoked
            .iter()
            .map(|Object(r)| {
                if !is_prefixed_id(&r.jti, "tok_") {
                    return Err(FeedError::Invalid);
                }
                Ok(RevokedToken {
                    token_id: r.jti.clone().into_owned(),
                    expires_at: read_time(&r.exp)?,
                    from: r.from.as_deref().map(read_time).transpose()?,
                })
            })
            .collect::<Result<_, _>>()?;
        let cutoffs = wire
            .cutoffs
            .iter()
            .map(|Object(c)| {
                if !is_prefixed_id(&c.client_id, "app_") {
                    return Err(FeedError::Invalid);
                }
                Ok(AppCutoff {
                    client_id: c.client_id.clone().into_owned(),
                    cutoff: read_time(&c.cutoff)?,
                    expires_at: read_time(&c.exp)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(RevocationFeed {
            issuer: wire.iss.into_owned(),
            issued_at,
            expires_at,
            since: wire.since.map(Cow::into_owned),
            next: wire.next.into_owned(),
            full: wire.full,
            revoked,
            cutoffs,
        })
    }

    /// Applies this page to a verifier's denylist: a full page replaces it, a
    /// page of changes is merged in (entries are only ever added; cutoffs only
    /// move forward). Entries come with their expiry, so the verifier prunes
    /// with [`Denylist::prune`] at its own time minus the leeway.
    pub fn apply(&self, denylist: &mut Denylist) {
        if self.full {
            *denylist = Denylist::new();
        }
        for revoked in &self.revoked {
            denylist.schedule_revocation(
                revoked.token_id.clone(),
                revoked.from.unwrap_or(UnixTime::MIN),
                revoked.expires_at,
            );
        }
        for cutoff in &self.cutoffs {
            denylist.set_cutoff_until(cutoff.client_id.clone(), cutoff.cutoff, cutoff.expires_at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{KeyStatus, ScopeSet, Subject, TokenClaims, Verifier};

    const NOW: UnixTime = 1_800_000_000;
    const TOKEN: &str = "tok_01J0000000000000000000000A";
    const OTHER_TOKEN: &str = "tok_01J0000000000000000000000B";
    const APP: &str = "app_01J0000000000000000000000C";

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_seed(Format::Paseto, &[byte; 32]).unwrap()
    }

    fn keys_of(key: &SigningKey, status: KeyStatus) -> KeySet {
        let mut keys = KeySet::new();
        keys.insert(key.public_key(), status).unwrap();
        keys
    }

    fn page(since: Option<&str>, full: bool) -> RevocationFeed {
        RevocationFeed {
            issuer: Policy::DEFAULT_ISSUER.to_owned(),
            issued_at: NOW,
            expires_at: NOW + 60,
            since: since.map(str::to_owned),
            next: "bmV4dA".to_owned(),
            full,
            revoked: vec![RevokedToken {
                token_id: TOKEN.to_owned(),
                expires_at: NOW + 3600,
                from: None,
            }],
            cutoffs: vec![AppCutoff {
                client_id: APP.to_owned(),
                cutoff: NOW - 10,
                expires_at: NOW + 7200,
            }],
        }
    }

    fn claims(token_id: &str, app: &str, issued_at: UnixTime) -> TokenClaims {
        TokenClaims {
            token_id: token_id.to_owned(),
            workspace: "ws_01J0000000000000000000000D".to_owned(),
            subject: Subject::App(app.to_owned()),
            scopes: ScopeSet::EMPTY,
            issued_at,
            not_before: issued_at,
            expires_at: issued_at + 3600,
        }
    }

    fn verify(feed: &str, keys: &KeySet, asked: Option<&str>) -> Result<RevocationFeed, FeedError> {
        RevocationFeed::verify(feed, keys, &Policy::default(), asked, NOW)
    }

    #[test]
    fn a_signed_feed_verifies_with_the_public_key_alone_and_reads_back_unchanged() {
        let key = key(1);
        let original = page(Some("c2luY2U"), false);
        let feed = original.sign(&key).unwrap();
        assert!(feed.starts_with("v4.public."));
        let keys = keys_of(&key, KeyStatus::Active);
        assert_eq!(verify(&feed, &keys, Some("c2luY2U")), Ok(original));
        // Pending and retiring keys verify too, as for tokens.
        for status in [KeyStatus::Pending, KeyStatus::Retiring] {
            assert!(verify(&feed, &keys_of(&key, status), Some("c2luY2U")).is_ok());
        }
    }

    #[test]
    fn a_feed_from_an_unknown_or_retired_key_or_tampered_with_is_refused() {
        let key = key(1);
        let feed = page(None, true).sign(&key).unwrap();
        assert_eq!(
            verify(&feed, &keys_of(&self::key(2), KeyStatus::Active), None),
            Err(FeedError::Token(Error::UnknownKey))
        );
        assert_eq!(
            verify(&feed, &keys_of(&key, KeyStatus::Retired), None),
            Err(FeedError::Token(Error::RetiredKey))
        );
        let keys = keys_of(&key, KeyStatus::Active);
        // Flip one bit of the payload (the first character after the header).
        let mut bytes = feed.clone().into_bytes();
        let at = "v4.public.".len() + 5;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            verify(&tampered, &keys, None),
            Err(FeedError::Token(Error::BadSignature))
        );
        assert_eq!(
            verify("not a feed", &keys, None),
            Err(FeedError::Token(Error::UnsupportedFormat))
        );
        let huge = format!("v4.public.{}", "A".repeat(MAX_FEED_LEN));
        assert_eq!(verify(&huge, &keys, None), Err(FeedError::TooLarge));
    }

    #[test]
    fn a_feed_is_never_an_access_token_and_an_access_token_is_never_a_feed() {
        let key = key(1);
        let keys = keys_of(&key, KeyStatus::Active);
        let feed = page(None, true).sign(&key).unwrap();
        let verifier = Verifier::new(keys.clone(), Policy::default());
        assert_eq!(verifier.verify(&feed, NOW), Err(Error::BadSignature));

        let token = key
            .sign(&claims(TOKEN, APP, NOW), &Policy::default())
            .unwrap();
        assert!(verifier.verify(&token, NOW).is_ok());
        assert_eq!(
            verify(&token, &keys, None),
            Err(FeedError::Token(Error::BadSignature))
        );
        // Even a payload shaped like a feed, signed as a token, is refused.
        let payload = serde_json::json!({
            "iss": "informly", "iat": "2027-01-15T08:00:00Z", "exp": "2027-01-15T08:01:00Z",
            "since": null, "next": "bmV4dA", "full": true, "revoked": [], "cutoffs": [],
        });
        let footer = format!(r#"{{"kid":"{}"}}"#, key.kid());
        let forged = key
            .sign_raw(footer.as_bytes(), payload.to_string().as_bytes())
            .unwrap();
        assert_eq!(
            verify(&forged, &keys, None),
            Err(FeedError::Token(Error::BadSignature))
        );
    }

    #[test]
    fn a_jwt_key_neither_signs_nor_verifies_a_feed() {
        let jwt = SigningKey::from_seed(Format::Jwt, &[3; 32]).unwrap();
        assert_eq!(page(None, true).sign(&jwt), Err(Error::WrongKeyFormat));
    }

    #[test]
    fn a_feed_is_refused_once_expired_before_issued_for_another_cursor_or_issuer() {
        let key = key(1);
        let keys = keys_of(&key, KeyStatus::Active);
        let feed = page(Some("YQ"), false).sign(&key).unwrap();
        let at = |now| RevocationFeed::verify(&feed, &keys, &Policy::default(), Some("YQ"), now);
        assert!(at(NOW + 60 + 30).is_ok(), "within exp plus the leeway");
        assert_eq!(at(NOW + 60 + 31), Err(FeedError::Expired));
        assert!(at(NOW - 30).is_ok(), "iat within the leeway");
        assert_eq!(at(NOW - 31), Err(FeedError::IssuedInFuture));
        assert_eq!(
            verify(&feed, &keys, Some("Yg")),
            Err(FeedError::CursorMismatch)
        );
        assert_eq!(verify(&feed, &keys, None), Err(FeedError::CursorMismatch));
        let other = Policy {
            issuer: "staging".to_owned(),
            ..Policy::default()
        };
        assert_eq!(
            RevocationFeed::verify(&feed, &keys, &other, Some("YQ"), NOW),
            Err(FeedError::WrongIssuer)
        );
    }

    #[test]
    fn payloads_that_break_the_format_are_refused_even_when_validly_signed() {
        let key = key(1);
        let keys = keys_of(&key, KeyStatus::Active);
        let good = serde_json::json!({
            "iss": "informly", "iat": "2027-01-15T08:00:00Z", "exp": "2027-01-15T08:01:00Z",
            "since": null, "next": "bmV4dA", "full": true,
            "revoked": [{"jti": TOKEN, "exp": "2027-01-15T09:00:00Z", "from": null}],
            "cutoffs": [{"client_id": APP, "cutoff": "2027-01-15T07:00:00Z", "exp": "2028-01-15T07:00:00Z"}],
        });
        let sign = |payload: &[u8]| key.sign_paseto_document(payload, FEED_ASSERTION).unwrap();
        let at = time::macros::datetime!(2027-01-15 08:00:30 UTC).unix_timestamp();
        let check = |payload: &[u8]| {
            RevocationFeed::verify(&sign(payload), &keys, &Policy::default(), None, at)
        };
        let parsed = check(good.to_string().as_bytes());
        assert!(parsed.is_ok(), "{parsed:?}");

        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            v.to_string()
        };
        let cases: Vec<(&str, String)> = vec![
            ("an unknown field", edit(&|v| v["extra"] = 1.into())),
            (
                "a missing field",
                edit(&|v| {
                    v.as_object_mut().unwrap().remove("next");
                }),
            ),
            (
                "a time without Z or offset",
                edit(&|v| v["iat"] = "2027-01-15T08:00:00".into()),
            ),
            ("a numeric time", edit(&|v| v["exp"] = 1_800_000_000.into())),
            (
                "exp before iat",
                edit(&|v| v["exp"] = "2027-01-15T07:00:00Z".into()),
            ),
            ("an empty cursor", edit(&|v| v["next"] = "".into())),
            ("a cursor with a dot", edit(&|v| v["next"] = "a.b".into())),
            (
                "a jti that is not a token id",
                edit(&|v| v["revoked"][0]["jti"] = "x'; drop".into()),
            ),
            (
                "a client_id that is not an app id",
                edit(&|v| v["cutoffs"][0]["client_id"] = "admin:root".into()),
            ),
            (
                "an unknown field in an entry",
                edit(&|v| v["revoked"][0]["workspace"] = "ws".into()),
            ),
            (
                "an entry without from (it is null for at once, never missing)",
                edit(&|v| {
                    v["revoked"][0].as_object_mut().unwrap().remove("from");
                }),
            ),
            (
                "a numeric from",
                edit(&|v| v["revoked"][0]["from"] = 1_800_000_000.into()),
            ),
            ("full as a string", edit(&|v| v["full"] = "true".into())),
            ("an array", "[]".to_owned()),
            (
                "no since (it is null when there is no cursor, never missing)",
                edit(&|v| {
                    v.as_object_mut().unwrap().remove("since");
                }),
            ),
            (
                "an entry as an array of its values",
                edit(&|v| v["revoked"][0] = serde_json::json!([TOKEN, "2027-01-15T09:00:00Z"])),
            ),
            (
                "a cutoff as an array of its values",
                edit(&|v| {
                    v["cutoffs"][0] =
                        serde_json::json!([APP, "2027-01-15T07:00:00Z", "2028-01-15T07:00:00Z"])
                }),
            ),
            (
                "a duplicate field",
                good.to_string()
                    .replacen("\"full\":true", "\"full\":true,\"full\":false", 1),
            ),
        ];
        for (why, payload) in cases {
            assert_eq!(
                check(payload.as_bytes()),
                Err(FeedError::Invalid),
                "{why}: {payload}"
            );
        }
    }

    #[test]
    fn a_page_of_changes_merges_into_the_denylist_and_a_full_page_replaces_it() {
        let mut denylist = Denylist::new();
        denylist.revoke_token_until(OTHER_TOKEN, NOW + 100);

        page(Some("YQ"), false).apply(&mut denylist);
        assert!(denylist.is_token_revoked(TOKEN));
        assert!(
            denylist.is_token_revoked(OTHER_TOKEN),
            "merged, not replaced"
        );
        assert_eq!(denylist.cutoff(APP), Some(NOW - 10));
        assert_eq!(
            denylist.check(&claims(TOKEN, APP, NOW), NOW),
            Err(Error::Revoked)
        );
        let other_app = "app_01J0000000000000000000000E";
        assert_eq!(
            denylist.check(
                &claims("tok_01J0000000000000000000000F", APP, NOW - 10),
                NOW
            ),
            Err(Error::Revoked),
            "cutoffs are inclusive"
        );
        assert_eq!(
            denylist.check(&claims("tok_01J0000000000000000000000F", APP, NOW - 9), NOW),
            Ok(())
        );
        assert_eq!(
            denylist.check(
                &claims("tok_01J0000000000000000000000F", other_app, NOW - 10),
                NOW
            ),
            Ok(())
        );

        // An older cutoff never moves a newer one back.
        let mut older = page(Some("YQ"), false);
        older.cutoffs[0].cutoff = NOW - 1000;
        older.apply(&mut denylist);
        assert_eq!(denylist.cutoff(APP), Some(NOW - 10));

        let mut full = page(None, true);
        full.revoked.clear();
        full.apply(&mut denylist);
        assert!(!denylist.is_token_revoked(TOKEN));
        assert!(!denylist.is_token_revoked(OTHER_TOKEN), "replaced");
        assert_eq!(denylist.cutoff(APP), Some(NOW - 10));
    }

    #[test]
    fn pruning_drops_entries_whose_tokens_have_expired_and_keeps_the_rest() {
        let mut denylist = Denylist::new();
        page(None, true).apply(&mut denylist);
        denylist.revoke_token_until(OTHER_TOKEN, NOW + 100);
        denylist.revoke_token("tok_01J0000000000000000000000G");
        assert_eq!(denylist.len(), 4);
        assert_eq!(denylist.prune(NOW + 100), 0, "the boundary is kept");
        assert_eq!(denylist.prune(NOW + 101), 1);
        assert!(!denylist.is_token_revoked(OTHER_TOKEN));
        assert!(denylist.is_token_revoked(TOKEN));
        assert_eq!(denylist.prune(NOW + 3601), 1);
        assert_eq!(denylist.prune(NOW + 7201), 1);
        assert_eq!(denylist.cutoff(APP), None);
        assert!(
            denylist.is_token_revoked("tok_01J0000000000000000000000G"),
            "an entry without an expiry stays"
        );
    }
}
