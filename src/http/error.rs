//! `ApiError`: the one type that knows status codes. Every error leaves as
//! `application/problem+json` (RFC 9457); 401 and 403 also carry the RFC 6750
//! `WWW-Authenticate` challenge. 5xx bodies say nothing internal: the cause is
//! logged once, here, inside the request's span.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::token::{MODULES, Scope};
use crate::{service, store};

pub const REALM: &str = "informly";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation errors: one entry per bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Why a request carries no bearer token: each mistake gets its own
/// description (the status and challenge are the same for all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("this endpoint needs a bearer token in the Authorization header")]
    Absent,
    /// A scheme other than Bearer, named when it reads as one.
    #[error(
        "the Authorization scheme `{0}` is not supported: send `Authorization: Bearer <token>`"
    )]
    Scheme(String),
    #[error("the Authorization scheme is not supported: send `Authorization: Bearer <token>`")]
    OtherScheme,
    /// A value without a scheme, most likely the bare token.
    #[error("the Authorization header has no scheme: send `Authorization: Bearer <token>`")]
    NoScheme,
    #[error(
        "a token in the URL is never read (URLs end up in logs and histories): send it in the Authorization header as `Bearer <token>`"
    )]
    InUrl,
}

#[derive(Debug)]
pub enum ApiError {
    /// No bearer credentials: the bare challenge, and what was wrong.
    NoCredentials(Missing),
    /// 401 `invalid_token`; the description is one of a few fixed strings.
    InvalidToken(&'static str),
    /// 400 `invalid_request` (e.g. two Authorization headers).
    InvalidRequest(&'static str),
    /// 403 `insufficient_scope`.
    InsufficientScope(Scope),
    BadRequest(String),
    NotFound(String),
    MethodNotAllowed,
    Conflict(String),
    PayloadTooLarge,
    UnsupportedMediaType,
    Validation(Vec<FieldError>),
    NotImplemented(&'static str),
    /// 503: the database (or the denylist it feeds) is unavailable.
    Unavailable,
    Timeout,
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::NoCredentials(missing) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                missing.to_string(),
            ),
            ApiError::InvalidToken(why) => {
                (StatusCode::UNAUTHORIZED, "invalid-token", (*why).to_owned())
            }
            ApiError::InvalidRequest(why) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                (*why).to_owned(),
            ),
            ApiError::InsufficientScope(scope) => (
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                format!("this token lacks the scope `{scope}`"),
            ),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, "bad-request", why.clone()),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not-found",
                format!("{what} not found"),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "this route does not answer that method".to_owned(),
            ),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, "conflict", why.clone()),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "the request body is larger than 1 MiB".to_owned(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "send JSON with Content-Type: application/json".to_owned(),
            ),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-error",
                "the request has invalid fields".to_owned(),
            ),
            ApiError::NotImplemented(module) => (
                StatusCode::NOT_IMPLEMENTED,
                "module-not-available",
                format!(
                    "the {module} module is coming soon; available today: {}",
                    MODULES
                        .iter()
                        .filter(|m| m.live)
                        .map(|m| m.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service cannot reach its database; try again shortly".to_owned(),
            ),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; try again shortly".to_owned(),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "something went wrong on our side".to_owned(),
            ),
        }
    }
}

impl ApiError {
    /// The problem document of this error: what a response carries, or one
    /// item of a batch answer.
    pub fn problem(self) -> Problem {
        let (status, slug, detail) = self.parts();
        self.into_problem(status, slug, detail)
    }

    fn into_problem(self, status: StatusCode, slug: &str, detail: String) -> Problem {
        let errors = match self {
            ApiError::Validation(errors) => errors,
            _ => Vec::new(),
        };
        Problem {
            kind: format!("urn:informly:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, detail) = self.parts();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let challenge = match &self {
            ApiError::NoCredentials(_) => Some(format!("Bearer realm=\"{REALM}\"")),
            ApiError::InvalidToken(why) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{why}\""
            )),
            ApiError::InvalidRequest(why) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_request\", error_description=\"{why}\""
            )),
            ApiError::InsufficientScope(scope) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            _ => None,
        };
        let problem = self.into_problem(status, slug, detail);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound(what) => ApiError::NotFound(what),
            store::Error::Conflict(why) => ApiError::Conflict(why),
            store::Error::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> Self {
        match e {
            service::Error::Invalid { field, message } => ApiError::validation(field, message),
            service::Error::Store(e) => e.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
