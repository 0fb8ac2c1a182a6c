//! A "Sign in with logi" link for server-rendered pages.
//!
//! ```
//! use logi::button::{SignInButton, sign_in_button};
//!
//! // The common case: back to the page the user was on after signing in.
//! let html = sign_in_button("/orders?page=2");
//! assert_eq!(
//!     html,
//!     r#"<a href="/auth/login?return_to=%2Forders%3Fpage%3D2" class="logi-sign-in" data-turbo="false" data-turbo-prefetch="false" hx-boost="false">Sign in with logi</a>"#
//! );
//!
//! // Everything is adjustable; every value is escaped.
//! let html = SignInButton::new()
//!     .login_path("/account/login")
//!     .return_to("/dashboard")
//!     .label("Continue with logi")
//!     .id("sign-in")
//!     .class("button primary")
//!     .to_html();
//! assert!(html.starts_with(r#"<a href="/account/login?return_to=%2Fdashboard" id="sign-in" class="button primary""#));
//! ```
//!
//! # Why `data-turbo="false"` and `hx-boost="false"`
//!
//! Signing in leaves the site: the login route answers with a 302 to logi's authorization
//! endpoint, on another origin. Hotwire Turbo (Rails, and any page with Turbo Drive on) and
//! HTMX with `hx-boost` follow links with `fetch`/XHR instead of a navigation. A cross-origin
//! redirect from such a request is blocked by CORS (logi's sign-in page sends no CORS headers,
//! and should not), so the click **fails silently**: nothing happens, or a console error at
//! best, and the user never reaches the sign-in page. logi's own Rails guide calls
//! `data-turbo="false"` required for this reason.
//!
//! The link therefore opts out of both, so the browser makes a real top-level navigation:
//! - `data-turbo="false"`: Turbo Drive leaves the link alone (`data-turbo-prefetch="false"` is
//!   belt and braces against Turbo 8's hover prefetch, which would start a sign-in, and set a
//!   transaction cookie, on every hover);
//! - `hx-boost="false"`: a boosted ancestor (`<body hx-boost="true">`) does not boost this link.
//!
//! Inertia only intercepts its own `<Link>` components: a plain `<a>` like this one is already a
//! normal navigation (from an Inertia handler, answer `409` with `X-Inertia-Location` instead).
//!
//! # Accessibility
//!
//! It is a link (`<a href>`), because it navigates: focusable, announced as a link, and it works
//! without JavaScript. It is not given `role="button"`, which would promise Space-key activation
//! that a link does not have; style it as a button with the class instead. The visible label
//! is its accessible name, so keep it meaningful ("Sign in with logi").
//!
//! `return_to` is where the user lands after signing in. The layer honours only a path on this
//! site (starting with a single `/`); anything else lands on `/`.

use std::borrow::Cow;
use std::fmt;

/// The label of the link unless changed.
pub const DEFAULT_LABEL: &str = "Sign in with logi";
/// The `class` of the link unless changed.
pub const DEFAULT_CLASS: &str = "logi-sign-in";

/// A "Sign in with logi" link, rendered with [`to_html`](Self::to_html) or `Display`.
///
/// See the [module documentation](self) for what it renders and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct SignInButton {
    login_path: Cow<'static, str>,
    return_to: Option<String>,
    label: Cow<'static, str>,
    id: Option<String>,
    class: Cow<'static, str>,
}

impl Default for SignInButton {
    fn default() -> Self {
        Self::new()
    }
}

/// The link to `/auth/login` coming back to `return_to`, with the default label and class.
///
/// ```
/// let html = logi::button::sign_in_button("/");
/// assert!(html.contains(r#"href="/auth/login?return_to=%2F""#));
/// assert!(html.contains(r#"data-turbo="false""#) && html.contains(r#"hx-boost="false""#));
/// ```
#[must_use]
pub fn sign_in_button(return_to: &str) -> String {
    SignInButton::new().return_to(return_to).to_html()
}

impl SignInButton {
    /// A link to `/auth/login` with no `return_to` (the user lands on `/`).
    pub fn new() -> Self {
        Self {
            login_path: Cow::Borrowed("/auth/login"),
            return_to: None,
            label: Cow::Borrowed(DEFAULT_LABEL),
            id: None,
            class: Cow::Borrowed(DEFAULT_CLASS),
        }
    }

    /// The layer's login path, when [`RoutePaths::login`](crate::RoutePaths::login) is not the default
    /// `/auth/login`.
    pub fn login_path(mut self, path: impl Into<Cow<'static, str>>) -> Self {
        self.login_path = path.into();
        self
    }

    /// Where the user lands after signing in: a path on this site, e.g. the current page.
    pub fn return_to(mut self, path: impl Into<String>) -> Self {
        self.return_to = Some(path.into());
        self
    }

    /// The visible text, which is also the link's accessible name (default
    /// [`DEFAULT_LABEL`]).
    pub fn label(mut self, label: impl Into<Cow<'static, str>>) -> Self {
        self.label = label.into();
        self
    }

    /// An `id` for the element (none by default).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The `class` attribute (default [`DEFAULT_CLASS`]).
    pub fn class(mut self, class: impl Into<Cow<'static, str>>) -> Self {
        self.class = class.into();
        self
    }

    /// The link's `href`, before HTML escaping: the login path, with `return_to`
    /// form-urlencoded as the layer decodes it.
    #[must_use]
    pub fn href(&self) -> String {
        match &self.return_to {
            None => self.login_path.clone().into_owned(),
            Some(return_to) => {
                let separator = if self.login_path.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let encoded: String =
                    url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
                format!("{}{separator}return_to={encoded}", self.login_path)
            }
        }
    }

    /// The `<a>` element, every attribute value and the label HTML-escaped.
    #[must_use]
    pub fn to_html(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SignInButton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, r#"<a href="{}""#, Escaped(&self.href()))?;
        if let Some(id) = &self.id {
            write!(f, r#" id="{}""#, Escaped(id))?;
        }
        if !self.class.is_empty() {
            write!(f, r#" class="{}""#, Escaped(&self.class))?;
        }
        write!(
            f,
            r#" data-turbo="false" data-turbo-prefetch="false" hx-boost="false">{}</a>"#,
            Escaped(&self.label)
        )
    }
}

/// Text escaped for HTML content and quoted attribute values.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of attribute `name` in `html`, unescaped only for `&amp;`.
    fn attribute<'a>(html: &'a str, name: &str) -> Option<&'a str> {
        let start = html.find(&format!(" {name}=\""))? + name.len() + 3;
        let len = html[start..].find('"')?;
        Some(&html[start..start + len])
    }

    #[test]
    fn opts_out_of_turbo_and_htmx_boosting() {
        let html = sign_in_button("/dashboard");
        assert!(html.starts_with("<a ") && html.ends_with("</a>"), "{html}");
        assert_eq!(attribute(&html, "data-turbo"), Some("false"));
        assert_eq!(attribute(&html, "data-turbo-prefetch"), Some("false"));
        assert_eq!(attribute(&html, "hx-boost"), Some("false"));
        assert_eq!(attribute(&html, "class"), Some(DEFAULT_CLASS));
        assert!(html.contains(">Sign in with logi</a>"));
        assert_eq!(attribute(&html, "role"), None, "a link, not a fake button");
        assert_eq!(attribute(&html, "id"), None);
    }

    #[test]
    fn return_to_round_trips_through_the_layers_decoding() {
        for path in [
            "/",
            "/orders?page=2&sort=desc",
            "/search?q=a+b c",
            "/caf%C3%A9#top",
            "/\"><script>alert(1)</script>",
        ] {
            let button = SignInButton::new().return_to(path);
            let href = button.href();
            let query = href.strip_prefix("/auth/login?").unwrap();
            assert!(
                !query.contains(['&', '#', ' ', '"', '<', '>', '\'']),
                "{query}"
            );
            let decoded: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            assert_eq!(decoded, [("return_to".to_owned(), path.to_owned())]);
        }
        assert_eq!(SignInButton::new().href(), "/auth/login");
    }

    #[test]
    fn every_value_is_html_escaped() {
        let html = SignInButton::new()
            .login_path("/login?next=1&x=\"y\"")
            .return_to("/a")
            .label("<b>Tom & Jerry's</b>")
            .id("x\" onclick=\"evil()")
            .class("a'b")
            .to_html();
        assert_eq!(
            html,
            "<a href=\"/login?next=1&amp;x=&quot;y&quot;&amp;return_to=%2Fa\" \
             id=\"x&quot; onclick=&quot;evil()\" class=\"a&#39;b\" data-turbo=\"false\" \
             data-turbo-prefetch=\"false\" hx-boost=\"false\">\
             &lt;b&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;</a>"
        );
        assert!(!html.contains("onclick=\"evil"));
    }

    #[test]
    fn an_empty_class_is_left_out() {
        let html = SignInButton::new().class("").to_html();
        assert_eq!(attribute(&html, "class"), None);
    }
}
