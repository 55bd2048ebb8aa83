//! The management API, for admin tokens: apps, and the tokens of each app.

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
use crate::clock::{rfc3339, rfc3339_precise};
use crate::ids::{AppId, TokenId};
use crate::service::{IssueRequest, Issued, MAX_OVERLAP, RollRequest, Service, TokenStatus};
use crate::store::{App, TokenRecord};
use crate::text;
use crate::token::expiry::{MIN_LIFETIME, parse_duration};
use crate::token::{Expiry, Format, Policy, Scope};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_app, list_apps))
        .routes(routes!(get_app, update_app, delete_app))
        .routes(routes!(create_token, list_tokens, revoke_app_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(roll_token))
        .routes(routes!(workspace_tokens))
}

#[derive(Serialize, ToSchema)]
struct AppBody {
    id: String,
    name: String,
    description: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<App> for AppBody {
    fn from(app: App) -> Self {
        AppBody {
            id: app.id.into(),
            name: app.name,
            description: app.description,
            created_at: rfc3339_precise(app.created_at),
            updated_at: rfc3339_precise(app.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
struct AppList {
    data: Vec<AppBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateApp {
    /// 1–100 characters, unique in the workspace.
    #[schema(schema_with = name_field)]
    name: String,
    /// At most 500 characters.
    #[schema(schema_with = description_field)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateApp {
    /// Cannot be cleared.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = name_field, required = false)]
    name: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = description_field, required = false)]
    description: Option<Option<String>>,
}

/// Create an app.
#[utoipa::path(post, path = "/v1/apps", tag = "apps", security(("bearer" = ["apps:write"])),
    request_body = CreateApp,
    responses((status = 201, body = AppBody), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_app(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsWrite>,
    Json(body): Json<CreateApp>,
) -> ApiResult<(StatusCode, JsonResponse<AppBody>)> {
    let app = state
        .service()
        .create_app(&principal.actor(), &body.name, body.description.as_deref())
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(app.into())))
}

/// List the workspace's apps.
#[utoipa::path(get, path = "/v1/apps", tag = "apps", security(("bearer" = ["apps:read"])),
    responses((status = 200, body = AppList)))]
async fn list_apps(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsRead>,
) -> ApiResult<JsonResponse<AppList>> {
    let apps = state.service().apps(&principal.actor()).await?;
    Ok(JsonResponse(AppList {
        data: apps.into_iter().map(AppBody::from).collect(),
    }))
}

/// Get an app.
#[utoipa::path(get, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = ["apps:read"])),
    params(("app" = String, Path)),
    responses((status = 200, body = AppBody), (status = 404, body = Problem)))]
async fn get_app(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsRead>,
    Path(app): Path<String>,
) -> ApiResult<JsonResponse<AppBody>> {
    let app = state
        .service()
        .app(&principal.actor(), &parse_id(&app)?)
        .await?;
    Ok(JsonResponse(app.into()))
}

/// Rename an app or change its description.
#[utoipa::path(patch, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = ["apps:write"])),
    params(("app" = String, Path)), request_body = UpdateApp,
    responses((status = 200, body = AppBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_app(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsWrite>,
    Path(app): Path<String>,
    Json(body): Json<UpdateApp>,
) -> ApiResult<JsonResponse<AppBody>> {
    let app: AppId = parse_id(&app)?;
    let actor = principal.actor();
    // An unknown app is not found, whatever the body says.
    state.service().app(&actor, &app).await?;
    let name = match &body.name {
        None => None,
        Some(None) => {
            return Err(ApiError::validation(
                "name",
                "is required and cannot be null",
            ));
        }
        Some(Some(name)) => Some(name.as_str()),
    };
    let description = body.description.as_ref().map(|d| d.as_deref());
    let app = state
        .service()
        .update_app(&actor, &app, name, description)
        .await?;
    Ok(JsonResponse(app.into()))
}

/// Delete an app. Every token it ever had is rejected from now on.
#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "apps", security(("bearer" = ["apps:delete"])),
    params(("app" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_app(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsDelete>,
    Path(app): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service()
        .delete_app(&principal.actor(), &parse_id(&app)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A token record. The token string itself is never stored.
#[derive(Serialize, ToSchema)]
struct TokenBody {
    id: String,
    app_id: Option<String>,
    name: Option<String>,
    scopes: Vec<String>,
    /// `paseto` or `jwt`.
    #[schema(value_type = String)]
    format: Format,
    /// The key that signed it.
    kid: String,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    /// What the service would answer the token now: `active`, `rolling`
    /// (rolled, accepted until `revoked_at`), `expired`, `revoked`, or
    /// `key_retired` (its key was retired, so it is refused).
    #[schema(value_type = String, pattern = "^(active|rolling|expired|revoked|key_retired)$")]
    status: TokenStatus,
    /// The token this one replaced: it was issued by rolling that one.
    replaces: Option<String>,
    /// The token that replaced this one: it was rolled, and stops working at
    /// `revoked_at`.
    replaced_by: Option<String>,
    /// The latest verified request this service saw it make (null: never).
    /// Uses verified offline by other services are not seen here.
    last_used_at: Option<String>,
    /// Verified requests this service saw it make, over every instance.
    uses: i64,
    /// The scopes a request of it needed (routes that need only a valid
    /// token, such as `GET /v1/token`, need none).
    used_scopes: Vec<String>,
    /// The scopes granted but never needed: candidates to drop at the next
    /// roll.
    unused_scopes: Vec<String>,
}

impl TokenBody {
    fn of(t: TokenRecord, service: &Service) -> TokenBody {
        TokenBody {
            status: service.status_of(&t),
            unused_scopes: t.unused_scopes(),
            id: t.id.into(),
            app_id: t.app_id.map(String::from),
            name: t.name,
            format: t.format,
            kid: t.kid,
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
            revoked_at: t.revoked_at.map(rfc3339_precise),
            last_used_at: t.last_used_at.map(rfc3339_precise),
            replaces: t.replaces.map(String::from),
            replaced_by: t.replaced_by.map(String::from),
            uses: t.uses,
            used_scopes: t
                .used_scopes
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            scopes: t.scopes,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct CreatedToken {
    #[serde(flatten)]
    record: TokenBody,
    /// The token. Shown this once: it is not stored and cannot be shown again.
    token: String,
}

#[derive(Serialize, ToSchema)]
struct TokenList {
    data: Vec<TokenBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    /// 1–100 characters.
    #[schema(schema_with = optional_name_field)]
    name: Option<String>,
    /// App scopes such as `contacts:read`; at least one.
    #[schema(schema_with = app_scopes_schema)]
    scopes: Vec<String>,
    /// RFC 3339, at least a minute and at most 366 days away. Give this or
    /// `expires_in`.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// Seconds (a number), or a duration such as "30d", "12h", "15m"; at
    /// least a minute and at most 366 days.
    #[schema(schema_with = expires_in_schema)]
    expires_in: Option<ExpiresIn>,
    /// `paseto` (default) or `jwt`.
    #[schema(value_type = Option<String>, schema_with = format_schema)]
    format: Option<Format>,
}

/// `scopes`: at least one of the app scopes (`apps:*` are for admin tokens).
fn name_field() -> utoipa::openapi::schema::Object {
    text::NAME.schema(false)
}

fn optional_name_field() -> utoipa::openapi::schema::Object {
    text::NAME.schema(true)
}

fn description_field() -> utoipa::openapi::schema::Object {
    text::DESCRIPTION.schema(true)
}

fn app_scopes_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let names: Vec<&str> = Scope::all()
        .filter(|scope| !scope.is_admin())
        .map(Scope::as_str)
        .collect();
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .min_items(Some(1))
        .build()
}

/// `expires_in`: whole seconds, or a duration string, or null.
fn expires_in_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::Integer,
            Type::String,
            Type::Null,
        ]))
        .minimum(Some(MIN_LIFETIME))
        .maximum(Some(Policy::DEFAULT_MAX_LIFETIME))
        .build()
}

/// `format`: `paseto`, `jwt` or null.
fn format_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            Format::ALL.iter().map(|f| Some(f.as_str())).chain([None]),
        ))
        .build()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresIn {
    Seconds(i64),
    Text(String),
}

/// The expiry a token request asks for: exactly one of `expires_at` and
/// `expires_in`.
fn expiry_of(at: Option<String>, within: Option<ExpiresIn>) -> ApiResult<Expiry> {
    match (at, within) {
        (Some(at), None) => {
            Expiry::parse_at(&at).map_err(|e| ApiError::validation("expires_at", e.to_string()))
        }
        (None, Some(ExpiresIn::Seconds(secs))) => Ok(Expiry::In(secs)),
        (None, Some(ExpiresIn::Text(text))) => {
            Expiry::parse_in(&text).map_err(|e| ApiError::validation("expires_in", e.to_string()))
        }
        (None, None) => Err(ApiError::validation(
            "expires_in",
            "give expires_at or expires_in",
        )),
        (Some(_), Some(_)) => Err(ApiError::validation(
            "expires_in",
            "give expires_at or expires_in, not both",
        )),
    }
}

/// The answer to a request that issued a token: 201, never cached.
fn created(
    state: &AppState,
    issued: Issued,
) -> (
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    JsonResponse<CreatedToken>,
) {
    if let Some(generated) = &issued.generated_key {
        tracing::info!(kid = %generated.kid, format = %generated.format, "generated the first signing key");
    }
    (
        StatusCode::CREATED,
        // It carries a credential: no cache may keep it (RFC 6749 §5.1).
        [(header::CACHE_CONTROL, "no-store")],
        JsonResponse(CreatedToken {
            record: TokenBody::of(issued.record, state.service()),
            token: issued.token.as_str().to_owned(),
        }),
    )
}

/// Issue a token for an app. The response is the only time the token is shown.
#[utoipa::path(post, path = "/v1/apps/{app}/tokens", tag = "tokens", security(("bearer" = ["apps:write"])),
    params(("app" = String, Path)), request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_token(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsWrite>,
    Path(app): Path<String>,
    Json(body): Json<CreateToken>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    JsonResponse<CreatedToken>,
)> {
    let app: AppId = parse_id(&app)?;
    let expiry = expiry_of(body.expires_at, body.expires_in)?;
    let request = IssueRequest {
        name: body.name,
        scopes: body.scopes,
        expiry,
        format: body.format.unwrap_or(Format::Paseto),
    };
    let issued = state
        .service()
        .issue_token(&principal.actor(), &app, request)
        .await?;
    Ok(created(&state, issued))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RollToken {
    /// The new token's expiry, RFC 3339. Give this or `expires_in`.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// The new token's lifetime: seconds, or a duration such as "30d".
    #[schema(schema_with = expires_in_schema)]
    expires_in: Option<ExpiresIn>,
    /// How long the old token stays valid: seconds, or a duration such as
    /// "24h" (the default); 0 to 7 days, never past its own expiry.
    #[schema(schema_with = overlap_schema)]
    overlap: Option<ExpiresIn>,
    /// The new token's scopes; by default the old token's.
    #[schema(schema_with = optional_app_scopes_schema)]
    scopes: Option<Vec<String>>,
    /// The new token's name; by default the old token's.
    #[schema(schema_with = optional_name_field)]
    name: Option<String>,
    /// The new token's format; by default the old token's.
    #[schema(value_type = Option<String>, schema_with = format_schema)]
    format: Option<Format>,
}

/// `overlap`: whole seconds (0 to 7 days), a duration string, or null.
fn overlap_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::Integer,
            Type::String,
            Type::Null,
        ]))
        .minimum(Some(0))
        .maximum(Some(MAX_OVERLAP))
        .build()
}

fn optional_app_scopes_schema() -> utoipa::openapi::schema::Array {
    let mut schema = app_scopes_schema();
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([
        utoipa::openapi::schema::Type::Array,
        utoipa::openapi::schema::Type::Null,
    ]);
    schema
}

/// Roll a token: issue its successor (shown this once) and keep the old
/// token valid for an overlap, after which it is revoked. The revocation is
/// published at once with the second it takes effect, so every verifier
/// refuses the old token at the same second.
#[utoipa::path(post, path = "/v1/apps/{app}/tokens/{token_id}/roll", tag = "tokens", security(("bearer" = ["apps:write"])),
    params(("app" = String, Path), ("token_id" = String, Path, description = "The id of the token to roll")),
    request_body = RollToken,
    responses((status = 201, body = CreatedToken), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The token is revoked, expired, refused for its key, or already rolled"),
        (status = 422, body = Problem)))]
async fn roll_token(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsWrite>,
    Path((app, token)): Path<(String, String)>,
    Json(body): Json<RollToken>,
) -> ApiResult<(
    StatusCode,
    [(header::HeaderName, &'static str); 1],
    JsonResponse<CreatedToken>,
)> {
    let (app, token): (AppId, TokenId) = (parse_id(&app)?, parse_id(&token)?);
    let expiry = expiry_of(body.expires_at, body.expires_in)?;
    let overlap = match body.overlap {
        None => None,
        Some(ExpiresIn::Seconds(secs)) => Some(secs),
        Some(ExpiresIn::Text(text)) => Some(
            parse_duration(&text).map_err(|e| ApiError::validation("overlap", e.to_string()))?,
        ),
    };
    let request = RollRequest {
        expiry,
        overlap,
        scopes: body.scopes,
        name: body.name,
        format: body.format,
    };
    let issued = state
        .service()
        .roll_token(&principal.actor(), &app, &token, request)
        .await?;
    Ok(created(&state, issued))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TokenListParams {
    /// Only tokens this service has not seen used for this long (`90d`,
    /// `12h`: s, m, h, d, w), never-used ones included once they are that
    /// old.
    #[param(example = "90d")]
    unused_for: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct WorkspaceTokenParams {
    /// Only tokens accepted now that expire within this (`14d`, `12h`: s,
    /// m, h, d, w).
    #[param(example = "14d")]
    expiring_within: Option<String>,
    /// Only tokens of this status: `active`, `rolling`, `expired`,
    /// `revoked` or `key_retired`.
    #[param(pattern = "^(active|rolling|expired|revoked|key_retired)$")]
    status: Option<String>,
}

/// List the tokens of every app of the workspace (records only), soonest to
/// expire first: `?expiring_within=14d` for the ones to roll soon.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", security(("bearer" = ["apps:read"])),
    params(WorkspaceTokenParams),
    responses((status = 200, body = TokenList), (status = 422, body = Problem)))]
async fn workspace_tokens(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsRead>,
    Query(params): Query<WorkspaceTokenParams>,
) -> ApiResult<JsonResponse<TokenList>> {
    let within = params
        .expiring_within
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| ApiError::validation("expiring_within", e.to_string()))?;
    let status = params
        .status
        .as_deref()
        .map(str::parse::<TokenStatus>)
        .transpose()
        .map_err(|e| ApiError::validation("status", e))?;
    let tokens = state
        .service()
        .workspace_tokens(
            &principal.actor(),
            within.map(time::Duration::seconds),
            status,
        )
        .await?;
    Ok(JsonResponse(TokenList {
        data: tokens
            .into_iter()
            .map(|(t, _)| TokenBody::of(t, state.service()))
            .collect(),
    }))
}

/// List an app's tokens (records only).
#[utoipa::path(get, path = "/v1/apps/{app}/tokens", tag = "tokens", security(("bearer" = ["apps:read"])),
    params(("app" = String, Path), TokenListParams),
    responses((status = 200, body = TokenList), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_tokens(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsRead>,
    Path(app): Path<String>,
    Query(params): Query<TokenListParams>,
) -> ApiResult<JsonResponse<TokenList>> {
    let unused_for = params
        .unused_for
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| ApiError::validation("unused_for", e.to_string()))?;
    let actor = principal.actor();
    let app = parse_id(&app)?;
    let tokens = match unused_for {
        Some(unused_for) => {
            state
                .service()
                .unused_tokens(&actor, &app, time::Duration::seconds(unused_for))
                .await?
        }
        None => state.service().tokens(&actor, &app).await?,
    };
    Ok(JsonResponse(TokenList {
        data: tokens
            .into_iter()
            .map(|t| TokenBody::of(t, state.service()))
            .collect(),
    }))
}

/// Revoke every token of an app, keeping the app: the app-wide cutoff that
/// deleting the app records. Tokens issued afterwards work. Rejected by this
/// instance at once and by every other instance sharing the database within
/// 2 s.
#[utoipa::path(delete, path = "/v1/apps/{app}/tokens", tag = "tokens", security(("bearer" = ["apps:delete"])),
    params(("app" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_app_tokens(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsDelete>,
    Path(app): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .service()
        .revoke_app_tokens(&principal.actor(), &parse_id(&app)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke a token. It is rejected by this instance at once and by every other
/// instance sharing the database within 2 s.
#[utoipa::path(delete, path = "/v1/apps/{app}/tokens/{token_id}", tag = "tokens", security(("bearer" = ["apps:delete"])),
    params(("app" = String, Path), ("token_id" = String, Path, description = "The token's id (`tok_…`, the record's `id`), not the token string")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_token(
    State(state): State<AppState>,
    Auth(principal, ..): Auth<need::AppsDelete>,
    Path((app, token)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app: AppId = parse_id(&app)?;
    // The app first: an unknown app is reported as such.
    let actor = principal.actor();
    state.service().app(&actor, &app).await?;
    state
        .service()
        .revoke_token(&actor, Some(&app), &parse_id(&token)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
