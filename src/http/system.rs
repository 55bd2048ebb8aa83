//! Unauthenticated routes (health, readiness, the public key documents) and
//! `GET /v1/token`, the caller's own token.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Auth, need};
use super::error::{ApiResult, Problem};
use crate::clock::rfc3339;

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

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "system",
    responses((status = 200, body = Status), (status = 503, body = Status))
)]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.service().store().ping().await {
        Ok(()) => (StatusCode::OK, JsonResponse(Status { status: "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                JsonResponse(Status {
                    status: "database unavailable",
                }),
            )
        }
    }
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

/// The caller's own token.
#[derive(Serialize, ToSchema)]
struct CurrentToken {
    /// The token id (`jti`).
    id: String,
    /// The app id, or null for an admin token.
    app: Option<String>,
    workspace: String,
    scopes: Vec<&'static str>,
    format: String,
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
async fn current_token(
    Auth(principal, ..): Auth<need::AnyScope>,
) -> ApiResult<JsonResponse<CurrentToken>> {
    let claims = principal.claims();
    Ok(JsonResponse(CurrentToken {
        id: claims.token_id.clone(),
        app: claims.subject.app_id().map(str::to_owned),
        workspace: claims.workspace.clone(),
        scopes: claims.scopes.iter().map(|s| s.as_str()).collect(),
        format: principal.format().to_string(),
        issued_at: rfc3339(claims.issued_at),
        expires_at: rfc3339(claims.expires_at),
    }))
}
