//! Signing in and out, sessions, CSRF and the sign-in limits.
//!
//! - A session is a database row keyed by the SHA-256 of a random 256-bit
//!   secret; the secret lives only in the cookie (HttpOnly, SameSite=Strict,
//!   and `Secure` with the `__Host-` prefix behind https). A session ends
//!   after [`Config::session_idle`] unused or [`Config::session_lifetime`]
//!   after sign-in, whichever comes first, or at sign-out.
//! - Every form carries a CSRF token: the session's own, compared in constant
//!   time; the sign-in form's is a random value also set as a cookie (double
//!   submit), so a third-party page cannot sign a victim into its account.
//! - Sign-in attempts are counted in the database per email (5 per 15 min) and
//!   per client address (20 per 15 min; behind a proxy, see
//!   `--trust-forwarded-for`), whether or not the email exists, and
//!   the answer is the same either way; an unknown email costs the same
//!   Argon2 check as a wrong password.
//!
//! [`Config::session_idle`]: super::Config::session_idle
//! [`Config::session_lifetime`]: super::Config::session_lifetime

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Error, HOME, LOGIN, Result, views};
use crate::http::AppState;
use crate::ids;
use crate::service::{Actor, Origin, SignIn, SignInAttempt};
use crate::store::Session;

const SESSION_COOKIE: &str = "informly_session";
const SECURE_SESSION_COOKIE: &str = "__Host-informly_session";
const LOGIN_CSRF_COOKIE: &str = "informly_login_csrf";
const SECURE_LOGIN_CSRF_COOKIE: &str = "__Host-informly_login_csrf";

/// A signed-in user's session, checked against its idle and absolute limits.
pub struct CurrentUser {
    pub session: Session,
    id_hash: String,
    /// The request, for the audit log.
    origin: Origin,
}

impl CurrentUser {
    /// The user as the service layer's actor: their workspace, and who.
    pub fn actor(&self) -> Actor {
        let user = &self.session.user;
        Actor::User {
            workspace: user.workspace_id.clone(),
            user_id: user.id.clone(),
            email: user.email.clone(),
            origin: self.origin.clone(),
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let secret = session_secret(&parts.headers).ok_or(Error::LoginRequired)?;
        let idle = time::Duration::try_from(state.dashboard().session_idle)
            .unwrap_or(time::Duration::ZERO);
        let (session, id_hash) = state
            .service()
            .session(&secret, idle)
            .await?
            .ok_or(Error::LoginRequired)?;
        Ok(CurrentUser {
            session,
            id_hash,
            origin: crate::http::origin(parts, state),
        })
    }
}

impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>> {
        match <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(user) => Ok(Some(user)),
            Err(Error::LoginRequired) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A form posted by a signed-in user, its CSRF token checked before anything
/// else is read.
pub struct Posted<T> {
    pub user: CurrentUser,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let (mut parts, body) = req.into_parts();
        let user =
            <CurrentUser as FromRequestParts<AppState>>::from_request_parts(&mut parts, state)
                .await?;
        let body = form_body(Request::from_parts(parts, body), state).await?;
        check_csrf(&body, &user.session.csrf_token)?;
        let form = parse_form(&body)?;
        Ok(Posted { user, form })
    }
}

#[derive(Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

fn check_csrf(body: &Bytes, expected: &str) -> Result<()> {
    let sent = serde_html_form::from_bytes::<CsrfField>(body)
        .ok()
        .and_then(|f| f.csrf)
        .ok_or(Error::Csrf)?;
    if expected.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(Error::Csrf);
    }
    Ok(())
}

fn parse_form<T: DeserializeOwned>(body: &Bytes) -> Result<T> {
    serde_html_form::from_bytes(body)
        .map_err(|e| Error::BadRequest(format!("The form could not be read: {e}.")))
}

/// The body of a form post: `application/x-www-form-urlencoded`, within the
/// body limit.
async fn form_body(req: Request, state: &AppState) -> Result<Bytes> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(Error::BadRequest(
            "Dashboard forms are sent as application/x-www-form-urlencoded.".to_owned(),
        ));
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge
        } else {
            Error::BadRequest(e.body_text())
        }
    })
}

/// `GET /dashboard`: the apps, or the sign-in page.
pub async fn home(user: Option<CurrentUser>) -> Redirect {
    Redirect::to(if user.is_some() { HOME } else { LOGIN })
}

/// `GET /dashboard/login`.
pub async fn login_page(headers: HeaderMap, user: Option<CurrentUser>) -> Response {
    if user.is_some() {
        return Redirect::to(HOME).into_response();
    }
    let csrf = ids::secret();
    let jar = CookieJar::new().add(login_csrf_cookie(&csrf, is_https(&headers)));
    (jar, views::login(&csrf, "", None)).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: Zeroizing<String>,
}

/// `POST /dashboard/login`.
pub async fn login(State(state): State<AppState>, req: Request) -> Result<Response> {
    let headers = req.headers().clone();
    let client = crate::http::client_address(
        req.headers(),
        req.extensions(),
        state.dashboard().trust_forwarded_for,
    );
    let https = is_https(&headers);
    let body = form_body(req, &state).await?;
    let jar = CookieJar::from_headers(&headers);
    let (csrf_cookie, _) = login_csrf_cookie_name(https);
    let expected = jar.get(csrf_cookie).map(Cookie::value).unwrap_or("");
    check_csrf(&body, expected)?;
    let form: LoginForm = parse_form(&body)?;
    let email = form.email.trim();
    let csrf = expected.to_owned();

    let lifetime = time::Duration::try_from(state.dashboard().session_lifetime)
        .unwrap_or(time::Duration::ZERO);
    let attempt = SignInAttempt {
        email,
        password: form.password,
        origin: Origin {
            request_id: headers
                .get(crate::http::request_log::X_REQUEST_ID)
                .and_then(|id| id.to_str().ok())
                .map(str::to_owned),
            client,
        },
        lifetime,
    };
    let secret = match state.service().sign_in(attempt).await? {
        SignIn::Started(started) => started.secret,
        SignIn::Refused => {
            return Ok((
                StatusCode::UNAUTHORIZED,
                views::login(&csrf, email, Some("Incorrect email or password.")),
            )
                .into_response());
        }
        SignIn::Locked { retry_after } => {
            let retry_after_s = retry_after.whole_seconds();
            let minutes = (retry_after_s + 59) / 60;
            let message = format!(
                "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                views::login(&csrf, email, Some(&message)),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Ok(response);
        }
    };
    let jar = CookieJar::new()
        .add(session_cookie(secret, https, lifetime))
        .add(expired(csrf_cookie, login_csrf_cookie_name(https).1, https));
    Ok((jar, Redirect::to(HOME)).into_response())
}

/// `POST /dashboard/logout`: ends the session here and for every instance.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<Empty>,
) -> Result<Response> {
    state.service().sign_out(&posted.user.id_hash).await?;
    let https = is_https(&headers);
    let (name, path) = session_cookie_name(https);
    let jar = CookieJar::new().add(expired(name, path, https));
    Ok((jar, Redirect::to(LOGIN)).into_response())
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct Empty {}

/// Whether the request reached us over https, as the proxy in front says.
/// Believing a client here is harmless: the worst it gets is a `Secure`
/// cookie it cannot send back over http.
pub(super) fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The session cookie's name and path: `__Host-` (Secure, Path=/) behind
/// https; a plain cookie scoped to the dashboard over http (local use).
fn session_cookie_name(https: bool) -> (&'static str, &'static str) {
    if https {
        (SECURE_SESSION_COOKIE, "/")
    } else {
        (SESSION_COOKIE, "/dashboard")
    }
}

pub(super) fn session_secret(headers: &HeaderMap) -> Option<String> {
    let (name, _) = session_cookie_name(is_https(headers));
    let jar = CookieJar::from_headers(headers);
    let value = jar.get(name)?.value();
    // A secret is 43 base64url characters; anything else is not one of ours.
    (value.len() == 43).then(|| value.to_owned())
}

fn session_cookie(secret: String, https: bool, lifetime: time::Duration) -> Cookie<'static> {
    let (name, path) = session_cookie_name(https);
    Cookie::build((name, secret))
        .path(path)
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .max_age(lifetime)
        .build()
}

/// The sign-in form's CSRF cookie: `__Host-` (Secure, Path=/) behind https,
/// as the session cookie, so a sibling subdomain cannot plant one and sign a
/// victim in to the planter's account; plain over http (local use).
fn login_csrf_cookie_name(https: bool) -> (&'static str, &'static str) {
    if https {
        (SECURE_LOGIN_CSRF_COOKIE, "/")
    } else {
        (LOGIN_CSRF_COOKIE, "/dashboard")
    }
}

fn login_csrf_cookie(value: &str, https: bool) -> Cookie<'static> {
    let (name, path) = login_csrf_cookie_name(https);
    Cookie::build((name, value.to_owned()))
        .path(path)
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .build()
}

/// A cookie that deletes the one it names. Browsers only accept it with the
/// attributes that cookie was set with (`Secure` for `__Host-`).
fn expired(name: &'static str, path: &'static str, https: bool) -> Cookie<'static> {
    Cookie::build((name, ""))
        .path(path)
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::ZERO)
        .build()
}
