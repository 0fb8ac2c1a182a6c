//! What tonic-build would generate for
//!
//! ```proto
//! syntax = "proto3";
//! package logi.examples;
//! service Greeter { rpc SayHello (HelloRequest) returns (HelloReply); }
//! message HelloRequest { string name = 1; }
//! message HelloReply { string message = 1; }
//! ```
//!
//! written by hand and reduced to what the example needs: each message is its one string, sent
//! as bare UTF-8 ([`Utf8Codec`]) instead of protobuf, so the examples need neither `protoc` nor
//! `prost`. A real app keeps the `.proto` file and lets `tonic-build` (with `tonic-prost`)
//! generate this module in `build.rs`; nothing else in the example changes.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf as _, BufMut as _};
use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::{Channel, Endpoint};
use tonic::{IntoRequest, Request, Response, Status};

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// The service's full name.
pub const SERVICE: &str = "logi.examples.Greeter";
/// The path of `SayHello`.
pub const SAY_HELLO: &str = "/logi.examples.Greeter/SayHello";

/// The server side of `Greeter`: implement it, then serve it with [`GreeterServer`].
#[tonic::async_trait]
pub trait Greeter: Send + Sync + 'static {
    /// `SayHello`: a greeting for the name in the request.
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status>;
}

/// A [`Greeter`] as a tower service, for `Server::builder().add_service(..)`.
#[derive(Debug)]
pub struct GreeterServer<T> {
    inner: Arc<T>,
}

impl<T> GreeterServer<T> {
    /// Serves `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl<T> Clone for GreeterServer<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> NamedService for GreeterServer<T> {
    const NAME: &'static str = SERVICE;
}

/// `SayHello` as tonic's unary service.
struct SayHello<T>(Arc<T>);

impl<T: Greeter> UnaryService<String> for SayHello<T> {
    type Response = String;
    type Future = BoxFuture<Response<String>, Status>;

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let inner = Arc::clone(&self.0);
        Box::pin(async move { inner.say_hello(request).await })
    }
}

impl<T: Greeter> tower_service::Service<http::Request<Body>> for GreeterServer<T> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.uri().path() != SAY_HELLO {
            return Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) });
        }
        let method = SayHello(Arc::clone(&self.inner));
        Box::pin(async move { Ok(Grpc::new(Utf8Codec).unary(method, request).await) })
    }
}

/// The client side of `Greeter`.
#[derive(Debug, Clone)]
pub struct GreeterClient {
    inner: tonic::client::Grpc<Channel>,
}

impl GreeterClient {
    /// A client over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    /// Connects to `dst`, e.g. `http://127.0.0.1:50051`.
    ///
    /// # Errors
    /// When `dst` is not a URI or the connection fails.
    pub async fn connect(dst: String) -> Result<Self, tonic::transport::Error> {
        Ok(Self::new(Endpoint::new(dst)?.connect().await?))
    }

    /// Calls `SayHello`.
    ///
    /// # Errors
    /// The status the server answered with, or `UNKNOWN` when the channel failed.
    pub async fn say_hello(
        &mut self,
        request: impl IntoRequest<String>,
    ) -> Result<Response<String>, Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::unknown(format!("service was not ready: {e}")))?;
        let path = PathAndQuery::from_static(SAY_HELLO);
        self.inner
            .unary(request.into_request(), path, Utf8Codec)
            .await
    }
}

/// Messages are UTF-8 strings, sent as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Codec;

impl Codec for Utf8Codec {
    type Encode = String;
    type Decode = String;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        Self
    }

    fn decoder(&mut self) -> Self {
        Self
    }
}

impl Encoder for Utf8Codec {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for Utf8Codec {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::invalid_argument("the message is not UTF-8"))
    }
}
