//! The response future of [`Logi`](crate::Logi) and [`RequireLogin`](crate::RequireLogin).
//! Surface: owns polling the inner service or the layer's own answer; decides nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderValue, Response};
use pin_project_lite::pin_project;

use crate::body::LogiBody;

/// What deferred work ends with: the inner service's output, or a response of the layer's own.
pub(crate) enum Deferred<T> {
    Inner(T, Vec<HeaderValue>),
    Own(Response<Bytes>),
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pin_project! {
    /// Response future of the logi services.
    pub struct LogiResponseFuture<F: Future> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F: Future> {
        /// The inner service runs; the session cookies to write (if any) are added to its response.
        Inner { #[pin] future: F, set_cookies: Vec<HeaderValue> },
        /// Work before the inner service (a token refresh), then the inner service.
        Deferred { future: BoxFuture<Deferred<F::Output>> },
        /// One of the layer's own routes.
        Own { future: BoxFuture<Response<Bytes>> },
        /// A response decided without the inner service (a refusal).
        Ready { response: Option<Response<Bytes>> },
    }
}

impl<F: Future> LogiResponseFuture<F> {
    pub(crate) fn inner(future: F, set_cookies: Vec<HeaderValue>) -> Self {
        Self {
            state: State::Inner {
                future,
                set_cookies,
            },
        }
    }

    pub(crate) fn deferred(future: BoxFuture<Deferred<F::Output>>) -> Self {
        Self {
            state: State::Deferred { future },
        }
    }

    pub(crate) fn own(future: BoxFuture<Response<Bytes>>) -> Self {
        Self {
            state: State::Own { future },
        }
    }

    pub(crate) fn ready(response: Response<Bytes>) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for LogiResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<LogiBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner {
                future,
                set_cookies,
            } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(with_cookies(response, std::mem::take(set_cookies))))
            }
            StateProj::Deferred { future } => match ready!(future.as_mut().poll(cx)) {
                Deferred::Inner(response, set_cookies) => {
                    Poll::Ready(Ok(with_cookies(response?, set_cookies)))
                }
                Deferred::Own(response) => Poll::Ready(Ok(full(response))),
            },
            StateProj::Own { future } => {
                let response = ready!(future.as_mut().poll(cx));
                Poll::Ready(Ok(full(response)))
            }
            StateProj::Ready { response } => {
                let response = response
                    .take()
                    .expect("LogiResponseFuture polled after completion");
                Poll::Ready(Ok(full(response)))
            }
        }
    }
}

/// The inner service's response, with the session's cookies when it changed.
fn with_cookies<B>(
    mut response: Response<B>,
    set_cookies: Vec<HeaderValue>,
) -> Response<LogiBody<B>> {
    if !set_cookies.is_empty() {
        let headers = response.headers_mut();
        for cookie in set_cookies {
            headers.append(SET_COOKIE, cookie);
        }
        // A response that sets a session must never be stored by a shared cache.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response.map(LogiBody::inner)
}

pub(crate) fn full<B>(mut response: Response<Bytes>) -> Response<LogiBody<B>> {
    if response.headers().contains_key(SET_COOKIE) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response.map(LogiBody::full)
}
