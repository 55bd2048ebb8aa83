//! One layer per request for its id, its span and its log line.
//!
//! Every request gets an `x-request-id`: the client's own, when it sends a
//! short printable one, or the next value of a per-process counter that starts
//! at a random point (unique in practice; one atomic increment, no system call,
//! no lock). The id is put on the request, on the response and on the
//! request's span, so every line logged while the request is handled names
//! it. When the response is ready, one line says how it went: method, path
//! (never the query string), the route it matched (the template,
//! `/v1/apps/{app}`), status and time taken; for an authenticated request,
//! the caller's app and token id. Tokens are never logged, even where a client
//! puts one by mistake: the query string is left out, and a path segment that
//! could be a token (`v4.…`, `eyJ…`, or longer than any id) is written as
//! `{redacted}`.
//!
//! What the line names but only the inside knows (the route, the caller) is
//! handed out in a [`Logged`] the layer puts in the request's extensions,
//! rather than recorded into the span: a span's fields are formatted again
//! on every record, and that was a fifth of the logging's cost.
//!
//! This does what tower-http's `SetRequestId`, `Trace` and `PropagateRequestId`
//! layers did together, in one pass (they looked the header up three times
//! and wrapped the response in three futures).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use std::borrow::Cow;

use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

use crate::token::Verified;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's id longer than this is replaced by one of ours.
const MAX_CLIENT_ID: usize = 128;

/// What the handling of a request tells its log line: the route it matched
/// and who called. In the request's extensions; each is set once.
#[derive(Clone, Debug, Default)]
pub struct Logged(Arc<LoggedInner>);

#[derive(Debug, Default)]
struct LoggedInner {
    route: OnceLock<MatchedPath>,
    caller: OnceLock<Arc<Verified>>,
}

impl Logged {
    /// The caller, once its token verified.
    pub fn set_caller(&self, verified: &Arc<Verified>) {
        let _ = self.0.caller.set(verified.clone());
    }
}

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
        // `acceptable` made sure it is printable ASCII.
        let span = tracing::info_span!("request", id = id.to_str().unwrap_or("-"));
        let logged = Logged::default();
        request.extensions_mut().insert(logged.clone());
        let method = request.method().clone();
        let uri = request.uri().clone();
        let inner = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            span,
            id: Some(id),
            method,
            uri,
            logged,
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
        uri: Uri,
        logged: Logged,
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
        let elapsed = this.start.elapsed();
        let status = response.status().as_u16();
        let route = this.logged.0.route.get().map(MatchedPath::as_str);
        let caller = this.logged.0.caller.get();
        tracing::info!(
            method = %this.method,
            path = redact(this.uri.path()).as_ref(),
            route,
            status,
            ms = %Millis(elapsed),
            app = caller.and_then(|caller| caller.app_id()),
            token = caller.map(|caller| caller.claims().token_id.as_str()),
            "served"
        );
        crate::telemetry::http_request(route, this.method, status, elapsed);
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

/// Hands the route a request matched to its log line: the line names the
/// template, whatever the path held. On the routes (where axum has matched
/// one), a plain tower layer with no future of its own: it runs on every
/// request.
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

impl<S, B> Service<Request<B>> for KeepMatchedPath<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let extensions = request.extensions();
        if let (Some(route), Some(logged)) =
            (extensions.get::<MatchedPath>(), extensions.get::<Logged>())
        {
            let _ = logged.0.route.set(route.clone());
        }
        self.inner.call(request)
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
