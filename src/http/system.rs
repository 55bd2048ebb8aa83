//! Unauthenticated routes (health, readiness, the public key documents) and
//! `GET /v1/token`, the caller's own token.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Auth, need};
use super::error::Problem;
use crate::clock::rfc3339;
use crate::token::Format;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(jwks))
        .routes(routes!(paserk))
        .routes(routes!(current_token))
}

#[derive(Serialize, ToSchema)]
struct Status {
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Status)))]
async fn health() -> JsonResponse<Status> {
    JsonResponse(Status { status: "ok" })
}

/// Readiness, part by part: `status` is `ready` (200) when every part is
/// `ok`, otherwise `unavailable` (503).
#[derive(Serialize, ToSchema)]
struct Readiness {
    /// `ready` or `unavailable`.
    status: &'static str,
    database: DatabaseReadiness,
    denylist: DenylistReadiness,
    keys: KeysReadiness,
    outbox: OutboxReadiness,
}

#[derive(Serialize, ToSchema)]
struct DatabaseReadiness {
    /// The database answered a ping.
    ok: bool,
}

#[derive(Serialize, ToSchema)]
struct DenylistReadiness {
    /// Refreshed within the staleness bound: tokens are honoured.
    ok: bool,
    /// Seconds since the last successful refresh (null before the first).
    age_seconds: Option<i64>,
    /// The staleness bound (`--revocation-staleness`).
    staleness_bound_seconds: i64,
    entries: usize,
}

#[derive(Serialize, ToSchema)]
struct KeysReadiness {
    /// Every format has an active key: tokens can be issued.
    ok: bool,
    /// Keys loaded, every format and state.
    loaded: usize,
    /// The formats with an active key.
    active: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
struct OutboxReadiness {
    /// The outbox could be read (a backlog, however old, does not make an
    /// instance unready: receivers are not this instance's to fix).
    ok: bool,
    /// Webhook messages not yet delivered (null when it could not be read).
    depth: Option<i64>,
    /// Age of the oldest of them, in seconds (null when none or unread).
    oldest_age_seconds: Option<i64>,
}

/// Readiness: the database answers, the denylist is fresh, every format has
/// an active key, the webhook outbox can be read. 503 if any part fails,
/// with the parts in the body.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "system",
    responses(
        (status = 200, description = "Every part is ready", body = Readiness),
        (status = 503, description = "A part is failing (see its `ok`)", body = Readiness),
    )
)]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let now = state.clock().now();
    let store = state.service().store();
    let database = match store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            false
        }
    };
    let live = state.revocations().live();
    let age = live
        .refreshed_at()
        .map(|at| now.unix_timestamp().saturating_sub(at).max(0));
    let denylist = DenylistReadiness {
        ok: !live.is_stale(now.unix_timestamp()),
        age_seconds: age,
        staleness_bound_seconds: live.staleness(),
        entries: live.len(),
    };
    let snapshot = state.keys().snapshot();
    let active: Vec<&'static str> = Format::ALL
        .into_iter()
        .filter(|f| snapshot.ring.active(*f, now).is_some())
        .map(Format::as_str)
        .collect();
    let keys = KeysReadiness {
        ok: active.len() == Format::ALL.len(),
        loaded: snapshot.ring.entries().len(),
        active,
    };
    // Not asked of a database that did not answer: the ping said enough.
    let backlog = match database {
        true => store.webhook_backlog().await.ok(),
        false => None,
    };
    let outbox = OutboxReadiness {
        ok: backlog.is_some(),
        depth: backlog.map(|(depth, _)| depth),
        oldest_age_seconds: backlog
            .and_then(|(_, oldest)| oldest)
            .map(|at| (now - at).whole_seconds().max(0)),
    };
    let ready = database && denylist.ok && keys.ok && outbox.ok;
    let (status, word) = match ready {
        true => (StatusCode::OK, "ready"),
        false => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    (
        status,
        JsonResponse(Readiness {
            status: word,
            database: DatabaseReadiness { ok: database },
            denylist,
            keys,
            outbox,
        }),
    )
}

/// The JWT public keys (OKP/Ed25519) that verify tokens: every key that is not
/// retired.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    responses((status = 200, description = "A JWK Set", body = Object))
)]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.keys().snapshot();
    let doc = snapshot.ring.key_set(state.clock().now()).jwks();
    key_document(serde_json::to_value(doc).unwrap_or(Value::Null))
}

/// The PASETO public keys as PASERK `k4.public`, with their `k4.pid` and
/// status: every key that is not retired.
#[utoipa::path(
    get,
    path = "/.well-known/paserk.json",
    tag = "keys",
    responses((status = 200, description = "{\"keys\": [{\"kid\", \"paserk\", \"status\"}]}", body = Object))
)]
async fn paserk(State(state): State<AppState>) -> impl IntoResponse {
    let snapshot = state.keys().snapshot();
    let doc = snapshot.ring.key_set(state.clock().now()).paserk_set();
    key_document(serde_json::to_value(doc).unwrap_or(Value::Null))
}

/// Key documents may be cached briefly: keys are published before they sign
/// (`--activate-after`), so a minute of caching never hides a signing key.
fn key_document(doc: Value) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        JsonResponse(doc),
    )
}

/// The caller's own token. Borrowed from the verified claims: answered to
/// every request that asks, so it copies only what it must format.
#[derive(Serialize, ToSchema)]
struct CurrentToken<'a> {
    /// The token id (`jti`).
    id: &'a str,
    /// The app id, or null for an admin token.
    app: Option<&'a str>,
    workspace: &'a str,
    scopes: Vec<&'static str>,
    format: &'static str,
    issued_at: String,
    expires_at: String,
}

#[utoipa::path(
    get,
    path = "/v1/token",
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, body = CurrentToken),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn current_token(Auth(principal, ..): Auth<need::AnyScope>) -> Response {
    let claims = principal.claims();
    JsonResponse(CurrentToken {
        id: &claims.token_id,
        app: claims.subject.app_id(),
        workspace: &claims.workspace,
        scopes: claims.scopes.iter().map(|s| s.as_str()).collect(),
        format: principal.format().as_str(),
        issued_at: rfc3339(claims.issued_at),
        expires_at: rfc3339(claims.expires_at),
    })
    .into_response()
}
