//! Token expiry as asked for at issuance: `expires_at` (RFC 3339) or
//! `expires_in` (seconds, or a duration such as `30d`, `12h`, `15m`), and the
//! one duration syntax every setting and form uses: whole seconds, or numbers
//! with the units s, m, h, d and w (`1w 2d`, `90m`). Months and years are
//! refused: their length varies, and a token's lifetime must not.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::UnixTime;

/// A token must live at least this long, so a clock a little behind does not
/// hand out tokens that are dead on arrival.
pub const MIN_LIFETIME: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Expires this many seconds after issuance.
    In(i64),
    /// Expires at this instant.
    At(UnixTime),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error(
        "`{0}` is not a duration: use seconds, or the units s, m, h, d and w (e.g. 90d, 12h, 1w 2d)"
    )]
    BadDuration(String),
    #[error(
        "`{0}`: months and years vary in length; give days (e.g. 30d, 365d) or an exact time to expire at"
    )]
    CalendarDuration(String),
    #[error("`{0}` is not a time: use RFC 3339, such as 2030-01-01T00:00:00Z")]
    BadTime(String),
    #[error("the expiry is in the past")]
    InPast,
    #[error("the expiry must be at least {MIN_LIFETIME} seconds away")]
    TooSoon,
    #[error("the expiry may be at most {} away", Human(*.0))]
    TooFar(i64),
}

impl Expiry {
    /// Parses `expires_in`: a whole number of seconds, or a duration with units.
    pub fn parse_in(s: &str) -> Result<Expiry, ExpiryError> {
        parse_duration(s).map(Expiry::In)
    }

    /// Parses `expires_at`: an RFC 3339 time.
    pub fn parse_at(s: &str) -> Result<Expiry, ExpiryError> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Expiry::At(t.unix_timestamp()))
            .map_err(|_| ExpiryError::BadTime(s.to_owned()))
    }

    /// The `exp` of a token issued at `now`, if it is at least a minute and at
    /// most `max_lifetime` seconds away.
    pub fn resolve(self, now: UnixTime, max_lifetime: i64) -> Result<UnixTime, ExpiryError> {
        let expires_at = match self {
            Expiry::In(secs) => now.saturating_add(secs),
            Expiry::At(at) => at,
        };
        let lifetime = expires_at.saturating_sub(now);
        if lifetime <= 0 {
            Err(ExpiryError::InPast)
        } else if lifetime < MIN_LIFETIME {
            Err(ExpiryError::TooSoon)
        } else if lifetime > max_lifetime {
            Err(ExpiryError::TooFar(max_lifetime))
        } else {
            Ok(expires_at)
        }
    }
}

/// The units a duration may use, as humantime spells them.
const UNITS: [&str; 17] = [
    "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes", "h", "hr",
    "hour", "hours", "d", "day", "days",
];
const WEEKS: [&str; 3] = ["w", "week", "weeks"];
const CALENDAR: [&str; 8] = ["mo", "month", "months", "y", "yr", "year", "years", "M"];

/// A duration in whole seconds that fit an i64: whole seconds, or numbers
/// with the units s, m, h, d and w (humantime does the arithmetic; only
/// those units are let through).
pub fn parse_duration(s: &str) -> Result<i64, ExpiryError> {
    let bad = || ExpiryError::BadDuration(s.to_owned());
    let trimmed = s.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed.parse().map_err(|_| bad());
    }
    for unit in trimmed
        .split(|c: char| c.is_ascii_digit() || c.is_whitespace())
        .filter(|unit| !unit.is_empty())
    {
        if CALENDAR.contains(&unit) {
            return Err(ExpiryError::CalendarDuration(s.to_owned()));
        }
        if !UNITS.contains(&unit) && !WEEKS.contains(&unit) {
            return Err(bad());
        }
    }
    let d = humantime::parse_duration(trimmed).map_err(|_| bad())?;
    if d.subsec_nanos() != 0 {
        return Err(bad());
    }
    i64::try_from(d.as_secs()).map_err(|_| bad())
}

/// Prints seconds in the largest whole unit: `366d`, `24h`, `90s`.
pub struct Human(pub i64);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s {
            _ if s >= 2 * 86_400 && s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            _ if s != 0 && s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            _ if s != 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_800_000_000;
    const MAX: i64 = 366 * 86_400;

    #[test]
    fn expires_in_takes_seconds_and_units() {
        for (input, secs) in [
            ("3600", 3600),
            ("30d", 30 * 86_400),
            ("12h", 43_200),
            ("15m", 900),
            ("1h 30m", 5400),
            ("2w", 14 * 86_400),
            ("1w 2d", 9 * 86_400),
            ("90 days", 90 * 86_400),
        ] {
            assert_eq!(Expiry::parse_in(input), Ok(Expiry::In(secs)), "{input}");
        }
    }

    #[test]
    fn expires_in_rejects_garbage() {
        for bad in [
            "",
            "-5",
            "soon",
            "30x",
            "99999999999999999999999",
            "10ms",
            "1.5h",
        ] {
            assert_eq!(
                Expiry::parse_in(bad),
                Err(ExpiryError::BadDuration(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn months_and_years_are_refused_with_a_hint() {
        for calendar in ["1 month", "1mo", "2 months", "1y", "1 year", "1M"] {
            let error = Expiry::parse_in(calendar).unwrap_err();
            assert_eq!(error, ExpiryError::CalendarDuration(calendar.to_owned()));
            assert!(error.to_string().contains("give days"), "{error}");
        }
    }

    #[test]
    fn expiry_must_be_future_a_minute_away_and_within_the_maximum() {
        assert_eq!(Expiry::In(0).resolve(NOW, MAX), Err(ExpiryError::InPast));
        assert_eq!(
            Expiry::At(NOW - 1).resolve(NOW, MAX),
            Err(ExpiryError::InPast)
        );
        assert_eq!(Expiry::In(59).resolve(NOW, MAX), Err(ExpiryError::TooSoon));
        assert_eq!(Expiry::In(60).resolve(NOW, MAX), Ok(NOW + 60));
        assert_eq!(Expiry::In(MAX).resolve(NOW, MAX), Ok(NOW + MAX));
        assert_eq!(
            Expiry::In(MAX + 1).resolve(NOW, MAX),
            Err(ExpiryError::TooFar(MAX))
        );
        assert_eq!(
            Expiry::In(i64::MAX).resolve(NOW, MAX),
            Err(ExpiryError::TooFar(MAX))
        );
    }

    #[test]
    fn expires_at_is_rfc3339() {
        assert_eq!(
            Expiry::parse_at("1970-01-01T00:01:40Z"),
            Ok(Expiry::At(100))
        );
        assert_eq!(
            Expiry::parse_at("2030-01-01T00:00:00+02:00"),
            Ok(Expiry::At(1_893_456_000 - 7_200))
        );
        assert!(matches!(
            Expiry::parse_at("tomorrow"),
            Err(ExpiryError::BadTime(_))
        ));
    }

    #[test]
    fn too_far_message_names_the_maximum() {
        assert_eq!(
            ExpiryError::TooFar(MAX).to_string(),
            "the expiry may be at most 366d away"
        );
    }
}
