//! `#[logi::protected]` on tonic service methods: a tonic server behind `LogiLayer`, called by a
//! tonic client over HTTP/2 on 127.0.0.1. The service is what tonic-build would generate, written
//! by hand with a UTF-8 string codec, so the test needs neither protoc nor prost.

#![cfg(all(
    feature = "testing",
    feature = "axum",
    feature = "macros",
    feature = "tonic"
))]

mod support;

use std::net::SocketAddr;

use axum::Router;
use http::uri::PathAndQuery;
use logi::grpc::LogiRequestExt as _;
use logi::testing::{Endpoint, TestProvider, TestSession};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

use pb::{Greeter, GreeterServer, Utf8Codec};

struct MyGreeter;

// The order tonic users write: `async_trait` on the impl, the attribute on the method.
#[tonic::async_trait]
impl Greeter for MyGreeter {
    #[logi::protected(scopes = ["greeter:hello"])]
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status> {
        let user = request
            .logi_user()
            .expect("the guard let a signed-in user through");
        Ok(Response::new(format!(
            "hello {}, from {}",
            request.get_ref(),
            user.sub()
        )))
    }

    async fn who_am_i(&self, request: Request<String>) -> Result<Response<String>, Status> {
        self.who(request).await
    }
}

impl MyGreeter {
    // A plain `async fn` with a receiver: the attribute before any `async_trait` rewriting.
    #[logi::protected(any_scope = ["admin", "support"])]
    async fn who(&self, _: Request<String>) -> Result<Response<String>, Status> {
        Ok(Response::new("an operator".to_owned()))
    }
}

/// Serves the greeter on 127.0.0.1, behind `logi` when given.
async fn serve(logi: Option<logi::LogiLayer>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TcpIncoming::from(listener);
    let service = GreeterServer::new(MyGreeter);
    tokio::spawn(async move {
        match logi {
            Some(logi) => Server::builder()
                .layer(logi)
                .add_service(service)
                .serve_with_incoming(incoming)
                .await
                .unwrap(),
            None => Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await
                .unwrap(),
        }
    });
    addr
}

/// Calls `method` with `cookie` as metadata when given.
async fn call(
    addr: SocketAddr,
    method: &'static str,
    cookie: Option<String>,
) -> Result<String, Status> {
    match cookie {
        Some(cookie) => call_with(addr, method, "cookie", cookie).await,
        None => call_metadata(addr, method, None).await,
    }
}

/// Calls `method` with one metadata entry.
async fn call_with(
    addr: SocketAddr,
    method: &'static str,
    name: &'static str,
    value: String,
) -> Result<String, Status> {
    call_metadata(addr, method, Some((name, value))).await
}

async fn call_metadata(
    addr: SocketAddr,
    method: &'static str,
    metadata: Option<(&'static str, String)>,
) -> Result<String, Status> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = Request::new("ada".to_owned());
    if let Some((name, value)) = metadata {
        request.metadata_mut().insert(name, value.parse().unwrap());
    }
    let path = PathAndQuery::from_static(method);
    client
        .unary(request, path, Utf8Codec)
        .await
        .map(Response::into_inner)
}

const SAY_HELLO: &str = "/logi.test.Greeter/SayHello";
const WHO_AM_I: &str = "/logi.test.Greeter/WhoAmI";

#[tokio::test]
async fn protected_methods_answer_with_grpc_statuses() {
    let app = support::start_app(TestProvider::builder(), |b| b, |_| Router::new()).await;
    let addr = serve(Some(app.logi.clone())).await;
    let cookie = |session: TestSession| Some(session.cookie_header(&app.logi));

    let signed_out = call(addr, SAY_HELLO, None).await.unwrap_err();
    assert_eq!(signed_out.code(), Code::Unauthenticated, "{signed_out:?}");
    assert_eq!(signed_out.message(), "sign in required");

    let denied = call(addr, SAY_HELLO, cookie(TestSession::new("user-0001")))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(denied.message(), "requires the scope greeter:hello");

    let greeter = TestSession::new("user-0001").scopes(["openid", "greeter:hello"]);
    let hello = call(addr, SAY_HELLO, cookie(greeter.clone()))
        .await
        .unwrap();
    assert_eq!(hello, "hello ada, from user-0001");

    // The method protected before `async_trait`'s rewriting, through an inherent method.
    let denied = call(addr, WHO_AM_I, cookie(greeter)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(
        call(addr, WHO_AM_I, None).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let support = TestSession::new("user-0001").scopes(["openid", "support"]);
    assert_eq!(
        call(addr, WHO_AM_I, cookie(support)).await.unwrap(),
        "an operator"
    );

    for endpoint in [Endpoint::Token, Endpoint::Userinfo, Endpoint::Jwks] {
        assert_eq!(app.provider.calls(endpoint), 0, "{endpoint:?}");
    }
}

#[tokio::test]
async fn bearer_tokens_are_checked_the_same_way() {
    let app = support::start_app(TestProvider::builder(), |b| b, |_| Router::new()).await;
    let addr = serve(Some(app.logi.clone())).await;
    let bearer = |scopes: &[&str]| support::bearer(&app.provider, scopes);

    let hello = call_with(
        addr,
        SAY_HELLO,
        "authorization",
        bearer(&["openid", "greeter:hello"]),
    )
    .await
    .unwrap();
    assert_eq!(hello, "hello ada, from user-0003");
    let denied = call_with(addr, SAY_HELLO, "authorization", bearer(&["openid"]))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let forged = call_with(
        addr,
        SAY_HELLO,
        "authorization",
        "Bearer not.a.token".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    assert_eq!(app.provider.calls(Endpoint::Jwks), 1, "keys fetched once");
}

#[tokio::test]
async fn every_forged_or_unfit_bearer_token_is_refused_with_its_reason() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    let app = support::start_app(TestProvider::builder(), |b| b, |_| Router::new()).await;
    let addr = serve(Some(app.logi.clone())).await;
    let now = support::clock::unix_now();
    let claims = json!({
        "iss": app.provider.issuer(), "sub": "user-0003", "aud": support::CLIENT_ID,
        "exp": now + 600, "iat": now, "jti": "j", "scope": "openid greeter:hello",
    });
    let with = |key: &str, value: serde_json::Value| {
        let mut c = claims.clone();
        c[key] = value;
        app.provider.sign_claims(&c)
    };
    let kid = app.provider.current_kid();
    let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let hs256 = {
        let input = format!(
            "{}.{}",
            encode(&json!({"alg": "HS256", "kid": kid})),
            encode(&claims)
        );
        let n = app.provider.jwks()["keys"][0]["n"]
            .as_str()
            .unwrap()
            .to_owned();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, n.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let valid = app.provider.sign_claims(&claims);
    let tampered = {
        let mut parts: Vec<&str> = valid.split('.').collect();
        let other = encode(&json!({"sub": "someone-else"}));
        parts[1] = &other;
        parts.join(".")
    };
    let cases = [
        (with("exp", json!(now - 3600)), "expired"),
        (with("aud", json!("logi_other_api")), "aud_mismatch"),
        (with("iss", json!("https://evil.example")), "iss_mismatch"),
        (tampered, "bad_signature"),
        (
            format!(
                "{}.{}.",
                encode(&json!({"alg": "none", "kid": kid})),
                encode(&claims)
            ),
            "bad_signature",
        ),
        (hs256, "bad_signature"),
        (
            app.provider
                .sign_with_header(&json!({"alg": "RS256", "kid": "nope"}), &claims),
            "unknown_kid",
        ),
    ];
    for (token, code) in cases {
        let status = call_with(addr, SAY_HELLO, "authorization", format!("Bearer {token}"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{code}: {status:?}");
        assert!(
            status.message().starts_with(code),
            "{code}: {}",
            status.message()
        );
        assert!(
            !status.message().contains(&token[..20]),
            "the token is never echoed"
        );
    }
    let no_scope = with("scope", json!("openid"));
    let status = call_with(
        addr,
        SAY_HELLO,
        "authorization",
        format!("Bearer {no_scope}"),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(status.message(), "requires the scope greeter:hello");
    assert_eq!(
        call_with(addr, SAY_HELLO, "authorization", format!("Bearer {valid}"))
            .await
            .unwrap(),
        "hello ada, from user-0003"
    );
}

#[tokio::test]
async fn id_tokens_and_logout_tokens_are_unauthenticated() {
    let app = support::start_app(TestProvider::builder(), |b| b, |_| Router::new()).await;
    let addr = serve(Some(app.logi.clone())).await;
    let tokens = support::code_grant(
        &app.provider,
        support::CLIENT_ID,
        support::CLIENT_SECRET,
        &format!("{}/auth/callback", app.origin),
        "openid greeter:hello",
    )
    .await;
    let bearer = |token: &str| format!("Bearer {token}");
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        call_with(addr, SAY_HELLO, "authorization", bearer(access_token))
            .await
            .unwrap(),
        "hello ada, from user-0001",
        "the genuine access token passes"
    );
    let logout_token = app
        .provider
        .logout_token(support::CLIENT_ID)
        .sub("user-0001")
        .sign();
    for token in [tokens["id_token"].as_str().unwrap(), &logout_token] {
        let status = call_with(addr, SAY_HELLO, "authorization", bearer(token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(i32::from(status.code()), 16);
        assert!(
            status.message().starts_with("not_an_access_token: "),
            "{}",
            status.message()
        );
        assert!(!status.message().contains(&token[..20]));
    }
}

#[tokio::test]
async fn without_the_layer_the_status_names_it() {
    let addr = serve(None).await;
    let missing = call(addr, SAY_HELLO, None).await.unwrap_err();
    assert_eq!(missing.code(), Code::Internal);
    assert!(missing.message().contains("`LogiLayer`"), "{missing:?}");
}

/// What tonic-build generates for
/// `service Greeter { rpc SayHello (string) returns (string); rpc WhoAmI (string) returns (string); }`,
/// reduced to what the test needs.
mod pb {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use bytes::{Buf as _, BufMut as _};
    use tonic::body::Body;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
    use tonic::server::{Grpc, NamedService, UnaryService};
    use tonic::{Request, Response, Status};

    type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

    #[tonic::async_trait]
    pub(crate) trait Greeter: Send + Sync + 'static {
        async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status>;
        async fn who_am_i(&self, request: Request<String>) -> Result<Response<String>, Status>;
    }

    pub(crate) struct GreeterServer<T> {
        inner: Arc<T>,
    }

    impl<T> GreeterServer<T> {
        pub(crate) fn new(inner: T) -> Self {
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
        const NAME: &'static str = "logi.test.Greeter";
    }

    struct Method<T> {
        inner: Arc<T>,
        say_hello: bool,
    }

    impl<T: Greeter> UnaryService<String> for Method<T> {
        type Response = String;
        type Future = BoxFuture<Response<String>, Status>;

        fn call(&mut self, request: Request<String>) -> Self::Future {
            let inner = Arc::clone(&self.inner);
            let say_hello = self.say_hello;
            Box::pin(async move {
                if say_hello {
                    inner.say_hello(request).await
                } else {
                    inner.who_am_i(request).await
                }
            })
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
            let say_hello = match request.uri().path() {
                "/logi.test.Greeter/SayHello" => true,
                "/logi.test.Greeter/WhoAmI" => false,
                _ => {
                    return Box::pin(async {
                        Ok(Status::unimplemented("no such method").into_http())
                    });
                }
            };
            let method = Method {
                inner: Arc::clone(&self.inner),
                say_hello,
            };
            Box::pin(async move { Ok(Grpc::new(Utf8Codec).unary(method, request).await) })
        }
    }

    /// Messages are UTF-8 strings.
    #[derive(Clone, Copy, Debug, Default)]
    pub(crate) struct Utf8Codec;

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
                .map_err(|_| Status::internal("not UTF-8"))
        }
    }
}
