//! Claims: what a token says, how it is written in each format, and the rules a
//! verified token must meet (issuer, audience, times, lifetime).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Error, ScopeSet};

/// Seconds since the Unix epoch. Token times have one-second granularity.
pub type UnixTime = i64;

/// The rules a deployment applies to the tokens it issues and accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `iss`, compared exactly.
    pub issuer: String,
    /// Our identifier in `aud`, compared exactly.
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: i64,
    /// Longest `exp - iat` of an app token, in seconds.
    pub max_lifetime: i64,
    /// Longest `exp - iat` of an admin token, in seconds.
    pub max_admin_lifetime: i64,
}

impl Policy {
    pub const DEFAULT_ISSUER: &str = "informly";
    pub const DEFAULT_AUDIENCE: &str = "informly-api";
    pub const DEFAULT_LEEWAY: i64 = 30;
    pub const DEFAULT_MAX_LIFETIME: i64 = 366 * 24 * 3600;
    pub const DEFAULT_MAX_ADMIN_LIFETIME: i64 = 24 * 3600;

    /// The longest lifetime allowed for tokens of this subject.
    pub fn max_lifetime_for(&self, subject: &Subject) -> i64 {
        match subject {
            Subject::App(_) => self.max_lifetime,
            Subject::Admin(_) => self.max_admin_lifetime,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            issuer: Self::DEFAULT_ISSUER.to_owned(),
            audience: Self::DEFAULT_AUDIENCE.to_owned(),
            leeway: Self::DEFAULT_LEEWAY,
            max_lifetime: Self::DEFAULT_MAX_LIFETIME,
            max_admin_lifetime: Self::DEFAULT_MAX_ADMIN_LIFETIME,
        }
    }
}

/// Who a token speaks for: `sub` and `client_id`. App ids (`app_…`) and admin
/// subjects (`admin:…`) come from disjoint namespaces, so one can never pass for
/// the other (RFC 9068 §5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    App(String),
    Admin(String),
}

impl Subject {
    const ADMIN_PREFIX: &str = "admin:";

    pub fn as_claim(&self) -> Cow<'_, str> {
        match self {
            Subject::App(id) => Cow::Borrowed(id),
            Subject::Admin(who) => Cow::Owned(format!("{}{who}", Self::ADMIN_PREFIX)),
        }
    }

    fn from_claim(claim: &str) -> Option<Subject> {
        if let Some(who) = claim.strip_prefix(Self::ADMIN_PREFIX) {
            return is_name(who).then(|| Subject::Admin(who.to_owned()));
        }
        is_prefixed_id(claim, "app_").then(|| Subject::App(claim.to_owned()))
    }

    pub fn app_id(&self) -> Option<&str> {
        match self {
            Subject::App(id) => Some(id),
            Subject::Admin(_) => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Subject::Admin(_))
    }
}

/// The content of a token, in our terms. It is what the issuer signs and what
/// the verifier returns once every rule has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// `jti`: the token id, `tok_…`.
    pub token_id: String,
    /// `workspace`: the tenant, `ws_…`.
    pub workspace: String,
    /// `sub` and `client_id`.
    pub subject: Subject,
    /// `scope`.
    pub scopes: ScopeSet,
    pub issued_at: UnixTime,
    pub not_before: UnixTime,
    pub expires_at: UnixTime,
}

/// The claims as they travel. `T` is how times are written: RFC 3339 strings in
/// PASETO, NumericDate integers in JWT. Unknown claims are refused and so are
/// duplicate ones (serde's "duplicate field"), which the PASETO spec requires
/// and RFC 7519 allows.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireClaims<'a, T> {
    #[serde(borrow)]
    iss: Cow<'a, str>,
    #[serde(borrow)]
    aud: Audience<'a>,
    #[serde(borrow)]
    sub: Cow<'a, str>,
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    #[serde(borrow)]
    jti: Cow<'a, str>,
    #[serde(borrow)]
    workspace: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    scope: Option<Cow<'a, str>>,
    iat: T,
    nbf: T,
    exp: T,
}

/// `aud`: a string, or an array of strings (RFC 7519 §4.1.3). Anything else is
/// refused by the parser.
pub(super) enum Audience<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl Audience<'_> {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

impl Serialize for Audience<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Audience::One(one) => s.serialize_str(one),
            Audience::Many(many) => many.serialize(s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;

        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Owned(v.to_owned())))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut many = Vec::new();
                while let Some(one) = seq.next_element::<Cow<'de, str>>()? {
                    many.push(one);
                }
                Ok(Audience::Many(many))
            }
        }

        d.deserialize_any(AudienceVisitor)
    }
}

/// How a format writes its times.
pub(super) trait TimeClaim: Sized {
    fn write(t: UnixTime) -> Result<Self, Error>;
    fn read(&self) -> Result<UnixTime, Error>;
}

/// JWT NumericDate. Only non-negative integers: floats, `1e300`, values past
/// i64 and strings are refused by the parser or here.
impl TimeClaim for i64 {
    fn write(t: UnixTime) -> Result<Self, Error> {
        Ok(t)
    }

    fn read(&self) -> Result<UnixTime, Error> {
        if *self < 0 {
            return Err(Error::InvalidClaims);
        }
        Ok(*self)
    }
}

/// PASETO RFC 3339 strings, with the uppercase `T` and `Z` the PASETO spec asks
/// for (the `time` crate alone would also take `t`, `z` or a space).
impl TimeClaim for Cow<'_, str> {
    fn write(t: UnixTime) -> Result<Self, Error> {
        let at = OffsetDateTime::from_unix_timestamp(t).map_err(|_| Error::Signing)?;
        at.format(&Rfc3339)
            .map(Cow::Owned)
            .map_err(|_| Error::Signing)
    }

    fn read(&self) -> Result<UnixTime, Error> {
        let s = self.as_bytes();
        if s.len() < 20 || s[10] != b'T' || s.ends_with(b"z") {
            return Err(Error::InvalidClaims);
        }
        OffsetDateTime::parse(self, &Rfc3339)
            .map(OffsetDateTime::unix_timestamp)
            .map_err(|_| Error::InvalidClaims)
    }
}

impl TokenClaims {
    /// The wire form of these claims, as signed by the issuer.
    pub(super) fn to_wire<'a, T: TimeClaim>(
        &'a self,
        policy: &'a Policy,
    ) -> Result<WireClaims<'a, T>, Error> {
        let subject = self.subject.as_claim();
        Ok(WireClaims {
            iss: Cow::Borrowed(&policy.issuer),
            aud: Audience::One(Cow::Borrowed(&policy.audience)),
            client_id: subject.clone(),
            sub: subject,
            jti: Cow::Borrowed(&self.token_id),
            workspace: Cow::Borrowed(&self.workspace),
            scope: Some(Cow::Owned(self.scopes.to_claim())),
            iat: T::write(self.issued_at)?,
            nbf: T::write(self.not_before)?,
            exp: T::write(self.expires_at)?,
        })
    }

    /// Checks every claim rule on a token whose signature has been verified, and
    /// returns the claims in our terms.
    pub(super) fn from_wire<T: TimeClaim>(
        wire: WireClaims<'_, T>,
        policy: &Policy,
        now: UnixTime,
    ) -> Result<TokenClaims, Error> {
        if wire.iss != policy.issuer {
            return Err(Error::WrongIssuer);
        }
        if !wire.aud.contains(&policy.audience) {
            return Err(Error::WrongAudience);
        }
        if wire.sub != wire.client_id {
            return Err(Error::InvalidClaims);
        }
        let subject = Subject::from_claim(&wire.sub).ok_or(Error::InvalidClaims)?;
        if !is_prefixed_id(&wire.jti, "tok_") || !is_prefixed_id(&wire.workspace, "ws_") {
            return Err(Error::InvalidClaims);
        }
        let scopes = wire
            .scope
            .as_deref()
            .map(ScopeSet::from_claim)
            .unwrap_or_default();
        // Admin scopes only on admin tokens, and admin tokens carry nothing else:
        // a token breaking this was not issued by us.
        if scopes.iter().any(|s| s.is_admin() != subject.is_admin()) {
            return Err(Error::InvalidClaims);
        }

        let issued_at = wire.iat.read()?;
        let not_before = wire.nbf.read()?;
        let expires_at = wire.exp.read()?;
        if expires_at.saturating_sub(issued_at) > policy.max_lifetime_for(&subject) {
            return Err(Error::LifetimeTooLong);
        }
        let claims = TokenClaims {
            token_id: wire.jti.into_owned(),
            workspace: wire.workspace.into_owned(),
            subject,
            scopes,
            issued_at,
            not_before,
            expires_at,
        };
        claims.check_time(policy, now)?;
        Ok(claims)
    }

    /// The rules that depend on the time: `exp`, `nbf` and `iat`, each with the
    /// leeway. Checked at every verification, cached or not.
    pub fn check_time(&self, policy: &Policy, now: UnixTime) -> Result<(), Error> {
        if now > self.expires_at.saturating_add(policy.leeway) {
            return Err(Error::Expired);
        }
        if self.not_before > now.saturating_add(policy.leeway) {
            return Err(Error::NotYetValid);
        }
        if self.issued_at > now.saturating_add(policy.leeway) {
            return Err(Error::IssuedInFuture);
        }
        Ok(())
    }
}

/// Parses a JSON object into the claims; arrays (which serde would map onto the
/// struct field by field), scalars and empty input are refused.
pub(super) fn parse_wire<'a, T: Deserialize<'a>>(
    json: &'a [u8],
) -> Result<WireClaims<'a, T>, Error> {
    if json.first() != Some(&b'{') {
        return Err(Error::InvalidClaims);
    }
    serde_json::from_slice(json).map_err(|_| Error::InvalidClaims)
}

/// `prefix` followed by a 26-character ULID (Crockford base32, uppercase).
pub fn is_prefixed_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 26
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
    })
}

/// A short printable name: 1–64 of `[a-z0-9_.-]`.
fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}
