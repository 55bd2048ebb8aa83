//! The HTTP API (axum). `app(state)` builds the whole service as a `Router`,
//! separate from serving it, so tests can run it on any listener.
//!
//! - `auth`: the bearer-token extractor and route scopes;
//! - `error`: `ApiError`, the one place that knows status codes;
//! - `extract`: JSON and query extractors that answer problem+json;
//! - `request_log`: request ids and one log line per request;
//! - `system`, `revocations`, `apps`, `contacts`, `modules`: the routes, each
//!   beside its handlers;
//! - `dashboard`: Settings › Apps in the browser (server-rendered HTML).
//!
//! Handlers only translate: they parse input into domain types, call the
//! service layer (`crate::service`) with the caller as the actor, and render
//! the result.

pub mod auth;
pub mod cursor;
pub mod dashboard;
pub mod error;
pub mod extract;

mod apps;
mod audit;
pub(crate) mod contacts;
mod modules;
mod request_log;
mod revocations;
mod system;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::authn::Authenticator;
use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::keys::LiveKeys;
use crate::revocation::Revocations;
use crate::service::{Origin, Service};
use crate::usage::UsageLog;
use cursor::CursorKey;
use error::ApiError;
use request_log::RequestLogLayer;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Everything a handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    service: Service,
    dashboard: dashboard::Config,
    /// The keys, the token cache and the denylist, and the rule that checks
    /// a bearer token against them.
    authenticator: Authenticator<LiveKeys>,
    revocations: Arc<Revocations>,
    cursor_key: CursorKey,
    feed_memo: revocations::FeedMemo,
    /// Token usage waiting to be written; `None` when tracking is off.
    usage: Option<Arc<UsageLog>>,
}

impl AppState {
    pub fn new(
        service: Service,
        keys: Arc<LiveKeys>,
        revocations: Arc<Revocations>,
        cursor_key: CursorKey,
        token_cache: TokenCache,
        dashboard: dashboard::Config,
        usage: Option<Arc<UsageLog>>,
    ) -> AppState {
        let authenticator = Authenticator::new(keys, Some(revocations.live().clone()));
        // A cache turned off is left out, not consulted for nothing.
        let authenticator = match token_cache.is_enabled() {
            true => authenticator.with_cache(token_cache),
            false => authenticator,
        };
        AppState(Arc::new(Inner {
            service,
            dashboard,
            authenticator,
            revocations,
            cursor_key,
            feed_memo: revocations::FeedMemo::default(),
            usage,
        }))
    }

    pub fn authenticator(&self) -> &Authenticator<LiveKeys> {
        &self.0.authenticator
    }

    fn feed_memo(&self) -> &revocations::FeedMemo {
        &self.0.feed_memo
    }

    pub fn cursor_key(&self) -> &CursorKey {
        &self.0.cursor_key
    }

    pub fn service(&self) -> &Service {
        &self.0.service
    }

    pub fn clock(&self) -> &dyn Clock {
        self.0.service.clock()
    }

    pub fn keys(&self) -> &LiveKeys {
        self.0.authenticator.keys()
    }

    pub fn revocations(&self) -> &Revocations {
        &self.0.revocations
    }

    pub fn dashboard(&self) -> &dashboard::Config {
        &self.0.dashboard
    }

    pub fn usage(&self) -> Option<&UsageLog> {
        self.0.usage.as_deref()
    }

    /// The same, shared, for the job that writes it out.
    pub fn usage_log(&self) -> Option<Arc<UsageLog>> {
        self.0.usage.clone()
    }
}

/// The client a request comes from: the connection's peer, or, behind a
/// proxy we were told to trust, the address that proxy appended last to
/// `X-Forwarded-For` (earlier entries are the client's to invent). What the
/// sign-in limit counts by, and what the audit log records.
pub(crate) fn client_address(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trust_forwarded_for: bool,
) -> Option<std::net::IpAddr> {
    let forwarded = || {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    };
    let peer = || {
        extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|axum::extract::ConnectInfo(address)| address.ip())
    };
    // Without the header, the connection's address is all there is.
    trust_forwarded_for.then(forwarded).flatten().or_else(peer)
}

/// Where a request came from, for the audit log: the request id the request
/// log gave it (or the client's own), and the client's address.
pub(crate) fn origin(parts: &axum::http::request::Parts, state: &AppState) -> Origin {
    Origin {
        request_id: parts
            .headers
            .get(request_log::X_REQUEST_ID)
            .and_then(|id| id.to_str().ok())
            .map(str::to_owned),
        client: client_address(
            &parts.headers,
            &parts.extensions,
            state.dashboard().trust_forwarded_for,
        ),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Informly API",
        description = "Apps, API tokens and the Contacts API. Errors are application/problem+json (RFC 9457)."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "system", description = "Health and readiness"),
        (name = "keys", description = "Public keys for offline verification"),
        (name = "revocations", description = "The signed revocation feed, for offline verifiers"),
        (name = "apps", description = "Apps (admin tokens)"),
        (name = "tokens", description = "API tokens"),
        (name = "audit", description = "The audit log (admin tokens with audit:read)"),
        (name = "webhooks", description = "Webhook endpoints and their deliveries (admin tokens with webhooks:*)"),
        (name = "contacts", description = "The Contacts API"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("PASETO v4.public or JWT (RFC 9068)".to_owned());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Documents the problem+json answers every route can give, from one place:
/// 401/403 on protected routes, 400/413/415/422 where a body is read, 404 where
/// the path names a resource, 400 for bad query strings and 503 when the
/// database is unavailable; and gives every `Problem` response its real media
/// type, `application/problem+json`.
struct ProblemResponses;

impl utoipa::Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        const PROBLEM: &str = "application/problem+json";
        let problem = |why: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(why)
                    .content(
                        PROBLEM,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                for response in responses.values_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    let is_problem = response.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                    });
                    if is_problem
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response.content.insert(PROBLEM.to_owned(), content);
                    }
                }
                let protected = operation.security.is_some();
                let body = operation.request_body.is_some();
                let mut add = |code: &str, why: &str| {
                    responses
                        .entry(code.to_owned())
                        .or_insert_with(|| problem(why));
                };
                if protected {
                    add(
                        "400",
                        "malformed request (bad query string, two Authorization headers)",
                    );
                    add("401", "no token, or an invalid, expired or revoked one");
                    add("403", "the token lacks the route's scope");
                    add(
                        "503",
                        "the database is unavailable, or the request timed out",
                    );
                }
                if body {
                    add("400", "the body is not valid JSON");
                    add("413", "the body is larger than 1 MiB");
                    add("415", "the body is not sent as application/json");
                    add("422", "invalid fields");
                }
                if path.contains('{') {
                    add("404", "no such resource in the caller's workspace");
                }
            }
        }
    }
}

/// The OpenAPI document of everything `app` serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// The routes with their documentation. The problem responses are added once
/// every route is in (a modifier on `ApiDoc` would run before they are).
fn api_router() -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::router())
        .merge(revocations::router())
        .merge(apps::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .merge(contacts::router());
    let (router, mut openapi) = router.split_for_parts();
    utoipa::Modify::modify(&ProblemResponses, &mut openapi);
    OpenApiRouter::with_openapi(openapi).merge(OpenApiRouter::from(router))
}

/// The whole service, with its limits, timeouts and request logging
/// ([`layered`]).
pub fn app(state: AppState, request_timeout: Duration) -> Router {
    let (router, openapi) = api_router().split_for_parts();
    let openapi = Arc::new(openapi.to_json().unwrap_or_default());

    let router = router
        .route(
            "/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        openapi.to_string(),
                    )
                }
            }),
        )
        .merge(modules::router())
        // A browser opening the service's address lands on the dashboard.
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .nest("/dashboard", dashboard::router(state.clone()))
        .route("/dashboard/", dashboard::trailing_slash())
        .fallback(|| async { ApiError::NotFound("route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state);
    layered(router, request_timeout)
}

/// The layers every request of `router` passes through: the body limit, its
/// id and log line, panics caught (500), and the request timeout (503).
/// [`app`] puts them around the API; the load benchmark's reference handlers
/// (`examples/bench_reference.rs`) around theirs, so that a figure set beside
/// the API's differs from it by handlers only.
pub fn layered(router: Router, request_timeout: Duration) -> Router {
    router
        .route_layer(request_log::KeepMatchedPathLayer)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(
            ServiceBuilder::new()
                .layer(RequestLogLayer)
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::Internal("a handler panicked".to_owned()).into_response()
                }))
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::Timeout
                }))
                .timeout(request_timeout),
        )
}
