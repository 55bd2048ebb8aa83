//! Settings › Apps, Keys and the audit log: the handlers (Webhooks in
//! `webhooks`). Each calls the same service
//! methods as the API, with the signed-in user as the actor, within the signed-in user's workspace only;
//! another workspace's ids are not found.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;
use time::{Date, OffsetDateTime, Time};

mod webhooks;

pub use webhooks::*;

use super::session::{CurrentUser, Posted, is_https};
use super::views::{self, AppForm, Flash, KeyRow, TokenFilter, TokenForm, TokenSort, TokenView};
use super::{Error, HOME, Result};
use crate::http::AppState;
use crate::ids::{AppId, TokenId};
use crate::service::{self, IssueRequest, RollRequest, TokenStatus};
use crate::store::{self, App, TokenRecord};
use crate::token::{Expiry, Format};

/// `GET /dashboard/settings`.
pub async fn settings(user: CurrentUser) -> Markup {
    views::settings(&user.session)
}

/// `GET /dashboard/settings/apps`.
pub async fn apps(State(state): State<AppState>, user: CurrentUser, uri: Uri) -> Result<Markup> {
    render_apps(&state, &user, &AppForm::default(), Flash::from_uri(&uri)).await
}

async fn render_apps(
    state: &AppState,
    user: &CurrentUser,
    form: &AppForm,
    flash: Option<Flash>,
) -> Result<Markup> {
    let apps = state
        .service()
        .apps_with_active_tokens(&user.actor())
        .await?;
    let within = time::Duration::days(views::EXPIRY_WARNING_DAYS);
    let expiring: Vec<TokenRecord> = state
        .service()
        .workspace_tokens(&user.actor(), Some(within), None)
        .await?
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let expiring = views::Expiring {
        tokens: &expiring,
        now: state.clock().now(),
    };
    Ok(views::apps(&user.session, &apps, &expiring, form, flash))
}

/// `POST /dashboard/settings/apps`.
pub async fn create_app(
    State(state): State<AppState>,
    Posted { user, form }: Posted<AppForm>,
) -> Result<Response> {
    if form.name.trim().is_empty() {
        let form = form.with_error(("name", "Give the app a name.".to_owned()));
        let page = render_apps(&state, &user, &form, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let description = Some(form.description.trim()).filter(|d| !d.is_empty());
    match state
        .service()
        .create_app(&user.actor(), form.name.trim(), description)
        .await
    {
        Ok(app) => Ok(see(&format!("{}?done=app-created", app_url(&app.id))).into_response()),
        Err(e) => {
            let form = form.with_error(field_error(e, "name")?);
            let page = render_apps(&state, &user, &form, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// `GET /dashboard/settings/apps/{app}[?tokens=active][&sort=last_used]`:
/// its tokens, all or only the active ones, soonest to expire first or most
/// recently used first.
pub async fn app(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(app): Path<String>,
    uri: Uri,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    let view = TokenView::from_uri(&uri);
    let mut tokens: Vec<(TokenRecord, TokenStatus)> = state
        .service()
        .tokens(&user.actor(), &app.id)
        .await?
        .into_iter()
        .map(|t| {
            let status = state.service().status_of(&t);
            (t, status)
        })
        .collect();
    let active = tokens
        .iter()
        .filter(|(_, status)| *status == TokenStatus::Active)
        .count();
    let all = tokens.len();
    if view.filter == TokenFilter::Active {
        tokens.retain(|(_, status)| *status == TokenStatus::Active);
    }
    match view.sort {
        TokenSort::Expires => {
            tokens.sort_by(|(a, _), (b, _)| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)))
        }
        TokenSort::LastUsed => {
            tokens.sort_by(|(a, _), (b, _)| (b.last_used_at, &b.id).cmp(&(a.last_used_at, &a.id)))
        }
    }
    Ok(views::app(
        &user.session,
        &app,
        &tokens,
        views::TokenCounts { view, all, active },
        state.clock().now(),
        Flash::from_uri(&uri),
    ))
}

/// `GET …/apps/{app}/tokens/revoke-all`: asks first.
pub async fn confirm_revoke_all(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(app): Path<String>,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    let active = accepted_tokens(&state, &user, &app).await?;
    Ok(views::confirm_revoke_all(&user.session, &app, active))
}

/// `POST …/apps/{app}/tokens/revoke-all`: every token of the app is refused
/// from now on; the app stays, and tokens generated afterwards work.
pub async fn revoke_all(
    State(state): State<AppState>,
    Path(app): Path<String>,
    Posted { user, .. }: Posted<Confirmed>,
) -> Result<Redirect> {
    let app = find_app(&state, &user, &app).await?;
    state
        .service()
        .revoke_app_tokens(&user.actor(), &app.id)
        .await?;
    tracing::info!(user = %user.session.user.id, app = %app.id, "every token of the app revoked from the dashboard");
    Ok(see(&format!("{}?done=tokens-revoked", app_url(&app.id))))
}

/// `GET /dashboard/settings/apps/{app}/edit`.
pub async fn edit_app(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(app): Path<String>,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    Ok(views::edit_app(&user.session, &app, &AppForm::of(&app)))
}

/// `POST /dashboard/settings/apps/{app}/edit`: the same change as
/// `PATCH /v1/apps/{app}`; an emptied description is removed.
pub async fn update_app(
    State(state): State<AppState>,
    Path(app): Path<String>,
    Posted { user, form }: Posted<AppForm>,
) -> Result<Response> {
    let app = find_app(&state, &user, &app).await?;
    let invalid = |form: AppForm| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            views::edit_app(&user.session, &app, &form),
        )
            .into_response()
    };
    if form.name.trim().is_empty() {
        return Ok(invalid(
            form.with_error(("name", "Give the app a name.".to_owned())),
        ));
    }
    let description = Some(form.description.trim()).filter(|d| !d.is_empty());
    match state
        .service()
        .update_app(
            &user.actor(),
            &app.id,
            Some(form.name.trim()),
            Some(description),
        )
        .await
    {
        Ok(app) => Ok(see(&format!("{}?done=app-updated", app_url(&app.id))).into_response()),
        Err(e) => Ok(invalid(form.with_error(field_error(e, "name")?))),
    }
}

/// `GET /dashboard/settings/apps/{app}/tokens/new`.
pub async fn new_token(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(app): Path<String>,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    Ok(views::new_token(
        &user.session,
        &app,
        &TokenForm::default(),
        state.clock().now(),
        None,
    ))
}

/// `POST /dashboard/settings/apps/{app}/tokens`: issues the token and shows
/// it, this once.
pub async fn create_token(
    State(state): State<AppState>,
    Path(app): Path<String>,
    headers: HeaderMap,
    Posted { user, form }: Posted<TokenForm>,
) -> Result<Response> {
    let app = find_app(&state, &user, &app).await?;
    let now = state.clock().now();
    let invalid = |form: TokenForm| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            views::new_token(&user.session, &app, &form, now, None),
        )
            .into_response()
    };

    let request = match checked(&form, now) {
        Ok(request) => request,
        Err(errors) => return Ok(invalid(form.with_errors(errors))),
    };
    match state
        .service()
        .issue_token(&user.actor(), &app.id, request)
        .await
    {
        Ok(issued) => {
            if let Some(generated) = &issued.generated_key {
                tracing::info!(kid = %generated.kid, format = %generated.format, "generated the first signing key");
            }
            let page = views::token_created(
                &user.session,
                &app,
                &issued.record,
                &issued.token,
                base_url(&headers).as_deref(),
                None,
            );
            Ok((StatusCode::CREATED, page).into_response())
        }
        Err(e) => Ok(invalid(form.with_errors(vec![field_error(e, "name")?]))),
    }
}

/// A token form's request, or its errors beside their fields.
fn checked(
    form: &TokenForm,
    now: OffsetDateTime,
) -> Result<IssueRequest, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let name = form.name.trim();
    if name.is_empty() {
        errors.push(("name", "Give the token a name.".to_owned()));
    }
    if form.scope.is_empty() {
        errors.push(("scopes", "Choose at least one permission.".to_owned()));
    }
    let expiry = match expiry(form, now) {
        Ok(expiry) => Some(expiry),
        Err(message) => {
            errors.push(("expiry", message));
            None
        }
    };
    let format = match form.format.as_str() {
        "" | "paseto" => Some(Format::Paseto),
        "jwt" => Some(Format::Jwt),
        _ => {
            errors.push(("format", "Choose PASETO or JWT.".to_owned()));
            None
        }
    };
    match (expiry, format, errors.is_empty()) {
        (Some(expiry), Some(format), true) => Ok(IssueRequest {
            name: Some(name.to_owned()),
            scopes: form.scope.clone(),
            expiry,
            format,
        }),
        _ => Err(errors),
    }
}

/// `GET …/tokens/{token}/roll[?scopes=used]`: the roll form, filled with
/// the token's name, format and scopes (only those requests needed, with
/// `scopes=used`).
pub async fn roll_form(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((app, token)): Path<(String, String)>,
    uri: Uri,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    let token = find_token(&state, &user, &app, &token).await?;
    if state.service().status_of(&token) != TokenStatus::Active {
        return Err(Error::Conflict(
            "Only an active token can be rolled: this one is revoked, expired, refused for its key, or rolled already."
                .to_owned(),
        ));
    }
    let used_only = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "scopes=used"));
    Ok(views::new_token(
        &user.session,
        &app,
        &TokenForm::roll_of(&token, used_only),
        state.clock().now(),
        Some(&token),
    ))
}

/// `POST …/tokens/{token}/roll`: rolls it and shows the new token, this once.
pub async fn roll_token(
    State(state): State<AppState>,
    Path((app, token)): Path<(String, String)>,
    headers: HeaderMap,
    Posted { user, form }: Posted<TokenForm>,
) -> Result<Response> {
    let app = find_app(&state, &user, &app).await?;
    let old = find_token(&state, &user, &app, &token).await?;
    let now = state.clock().now();
    let invalid = |form: TokenForm| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            views::new_token(&user.session, &app, &form, now, Some(&old)),
        )
            .into_response()
    };
    let overlap = match form.overlap.as_str() {
        "0" => Ok(0),
        "1h" => Ok(60 * 60),
        "" | "24h" => Ok(24 * 60 * 60),
        "7d" => Ok(7 * 24 * 60 * 60),
        _ => Err((
            "overlap",
            "Choose how long the old token keeps working.".to_owned(),
        )),
    };
    let request = checked(&form, now);
    let (request, overlap) = match (request, overlap) {
        (Ok(request), Ok(overlap)) => (request, overlap),
        (request, overlap) => {
            let mut errors = request.err().unwrap_or_default();
            errors.extend(overlap.err());
            return Ok(invalid(form.with_errors(errors)));
        }
    };
    let roll = RollRequest {
        expiry: request.expiry,
        overlap: Some(overlap),
        scopes: Some(request.scopes),
        name: request.name,
        format: Some(request.format),
    };
    match state
        .service()
        .roll_token(&user.actor(), &app.id, &old.id, roll)
        .await
    {
        Ok(issued) => {
            let old = find_token(&state, &user, &app, old.id.as_str()).await?;
            tracing::info!(user = %user.session.user.id, token = %old.id, successor = %issued.record.id, "token rolled from the dashboard");
            let page = views::token_created(
                &user.session,
                &app,
                &issued.record,
                &issued.token,
                base_url(&headers).as_deref(),
                Some(&old),
            );
            Ok((StatusCode::CREATED, page).into_response())
        }
        Err(service::Error::Store(store::Error::Conflict(message))) => {
            Err(Error::Conflict(sentence(&message)))
        }
        Err(e) => Ok(invalid(form.with_errors(vec![field_error(e, "name")?]))),
    }
}

/// The expiry a token form asks for: a preset, or the end (UTC) of a chosen
/// day.
fn expiry(form: &TokenForm, now: OffsetDateTime) -> Result<Expiry, String> {
    const DAY: i64 = 24 * 60 * 60;
    match form.expiry.as_str() {
        "7d" => Ok(Expiry::In(7 * DAY)),
        "" | "30d" => Ok(Expiry::In(30 * DAY)),
        "90d" => Ok(Expiry::In(90 * DAY)),
        "custom" => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = Date::parse(form.expires_on.trim(), &format)
                .map_err(|_| "Choose the day the token expires.".to_owned())?;
            let end = day
                .next_day()
                .ok_or_else(|| "Choose an earlier day.".to_owned())?
                .with_time(Time::MIDNIGHT)
                .assume_utc();
            if end <= now {
                return Err("Choose a day in the future.".to_owned());
            }
            Ok(Expiry::At(end.unix_timestamp()))
        }
        _ => Err("Choose when the token expires.".to_owned()),
    }
}

/// `GET …/tokens/{token}/revoke`: asks first.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((app, token)): Path<(String, String)>,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    let token = find_token(&state, &user, &app, &token).await?;
    Ok(views::confirm_revoke(&user.session, &app, &token))
}

/// `POST …/tokens/{token}/revoke`.
pub async fn revoke_token(
    State(state): State<AppState>,
    Path((app, token)): Path<(String, String)>,
    Posted { user, .. }: Posted<Confirmed>,
) -> Result<Redirect> {
    let app = find_app(&state, &user, &app).await?;
    let token = find_token(&state, &user, &app, &token).await?;
    let token = state
        .service()
        .revoke_token(&user.actor(), Some(&app.id), &token.id)
        .await?;
    tracing::info!(user = %user.session.user.id, token = %token.id, "token revoked from the dashboard");
    Ok(see(&format!("{}?done=token-revoked", app_url(&app.id))))
}

/// `GET …/apps/{app}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(app): Path<String>,
) -> Result<Markup> {
    let app = find_app(&state, &user, &app).await?;
    let active = accepted_tokens(&state, &user, &app).await?;
    Ok(views::confirm_delete(&user.session, &app, active))
}

/// `POST …/apps/{app}/delete`: every token of the app is refused from now on.
pub async fn delete_app(
    State(state): State<AppState>,
    Path(app): Path<String>,
    Posted { user, .. }: Posted<Confirmed>,
) -> Result<Redirect> {
    let app = find_app(&state, &user, &app).await?;
    state.service().delete_app(&user.actor(), &app.id).await?;
    tracing::info!(user = %user.session.user.id, app = %app.id, "app deleted from the dashboard");
    Ok(see(&format!("{HOME}?done=app-deleted")))
}

/// A confirmation form: its CSRF token is all it carries.
#[derive(Deserialize)]
pub struct Confirmed {}

/// `GET /dashboard/settings/keys`: the key ring, read-only.
pub async fn keys(State(state): State<AppState>, user: CurrentUser) -> Markup {
    let now = state.clock().now();
    let snapshot = state.keys().snapshot();
    let ring = &snapshot.ring;
    let mut rows: Vec<KeyRow> = ring
        .entries()
        .iter()
        .map(|entry| KeyRow {
            kid: entry.kid().to_owned(),
            format: entry.format(),
            status: ring.status(entry, now),
            created_at: entry.created_at,
            activates_at: entry.activates_at,
            retired_at: entry.retired_at,
        })
        .collect();
    rows.sort_by(|a, b| (a.format.as_str(), b.created_at).cmp(&(b.format.as_str(), a.created_at)));
    views::keys(&user.session, &rows)
}

/// This service's base URL as the browser reached it, for the `curl` line:
/// the `Host` header when it is a plain host name or address (and port), so
/// the line never carries anything a shell would read as more than a URL.
fn base_url(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let scheme = if is_https(headers) { "https" } else { "http" };
    plain.then(|| format!("{scheme}://{host}"))
}

pub fn app_url(app_id: &AppId) -> String {
    format!("{HOME}/{app_id}")
}

/// 303 See Other: the browser follows with a GET.
fn see(location: &str) -> Redirect {
    Redirect::to(location)
}

/// How many tokens of `app` the service accepts now (what a confirmation
/// page warns will stop working).
async fn accepted_tokens(state: &AppState, user: &CurrentUser, app: &App) -> Result<usize> {
    Ok(state
        .service()
        .tokens(&user.actor(), &app.id)
        .await?
        .iter()
        .filter(|t| state.service().status_of(t).is_accepted())
        .count())
}

/// An app of the user's workspace; anything else is not found.
async fn find_app(state: &AppState, user: &CurrentUser, id: &str) -> Result<App> {
    let id = AppId::parse(id).ok_or(Error::NotFound)?;
    Ok(state.service().app(&user.actor(), &id).await?)
}

/// A token of `app`; anything else is not found.
async fn find_token(
    state: &AppState,
    user: &CurrentUser,
    app: &App,
    id: &str,
) -> Result<TokenRecord> {
    let id = TokenId::parse(id).ok_or(Error::NotFound)?;
    Ok(state
        .service()
        .token(&user.actor(), Some(&app.id), &id)
        .await?)
}

/// A service error a form shows beside a field (`conflict_field` for a name
/// already taken); anything else ends the request.
fn field_error(e: service::Error, conflict_field: &'static str) -> Result<(&'static str, String)> {
    match e {
        service::Error::Invalid { field, message } => {
            let field = match field {
                "expires_at" | "expires_in" => "expiry",
                other => other,
            };
            Ok((field, sentence(&message)))
        }
        service::Error::Store(store::Error::Conflict(message)) => {
            Ok((conflict_field, sentence(&message)))
        }
        other => Err(other.into()),
    }
}

/// A service message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

const AUDIT_PAGE: i64 = 50;
const AUDIT_CURSOR: &str = "dashboard-audit";

/// `GET /dashboard/settings/audit`: the workspace's audit log, newest first,
/// with filters and pages.
pub async fn audit(State(state): State<AppState>, user: CurrentUser, uri: Uri) -> Result<Response> {
    let mut query: views::AuditQuery = uri
        .query()
        .and_then(|q| serde_html_form::from_str(q).ok())
        .unwrap_or_default();
    let workspace = user.session.user.workspace_id.to_string();
    let day = |name: &'static str,
               value: &str,
               end: bool|
     -> Result<Option<OffsetDateTime>, (&'static str, String)> {
        if value.trim().is_empty() {
            return Ok(None);
        }
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date =
            Date::parse(value.trim(), &format).map_err(|_| (name, "Choose a day.".to_owned()))?;
        let date = if end {
            date.next_day().unwrap_or(date)
        } else {
            date
        };
        Ok(Some(date.with_time(Time::MIDNIGHT).assume_utc()))
    };
    let since = day("since", &query.since, false);
    let until = day("until", &query.until, true);
    let (since, until) = match (since, until) {
        (Ok(since), Ok(until)) => (since, until),
        (since, until) => {
            query.errors.extend(since.err());
            query.errors.extend(until.err());
            let page = views::audit(&user.session, &[], &query, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let before = match query.cursor.as_str() {
        "" => None,
        cursor => Some(
            state
                .cursor_key()
                .open(AUDIT_CURSOR, &workspace, cursor)
                .and_then(|seq| seq.parse::<i64>().ok())
                .ok_or(Error::BadRequest(
                    "This page link is not one the dashboard made.".to_owned(),
                ))?,
        ),
    };
    let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let filter = store::AuditFilter {
        action: given(&query.action),
        actor: given(&query.actor),
        target: given(&query.target),
        since,
        until,
        before,
        after: None,
    };
    let mut events = state
        .service()
        .audit_events(&user.actor(), &filter, AUDIT_PAGE + 1)
        .await?;
    let more = events.len() > AUDIT_PAGE as usize;
    events.truncate(AUDIT_PAGE as usize);
    let next = more.then(|| events.last()).flatten().map(|last| {
        state
            .cursor_key()
            .seal(AUDIT_CURSOR, &workspace, &last.seq.to_string())
    });
    Ok(views::audit(&user.session, &events, &query, next.as_deref()).into_response())
}
