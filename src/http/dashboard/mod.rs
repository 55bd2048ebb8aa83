//! The dashboard: Settings › Apps in the browser, served at `/dashboard` by
//! the same process and on the same service layer as the API.
//!
//! Server-rendered HTML (maud), no build step. It works without JavaScript;
//! the one script only adds the copy button.
//!
//! - `session`: sign-in, sessions stored in the database, CSRF, sign-in limits;
//! - `pages`: the handlers of Settings › Apps and Keys;
//! - `views`: the HTML.
//!
//! Every answer carries a strict Content-Security-Policy (scripts and styles
//! from this origin only, no framing), `Cache-Control: no-store` and
//! `Referrer-Policy: no-referrer`: a page may hold a token shown once.

mod pages;
mod session;
#[cfg(test)]
mod tests;
mod views;

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::http::AppState;
use crate::{service, store};

/// Session limits and the sign-in budget.
#[derive(Debug, Clone)]
pub struct Config {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, however busy.
    pub session_lifetime: Duration,
    /// Count failed sign-ins per client by the last `X-Forwarded-For` entry
    /// (the one our own proxy added) instead of the connection's address.
    pub trust_forwarded_for: bool,
}

impl Config {
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

    pub fn new(session_idle: Duration, session_lifetime: Duration) -> Config {
        Config {
            session_idle,
            session_lifetime,
            trust_forwarded_for: false,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new(Config::DEFAULT_IDLE, Config::DEFAULT_LIFETIME)
    }
}

/// Everything under `/dashboard`.
pub fn router(state: AppState) -> Router<AppState> {
    use axum::routing::post;
    Router::new()
        .route("/", get(session::home))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/settings", get(pages::settings))
        .route("/settings/apps", get(pages::apps).post(pages::create_app))
        .route("/settings/apps/{app}", get(pages::app))
        .route(
            "/settings/apps/{app}/edit",
            get(pages::edit_app).post(pages::update_app),
        )
        .route("/settings/apps/{app}/tokens/new", get(pages::new_token))
        .route("/settings/apps/{app}/tokens", post(pages::create_token))
        .route(
            "/settings/apps/{app}/tokens/revoke-all",
            get(pages::confirm_revoke_all).post(pages::revoke_all),
        )
        .route(
            "/settings/apps/{app}/tokens/{token}/roll",
            get(pages::roll_form).post(pages::roll_token),
        )
        .route(
            "/settings/apps/{app}/tokens/{token}/revoke",
            get(pages::confirm_revoke).post(pages::revoke_token),
        )
        .route(
            "/settings/apps/{app}/delete",
            get(pages::confirm_delete).post(pages::delete_app),
        )
        .route("/settings/keys", get(pages::keys))
        .route("/settings/audit", get(pages::audit))
        .route(
            "/settings/webhooks",
            get(pages::webhooks).post(pages::create_webhook),
        )
        .route(
            "/settings/webhooks/{endpoint}",
            get(pages::webhook).post(pages::update_webhook),
        )
        .route(
            "/settings/webhooks/{endpoint}/test",
            post(pages::test_webhook),
        )
        .route(
            "/settings/webhooks/{endpoint}/rotate-secret",
            post(pages::rotate_webhook_secret),
        )
        .route(
            "/settings/webhooks/{endpoint}/enable",
            post(pages::enable_webhook),
        )
        .route(
            "/settings/webhooks/{endpoint}/disable",
            post(pages::disable_webhook),
        )
        .route(
            "/settings/webhooks/{endpoint}/delete",
            get(pages::confirm_delete_webhook).post(pages::delete_webhook),
        )
        .route(
            "/settings/webhooks/{endpoint}/messages/{message}/resend",
            post(pages::resend_webhook_message),
        )
        .route("/static/dashboard.css", get(stylesheet))
        .route("/static/dashboard.js", get(script))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state, signed_in_error_pages))
        .layer(middleware::map_response(security_headers))
}

/// An error page shown to someone signed in keeps the navigation and the
/// log-out link: [`Error`] renders it bare (it has no session at hand) and
/// leaves its text in the response, and this redraws it with the session.
/// Only error pages look the session up.
async fn signed_in_error_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let secret = session::session_secret(request.headers());
    let mut response = next.run(request).await;
    let (Some(secret), Some(page)) = (secret, response.extensions_mut().remove::<ErrorPage>())
    else {
        return response;
    };
    let idle =
        time::Duration::try_from(state.dashboard().session_idle).unwrap_or(time::Duration::ZERO);
    match state.service().session(&secret, idle).await {
        Ok(Some((session, _))) => (
            response.status(),
            views::error_page(page.title, &page.detail, Some(&session)),
        )
            .into_response(),
        _ => response,
    }
}

/// The text of an error page, for [`signed_in_error_pages`].
#[derive(Clone)]
struct ErrorPage {
    title: &'static str,
    detail: String,
}

/// `/dashboard/`, which the nested router does not see: to `/dashboard`.
pub fn trailing_slash() -> axum::routing::MethodRouter<AppState> {
    get(|| async { Redirect::to("/dashboard") })
        .fallback(|| async { Error::MethodNotAllowed })
        .layer(middleware::map_response(security_headers))
}

/// Where a signed-in user lands.
const HOME: &str = "/dashboard/settings/apps";
/// The Settings overview, the root of every breadcrumb.
const SETTINGS: &str = "/dashboard/settings";
const LOGIN: &str = "/dashboard/login";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |name, value| (name, HeaderValue::from_static(value));
    for (name, value) in [
        set(header::CONTENT_SECURITY_POLICY, CSP),
        set(header::X_FRAME_OPTIONS, "DENY"),
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        set(header::REFERRER_POLICY, "no-referrer"),
        set(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, value);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("assets/dashboard.css"),
    )
}

async fn script() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/dashboard.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}

/// What a dashboard request can end in besides its page. Each renders as an
/// HTML page (or a redirect), never as problem+json.
#[derive(Debug)]
pub enum Error {
    /// No valid session: off to the sign-in page.
    LoginRequired,
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// Not found, or another workspace's (the same thing, on purpose).
    NotFound,
    /// A method the page does not answer.
    MethodNotAllowed,
    /// A request no dashboard form sends (wrong content type, bad encoding).
    BadRequest(String),
    /// What was asked cannot be done in the state things are in.
    Conflict(String),
    /// A form larger than the body limit.
    TooLarge,
    /// The database is unavailable.
    Unavailable,
    /// Logged once, here; the page says nothing internal.
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            Error::LoginRequired => return Redirect::to(LOGIN).into_response(),
            Error::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this dashboard, or it is too old. \
                 Nothing was changed. Go back, reload the page and try again."
                    .to_owned(),
            ),
            Error::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it belongs to another workspace.".to_owned(),
            ),
            Error::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Not allowed",
                "This page does not answer that kind of request.".to_owned(),
            ),
            Error::BadRequest(why) => (StatusCode::BAD_REQUEST, "Bad request", why),
            Error::Conflict(why) => (StatusCode::CONFLICT, "That cannot be done now", why),
            Error::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "The form is larger than the service accepts. Nothing was changed.".to_owned(),
            ),
            Error::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "The database is unavailable. Nothing was changed.".to_owned(),
            ),
            Error::Internal(cause) => {
                tracing::error!(error = %cause, "dashboard request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The request failed on our side and has been logged.".to_owned(),
                )
            }
        };
        let mut response = (status, views::error_page(title, &detail, None)).into_response();
        response
            .extensions_mut()
            .insert(ErrorPage { title, detail });
        response
    }
}

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NotFound(_) => Error::NotFound,
            store::Error::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                Error::Unavailable
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<service::Error> for Error {
    fn from(e: service::Error) -> Self {
        match e {
            service::Error::Store(e) => e.into(),
            other => Error::Internal(other.to_string()),
        }
    }
}
