//! The accept loop: HTTP/1.1 connections on the provider's router, with the per-endpoint
//! counters, injected faults and request ids in front of it.
//!
//! axum's own `serve` cannot drop a connection on purpose, hence this loop: a request that meets
//! [`Fault::DropConnection`] fails the hyper service, and hyper closes the connection without
//! writing a response.

use std::convert::Infallible;
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower_service::Service;

use super::endpoint::{Endpoint, Fault};
use super::respond::{OAuthError, REQUEST_ID_HEADER, RequestId};
use super::routes;
use super::state::ProviderState;

/// How long a connection may take to send a request head (idle keep-alive included).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `listener` until `stop` changes (to true) or its sender is gone. Open connections are
/// aborted then.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<ProviderState>,
    mut stop: watch::Receiver<bool>,
) {
    let router = routes::router(Arc::clone(&state));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // Only `true` is ever sent; an error means every handle is gone.
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&state), router.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly, then go on.
                    tracing::debug!(%error, "test provider: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

async fn connection(stream: TcpStream, state: Arc<ProviderState>, router: Router) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| answer(Arc::clone(&state), router.clone(), request));
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(error) = served {
        tracing::trace!(%error, "test provider: connection closed");
    }
}

/// The error that makes hyper close the connection without a response.
#[derive(Debug)]
struct DroppedOnPurpose;

impl fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedOnPurpose {}

async fn answer(
    state: Arc<ProviderState>,
    mut router: Router,
    request: Request<Incoming>,
) -> Result<Response<Body>, DroppedOnPurpose> {
    let request_id = RequestId::generate();
    let endpoint = Endpoint::from_path(request.uri().path());
    tracing::debug!(
        request_id = ?request_id,
        method = %request.method(),
        path = request.uri().path(),
        "test provider: request"
    );
    let fault = endpoint.and_then(|endpoint| {
        state.count(endpoint);
        state.fault(endpoint)
    });
    let mut response = match fault {
        Some(Fault::DropConnection) => return Err(DroppedOnPurpose),
        Some(Fault::Status(status)) => fault_response(status, &request_id),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            route(&mut router, request, &request_id).await
        }
        None => route(&mut router, request, &request_id).await,
    };
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, request_id.header_value());
    Ok(response)
}

async fn route(
    router: &mut Router,
    mut request: Request<Incoming>,
    request_id: &RequestId,
) -> Response<Body> {
    request.extensions_mut().insert(request_id.clone());
    let ready: Result<(), Infallible> =
        poll_fn(|cx| Service::<Request<Incoming>>::poll_ready(router, cx)).await;
    let outcome = match ready {
        Ok(()) => router.call(request).await,
        Err(never) => match never {},
    };
    match outcome {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn fault_response(status: u16, request_id: &RequestId) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            "temporarily_unavailable"
        }
        _ => "server_error",
    };
    let mut response = OAuthError::new(status, code, "fault injected by the test provider")
        .into_response(request_id);
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
