//! The gRPC example (`cargo run --example grpc`), over HTTP/2 on 127.0.0.1: the greeter served
//! by `logi_examples::greeter::serve` behind the layer the example builds for the in-process
//! provider, called by the example's tonic client with the provider's access tokens.

use std::net::SocketAddr;
use std::time::Duration;

use logi::testing::{Endpoint, TestClient, TestProvider};
use logi_examples::greeter::{self, SCOPE, pb::GreeterClient};
use tokio::net::TcpListener;
use tonic::{Code, Request, Status};

/// Every call gets this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

async fn start() -> (SocketAddr, TestProvider) {
    let (logi, provider) = logi_examples::development_api_layer()
        .await
        .expect("start the provider and build the layer");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(greeter::serve(listener, logi, std::future::pending()));
    (addr, provider)
}

/// Calls `SayHello("ada")` with `authorization` metadata when given.
async fn say_hello(addr: SocketAddr, authorization: Option<String>) -> Result<String, Status> {
    let call = async {
        let mut client = GreeterClient::connect(format!("http://{addr}"))
            .await
            .expect("connect to the greeter");
        let mut request = Request::new("ada".to_owned());
        if let Some(value) = authorization {
            let value = value.parse().expect("an ASCII metadata value");
            request.metadata_mut().insert("authorization", value);
        }
        client.say_hello(request).await.map(|r| r.into_inner())
    };
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .expect("the call answers in time")
}

fn bearer(provider: &TestProvider, scopes: &[&str]) -> Option<String> {
    let token = provider.access_token(
        TestClient::DEFAULT_CLIENT_ID,
        "user-0001",
        scopes,
        Duration::from_secs(300),
    );
    Some(format!("Bearer {token}"))
}

#[tokio::test]
async fn say_hello_needs_a_token_granting_its_scope() {
    let (addr, provider) = start().await;

    let nobody = say_hello(addr, None).await.unwrap_err();
    assert_eq!(
        (nobody.code(), nobody.message()),
        (Code::Unauthenticated, "sign in required")
    );

    let forged = say_hello(addr, Some("Bearer not.a.token".into()))
        .await
        .unwrap_err();
    assert_eq!(
        (forged.code(), forged.message()),
        (Code::Unauthenticated, "malformed: header is not base64url")
    );

    let lacking = say_hello(addr, bearer(&provider, &["openid"]))
        .await
        .unwrap_err();
    assert_eq!(
        (lacking.code(), lacking.message()),
        (Code::PermissionDenied, "requires the scope greeter:hello")
    );

    let hello = say_hello(addr, bearer(&provider, &["openid", SCOPE])).await;
    assert_eq!(hello.unwrap(), "hello ada, from user-0001");

    // Discovery when the layer was built, the keys once; nothing else.
    assert_eq!(provider.calls(Endpoint::Discovery), 1);
    assert_eq!(provider.calls(Endpoint::Jwks), 1);
    for endpoint in [Endpoint::Token, Endpoint::Userinfo] {
        assert_eq!(provider.calls(endpoint), 0, "{endpoint:?}");
    }
}
