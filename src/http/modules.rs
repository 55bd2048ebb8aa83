//! The modules not served yet: every route under them answers 501 once the
//! caller is authenticated.

use axum::Router;
use axum::routing::any;

use super::AppState;
use super::auth::{Auth, need};
use super::error::ApiError;
use crate::token::MODULES;

pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for module in MODULES.iter().filter(|m| !m.live).map(|m| m.name) {
        let handler =
            move |_: Auth<need::AnyScope>| async move { ApiError::NotImplemented(module) };
        router = router
            .route(&format!("/v1/{module}"), any(handler))
            .route(&format!("/v1/{module}/{{*rest}}"), any(handler));
    }
    router
}
