//! What the authenticator counts, through the `metrics` facade: every check's
//! outcome by token format, and the verified-token cache's hits and misses.
//! The handles are registered once, when the authenticator is built (with
//! whatever recorder is installed then: the server's Prometheus recorder, a
//! downstream service's own, or none), so a check costs one atomic add.

use metrics::Counter;

use super::Rejection;
use crate::token::{self, Format, Verified};

/// `informly_token_verifications_total{outcome, format}`.
pub const VERIFICATIONS: &str = "informly_token_verifications_total";
/// `informly_token_cache_requests_total{result}`: `hit` or `miss`.
pub const CACHE_REQUESTS: &str = "informly_token_cache_requests_total";

/// Why a check ended as it did, in a word: the `outcome` label. Few on
/// purpose (a rule of the token core maps to the family it belongs to), so
/// an alert can name what broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Expired,
    NotYetValid,
    Revoked,
    BadSignature,
    UnknownKey,
    RetiredKey,
    Malformed,
    TooLarge,
    /// Issuer, audience, lifetime, issued in the future, missing claims.
    InvalidClaims,
    /// The denylist is stale: refused whatever the token (503).
    Stale,
}

impl Outcome {
    pub const ALL: [Outcome; 11] = [
        Outcome::Accepted,
        Outcome::Expired,
        Outcome::NotYetValid,
        Outcome::Revoked,
        Outcome::BadSignature,
        Outcome::UnknownKey,
        Outcome::RetiredKey,
        Outcome::Malformed,
        Outcome::TooLarge,
        Outcome::InvalidClaims,
        Outcome::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Expired => "expired",
            Outcome::NotYetValid => "not_yet_valid",
            Outcome::Revoked => "revoked",
            Outcome::BadSignature => "bad_signature",
            Outcome::UnknownKey => "unknown_key",
            Outcome::RetiredKey => "retired_key",
            Outcome::Malformed => "malformed",
            Outcome::TooLarge => "too_large",
            Outcome::InvalidClaims => "invalid_claims",
            Outcome::Stale => "stale",
        }
    }

    /// The outcome of a check's result. Exhaustive on purpose: a new rule of
    /// the token core must be given its family here.
    pub fn of(result: &Result<std::sync::Arc<Verified>, Rejection>) -> Outcome {
        match result {
            Ok(_) => Outcome::Accepted,
            Err(Rejection::Revoked(_)) => Outcome::Revoked,
            Err(Rejection::Stale) => Outcome::Stale,
            Err(Rejection::Invalid(e)) => match e {
                token::Error::TooLarge => Outcome::TooLarge,
                token::Error::UnsupportedFormat
                | token::Error::Malformed
                | token::Error::NonCanonical
                | token::Error::BadFooter
                | token::Error::MissingKeyId
                | token::Error::Algorithm
                | token::Error::WrongType
                | token::Error::ForbiddenHeader => Outcome::Malformed,
                token::Error::UnknownKey | token::Error::WrongKeyFormat => Outcome::UnknownKey,
                token::Error::RetiredKey => Outcome::RetiredKey,
                token::Error::BadSignature => Outcome::BadSignature,
                token::Error::InvalidClaims
                | token::Error::WrongIssuer
                | token::Error::WrongAudience
                | token::Error::IssuedInFuture
                | token::Error::LifetimeTooLong
                | token::Error::Signing => Outcome::InvalidClaims,
                token::Error::Expired => Outcome::Expired,
                token::Error::NotYetValid => Outcome::NotYetValid,
                token::Error::Revoked => Outcome::Revoked,
            },
        }
    }
}

/// The `format` label: the token's own format once verified, otherwise what
/// its opening bytes claim (`unknown` for neither). Never the token.
fn format_index(token: &str, result: &Result<std::sync::Arc<Verified>, Rejection>) -> usize {
    let format = match result {
        Ok(verified) | Err(Rejection::Revoked(verified)) => Some(verified.format()),
        _ if token.starts_with("v4.public.") => Some(Format::Paseto),
        _ if token.starts_with("eyJ") => Some(Format::Jwt),
        _ => None,
    };
    match format {
        Some(Format::Paseto) => 0,
        Some(Format::Jwt) => 1,
        None => 2,
    }
}

const FORMATS: [&str; 3] = ["paseto", "jwt", "unknown"];

/// The counters, registered once.
pub(super) struct Counters {
    verifications: [[Counter; 3]; Outcome::ALL.len()],
    cache_hits: Counter,
    cache_misses: Counter,
}

impl Counters {
    pub(super) fn register() -> Counters {
        Counters {
            verifications: Outcome::ALL.map(|outcome| {
                FORMATS.map(|format| {
                    metrics::counter!(VERIFICATIONS, "outcome" => outcome.as_str(), "format" => format)
                })
            }),
            cache_hits: metrics::counter!(CACHE_REQUESTS, "result" => "hit"),
            cache_misses: metrics::counter!(CACHE_REQUESTS, "result" => "miss"),
        }
    }

    pub(super) fn verified(
        &self,
        token: &str,
        result: &Result<std::sync::Arc<Verified>, Rejection>,
    ) {
        let outcome = Outcome::of(result) as usize;
        self.verifications[outcome][format_index(token, result)].increment(1);
    }

    pub(super) fn cache(&self, hit: bool) {
        match hit {
            true => self.cache_hits.increment(1),
            false => self.cache_misses.increment(1),
        }
    }
}

/// `informly_denylist_entries`: entries the denylist holds.
pub const DENYLIST_ENTRIES: &str = "informly_denylist_entries";
/// `informly_denylist_last_refresh_timestamp_seconds`: when (Unix seconds) a
/// refresh last succeeded; `time() -` it is the staleness.
pub const DENYLIST_REFRESHED: &str = "informly_denylist_last_refresh_timestamp_seconds";
/// `informly_keys_loaded`: keys known, every format and state.
pub const KEYS_LOADED: &str = "informly_keys_loaded";
/// `informly_keys_last_reload_timestamp_seconds`: when the keys were last
/// loaded successfully.
pub const KEYS_RELOADED: &str = "informly_keys_last_reload_timestamp_seconds";

/// A denylist refresh succeeded at `now` (Unix seconds) with `entries`.
pub fn denylist_refreshed(now: crate::token::UnixTime, entries: usize) {
    metrics::gauge!(DENYLIST_REFRESHED).set(now as f64);
    metrics::gauge!(DENYLIST_ENTRIES).set(entries as f64);
}

/// The keys were loaded at `now` (Unix seconds): `loaded` of them.
pub fn keys_reloaded(now: crate::token::UnixTime, loaded: usize) {
    metrics::gauge!(KEYS_RELOADED).set(now as f64);
    metrics::gauge!(KEYS_LOADED).set(loaded as f64);
}

/// Describes the authenticator's metrics to the recorder installed (their
/// `# HELP` lines).
pub fn describe() {
    metrics::describe_counter!(
        VERIFICATIONS,
        "Bearer token checks by outcome and token format"
    );
    metrics::describe_counter!(
        CACHE_REQUESTS,
        "Verified-token cache look-ups by result (hit skips the signature check)"
    );
    metrics::describe_gauge!(DENYLIST_ENTRIES, "Entries the denylist holds");
    metrics::describe_gauge!(
        DENYLIST_REFRESHED,
        metrics::Unit::Seconds,
        "When the denylist was last refreshed successfully (Unix time)"
    );
    metrics::describe_gauge!(KEYS_LOADED, "Keys known, every format and state");
    metrics::describe_gauge!(
        KEYS_RELOADED,
        metrics::Unit::Seconds,
        "When the keys were last loaded successfully (Unix time)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_listed_in_the_order_of_their_index() {
        for (i, outcome) in Outcome::ALL.iter().enumerate() {
            assert_eq!(*outcome as usize, i, "{outcome:?}");
        }
    }

    #[test]
    fn a_refused_token_is_labelled_by_what_its_opening_claims_never_by_itself() {
        let bad = Err(Rejection::Invalid(token::Error::BadSignature));
        assert_eq!(format_index("v4.public.AAAA", &bad), 0);
        assert_eq!(format_index("eyJhbGciOi.x.y", &bad), 1);
        assert_eq!(format_index("garbage", &bad), 2);
        assert_eq!(Outcome::of(&bad), Outcome::BadSignature);
        assert_eq!(
            Outcome::of(&Err(Rejection::Invalid(token::Error::Expired))),
            Outcome::Expired
        );
        assert_eq!(Outcome::of(&Err(Rejection::Stale)), Outcome::Stale);
    }
}
