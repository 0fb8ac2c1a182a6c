//! A real headless Chromium joins the webhooks example's members app through its first-login
//! form (`cargo run --example webhooks`), then signs out and in again.
//!
//! The app is `logi_examples::webhooks::app` behind the layer the example builds
//! (`development_builder` + `members::with_first_login`), served on `localhost`; the in-process
//! provider is on `127.0.0.1`, another site. The browser is driven by
//! `tests/node/browser-first-login.mjs` (playwright-core on the Debian Chromium), through the
//! driver `tests/browser.rs` uses too (`tests/support/chromium.rs`: which browser, and the
//! `SKIPPED` note without one unless `LOGI_E2E_REQUIRED` is set).
//!
//! `tests/first_login.rs` covers the same flow over plain HTTP with hand-made headers; here the
//! form is sent by Chromium itself, so the cross-site protection of `PendingSignup` is shown to
//! accept a real browser's same-origin `POST` (its own `Origin` and `Sec-Fetch-Site`).

#[path = "support/chromium.rs"]
mod chromium;
#[path = "../logi-tower/tests/support/skip.rs"]
#[allow(unreachable_pub)]
mod skip;

use chromium::{Tools, strings};
use logi::testing::{Endpoint, TestProvider};
use logi_examples::Localhost;
use logi_examples::members::Member;
use logi_examples::webhooks;
use serde_json::{Value, json};

const SCRIPT: &str = "tests/node/browser-first-login.mjs";
/// What the script types into the form (it reports it back, checked below).
const DISPLAY_NAME: &str = "Gräfin Ada & <Co>";
const SUB: &str = "user-0001";
const EMAIL: &str = "ada@example.com";

#[tokio::test]
async fn chromium_joins_through_the_first_login_form_then_goes_straight_in() {
    let Some(tools) = Tools::find("tests/browser_first_login.rs") else {
        return;
    };

    let localhost = Localhost::bind(0).await.expect("bind localhost");
    let port = localhost.port().expect("the bound port");
    let (builder, provider) = logi_examples::development_builder(port)
        .await
        .expect("start the provider");
    let (app, directory) = webhooks::build(builder, "k1:whsec_browser_first_login")
        .await
        .expect("build the example app");
    tokio::spawn(localhost.serve(app, std::future::pending()));
    let url = format!("http://localhost:{port}/");

    let (result, elapsed) = chromium::run_and_report(&tools, SCRIPT, &url).await;
    eprintln!(
        "browser run: {:.1} s, screenshot of the account page: {}",
        elapsed.as_secs_f64(),
        result["screenshot"]
    );

    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["app"], url);
    assert_eq!(result["provider"], provider.issuer());
    assert_eq!(result["display_name"], DISPLAY_NAME);
    assert_pending_until_joined(&result, &provider, &url);
    assert_joined(&result, &url);
    assert_signed_out_and_in_again(&result, &provider, &url);

    // The app's side: one member, with the name typed in Chromium and the verified email.
    assert_eq!(
        directory.get(provider.issuer(), SUB),
        Some(Member {
            display_name: DISPLAY_NAME.into(),
            verified_email: Some(EMAIL.into()),
        })
    );
    assert_eq!(directory.len(), 1);
    assert_provider_calls(&provider);
}

/// The first sign-in ends on the form, not signed in: `/account` leads back to it.
fn assert_pending_until_joined(result: &Value, provider: &TestProvider, url: &str) {
    let issuer = provider.issuer();
    assert_eq!(
        result["navigations"][1],
        format!("GET {url}auth/login?return_to=%2Faccount 302"),
        "the home page's sign-in link goes back to /account"
    );
    let first = strings(&result["first_sign_in"]);
    assert_eq!(first.len(), 3, "{first:#?}");
    assert_eq!(
        first[0],
        format!("POST {issuer}/oauth/authorize/decision 302")
    );
    assert!(
        first[1].starts_with(&format!("GET {url}auth/callback?")) && first[1].ends_with(" 302"),
        "{}",
        first[1]
    );
    assert_eq!(first[2], format!("GET {url}welcome 200"));

    assert_eq!(
        result["form"],
        json!({"sub": SUB, "email": EMAIL, "display_name": "Ada Lovelace", "terms_checked": false}),
        "the form shows who signed in and offers the provider's name"
    );
    assert_eq!(
        result["pending_cookie"],
        json!({"http_only": true, "secure": true, "same_site": "Lax"})
    );
    assert_eq!(
        strings(&result["account_while_pending"]),
        [
            format!("GET {url}account 302"),
            format!("GET {url}welcome 200")
        ],
        "the protected page sends a pending sign-in back to the form"
    );
    assert_eq!(
        result["home_offers_sign_in_while_pending"], true,
        "the home page does not take a pending sign-in for a signed-in user"
    );
    assert_eq!(
        (
            &result["form_valid_before_terms"],
            &result["form_valid_after_terms"]
        ),
        (&Value::Bool(false), &Value::Bool(true)),
        "the browser holds the form back until the terms are accepted"
    );
}

/// "Join" is Chromium's own same-origin POST; it lands on `/account` (the sign-in link's
/// return_to), signed in, showing the chosen name.
fn assert_joined(result: &Value, url: &str) {
    let join = &result["join"];
    assert_eq!(
        join["origin"],
        url.trim_end_matches('/'),
        "Chromium's Origin: {join:#}"
    );
    assert_eq!(join["sec_fetch_site"], "same-origin", "{join:#}");
    assert_eq!(join["sec_fetch_mode"], "navigate", "{join:#}");
    assert_eq!(
        join["content_type"], "application/x-www-form-urlencoded",
        "{join:#}"
    );
    assert_eq!(
        join["body"], "display_name=Gr%C3%A4fin+Ada+%26+%3CCo%3E&terms=accepted",
        "the form as Chromium encoded it (UTF-8)"
    );
    assert_eq!(
        strings(&join["navigations"]),
        [
            format!("POST {url}welcome 303"),
            format!("GET {url}account 200")
        ]
    );
    assert_eq!(
        result["account"],
        json!({"name": DISPLAY_NAME, "email": EMAIL, "sub": SUB}),
        "the account page shows the chosen name, escaped and read back as text"
    );
}

/// Signing out goes through the provider; signing in again goes straight to `/account`.
fn assert_signed_out_and_in_again(result: &Value, provider: &TestProvider, url: &str) {
    let issuer = provider.issuer();
    let sign_out = strings(&result["sign_out"]);
    assert_eq!(sign_out.len(), 3, "{sign_out:#?}");
    assert_eq!(sign_out[0], format!("POST {url}auth/logout 303"));
    assert!(
        sign_out[1].starts_with(&format!("GET {issuer}/oauth/logout?"))
            && sign_out[1].ends_with(" 302"),
        "{}",
        sign_out[1]
    );
    assert_eq!(sign_out[2], format!("GET {url} 200"));

    let second = strings(&result["second_sign_in"]);
    assert_eq!(second.len(), 3, "{second:#?}");
    assert_eq!(
        second[0],
        format!("POST {issuer}/oauth/authorize/decision 302")
    );
    assert!(
        second[1].starts_with(&format!("GET {url}auth/callback?")) && second[1].ends_with(" 302"),
        "{}",
        second[1]
    );
    assert_eq!(
        second[2],
        format!("GET {url}account 200"),
        "a member goes straight in"
    );
    assert_eq!(
        result["account_again"],
        json!({"name": DISPLAY_NAME, "email": EMAIL, "sub": SUB})
    );
    assert_eq!(result["ended_at"], format!("{url}account"));
}

/// Two sign-ins, each one code exchange and one userinfo call; joining calls the provider for
/// nothing; one sign-out revokes and ends the session at the provider.
fn assert_provider_calls(provider: &TestProvider) {
    chromium::assert_provider_calls(
        provider,
        &[
            (Endpoint::Authorize, 2),
            (Endpoint::Token, 2),
            (Endpoint::Userinfo, 2),
            (Endpoint::Revoke, 1),
            (Endpoint::EndSession, 1),
        ],
    );
}
