//! Extractors whose failures are `ApiError`s: JSON bodies and query strings.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult, FieldError};
use crate::ids::Id;
use crate::token::json::Object;

/// `axum::Json`, answering problem+json: 415 without a JSON content type, 400
/// for malformed JSON, 413 past the body limit, 422 for a body that does not
/// fit the type (not an object, unknown or duplicate fields, wrong types).
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<Object<T>>::from_request(req, state).await {
            Ok(axum::Json(Object(value))) => Ok(Json(value)),
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

/// One JSON object of a larger body (an item of a batch) read as `T`, with
/// the same rules as [`Json`]; what is wrong is reported as a field error
/// (422) naming the field within the item.
pub fn item<T: DeserializeOwned>(json: &str) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize::<_, Object<T>>(&mut deserializer)
        .map(|Object(value)| value)
        .map_err(|e| match e.inner().classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::BadRequest(format!("not valid JSON: {}", e.inner()))
            }
            _ => ApiError::Validation(vec![data_error(&e.to_string())]),
        })
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
    // serde reports a missing, repeated or unknown field at its parent's path:
    // name the field itself.
    let named = ["missing field `", "duplicate field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match named {
        Some(name) if field.is_empty() || field == "." => name.to_owned(),
        // Unknown fields are reported at their own path already.
        Some(name) if field == name || field.ends_with(&format!(".{name}")) => field,
        Some(name) => format!("{field}.{name}"),
        None => field,
    };
    FieldError {
        field,
        message: message.chars().take(200).collect(),
    }
}

/// `axum::extract::Path`, answering problem+json: a path segment that cannot
/// be read (not UTF-8 once percent-decoded) names nothing, so it is 404.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| ApiError::NotFound("resource".to_owned()))
    }
}

/// A JSON object whose keys are distinct: `{"a": 1, "a": 2}` is refused rather
/// than silently keeping the last value.
#[derive(Debug, Default)]
pub struct UniqueMap(pub Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueMap;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<UniqueMap, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate key `{key}`"
                        )));
                    }
                    map.insert(key, value);
                }
                Ok(UniqueMap(map))
            }
        }

        deserializer.deserialize_map(Visitor)
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

/// Reads an id from a path segment: anything that is not an id of that kind
/// names nothing, so it is not found. What was sent is not repeated: it may
/// be a token pasted where its id belongs.
pub fn parse_id<T: Id>(s: &str) -> ApiResult<T> {
    T::parse(s).ok_or_else(|| ApiError::NotFound(T::WHAT.to_owned()))
}
