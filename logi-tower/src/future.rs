//! The response future of [`Logi`](crate::Logi) and [`RequireLogin`](crate::RequireLogin).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, SET_COOKIE};
use http::{HeaderValue, Response};
use pin_project_lite::pin_project;

use crate::body::LogiBody;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pin_project! {
    /// Response future of the logi services.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        /// The inner service runs; the session cookies to write (if any) are added to its response.
        Inner { #[pin] future: F, set_cookies: Vec<HeaderValue> },
        /// One of the layer's own routes.
        Own { future: BoxFuture<Response<Bytes>> },
        /// A response decided without the inner service (a refusal).
        Ready { response: Option<Response<Bytes>>, _body: std::marker::PhantomData<fn() -> B> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F, set_cookies: Vec<HeaderValue>) -> Self {
        Self {
            state: State::Inner {
                future,
                set_cookies,
            },
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
                _body: std::marker::PhantomData,
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
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
                let mut response = ready!(future.poll(cx))?;
                if !set_cookies.is_empty() {
                    let headers = response.headers_mut();
                    for cookie in set_cookies.drain(..) {
                        headers.append(SET_COOKIE, cookie);
                    }
                    // A response that sets a session must never be stored by a shared cache.
                    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                }
                Poll::Ready(Ok(response.map(LogiBody::inner)))
            }
            StateProj::Own { future } => {
                let response = ready!(future.as_mut().poll(cx));
                Poll::Ready(Ok(full(response)))
            }
            StateProj::Ready { response, .. } => {
                let response = response
                    .take()
                    .expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(full(response)))
            }
        }
    }
}

pub(crate) fn full<B>(mut response: Response<Bytes>) -> Response<LogiBody<B>> {
    if response.headers().contains_key(SET_COOKIE) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response.map(LogiBody::full)
}
