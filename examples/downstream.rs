//! A downstream service protected by Informly tokens: `GET /hello` needs a
//! token with `contacts:read`, verified in process by the remote verifier
//! (keys and revocations fetched from the Informly server in the background;
//! no call to Informly per request).
//!
//! ```text
//! cargo run --example downstream -- http://127.0.0.1:8080 127.0.0.1:3000
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/hello
//! ```
//!
//! Answers: 200 `{"app", "workspace"}`; 401 without a token or with one that
//! does not verify (expired, revoked, unknown key…); 403 without the scope;
//! 503 when the revocation list is stale (Informly unreachable for longer
//! than the staleness bound). Prints `listening address=…` on stderr.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use informly::remote::{RemoteVerifier, VerifyError};
use informly::token::{Scope, Verified};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let informly = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_owned());

    let verifier = RemoteVerifier::builder()
        .base_url(&informly)
        .build()
        .await?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("listening address={}", listener.local_addr()?);
    axum::serve(listener, router(verifier)).await?;
    Ok(())
}

/// The service's routes, guarded by `verifier`.
pub fn router(verifier: RemoteVerifier) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .with_state(verifier)
}

async fn hello(State(verifier): State<RemoteVerifier>, headers: HeaderMap) -> Response {
    match authorize(&verifier, &headers, Scope::CONTACTS_READ).await {
        Ok(caller) => Json(json!({
            "app": caller.app_id(),
            "workspace": caller.workspace(),
        }))
        .into_response(),
        Err(refusal) => refusal,
    }
}

/// The bearer token of the request, verified and holding `scope`; or the
/// answer to give instead. Why a token was refused stays here: clients learn
/// only "invalid token".
async fn authorize(
    verifier: &RemoteVerifier,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Verified, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "invalid_request"))?;
    let caller = verifier.verify(token).await.map_err(|e| match e {
        VerifyError::Stale => refuse(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        VerifyError::Token(_) => refuse(StatusCode::UNAUTHORIZED, "invalid_token"),
    })?;
    caller
        .require(scope)
        .map_err(|_| refuse(StatusCode::FORBIDDEN, "insufficient_scope"))?;
    Ok(caller)
}

fn refuse(status: StatusCode, error: &str) -> Response {
    let challenge = format!(r#"Bearer realm="downstream", error="{error}""#);
    (
        status,
        [(header::WWW_AUTHENTICATE, challenge)],
        Json(json!({ "error": error })),
    )
        .into_response()
}
