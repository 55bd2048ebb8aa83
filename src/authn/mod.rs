//! Authentication as every running verifier does it: verify the token (or
//! recheck one verified before), fail closed if the denylist is stale, then
//! the denylist. `informly serve` and the remote verifier each hold one
//! [`Authenticator`]; neither writes the rule again.
//!
//! Why a module of its own, under feature `remote` (which `server`
//! includes): `token/` is pure — no I/O, no clock, no shared state, built
//! with feature `verifier` alone — while this holds snapshots swapped under
//! its readers (arc-swap) and a writers' lock (tokio). It is no part of
//! `http/` (the remote verifier has no axum) nor of `remote/` (the server is
//! not a downstream service). What differs between the two stays with each:
//! where keys come from ([`Keys`]), whether verified tokens are cached
//! ([`Cache`]), and what refreshes the [`LiveDenylist`] (the server's
//! database, the remote verifier's feed).

mod denylist;
pub mod metrics;

pub use denylist::{CheckError, LiveDenylist, Writer};

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::token::{self, UnixTime, Verified, Verifier};

/// Where an authenticator finds the keys: anything that lends the verifier
/// in force now, without a lock — the server's live key ring
/// (`keys::LiveKeys`, one snapshot with the keys it signs with) or the
/// remote verifier's fetched key set (an `ArcSwap<Verifier>`).
pub trait Keys: Send + Sync {
    fn with_verifier<R>(&self, f: impl FnOnce(&Verifier) -> R) -> R;
}

impl Keys for ArcSwap<Verifier> {
    fn with_verifier<R>(&self, f: impl FnOnce(&Verifier) -> R) -> R {
        f(&self.load())
    }
}

/// Verified tokens remembered by their whole string, so a repeat caller
/// skips the signature check (the server's `cache::TokenCache`). Only the
/// very same string may hit.
pub trait Cache: Send + Sync {
    /// The token as verified before, or, on a miss, what `verify` makes of
    /// it, remembered if it verified: one look-up (a cache keyed by a digest
    /// digests the token once).
    fn recall_or(
        &self,
        token: &str,
        verify: &mut dyn FnMut() -> Result<Arc<Verified>, token::Error>,
    ) -> Result<Recalled, token::Error>;

    /// Tokens remembered now (about: a concurrent cache counts lazily).
    fn entries(&self) -> u64;
}

/// Where a cache's answer came from.
pub enum Recalled {
    /// Verified before: what can change since must be checked again.
    Hit(Arc<Verified>),
    /// Verified just now.
    Fresh(Arc<Verified>),
}

/// Why a token was refused, exactly: the server answers 401 or 503 from it,
/// the remote verifier its `VerifyError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A rule of the token core: format, key, signature, claims, times.
    #[error(transparent)]
    Invalid(token::Error),
    /// The token verified but is denied (by its id, or its app's cutoff).
    /// Carries what verified, so a log line can name the token id and key.
    #[error("token has been revoked")]
    Revoked(Arc<Verified>),
    /// No denylist refresh has succeeded within the staleness bound: a
    /// revocation may have been missed, so nothing is honoured.
    #[error("the denylist is stale: no refresh has succeeded within the staleness bound")]
    Stale,
}

/// The keys, an optional cache of verified tokens and an optional denylist,
/// with the one rule that checks a bearer token against them.
pub struct Authenticator<K> {
    keys: Arc<K>,
    cache: Option<Box<dyn Cache>>,
    denylist: Option<Arc<LiveDenylist>>,
    /// Outcomes and cache look-ups, counted through the `metrics` facade.
    counters: metrics::Counters,
}

impl<K: Keys> Authenticator<K> {
    /// Checks tokens against `keys` and, when given, `denylist`. Without one,
    /// revocations are not followed (a remote verifier built
    /// `without_revocations`): nothing is revoked, nothing is stale.
    ///
    /// Its counters are registered with the `metrics` recorder installed
    /// now: install one first to have them recorded.
    pub fn new(keys: Arc<K>, denylist: Option<Arc<LiveDenylist>>) -> Authenticator<K> {
        Authenticator {
            keys,
            cache: None,
            denylist,
            counters: metrics::Counters::register(),
        }
    }

    /// Remembers verified tokens in `cache`.
    pub fn with_cache(mut self, cache: impl Cache + 'static) -> Authenticator<K> {
        self.cache = Some(Box::new(cache));
        self
    }

    pub fn keys(&self) -> &Arc<K> {
        &self.keys
    }

    pub fn denylist(&self) -> Option<&Arc<LiveDenylist>> {
        self.denylist.as_ref()
    }

    /// Tokens the cache remembers; `None` without a cache.
    pub fn cache_entries(&self) -> Option<u64> {
        self.cache.as_ref().map(|cache| cache.entries())
    }

    /// The rule, in an order that keeps garbage cheap and fails closed:
    ///
    /// 1. the token core. A token in the cache skips the signature but not
    ///    what can change since: its key's status and its times. Any other is
    ///    verified in full, and remembered;
    /// 2. a stale denylist refuses every token that got this far (garbage is
    ///    still refused for what it is);
    /// 3. the denylist.
    ///
    /// With or without a cache, the answer is the same. Lock-free. The
    /// outcome is counted ([`metrics::VERIFICATIONS`]).
    pub fn check(&self, token: &str, now: UnixTime) -> Result<Arc<Verified>, Rejection> {
        let result = self.check_uncounted(token, now);
        self.count(token, &result);
        result
    }

    /// [`Authenticator::check`] without counting the outcome: for a caller
    /// that may check again (the remote verifier, after fetching a key it did
    /// not know) and counts only the answer it gives, with
    /// [`Authenticator::count`].
    pub fn check_uncounted(&self, token: &str, now: UnixTime) -> Result<Arc<Verified>, Rejection> {
        let verified = self
            .keys
            .with_verifier(|verifier| self.verify(verifier, token, now))
            .map_err(Rejection::Invalid)?;
        if let Some(denylist) = &self.denylist {
            match denylist.check(verified.claims(), now) {
                Ok(()) => {}
                Err(CheckError::Stale) => return Err(Rejection::Stale),
                Err(CheckError::Revoked) => return Err(Rejection::Revoked(verified)),
            }
        }
        Ok(verified)
    }

    /// Counts the outcome of a check of `token` (labelled by its format,
    /// never by the token).
    pub fn count(&self, token: &str, result: &Result<Arc<Verified>, Rejection>) {
        self.counters.verified(token, result);
    }

    fn verify(
        &self,
        verifier: &Verifier,
        token: &str,
        now: UnixTime,
    ) -> Result<Arc<Verified>, token::Error> {
        let Some(cache) = &self.cache else {
            return verifier.verify(token, now).map(Arc::new);
        };
        let mut verify = || verifier.verify(token, now).map(Arc::new);
        let recalled = cache.recall_or(token, &mut verify);
        self.counters
            .cache(matches!(recalled, Ok(Recalled::Hit(_))));
        match recalled? {
            Recalled::Hit(hit) => {
                verifier.recheck(&hit, now)?;
                Ok(hit)
            }
            Recalled::Fresh(verified) => Ok(verified),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::token::{
        Denylist, Format, KeySet, KeyStatus, Policy, ScopeSet, SigningKey, Subject, TokenClaims,
    };

    const NOW: UnixTime = 1_800_000_000;
    const TOK_A: &str = "tok_01J0000000000000000000000A";
    const TOK_B: &str = "tok_01J0000000000000000000000D";

    /// A cache that never forgets.
    #[derive(Default)]
    struct Remembered(Mutex<HashMap<String, Arc<Verified>>>);

    impl Cache for Remembered {
        fn recall_or(
            &self,
            token: &str,
            verify: &mut dyn FnMut() -> Result<Arc<Verified>, token::Error>,
        ) -> Result<Recalled, token::Error> {
            if let Some(hit) = self.0.lock().unwrap().get(token).cloned() {
                return Ok(Recalled::Hit(hit));
            }
            let verified = verify()?;
            self.0
                .lock()
                .unwrap()
                .insert(token.to_owned(), verified.clone());
            Ok(Recalled::Fresh(verified))
        }

        fn entries(&self) -> u64 {
            self.0.lock().unwrap().len() as u64
        }
    }

    /// An answer, short enough to write in a table.
    #[derive(Debug, PartialEq)]
    enum Answer {
        Ok(String),
        Invalid(token::Error),
        Revoked(String),
        Stale,
    }

    fn answer(result: Result<Arc<Verified>, Rejection>) -> Answer {
        match result {
            Ok(verified) => Answer::Ok(verified.claims().token_id.clone()),
            Err(Rejection::Invalid(e)) => Answer::Invalid(e),
            Err(Rejection::Revoked(verified)) => {
                Answer::Revoked(verified.claims().token_id.clone())
            }
            Err(Rejection::Stale) => Answer::Stale,
        }
    }

    fn key(format: Format, byte: u8) -> SigningKey {
        SigningKey::from_seed(format, &[byte; 32]).unwrap()
    }

    fn token(key: &SigningKey, token_id: &str) -> String {
        let claims = TokenClaims {
            token_id: token_id.to_owned(),
            workspace: "ws_01J0000000000000000000000B".to_owned(),
            subject: Subject::App("app_01J0000000000000000000000C".to_owned()),
            scopes: ScopeSet::parse_for_app(["contacts:read"]).unwrap(),
            issued_at: NOW,
            not_before: NOW,
            expires_at: NOW + 3600,
        };
        key.sign(&claims, &Policy::default()).unwrap()
    }

    fn verifier(keys: &[(&SigningKey, KeyStatus)]) -> Verifier {
        let mut set = KeySet::new();
        for (key, status) in keys {
            set.insert(key.public_key(), *status).unwrap();
        }
        Verifier::new(set, Policy::default())
    }

    #[test]
    fn the_rule_is_verify_then_staleness_then_denylist_alike_with_or_without_a_cache() {
        let (paseto, jwt) = (key(Format::Paseto, 1), key(Format::Jwt, 2));
        let keys = Arc::new(ArcSwap::from_pointee(verifier(&[
            (&paseto, KeyStatus::Active),
            (&jwt, KeyStatus::Active),
        ])));
        let denylist = Arc::new(LiveDenylist::new(Denylist::new(), 300));
        denylist.mark_fresh(NOW);
        let cached = Authenticator::new(keys.clone(), Some(denylist.clone()))
            .with_cache(Remembered::default());
        let uncached = Authenticator::new(keys.clone(), Some(denylist.clone()));
        let unfollowed = Authenticator::new(keys.clone(), None);
        let (a, b) = (token(&paseto, TOK_A), token(&jwt, TOK_B));

        // Each step changes the world, then checks tokens at a time: (token,
        // time, answer with the denylist, answer without one, why).
        type Row<'a> = (&'a str, UnixTime, Answer, Answer, &'a str);
        type Step<'a> = (&'a str, Box<dyn Fn() + 'a>, Vec<Row<'a>>);
        let ok = |id: &str| Answer::Ok(id.to_owned());
        let steps: Vec<Step> = vec![
            (
                "fresh",
                Box::new(|| {}),
                vec![
                    (&a, NOW, ok(TOK_A), ok(TOK_A), "a PASETO token verifies"),
                    (&b, NOW, ok(TOK_B), ok(TOK_B), "a JWT verifies"),
                    (
                        "garbage",
                        NOW,
                        Answer::Invalid(token::Error::UnsupportedFormat),
                        Answer::Invalid(token::Error::UnsupportedFormat),
                        "garbage is refused for what it is",
                    ),
                ],
            ),
            (
                "a revoked",
                Box::new(|| {
                    futures::executor::block_on(denylist.update(|d| d.revoke_token(TOK_A)))
                }),
                vec![
                    (
                        &a,
                        NOW,
                        Answer::Revoked(TOK_A.into()),
                        ok(TOK_A),
                        "revoked, from the cache too",
                    ),
                    (&b, NOW, ok(TOK_B), ok(TOK_B), "another token is not"),
                ],
            ),
            (
                "stale",
                Box::new(|| {}),
                vec![
                    (
                        &a,
                        NOW + 301,
                        Answer::Stale,
                        ok(TOK_A),
                        "staleness comes before the denylist",
                    ),
                    (
                        &b,
                        NOW + 301,
                        Answer::Stale,
                        ok(TOK_B),
                        "nothing is honoured when stale",
                    ),
                    (
                        "garbage",
                        NOW + 301,
                        Answer::Invalid(token::Error::UnsupportedFormat),
                        Answer::Invalid(token::Error::UnsupportedFormat),
                        "the token core comes before staleness",
                    ),
                ],
            ),
            (
                "the JWT key retired",
                Box::new(|| {
                    denylist.mark_fresh(NOW + 301);
                    keys.store(Arc::new(verifier(&[
                        (&paseto, KeyStatus::Active),
                        (&jwt, KeyStatus::Retired),
                    ])));
                }),
                vec![
                    (
                        &b,
                        NOW + 301,
                        Answer::Invalid(token::Error::RetiredKey),
                        Answer::Invalid(token::Error::RetiredKey),
                        "a cache hit rechecks its key",
                    ),
                    (
                        &a,
                        NOW + 301,
                        Answer::Revoked(TOK_A.into()),
                        ok(TOK_A),
                        "fresh again",
                    ),
                ],
            ),
            (
                "expired",
                Box::new(|| denylist.mark_fresh(NOW + 3631)),
                vec![(
                    &a,
                    NOW + 3631,
                    Answer::Invalid(token::Error::Expired),
                    Answer::Invalid(token::Error::Expired),
                    "a cache hit rechecks its times, before revocation",
                )],
            ),
        ];
        for (step, change, rows) in steps {
            change();
            for (token, now, with, without, why) in rows {
                let uncached_answer = answer(uncached.check(token, now));
                assert_eq!(uncached_answer, with, "{step}: {why}");
                assert_eq!(
                    answer(cached.check(token, now)),
                    with,
                    "{step}, cached once: {why}"
                );
                assert_eq!(
                    answer(cached.check(token, now)),
                    with,
                    "{step}, cached twice: {why}"
                );
                assert_eq!(
                    answer(unfollowed.check(token, now)),
                    without,
                    "{step}, no denylist: {why}"
                );
            }
        }
    }
}
