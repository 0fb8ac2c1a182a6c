//! The signed-in request the session benchmarks share: realistic tokens and cookies.

use std::time::Duration;

use axum::body::Body;
use http::Request;
use logi::testing::{TestClient, TestProvider, TestSession};

/// Five cookies a real site carries besides the session.
pub(crate) const OTHER_COOKIES: &str = "_ga=GA1.1.1234567890.1700000000; theme=dark; locale=en-GB; \
                             consent=analytics%3Dno%26ads%3Dno; csrftoken=q8XkJ2pR7vT1mN4bZ6cW9yH3dF5gL0sA";

/// Scopes of the realistic session.
pub(crate) const SCOPES: [&str; 4] = ["openid", "profile:basic", "email", "orders:read"];

/// The refresh token of [`realistic_session`] (the provider never issued it).
pub(crate) const REFRESH_TOKEN: &str = "r3fr35h-t0k3n-0f-43-chars-xxxxxxxxxxxxxxxxx";

/// A session as a sign-in leaves it: an RS256 access token and ID token from `provider`, a
/// refresh token, and identity claims. Also returns the access token and the ID token.
pub(crate) fn realistic_session(provider: &TestProvider) -> (TestSession, String, String) {
    let client = TestClient::DEFAULT_CLIENT_ID;
    let access_token =
        provider.access_token(client, "user-0001", &SCOPES, Duration::from_secs(900));
    let id_token = provider.sign_claims(&provider.id_token_claims(client, "user-0001"));
    let session = TestSession::new("user-0001")
        .claim("email", "ada@example.com")
        .claim("email_verified", true)
        .claim("name", "Ada Lovelace")
        .claim("preferred_name", "Ada")
        .scopes(SCOPES)
        .access_token(access_token.clone(), Duration::from_secs(900))
        .refresh_token(REFRESH_TOKEN)
        .id_token(id_token.clone());
    (session, access_token, id_token)
}

/// `GET /dashboard` from a browser carrying `cookie`.
pub(crate) fn request(cookie: &str) -> Request<Body> {
    Request::get("/dashboard")
        .header("cookie", cookie)
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap()
}
