//! Extractors whose failures are `ApiError`s: JSON bodies and query strings.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// `axum::Json`, answering problem+json: 415 without a JSON content type, 400
/// for malformed JSON, 413 past the body limit, 422 for a body that does not
/// fit the type (unknown or duplicate fields, wrong types).
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
                JsonRejection::JsonSyntaxError(_) => {
                    ApiError::BadRequest("the body is not valid JSON".to_owned())
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::Validation(vec![data_error(&e.body_text())])
                }
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::BadRequest(other.body_text()),
            }),
        }
    }
}

/// Turns serde's message ("Failed to deserialize …: path: message at line …")
/// into a field error, keeping the field path and serde's explanation.
fn data_error(text: &str) -> FieldError {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    let (field, message) = match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (path.to_owned(), message),
        _ => (String::new(), text),
    };
    let message = message.split(" at line ").next().unwrap_or(message);
    FieldError {
        field,
        message: message.chars().take(200).collect(),
    }
}

/// `axum::extract::Query`, answering 400 problem+json.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|e: QueryRejection| {
                let text = e.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_owned();
                ApiError::BadRequest(format!("bad query string: {text}"))
            })
    }
}

/// For PATCH bodies: an absent field is `None`, `null` is `Some(None)`, a value
/// is `Some(Some(value))`. Use with `#[serde(default, deserialize_with = …)]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
