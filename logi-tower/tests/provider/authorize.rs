//! The authorization endpoint: refusals shown or redirected back, `login_hint`, and the
//! interactive sign-in page with its decision form.

use logi::testing::{TestClient, TestProvider, TestUser};
use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::helpers::*;

#[tokio::test]
async fn authorize_refuses_unknown_client_and_unregistered_redirect_without_redirecting() {
    let provider = TestProvider::start().await.unwrap();

    let mut params = authorize_params("openid");
    set(
        &mut params,
        "client_id",
        Some("logi_ffffffffffffffffffffffffffffffff"),
    );
    let response = authorize(&provider, &params).await;
    assert!(response.headers().get(LOCATION).is_none());
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_client").await;

    for unregistered in [
        "http://localhost:3000/auth/callback/",
        "http://localhost:3000/auth/callback?x=1",
        "https://localhost:3000/auth/callback",
        "http://evil.test/auth/callback",
    ] {
        let mut params = authorize_params("openid");
        set(&mut params, "redirect_uri", Some(unregistered));
        let response = authorize(&provider, &params).await;
        assert!(response.headers().get(LOCATION).is_none());
        let body = assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(body["error_description"], "redirect_uri not registered");
    }
}

#[tokio::test]
async fn authorize_refusals_redirect_back_with_error_and_state() {
    let provider = TestProvider::builder()
        .client(TestClient::default().with_allowed_scopes(["openid", "profile:basic", "email"]))
        .start()
        .await
        .unwrap();
    let cases: [(&str, Option<&str>, &str); 8] = [
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge_method", None, "invalid_request"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("scope", Some("profile email"), "invalid_scope"),
        ("scope", Some("openid phone"), "invalid_scope"),
        ("prompt", Some("always"), "invalid_request"),
        ("prompt", Some("none login"), "invalid_request"),
    ];
    for (name, value, error) in cases {
        let mut params = authorize_params("openid");
        set(&mut params, name, value);
        let response = authorize(&provider, &params).await;
        let back = redirect_params(&response);
        assert!(header(&response, LOCATION).starts_with(REDIRECT_URI));
        assert_eq!(back["error"], error, "{name}={value:?}");
        assert_eq!(back["state"], STATE);
        assert!(!back["error_description"].is_empty());
        assert!(!back.contains_key("code"));
    }

    for prompt in ["none", "login", "consent select_account"] {
        let mut params = authorize_params("openid profile");
        set(&mut params, "prompt", Some(prompt));
        code_for(&provider, &params).await;
    }

    provider.deny_next_authorization();
    let back = redirect_params(&authorize(&provider, &authorize_params("openid")).await);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], STATE);
    // Only the next one.
    code_for(&provider, &authorize_params("openid")).await;
}

#[tokio::test]
async fn login_hint_picks_the_user() {
    let provider = TestProvider::builder()
        .user(TestUser::default())
        .user(TestUser {
            email: Some("grace@example.com".into()),
            ..TestUser::new("user-0002")
        })
        .start()
        .await
        .unwrap();
    let mut params = authorize_params("openid");
    set(&mut params, "login_hint", Some("grace@example.com"));
    let code = code_for(&provider, &params).await;
    let tokens = body_json(exchange(&provider, &code).await).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        "user-0002"
    );

    set(&mut params, "login_hint", Some("nobody@example.com"));
    let back = redirect_params(&authorize(&provider, &params).await);
    assert_eq!(back["error"], "login_required");
}

/// The hidden `request` id of the interactive page.
fn pending_request(page: &str) -> String {
    let marker = r#"name="request" value=""#;
    let start = page.find(marker).unwrap() + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn interactive_sign_in_page_and_decision() {
    let provider = TestProvider::builder()
        .interactive(true)
        .user(TestUser::default())
        .user(TestUser {
            full_name: Some("Grace <Hopper>".into()),
            ..TestUser::new("user-0002")
        })
        .start()
        .await
        .unwrap();
    let page_for = || async {
        let response = authorize(&provider, &authorize_params("openid")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "content-type").starts_with("text/html"));
        response.text().await.unwrap()
    };
    let decide = |form: Vec<(&'static str, String)>| {
        let url = format!("{}/oauth/authorize/decision", provider.base_url());
        async move { http().post(url).form(&form).send().await.unwrap() }
    };

    let page = page_for().await;
    assert!(page.contains(r#"action="/oauth/authorize/decision""#));
    assert!(page.contains(r#"value="user-0001""#) && page.contains("Ada Lovelace"));
    assert!(page.contains(r#"value="user-0002""#) && page.contains("Grace &lt;Hopper&gt;"));
    assert!(page.contains(r#"name="deny""#));
    for external in ["http://", "https://", "<script", "<link"] {
        assert!(!page.contains(external), "{external}");
    }

    let request = pending_request(&page);
    let response = decide(vec![
        ("request", request.clone()),
        ("user", "user-0002".into()),
    ])
    .await;
    let back = redirect_params(&response);
    assert_eq!(back["state"], STATE);
    let tokens = body_json(exchange(&provider, &back["code"]).await).await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        "user-0002"
    );

    // The pending request answers once.
    let response = decide(vec![("request", request), ("user", "user-0001".into())]).await;
    assert_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;

    let request = pending_request(&page_for().await);
    let back = redirect_params(&decide(vec![("request", request), ("deny", "1".into())]).await);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], STATE);

    let mut params = authorize_params("openid");
    set(&mut params, "prompt", Some("none"));
    let back = redirect_params(&authorize(&provider, &params).await);
    assert_eq!(back["error"], "login_required");
}
