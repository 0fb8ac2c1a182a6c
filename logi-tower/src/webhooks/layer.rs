//! [`WebhookLayer`]: verification in front of any tower service: the verified event in the
//! request's extensions, the refusal as the response. Must not touch: how a delivery is verified
//! (the verifier decides; the layer only hands it the request).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower_layer::Layer;
use tower_service::Service;

use super::{FetchError, WebhookVerifier};
use crate::LogiBody;

/// Verifies logi webhook deliveries before the inner service runs.
///
/// The inner service receives only verified deliveries: the [`LogiEvent`](super::LogiEvent) in
/// the request's extensions and the exact raw body as a [`WebhookBody`]. A refused delivery is
/// answered by the layer (401 and a short JSON reason) and never reaches the inner service.
/// Install it on the webhook route only (with axum, `route_layer` or on the route itself).
///
/// ```
/// use std::convert::Infallible;
///
/// use http::{Request, Response};
/// use logi::webhooks::{LogiEvent, WebhookBody, WebhookLayer, WebhookVerifier};
/// use tower::{ServiceBuilder, service_fn};
///
/// let verifier = WebhookVerifier::builder().secret("k1", "whsec_…").build()?;
/// let service = ServiceBuilder::new()
///     .layer(WebhookLayer::new(verifier))
///     .service(service_fn(|request: Request<WebhookBody>| async move {
///         let event = request.extensions().get::<LogiEvent>().expect("verified");
///         Ok::<_, Infallible>(Response::new(event.name().to_owned()))
///     }));
/// # Ok::<(), logi::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct WebhookLayer {
    verifier: WebhookVerifier,
}

impl WebhookLayer {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: WebhookVerifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for WebhookLayer {
    type Service = Webhook<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Webhook {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`WebhookLayer`] wraps around `S`.
#[derive(Clone, Debug)]
pub struct Webhook<S> {
    inner: S,
    verifier: WebhookVerifier,
}

/// The future of [`Webhook`]. Boxed: it reads the body and may wait for a key fetch before
/// calling the inner service.
pub struct WebhookResponseFuture<R, E> {
    future: Pin<Box<dyn Future<Output = Result<R, E>> + Send>>,
}

impl<R, E> Future for WebhookResponseFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl<R, E> fmt::Debug for WebhookResponseFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookResponseFuture")
    }
}

impl<S, B, ResBody> Service<Request<B>> for Webhook<S>
where
    S: Service<Request<WebhookBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<FetchError>,
    ResBody: Send + 'static,
{
    type Response = Response<LogiBody<ResBody>>;
    type Error = S::Error;
    type Future = WebhookResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Use the service that was polled ready; leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let future = async move {
            let (mut parts, body) = request.into_parts();
            match verifier.verify_body(&parts.headers, body).await {
                Ok(event) => {
                    let raw = event.raw().clone();
                    parts.extensions.insert(event);
                    let request = Request::from_parts(parts, WebhookBody::new(raw));
                    let response = inner.call(request).await?;
                    Ok(response.map(LogiBody::inner))
                }
                Err(error) => Ok(error.response().map(LogiBody::full)),
            }
        };
        WebhookResponseFuture {
            future: Box::pin(future),
        }
    }
}

/// The body of a verified delivery as the inner service of [`WebhookLayer`] receives it: the
/// exact bytes that were signed, in one frame.
#[derive(Clone, Default)]
pub struct WebhookBody {
    data: Option<Bytes>,
}

impl WebhookBody {
    fn new(data: Bytes) -> Self {
        Self {
            data: (!data.is_empty()).then_some(data),
        }
    }
}

impl fmt::Debug for WebhookBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookBody")
            .field("bytes", &self.data.as_ref().map_or(0, Bytes::len))
            .finish()
    }
}

impl Body for WebhookBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}
