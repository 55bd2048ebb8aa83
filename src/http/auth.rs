//! Authentication and scopes. `Auth<Need>` is an extractor: a handler that
//! takes it only ever runs for a caller whose token verified, is not revoked,
//! and carries the scope `Need` names. The scope is part of the handler's
//! signature, next to its route.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::revocation::CheckError;
use crate::token::{self, Format, MAX_TOKEN_LEN, Scope, TokenClaims};

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub claims: TokenClaims,
    pub format: Format,
}

impl Principal {
    pub fn workspace(&self) -> &str {
        &self.claims.workspace
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
    }
}

pub struct Auth<N: Need>(pub Principal, pub(super) PhantomData<N>);

impl<N: Need> FromRequestParts<AppState> for Auth<N> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = authenticate(parts, state)?;
        if let Some(scope) = N::SCOPE
            && !principal.claims.scopes.contains(scope)
        {
            return Err(ApiError::InsufficientScope(scope));
        }
        Ok(Auth(principal, PhantomData))
    }
}

/// Reads the bearer token from the one Authorization header (never from the
/// URL), verifies it against the in-memory keys and denylist, and logs why a
/// token was refused — the token itself is never logged.
fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match parts.headers.contains_key(AUTHORIZATION) {
            true => Err(ApiError::InvalidRequest("send one Authorization header")),
            false => Err(ApiError::NoCredentials),
        };
    };
    // Header values may carry obs-text; those are not tokens.
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken("invalid token"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::NoCredentials);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(ApiError::InvalidToken("invalid token"));
    }
    if token.len() > MAX_TOKEN_LEN {
        tracing::info!(reason = "token too large", "token rejected");
        return Err(ApiError::InvalidToken("invalid token"));
    }

    let now = state.clock().unix();
    let verified = state
        .keys()
        .snapshot()
        .verifier
        .verify(token, now)
        .map_err(|e| {
            tracing::info!(reason = %e, "token rejected");
            ApiError::InvalidToken(match e {
                token::Error::Expired => "token expired",
                token::Error::NotYetValid | token::Error::IssuedInFuture => "token not yet valid",
                _ => "invalid token",
            })
        })?;
    match state.revocations().check(&verified.claims, now) {
        Ok(()) => {}
        Err(CheckError::Revoked) => {
            tracing::info!(jti = %verified.claims.token_id, kid = %verified.kid, "revoked token rejected");
            return Err(ApiError::InvalidToken("invalid token"));
        }
        Err(CheckError::Stale) => {
            tracing::warn!("denylist is stale: refusing authenticated requests");
            return Err(ApiError::Unavailable);
        }
    }
    Ok(Principal {
        claims: verified.claims,
        format: verified.format,
    })
}
