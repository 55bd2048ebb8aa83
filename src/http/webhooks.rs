//! Webhook endpoints, for admin tokens with `webhooks:read`, `webhooks:write`
//! or `webhooks:delete` (never grantable to app tokens): register (the
//! secret is shown once), list, change, delete, rotate the secret, send a
//! test, and see and resend deliveries.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Auth, need};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path, Query, nullable, parse_id};
use crate::clock::rfc3339_precise;
use crate::ids::{MessageId, WebhookEndpointId};
use crate::service::{EndpointRequest, EndpointUpdate, EndpointWithSecret};
use crate::store::{WebhookAttempt, WebhookEndpoint, WebhookMessage, from_micros};
use crate::text;
use crate::webhooks::{EVENTS, MAX_URL_LEN};

const CURSOR_PURPOSE: &str = "webhook-deliveries";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_endpoint))
        .routes(routes!(list_deliveries))
        .routes(routes!(list_messages))
        .routes(routes!(resend_message))
}

/// A webhook endpoint. Its secret is shown only when made.
#[derive(Serialize, ToSchema)]
struct EndpointBody {
    /// `we_…`.
    id: String,
    url: String,
    description: Option<String>,
    #[schema(schema_with = events_schema)]
    events: Vec<String>,
    enabled: bool,
    /// Why the service disabled it (null when an admin did, or it is
    /// enabled).
    disabled_reason: Option<String>,
    /// Deliveries have failed since then (null: the last one succeeded).
    failing_since: Option<String>,
    /// After a rotation, the previous secret signs too until then (null
    /// before the first rotation).
    previous_secret_expires_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<WebhookEndpoint> for EndpointBody {
    fn from(e: WebhookEndpoint) -> EndpointBody {
        EndpointBody {
            id: e.id.into(),
            url: e.url,
            description: e.description,
            events: e.events,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since.map(rfc3339_precise),
            previous_secret_expires_at: e.previous_secret_until.map(rfc3339_precise),
            created_at: rfc3339_precise(e.created_at),
            updated_at: rfc3339_precise(e.updated_at),
        }
    }
}

/// An endpoint and its signing secret: the only time the secret is shown.
#[derive(Serialize, ToSchema)]
struct EndpointWithSecretBody {
    #[serde(flatten)]
    endpoint: EndpointBody,
    /// `whsec_…`: verify each delivery's `webhook-signature` with it
    /// (Standard Webhooks). Shown once.
    secret: String,
}

impl From<EndpointWithSecret> for EndpointWithSecretBody {
    fn from(created: EndpointWithSecret) -> EndpointWithSecretBody {
        EndpointWithSecretBody {
            endpoint: created.endpoint.into(),
            secret: created.secret.as_str().to_owned(),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct EndpointList {
    data: Vec<EndpointBody>,
}

fn events_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(EVENTS)),
        )
        .min_items(Some(1))
        .build()
}

fn url_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^https?://"))
        .max_length(Some(MAX_URL_LEN))
        .build()
}

fn description_schema() -> utoipa::openapi::schema::Object {
    text::DESCRIPTION.schema(true)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEndpoint {
    /// `https://…` (or `http://…`) on a public address.
    #[schema(schema_with = url_schema)]
    url: String,
    /// The events to send it.
    #[schema(schema_with = events_schema)]
    events: Vec<String>,
    /// At most 500 characters.
    #[schema(schema_with = description_schema)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEndpoint {
    #[schema(schema_with = url_schema, required = false)]
    url: Option<String>,
    #[schema(schema_with = events_schema, required = false)]
    events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = description_schema, required = false)]
    description: Option<Option<String>>,
    /// `false` stops deliveries: events from then on are not queued for it,
    /// messages already queued wait. `true` resumes them.
    enabled: Option<bool>,
}

/// Answers that carry a secret: never cached.
type WithSecret = (
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    JsonResponse<EndpointWithSecretBody>,
);

fn with_secret(status: StatusCode, created: EndpointWithSecret) -> WithSecret {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        JsonResponse(created.into()),
    )
}

/// Register a webhook endpoint. The response holds its signing secret, the
/// only time it is shown.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks",
    security(("bearer" = ["webhooks:write"])), request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecretBody), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_endpoint(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksWrite>,
    Json(body): Json<CreateEndpoint>,
) -> ApiResult<WithSecret> {
    let request = EndpointRequest {
        url: body.url,
        events: body.events,
        description: body.description,
    };
    let created = state
        .service()
        .create_webhook_endpoint(&principal.actor(), request)
        .await?;
    Ok(with_secret(StatusCode::CREATED, created))
}

/// List the workspace's webhook endpoints.
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks",
    security(("bearer" = ["webhooks:read"])),
    responses((status = 200, body = EndpointList)))]
async fn list_endpoints(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksRead>,
) -> ApiResult<JsonResponse<EndpointList>> {
    let endpoints = state
        .service()
        .webhook_endpoints(&principal.actor())
        .await?;
    Ok(JsonResponse(EndpointList {
        data: endpoints.into_iter().map(EndpointBody::from).collect(),
    }))
}

/// Get a webhook endpoint.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint}", tag = "webhooks",
    security(("bearer" = ["webhooks:read"])), params(("endpoint" = String, Path)),
    responses((status = 200, body = EndpointBody), (status = 404, body = Problem)))]
async fn get_endpoint(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksRead>,
    Path(endpoint): Path<String>,
) -> ApiResult<JsonResponse<EndpointBody>> {
    let endpoint = state
        .service()
        .webhook_endpoint(&principal.actor(), &parse_id(&endpoint)?)
        .await?;
    Ok(JsonResponse(endpoint.into()))
}

/// Change a webhook endpoint's URL, events or description, or disable and
/// enable it.
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{endpoint}", tag = "webhooks",
    security(("bearer" = ["webhooks:write"])), params(("endpoint" = String, Path)),
    request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointBody), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_endpoint(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksWrite>,
    Path(endpoint): Path<String>,
    Json(body): Json<UpdateEndpoint>,
) -> ApiResult<JsonResponse<EndpointBody>> {
    let endpoint: WebhookEndpointId = parse_id(&endpoint)?;
    let update = EndpointUpdate {
        url: body.url,
        events: body.events,
        description: body.description,
        enabled: body.enabled,
    };
    let endpoint = state
        .service()
        .update_webhook_endpoint(&principal.actor(), &endpoint, update)
        .await?;
    Ok(JsonResponse(endpoint.into()))
}

/// Delete a webhook endpoint, with the messages waiting for it.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{endpoint}", tag = "webhooks",
    security(("bearer" = ["webhooks:delete"])), params(("endpoint" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksDelete>,
    Path(endpoint): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service()
        .delete_webhook_endpoint(&principal.actor(), &parse_id(&endpoint)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a new signing secret (shown once). The previous one keeps signing
/// beside it for 24 hours: each delivery carries both signatures.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint}/rotate-secret", tag = "webhooks",
    security(("bearer" = ["webhooks:write"])), params(("endpoint" = String, Path)),
    responses((status = 200, body = EndpointWithSecretBody), (status = 404, body = Problem)))]
async fn rotate_secret(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksWrite>,
    Path(endpoint): Path<String>,
) -> ApiResult<WithSecret> {
    let rotated = state
        .service()
        .rotate_webhook_secret(&principal.actor(), &parse_id(&endpoint)?)
        .await?;
    Ok(with_secret(StatusCode::OK, rotated))
}

/// A queued message.
#[derive(Serialize, ToSchema)]
struct MessageBody {
    /// `msg_…`: the `webhook-id` header, the same on every attempt.
    id: String,
    event_type: String,
    /// `pending`, `delivered`, or `failed` (given up).
    state: String,
    attempts: i64,
    created_at: String,
    /// When it is tried next, while pending.
    next_attempt_at: Option<String>,
    delivered_at: Option<String>,
}

impl From<WebhookMessage> for MessageBody {
    fn from(m: WebhookMessage) -> MessageBody {
        MessageBody {
            next_attempt_at: (m.state == "pending")
                .then(|| rfc3339_precise(from_micros(m.next_attempt_at))),
            delivered_at: m.delivered_at.map(|t| rfc3339_precise(from_micros(t))),
            created_at: rfc3339_precise(from_micros(m.created_at)),
            id: m.id,
            event_type: m.event_type,
            state: m.state,
            attempts: m.attempts,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct MessageList {
    /// Newest first.
    data: Vec<MessageBody>,
}

/// Send the endpoint a `webhook.test` message, whatever it subscribes to.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint}/test", tag = "webhooks",
    security(("bearer" = ["webhooks:write"])), params(("endpoint" = String, Path)),
    responses((status = 202, body = MessageBody), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn test_endpoint(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksWrite>,
    Path(endpoint): Path<String>,
) -> ApiResult<(StatusCode, JsonResponse<MessageBody>)> {
    let message = state
        .service()
        .test_webhook_endpoint(&principal.actor(), &parse_id(&endpoint)?)
        .await?;
    Ok((StatusCode::ACCEPTED, JsonResponse(message.into())))
}

/// The endpoint's latest messages (at most 100), newest first.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint}/messages", tag = "webhooks",
    security(("bearer" = ["webhooks:read"])), params(("endpoint" = String, Path)),
    responses((status = 200, body = MessageList), (status = 404, body = Problem)))]
async fn list_messages(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksRead>,
    Path(endpoint): Path<String>,
) -> ApiResult<JsonResponse<MessageList>> {
    let messages = state
        .service()
        .webhook_messages(&principal.actor(), &parse_id(&endpoint)?, 100)
        .await?;
    Ok(JsonResponse(MessageList {
        data: messages.into_iter().map(MessageBody::from).collect(),
    }))
}

/// Send a message again, as it was (same `webhook-id` and body), at once.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint}/messages/{message}/resend",
    tag = "webhooks", security(("bearer" = ["webhooks:write"])),
    params(("endpoint" = String, Path), ("message" = String, Path)),
    responses((status = 202, body = MessageBody), (status = 404, body = Problem)))]
async fn resend_message(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksWrite>,
    Path((endpoint, message)): Path<(String, String)>,
) -> ApiResult<(StatusCode, JsonResponse<MessageBody>)> {
    let endpoint: WebhookEndpointId = parse_id(&endpoint)?;
    let message: MessageId = parse_id(&message)?;
    let message = state
        .service()
        .resend_webhook_message(&principal.actor(), &endpoint, &message)
        .await?;
    Ok((StatusCode::ACCEPTED, JsonResponse(message.into())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryParams {
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
struct DeliveryBody {
    /// `att_…`.
    id: String,
    /// The message attempted (`webhook-id`).
    message_id: String,
    event_type: String,
    attempted_at: String,
    duration_ms: i64,
    /// The receiver's HTTP status; null when no response came.
    status_code: Option<i64>,
    /// Why no response came: a timeout, a refused connection, an address
    /// the guard refused, …
    error: Option<String>,
    /// At most 1 KiB of the response body.
    response_body: Option<String>,
    /// A 2xx answer.
    delivered: bool,
}

impl From<WebhookAttempt> for DeliveryBody {
    fn from(a: WebhookAttempt) -> DeliveryBody {
        DeliveryBody {
            attempted_at: rfc3339_precise(a.time()),
            id: a.id,
            message_id: a.message_id,
            event_type: a.event_type,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            error: a.error,
            response_body: a.response_body,
            delivered: a.delivered != 0,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct DeliveryList {
    /// Newest first.
    data: Vec<DeliveryBody>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    next_cursor: Option<String>,
}

/// The endpoint's delivery attempts, newest first: when, the response's
/// status, how long it took.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint}/deliveries", tag = "webhooks",
    security(("bearer" = ["webhooks:read"])),
    params(("endpoint" = String, Path), DeliveryParams),
    responses((status = 200, body = DeliveryList), (status = 400, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_deliveries(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::WebhooksRead>,
    Path(endpoint): Path<String>,
    Query(params): Query<DeliveryParams>,
) -> ApiResult<JsonResponse<DeliveryList>> {
    let endpoint: WebhookEndpointId = parse_id(&endpoint)?;
    let workspace = principal.workspace().to_owned();
    let purpose = format!("{CURSOR_PURPOSE}:{endpoint}");
    let before =
        params
            .cursor
            .as_deref()
            .map(|cursor| {
                state.cursor_key().open(&purpose, &workspace, cursor).ok_or(
                    ApiError::InvalidRequest("this cursor was not handed out here"),
                )
            })
            .transpose()?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit", "give 1 to 100"));
    }
    let attempts = state
        .service()
        .webhook_attempts(
            &principal.actor(),
            &endpoint,
            before.as_deref(),
            i64::from(limit) + 1,
        )
        .await?;
    let more = attempts.len() > limit as usize;
    let data: Vec<DeliveryBody> = attempts
        .into_iter()
        .take(limit as usize)
        .map(DeliveryBody::from)
        .collect();
    let next_cursor = more
        .then(|| data.last())
        .flatten()
        .map(|last| state.cursor_key().seal(&purpose, &workspace, &last.id));
    Ok(JsonResponse(DeliveryList { data, next_cursor }))
}
