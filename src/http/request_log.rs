//! One layer per request for its id, its span and its log line.
//!
//! Every request gets an `x-request-id`: the client's own, when it sends a
//! short printable one, or the next value of a per-process counter that starts
//! at a random point (unique in practice; one atomic increment, no system call,
//! no lock). The id is put on the request, on the response and on the request's
//! span, and the span logs one line when the response is ready, with the
//! route it matched (the template, `/v1/apps/{app}`) and the path, never the
//! query string; for an authenticated request, the caller's app and token
//! id (`auth` records them). Tokens are never logged, even where a client puts one by
//! mistake: the query string is left out, and a path segment that could be a
//! token (`v4.…`, `eyJ…`, or longer than any id) is written as `{redacted}`.
//!
//! This does what tower-http's `SetRequestId`, `Trace` and `PropagateRequestId`
//! layers did together, in one pass (they looked the header up three times
//! and wrapped the response in three futures).

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use std::borrow::Cow;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's id longer than this is replaced by one of ours.
const MAX_CLIENT_ID: usize = 128;

#[derive(Clone, Copy, Debug, Default)]
pub struct RequestLogLayer;

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> RequestLog<S> {
        RequestLog { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestLog<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RequestLog<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match request.headers().get(&X_REQUEST_ID) {
            Some(id) if acceptable(id) => id.clone(),
            _ => {
                let id = next_id();
                request.headers_mut().insert(X_REQUEST_ID, id.clone());
                id
            }
        };
        let span = tracing::info_span!(
            "request",
            // `acceptable` made sure it is printable ASCII.
            id = id.to_str().unwrap_or("-"),
            method = %request.method(),
            path = redact(request.uri().path()).as_ref(),
            route = tracing::field::Empty,
            app = tracing::field::Empty,
            token = tracing::field::Empty,
        );
        let method = request.method().clone();
        let inner = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            span,
            id: Some(id),
            method,
            start: Instant::now(),
        }
    }
}

pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        id: Option<HeaderValue>,
        method: Method,
        start: Instant,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = ready!(this.inner.poll(cx))?;
        let route = response.extensions_mut().remove::<MatchedPath>();
        if let Some(route) = &route {
            this.span.record("route", route.as_str());
        }
        let elapsed = this.start.elapsed();
        let status = response.status().as_u16();
        tracing::info!(status, ms = %Millis(elapsed), "served");
        crate::telemetry::http_request(
            route.as_ref().map(MatchedPath::as_str),
            this.method,
            status,
            elapsed,
        );
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID, id);
        }
        Poll::Ready(Ok(response))
    }
}

/// A duration as milliseconds with three decimals, from integers (no float
/// formatting on every request).
struct Millis(std::time::Duration);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = self.0.as_micros();
        write!(f, "{}.{:03}", micros / 1000, micros % 1000)
    }
}

/// The longest path segment logged as it is: ids are 30 characters, tokens
/// hundreds.
const MAX_LOGGED_SEGMENT: usize = 48;

/// The path with every segment that could be a token replaced.
pub fn redact(path: &str) -> Cow<'_, str> {
    let looks_like_token = |segment: &str| {
        segment.len() > MAX_LOGGED_SEGMENT
            || segment.starts_with("v4.")
            || segment.starts_with("eyJ")
            || segment.starts_with("v4%2")
    };
    if !path.split('/').any(looks_like_token) {
        return Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| match looks_like_token(segment) {
            true => "{redacted}",
            false => segment,
        })
        .collect();
    Cow::Owned(segments.join("/"))
}

/// Hands the route a request matched to the request log, on the response:
/// the log line names the template, whatever the path held. A plain tower
/// layer (no boxed future) on the routes: it runs on every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepMatchedPathLayer;

impl<S> Layer<S> for KeepMatchedPathLayer {
    type Service = KeepMatchedPath<S>;

    fn layer(&self, inner: S) -> KeepMatchedPath<S> {
        KeepMatchedPath { inner }
    }
}

#[derive(Clone, Debug)]
pub struct KeepMatchedPath<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for KeepMatchedPath<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = KeepMatchedPathFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        KeepMatchedPathFuture {
            inner: self.inner.call(request),
            route,
        }
    }
}

pin_project! {
    pub struct KeepMatchedPathFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, R, E> Future for KeepMatchedPathFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}

/// A client's id is kept if it is short and printable ASCII (`to_str`
/// refuses anything else), so it can go into a log line as it is.
fn acceptable(id: &HeaderValue) -> bool {
    !id.is_empty() && id.len() <= MAX_CLIENT_ID && id.to_str().is_ok()
}

static NEXT_ID: LazyLock<AtomicU64> = LazyLock::new(|| {
    use rand_core::RngCore as _;
    // The top bit clear leaves room to count for ever.
    AtomicU64::new(rand_core::OsRng.next_u64() >> 1)
});

fn next_id() -> HeaderValue {
    HeaderValue::from(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_short_and_printable() {
        assert!(acceptable(&HeaderValue::from_static("client-42")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(
            &HeaderValue::from_str(&"a".repeat(129)).unwrap()
        ));
        assert!(!acceptable(
            &HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()
        ));
    }

    #[test]
    fn segments_that_could_be_tokens_are_redacted_and_ids_kept() {
        let paseto = format!("v4.public.{}", "A".repeat(200));
        let jwt = format!("eyJhbGciOiJFZERTQSJ9.{}.sig", "B".repeat(100));
        let id = "tok_01J0000000000000000000000A";
        assert_eq!(
            redact(&format!(
                "/v1/apps/app_01J0000000000000000000000C/tokens/{paseto}"
            )),
            "/v1/apps/app_01J0000000000000000000000C/tokens/{redacted}"
        );
        assert_eq!(redact(&format!("/{jwt}")), "/{redacted}");
        assert_eq!(redact("/v4.public.short"), "/{redacted}");
        assert_eq!(redact(&format!("/x/{}", "c".repeat(49))), "/x/{redacted}");
        assert!(matches!(
            redact(&format!("/v1/contacts/{id}")),
            Cow::Borrowed(_)
        ));
        assert_eq!(redact("/health"), "/health");
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(next_id(), next_id());
    }
}
