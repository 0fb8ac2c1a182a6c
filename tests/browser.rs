//! A real headless Chromium signs in and out of the quickstart app.
//!
//! The app is served on `localhost` (127.0.0.1 and ::1), the in-process logi provider on
//! `127.0.0.1`: two different sites, as a real provider and app would be, so the browser applies
//! its cross-site cookie rules (`SameSite=Lax`) to the callback. The browser is driven by
//! `tests/node/browser-sign-in.mjs` (playwright-core on the Debian Chromium).
//!
//! The browser is `LOGI_E2E_CHROMIUM` if set, else `/usr/bin/chromium`, else `chromium` on PATH.
//! Without Chromium, Node or `tests/node/node_modules`, the test prints `SKIPPED` and passes,
//! unless `LOGI_E2E_REQUIRED` is set (CI sets it), in which case it fails (`tests/support/chromium.rs`,
//! shared with the other browser test).

#[path = "support/chromium.rs"]
mod chromium;
#[path = "../logi-tower/tests/support/skip.rs"]
#[allow(unreachable_pub)]
mod skip;

use chromium::{Tools, strings};
use logi::testing::{Endpoint, TestProvider};
use logi_examples::Localhost;
use serde_json::Value;

const SCRIPT: &str = "tests/node/browser-sign-in.mjs";

#[tokio::test]
async fn chromium_signs_in_and_out_of_the_quickstart() {
    let Some(tools) = Tools::find("tests/browser.rs") else {
        return;
    };

    let localhost = Localhost::bind(0).await.expect("bind localhost");
    let port = localhost.port().expect("the bound port");
    let (layer, provider) = logi_examples::development_layer(port)
        .await
        .expect("start the provider and build the layer");
    let app = logi_examples::quickstart::app(layer);
    let ipv6 = localhost.serves_ipv6();
    tokio::spawn(localhost.serve(app, std::future::pending()));
    let url = format!("http://localhost:{port}/");

    let (result, elapsed) = chromium::run_and_report(&tools, SCRIPT, &url).await;
    eprintln!(
        "browser run: {:.1} s (app on 127.0.0.1{}), screenshot of the dashboard: {}",
        elapsed.as_secs_f64(),
        if ipv6 { " and ::1" } else { " only" },
        result["screenshot"]
    );

    assert_signed_in_and_out(&result, &provider, &url);
    assert_provider_calls(&provider);
}

/// What the browser saw, as the script reported it.
fn assert_signed_in_and_out(result: &Value, provider: &TestProvider, url: &str) {
    let issuer = provider.issuer();
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["app"], url);
    assert_eq!(
        result["provider"], issuer,
        "the sign-in page is the provider's"
    );
    let sign_in_page = result["provider_page"].as_str().unwrap_or_default();
    assert!(
        sign_in_page.starts_with(&format!("{issuer}/oauth/authorize?")),
        "{sign_in_page}"
    );
    assert_eq!(
        result["provider_button"],
        "Continue as Ada Lovelace (ada@example.com)"
    );

    // The transaction cookie reached the callback across sites: a `__Host-` cookie (Path=/, no
    // Domain) that Chromium keeps on http://localhost, Lax.
    let tx = &result["transaction_cookie"];
    assert_eq!(
        (&tx["path"], &tx["domain"]),
        (&Value::from("/"), &Value::from("localhost")),
        "{tx}"
    );
    assert!(
        tx["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("__Host-logi.tx."),
        "{tx}"
    );
    assert_eq!(
        (&tx["http_only"], &tx["secure"], &tx["same_site"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::from("Lax")),
        "{tx}"
    );

    assert_eq!(
        result["dashboard"],
        serde_json::json!({"sub": "user-0001", "email": "ada@example.com", "name": "Ada Lovelace"})
    );
    assert_eq!(
        result["session_cookie"],
        serde_json::json!({
            "http_only": true, "secure": true, "same_site": "Lax", "path": "/", "domain": "localhost"
        }),
        "the session cookie as the browser stored it"
    );
    assert_eq!(result["reload_status"], 200, "a reload stays signed in");

    // Sign-out: the app's POST, the provider's end-session endpoint, back home.
    let sign_out: Vec<&str> = strings(&result["sign_out"]);
    assert_eq!(sign_out.len(), 3, "{sign_out:#?}");
    assert_eq!(sign_out[0], format!("POST {url}auth/logout 303"));
    assert!(
        sign_out[1].starts_with(&format!("GET {issuer}/oauth/logout?"))
            && sign_out[1].ends_with(" 302"),
        "{}",
        sign_out[1]
    );
    assert_eq!(sign_out[2], format!("GET {url} 200"));
    assert_eq!(
        result["cookies_after_sign_out"],
        serde_json::json!([]),
        "no cookie of the app or the provider is left"
    );

    // Signed out, the dashboard leads to the sign-in flow and ends on the provider's page.
    let to_sign_in: Vec<&str> = strings(&result["dashboard_after_sign_out"]);
    assert_eq!(to_sign_in.len(), 3, "{to_sign_in:#?}");
    assert_eq!(to_sign_in[0], format!("GET {url}dashboard 302"));
    assert!(
        to_sign_in[1].starts_with(&format!("GET {url}auth/login?return_to=")),
        "{}",
        to_sign_in[1]
    );
    assert!(
        to_sign_in[2].starts_with(&format!("GET {issuer}/oauth/authorize?"))
            && to_sign_in[2].ends_with(" 200"),
        "{}",
        to_sign_in[2]
    );
}

/// One code exchange, one userinfo call and one revocation for one sign-in and sign-out; two
/// visits to the sign-in page (the second after signing out).
fn assert_provider_calls(provider: &TestProvider) {
    chromium::assert_provider_calls(
        provider,
        &[
            (Endpoint::Authorize, 2),
            (Endpoint::Token, 1),
            (Endpoint::Userinfo, 1),
            (Endpoint::Revoke, 1),
            (Endpoint::EndSession, 1),
        ],
    );
}
