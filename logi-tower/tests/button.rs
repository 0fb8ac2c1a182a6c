//! The sign-in link, followed over real HTTP through the layer and the in-process provider,
//! brings the user back to exactly the `return_to` it was rendered with.

#![cfg(all(feature = "testing", feature = "axum"))]

mod support;

use axum::response::Html;
use axum::routing::get;
use logi::button::SignInButton;
use support::{Browser, start_app};

/// A page whose sign-in link returns to `/orders?…` with characters that need encoding.
const RETURN_TO: &str = "/orders?page=2&q=a+b%20c&sort=\"desc\"";

/// The `href` of the first `<a>` in `html`, with the HTML escaping undone.
fn href(html: &str) -> String {
    let start = html.find("<a href=\"").expect("a link") + "<a href=\"".len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_link_signs_in_and_returns_to_the_page_it_names() {
    let app = start_app(
        logi::testing::TestProvider::builder(),
        |b| b,
        |_| {
            axum::Router::new()
                .route(
                    "/",
                    get(|| async {
                        Html(format!(
                            "<p>{}</p>",
                            SignInButton::new().return_to(RETURN_TO).id("sign-in")
                        ))
                    }),
                )
                .route(
                    "/orders",
                    get(|user: logi::LogiUser| async move { user.sub().to_owned() }),
                )
        },
    )
    .await;
    let mut browser = Browser::new();

    let home = browser.navigate(&format!("{}/", app.origin)).await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(r#"data-turbo="false""#), "{}", home.body);
    assert!(home.body.contains(r#"hx-boost="false""#), "{}", home.body);

    // Click: the layer sends the browser to the provider, which sends it back to the callback.
    let login = format!("{}{}", app.origin, href(&home.body));
    let to_provider = browser.navigate(&login).await;
    assert_eq!(to_provider.status, 302, "{}", to_provider.body);
    assert!(
        to_provider
            .location()
            .starts_with(&format!("{}/oauth/authorize", app.provider.issuer()))
    );
    let to_callback = browser.navigate(to_provider.location()).await;
    assert_eq!(to_callback.status, 302, "{}", to_callback.body);
    let back = browser.navigate(to_callback.location()).await;
    assert_eq!(back.status, 302);
    assert_eq!(back.location(), RETURN_TO, "the exact page the link named");

    let orders = browser.follow(&back, &app.origin).await;
    assert_eq!(orders.status, 200, "signed in: {}", orders.body);
}
