//! One layer per request for its id, its span and its log line.
//!
//! Every request gets an `x-request-id`: the client's own, when it sends a
//! short printable one, or the next value of a per-process counter that starts
//! at a random point (unique in practice; one atomic increment, no system call,
//! no lock). The id is put on the request, on the response and on the request's
//! span, and the span logs one line when the response is ready. The path is
//! logged, never the query string: a client could put a token there by mistake,
//! and tokens are never logged.
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

use axum::http::{HeaderName, HeaderValue, Request, Response};
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
            path = request.uri().path(),
        );
        let inner = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            span,
            id: Some(id),
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
        tracing::info!(
            status = response.status().as_u16(),
            ms = this.start.elapsed().as_secs_f64() * 1000.0,
            "served"
        );
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID, id);
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
    fn generated_ids_differ() {
        assert_ne!(next_id(), next_id());
    }
}
