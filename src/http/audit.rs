//! `GET /v1/audit-events`: a workspace's audit log, for admin tokens with
//! `audit:read` (never grantable to app tokens).

use axum::Json as JsonResponse;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::{Auth, need};
use super::error::{ApiError, ApiResult, Problem};
use super::extract::Query;
use crate::clock::rfc3339_precise;
use crate::store::{AuditEvent, AuditFilter};

const CURSOR_PURPOSE: &str = "audit-events";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only this action, such as `token.revoked`.
    action: Option<String>,
    /// Only this actor: a token id, a user's email, or `user@host` for the
    /// command line.
    actor: Option<String>,
    /// Only events about this target (an app, token, key or user).
    target: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// One audit event.
#[derive(Serialize, ToSchema)]
struct AuditEventBody {
    /// `evt_…`.
    id: String,
    /// Its place in the workspace's hash chain.
    seq: i64,
    time: String,
    /// `admin_token`, `user` or `cli`.
    actor_type: String,
    /// The token id, the user's email, or `user@host`.
    actor_id: String,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    request_id: Option<String>,
    /// The client's address, as the sign-in limit sees it.
    client: Option<String>,
    /// For updates, `{field: [old, new]}`.
    #[schema(value_type = Option<Object>)]
    changes: Option<serde_json::Value>,
    prev_hash: String,
    hash: String,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(e: AuditEvent) -> AuditEventBody {
        AuditEventBody {
            time: rfc3339_precise(e.time()),
            changes: e.changes(),
            id: e.id,
            seq: e.seq,
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            request_id: e.request_id,
            client: e.client,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct AuditEventList {
    /// Newest first.
    data: Vec<AuditEventBody>,
    /// Pass as `cursor` to get the next (older) page; null on the last.
    next_cursor: Option<String>,
}

/// The workspace's audit log, newest first: who changed what, when, from
/// where.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", security(("bearer" = ["audit:read"])),
    params(AuditParams),
    responses((status = 200, body = AuditEventList), (status = 400, body = Problem), (status = 422, body = Problem)))]
async fn list_audit_events(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AuditRead>,
    Query(params): Query<AuditParams>,
) -> ApiResult<JsonResponse<AuditEventList>> {
    let workspace = principal.workspace().to_owned();
    let time = |field: &'static str, value: Option<String>| {
        value
            .map(|v| {
                OffsetDateTime::parse(&v, &Rfc3339).map_err(|_| {
                    ApiError::validation(field, format!("`{v}` is not an RFC 3339 time"))
                })
            })
            .transpose()
    };
    let before = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(
            state
                .cursor_key()
                .open(CURSOR_PURPOSE, &workspace, cursor)
                .and_then(|seq| seq.parse::<i64>().ok())
                .ok_or(ApiError::InvalidRequest(
                    "this cursor was not handed out here",
                ))?,
        ),
    };
    let limit = params.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation("limit", "give 1 to 100"));
    }
    let filter = AuditFilter {
        action: params.action,
        actor: params.actor,
        target: params.target,
        since: time("since", params.since)?,
        until: time("until", params.until)?,
        before,
        after: None,
    };
    let events = state
        .service()
        .audit_events(&principal.actor(), &filter, i64::from(limit) + 1)
        .await?;
    let more = events.len() > limit as usize;
    let data: Vec<AuditEventBody> = events
        .into_iter()
        .take(limit as usize)
        .map(AuditEventBody::from)
        .collect();
    let next_cursor = more.then(|| data.last()).flatten().map(|last| {
        state
            .cursor_key()
            .seal(CURSOR_PURPOSE, &workspace, &last.seq.to_string())
    });
    Ok(JsonResponse(AuditEventList { data, next_cursor }))
}
