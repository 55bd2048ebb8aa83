//! Authentication and scopes. `Auth<Need>` is an extractor: a handler that
//! takes it only ever runs for a caller whose token verified, is not revoked,
//! and carries the scope `Need` names. The scope is part of the handler's
//! signature, next to its route.

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::{ApiError, Missing};
use crate::authn::Rejection;
use crate::ids::{TokenId, WorkspaceId};
use crate::service::{Actor, Origin};
use crate::token::{self, Format, MAX_TOKEN_LEN, Scope, TokenClaims, UnixTime, Verified};

/// A verified caller: the token's claims (shared with the token cache), and
/// where the request came from.
#[derive(Debug, Clone)]
pub struct Principal {
    verified: Arc<Verified>,
    /// Kept as they came (cheap to keep; most requests never ask): the
    /// request id and the client's address, for [`Principal::actor`].
    request_id: Option<HeaderValue>,
    client: Option<IpAddr>,
}

impl Principal {
    pub fn claims(&self) -> &TokenClaims {
        self.verified.claims()
    }

    pub fn format(&self) -> Format {
        self.verified.format()
    }

    pub fn workspace(&self) -> &str {
        &self.verified.claims().workspace
    }

    /// The caller as the service layer's actor. The token core has checked
    /// the ids' shape, and we signed them.
    pub fn actor(&self) -> Actor {
        let claims = self.claims();
        Actor::Token {
            workspace: WorkspaceId::trusted(claims.workspace.clone()),
            token_id: TokenId::trusted(claims.token_id.clone()),
            origin: Origin {
                request_id: self
                    .request_id
                    .as_ref()
                    .and_then(|id| id.to_str().ok())
                    .map(str::to_owned),
                client: self.client,
            },
        }
    }
}

/// What a route asks of the caller's scopes.
pub trait Need {
    const SCOPE: Option<Scope>;
}

/// Route requirements, one type per scope.
pub mod need {
    use super::Need;
    use crate::token::Scope;

    macro_rules! needs {
        ($($name:ident => $scope:expr),* $(,)?) => {
            $(
                pub struct $name;
                impl Need for $name {
                    const SCOPE: Option<Scope> = $scope;
                }
            )*
        };
    }

    needs! {
        AnyScope => None,
        ContactsRead => Some(Scope::CONTACTS_READ),
        ContactsWrite => Some(Scope::CONTACTS_WRITE),
        ContactsDelete => Some(Scope::CONTACTS_DELETE),
        AppsRead => Some(Scope::APPS_READ),
        AppsWrite => Some(Scope::APPS_WRITE),
        AppsDelete => Some(Scope::APPS_DELETE),
        AuditRead => Some(Scope::AUDIT_READ),
        WebhooksRead => Some(Scope::WEBHOOKS_READ),
        WebhooksWrite => Some(Scope::WEBHOOKS_WRITE),
        WebhooksDelete => Some(Scope::WEBHOOKS_DELETE),
    }
}

pub struct Auth<N: Need>(pub Principal, pub(super) PhantomData<N>);

impl<N: Need> FromRequestParts<AppState> for Auth<N> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = state.clock().unix();
        let verified = authenticate(parts, state, now)?;
        // The request's log line names the caller: its app (none for an
        // admin token) and token id, never the token.
        if let Some(logged) = parts.extensions.get::<super::request_log::Logged>() {
            logged.set_caller(&verified);
        }
        let principal = Principal {
            verified,
            request_id: parts.headers.get(super::request_log::X_REQUEST_ID).cloned(),
            client: super::client_address(
                &parts.headers,
                &parts.extensions,
                state.dashboard().trust_forwarded_for,
            ),
        };
        if let Some(scope) = N::SCOPE
            && !principal.claims().scopes.contains(scope)
        {
            return Err(ApiError::InsufficientScope(scope));
        }
        // Counted in memory, written out later: last used, never waited for.
        if let Some(usage) = state.usage() {
            usage.record(&principal.claims().token_id, N::SCOPE, now);
        }
        Ok(Auth(principal, PhantomData))
    }
}

/// Reads the bearer token from the one Authorization header (never from the
/// URL), verifies it against the in-memory keys and denylist, and logs why a
/// token was refused — the token itself is never logged.
fn authenticate(parts: &Parts, state: &AppState, now: UnixTime) -> Result<Arc<Verified>, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match parts.headers.contains_key(AUTHORIZATION) {
            true => Err(ApiError::InvalidRequest("send one Authorization header")),
            false if token_in_query(parts.uri.query()) => {
                Err(ApiError::NoCredentials(Missing::InUrl))
            }
            false => Err(ApiError::NoCredentials(Missing::Absent)),
        };
    };
    // Header values may carry obs-text; those are not tokens.
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken("invalid token"))?;
    let (scheme, rest) = match value.split_once(' ') {
        Some(parts) => parts,
        // `Bearer` and nothing: an empty token, refused below.
        None if value.eq_ignore_ascii_case("bearer") => (value, ""),
        // No scheme at all: most likely the bare token, never repeated.
        None => return Err(ApiError::NoCredentials(Missing::NoScheme)),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // A scheme is a short word (Basic, Token, Digest…); anything else is
        // not repeated, as it may be a credential.
        let named = scheme.len() <= 20
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        return Err(ApiError::NoCredentials(match named {
            true => Missing::Scheme(scheme.to_owned()),
            false => Missing::OtherScheme,
        }));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(ApiError::InvalidToken("invalid token"));
    }
    if token.len() > MAX_TOKEN_LEN {
        tracing::info!(reason = "token too large", "token rejected");
        return Err(ApiError::InvalidToken("invalid token"));
    }
    check_token(token, state, now)
}

/// Whether the query string carries a parameter a client might have put a
/// token in (`token=`, `access_token=`). It is never read; the answer says so.
fn token_in_query(query: Option<&str>) -> bool {
    query.is_some_and(|query| {
        query.split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            name.eq_ignore_ascii_case("token") || name.eq_ignore_ascii_case("access_token")
        })
    })
}

/// Verifies a bearer token by the one rule (`authn::Authenticator::check`:
/// the token core, from the cache if seen before; staleness; the denylist).
fn check_token(token: &str, state: &AppState, now: UnixTime) -> Result<Arc<Verified>, ApiError> {
    state.authenticator().check(token, now).map_err(refused)
}

/// The answer to a refused token, logged with the reason (never the token):
/// 401 with a hint clients may see, or 503 while the denylist is stale.
fn refused(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::Invalid(e) => {
            tracing::info!(reason = %e, "token rejected");
            ApiError::InvalidToken(match e {
                token::Error::Expired => "token expired",
                token::Error::NotYetValid | token::Error::IssuedInFuture => "token not yet valid",
                _ => "invalid token",
            })
        }
        Rejection::Revoked(verified) => {
            tracing::info!(jti = %verified.claims().token_id, kid = %verified.kid(), "revoked token rejected");
            ApiError::InvalidToken("invalid token")
        }
        Rejection::Stale => {
            tracing::warn!("denylist is stale: refusing authenticated requests");
            ApiError::Unavailable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::TokenCache;
    use crate::clock::{Clock, ManualClock};
    use crate::http::cursor::CursorKey;
    use crate::keys::{KeyRing, LiveKeys};
    use crate::revocation::Revocations;
    use crate::service::{IssueRequest, Service};
    use crate::store::Store;
    use crate::token::{Expiry, Policy};

    /// The same service twice over, with and without the token cache.
    struct Twins {
        _dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        cached: AppState,
        uncached: AppState,
    }

    impl Twins {
        /// Checks `token` through both (the cached one twice: a miss or a hit,
        /// then surely a hit) and asserts the answers are the same.
        fn check(&self, token: &str) -> Result<String, String> {
            let answer = |state: &AppState| match check_token(token, state, state.clock().unix()) {
                Ok(verified) => Ok(format!("{verified:?}")),
                Err(e) => Err(format!("{e:?}")),
            };
            let uncached = answer(&self.uncached);
            assert_eq!(answer(&self.cached), uncached, "first look");
            assert_eq!(answer(&self.cached), uncached, "second look");
            uncached
        }
    }

    async fn twins() -> (Twins, Service, Arc<LiveKeys>) {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join("keys");
        std::fs::create_dir(&keys_dir).unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let clock = Arc::new(ManualClock::at(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        ));
        let policy = Policy::default();
        let keys = Arc::new(LiveKeys::open(&keys_dir, policy.clone(), clock.now()).unwrap());
        let revocations = Arc::new(
            Revocations::load(&store, clock.now(), clock.now(), time::Duration::MAX)
                .await
                .unwrap(),
        );
        let state = |capacity| {
            let service = Service::serving(
                store.clone(),
                keys.clone(),
                revocations.clone(),
                policy.clone(),
                clock.clone(),
            );
            AppState::new(
                service,
                keys.clone(),
                revocations.clone(),
                CursorKey::new(vec![1; 32]),
                TokenCache::new(capacity, policy.leeway),
                crate::http::dashboard::Config::default(),
                None,
            )
        };
        let twins = Twins {
            cached: state(1000),
            uncached: state(0),
            clock: clock.clone(),
            _dir: dir,
        };
        let service = Service::serving(store, keys.clone(), revocations, policy, clock);
        (twins, service, keys)
    }

    #[tokio::test]
    async fn cached_and_uncached_verification_answer_alike_for_every_token_and_time() {
        let (twins, service, keys) = twins().await;
        let ws = service.ensure_default_workspace().await.unwrap();
        let actor = crate::service::Actor::cli(ws.id);
        let app = service.create_app(&actor, "a", None).await.unwrap();
        let mut tokens = Vec::new();
        for format in [Format::Paseto, Format::Jwt, Format::Jwt] {
            let request = IssueRequest {
                name: None,
                scopes: vec!["contacts:read".to_owned()],
                expiry: Expiry::In(3600),
                format,
            };
            tokens.push(service.issue_token(&actor, &app.id, request).await.unwrap());
        }
        let strings: Vec<String> = tokens.iter().map(|t| t.token.to_string()).collect();
        let mut inputs = strings.clone();
        inputs.push("garbage".to_owned());
        inputs.push(format!("{}x", strings[0]));

        let all = |twins: &Twins| inputs.iter().map(|t| twins.check(t)).collect::<Vec<_>>();
        let fresh = all(&twins);
        assert!(fresh[0].is_ok() && fresh[1].is_ok() && fresh[3].is_err());

        // Revoked: the cache does not save it.
        twins
            .cached
            .revocations()
            .revoke_token(tokens[1].record.id.as_str())
            .await;
        assert!(twins.check(&strings[1]).is_err());
        assert!(twins.check(&strings[0]).is_ok());

        // The key retired (by another process, picked up on reload).
        let kid = tokens[2].record.kid.clone();
        let mut ring = KeyRing::load(keys.snapshot().ring.dir()).unwrap();
        ring.rotate(Format::Jwt, twins.clock.now(), 0).unwrap();
        ring.retire(&kid, twins.clock.now()).unwrap();
        keys.reload(twins.clock.now()).unwrap();
        assert!(twins.check(&strings[2]).is_err());
        assert!(twins.check(&strings[0]).is_ok());

        // Within the leeway after expiry, then past it.
        twins.clock.advance(3600 + 30);
        assert!(twins.check(&strings[0]).is_ok());
        twins.clock.advance(1);
        assert_eq!(
            twins.check(&strings[0]),
            Err("InvalidToken(\"token expired\")".to_owned())
        );

        // Before it was issued (a clock far behind): not yet valid.
        twins.clock.advance(-(3600 + 31) - 3600);
        assert_eq!(
            twins.check(&strings[0]),
            Err("InvalidToken(\"token not yet valid\")".to_owned())
        );
        // And every input once more at a normal time.
        twins.clock.advance(3600);
        let again = all(&twins);
        assert_eq!(again[0], fresh[0]);
    }
}
