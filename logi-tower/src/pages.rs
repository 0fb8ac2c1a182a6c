//! The few pages the layer shows itself: plain, self-contained, never cached.
//! Bottom level: imports nothing from the crate; which page a request gets is decided above.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, message: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// What an error page says.
pub(crate) struct ErrorPage<'a> {
    pub(crate) status: StatusCode,
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
    /// logi's `error` code, when the provider sent one.
    pub(crate) error: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) request_id: Option<&'a str>,
    /// Where "try again" leads.
    pub(crate) retry: &'a str,
}

impl ErrorPage<'_> {
    pub(crate) fn render(&self) -> Response<Bytes> {
        let mut details = String::new();
        for (label, value) in [
            ("Error", self.error),
            ("Description", self.description),
            ("Request id", self.request_id),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                details.push_str(&format!(
                    "<dt>{label}</dt><dd><code>{}</code></dd>",
                    escape(value)
                ));
            }
        }
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}\
             dt{{font-weight:600}}dd{{margin:0 0 .5rem}}</style></head>\
             <body><main><h1>{title}</h1><p>{message}</p><dl>{details}</dl>\
             <p><a href=\"{retry}\" data-turbo=\"false\">Try again</a></p></main></body></html>",
            title = escape(self.title),
            message = escape(self.message),
            retry = escape(self.retry),
        );
        let mut response = Response::new(Bytes::from(html));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
