//! A client that behaves like a browser where a sign-in depends on it: it follows no redirect by
//! itself, keeps cookies the way RFC 6265 says (per host, whatever the port; `Path` scoping;
//! `Max-Age` and `Expires`, a past date deleting), and submits a page's form with the headers a
//! browser sends.
//!
//! Not modelled: `SameSite` (every request here is a top-level navigation or a same-origin form
//! post, which `Lax` allows) and `Domain` (neither party sets it). `Secure` cookies are kept and
//! sent over `http://` because every host here is a loopback address, which Chromium treats as a
//! secure context.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use url::Url;

/// One stored cookie.
#[derive(Clone, Debug)]
pub(crate) struct Cookie {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) host: String,
    pub(crate) path: String,
    expires: Option<SystemTime>,
}

/// A response, with the URL it answered.
pub(crate) struct Page {
    pub(crate) url: Url,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The redirect target, resolved against this page's URL.
    pub(crate) fn location(&self) -> Url {
        let location = self
            .headers
            .get(LOCATION)
            .unwrap_or_else(|| panic!("{} {} is not a redirect", self.status, self.url))
            .to_str()
            .unwrap();
        self.url.join(location).unwrap()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub(crate) fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }
}

/// What submitting a form sends.
pub(crate) struct Submission {
    pub(crate) action: Url,
    pub(crate) fields: Vec<(String, String)>,
}

pub(crate) struct Browser {
    http: reqwest::Client,
    cookies: Vec<Cookie>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Self {
            http,
            cookies: Vec::new(),
        }
    }

    /// The cookies this browser holds for `host`.
    pub(crate) fn cookies(&self, host: &str) -> Vec<&Cookie> {
        let now = SystemTime::now();
        self.cookies
            .iter()
            .filter(|c| c.host == host && c.expires.is_none_or(|e| e > now))
            .collect()
    }

    /// A top-level navigation (typing the URL, a link, or a redirect).
    pub(crate) async fn navigate(&mut self, url: &Url) -> Page {
        self.send(
            Method::GET,
            url,
            &[("accept", "text/html"), ("sec-fetch-mode", "navigate")],
            None,
        )
        .await
    }

    /// Follows `page`'s redirect the way a browser does for 301/302/303: with a GET.
    pub(crate) async fn follow(&mut self, page: &Page) -> Page {
        assert!(
            matches!(page.status, 301..=303),
            "expected a redirect from {}, got {}: {}",
            page.url,
            page.status,
            page.body
        );
        self.navigate(&page.location()).await
    }

    /// Submits the page's only form, pressing its named button.
    pub(crate) async fn submit(&mut self, page: &Page) -> (Submission, Page) {
        let submission = form(page);
        let origin = page.url.origin().ascii_serialization();
        let site = if submission.action.origin() == page.url.origin() {
            "same-origin"
        } else {
            "cross-site"
        };
        let reply = self
            .send(
                Method::POST,
                &submission.action,
                &[
                    ("accept", "text/html"),
                    ("origin", &origin),
                    ("sec-fetch-mode", "navigate"),
                    ("sec-fetch-site", site),
                ],
                Some(&submission.fields),
            )
            .await;
        (submission, reply)
    }

    /// Any request, with this browser's cookies for it.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        form: Option<&[(String, String)]>,
    ) -> Page {
        let host = url.host_str().unwrap();
        assert!(
            host == "127.0.0.1",
            "this test only talks to loopback: {url}"
        );
        let mut request = self.http.request(method, url.clone());
        if let Some(cookie) = self.cookie_header(url) {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(fields) = form {
            request = request.form(fields);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        for set_cookie in headers.get_all(SET_COOKIE) {
            self.store(url, set_cookie.to_str().unwrap());
        }
        Page {
            url: url.clone(),
            status,
            headers,
            body,
        }
    }

    /// RFC 6265 §5.4: host and path match, unexpired, longer paths first.
    fn cookie_header(&mut self, url: &Url) -> Option<String> {
        let now = SystemTime::now();
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        let host = url.host_str().unwrap();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.host == host && path_matches(url.path(), &c.path))
            .collect();
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let pairs: Vec<String> = matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// RFC 6265 §5.2 and §5.3, for host-only cookies.
    fn store(&mut self, url: &Url, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .unwrap_or_else(|| panic!("malformed Set-Cookie: {set_cookie}"));
        let mut path = default_path(url.path());
        let mut max_age: Option<i64> = None;
        let mut expires: Option<SystemTime> = None;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "path" if val.starts_with('/') => path = val.to_owned(),
                "max-age" => {
                    max_age = Some(val.parse().unwrap_or_else(|_| {
                        panic!("malformed Max-Age in Set-Cookie: {set_cookie}")
                    }));
                }
                "expires" => {
                    expires = Some(httpdate::parse_http_date(val).unwrap_or_else(|_| {
                        panic!("malformed Expires in Set-Cookie: {set_cookie}")
                    }));
                }
                "domain" => panic!("Domain cookies are not modelled here: {set_cookie}"),
                _ => {}
            }
        }
        // Max-Age wins over Expires (§5.3 step 3).
        let expires = match max_age {
            Some(seconds) if seconds <= 0 => Some(SystemTime::UNIX_EPOCH),
            Some(seconds) => Some(SystemTime::now() + Duration::from_secs(seconds.unsigned_abs())),
            None => expires,
        };
        let host = url.host_str().unwrap().to_owned();
        self.cookies
            .retain(|c| !(c.name == name && c.host == host && c.path == path));
        if expires.is_none_or(|e| e > SystemTime::now()) {
            self.cookies.push(Cookie {
                name: name.to_owned(),
                value: value.to_owned(),
                host,
                path,
                expires,
            });
        }
    }
}

/// RFC 6265 §5.1.4.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// RFC 6265 §5.1.4: the request path's directory.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => request_path[..i].to_owned(),
    }
}

/// The page's only `<form>`: its action, hidden inputs, and the named submit button (which may
/// sit outside the form and name it with `form="…"`, as oidc-provider's logout page does).
fn form(page: &Page) -> Submission {
    let tags = tags(&page.body);
    let forms: Vec<_> = tags.iter().filter(|(name, _)| name == "form").collect();
    assert_eq!(
        forms.len(),
        1,
        "expected one form on {}: {}",
        page.url,
        page.body
    );
    let action = attribute(&forms[0].1, "action").unwrap_or_default();
    let mut fields = Vec::new();
    for (tag, attributes) in &tags {
        let named = attribute(attributes, "name");
        match (tag.as_str(), named) {
            ("input", Some(name)) if attribute(attributes, "type").as_deref() == Some("hidden") => {
                fields.push((name, attribute(attributes, "value").unwrap_or_default()));
            }
            ("button", Some(name)) if fields.iter().all(|(n, _)| *n != name) => {
                fields.push((name, attribute(attributes, "value").unwrap_or_default()));
            }
            _ => {}
        }
    }
    Submission {
        action: page.url.join(&action).unwrap(),
        fields,
    }
}

/// Start tags as (name, attributes) pairs. Enough for the small pages this test reads.
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = &rest[end..];
        if tag.starts_with(['/', '!']) {
            continue;
        }
        let name_end = tag
            .find(|c: char| c.is_ascii_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let name = tag[..name_end].to_ascii_lowercase();
        found.push((name, attributes(&tag[name_end..])));
    }
    found
}

/// `key="value"` and bare `key` attributes (values in double quotes, entities decoded).
fn attributes(mut s: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        let Some(key_end) = s.find(|c: char| c == '=' || c.is_ascii_whitespace() || c == '/')
        else {
            if !s.is_empty() {
                found.push((s.to_ascii_lowercase(), String::new()));
            }
            return found;
        };
        let key = s[..key_end].to_ascii_lowercase();
        s = &s[key_end..];
        if let Some(after) = s.strip_prefix("=\"") {
            let value_end = after.find('"').expect("unterminated attribute value");
            found.push((key, decode(&after[..value_end])));
            s = &after[value_end + 1..];
        } else {
            found.push((key, String::new()));
        }
    }
}

fn attribute(attributes: &[(String, String)], name: &str) -> Option<String> {
    attributes
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn decode(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix('#')
                .and_then(|n| n.parse::<u32>().ok())
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn cookie_paths_match_like_a_browser() {
    assert!(path_matches("/interaction/abc", "/interaction/abc"));
    assert!(path_matches("/interaction/abc/x", "/interaction/abc"));
    assert!(!path_matches("/interaction/abcd", "/interaction/abc"));
    assert!(path_matches("/anything", "/"));
    assert!(!path_matches("/auth", "/auth/callback"));
    assert_eq!(default_path("/auth/callback"), "/auth");
    assert_eq!(default_path("/auth"), "/");
}

#[test]
fn expired_and_max_age_zero_cookies_are_deleted() {
    let url = Url::parse("http://127.0.0.1:1/auth/x").unwrap();
    let mut browser = Browser::new();
    browser.store(&url, "a=1; path=/; httponly");
    browser.store(&url, "b=2; Max-Age=60");
    browser.store(&url, "c=3; path=/auth/x");
    assert_eq!(browser.cookie_header(&url).unwrap(), "c=3; b=2; a=1");
    browser.store(
        &url,
        "a=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly",
    );
    browser.store(&url, "b=; Max-Age=0");
    assert_eq!(browser.cookie_header(&url).unwrap(), "c=3");
    let other_path = Url::parse("http://127.0.0.1:2/other").unwrap();
    assert_eq!(browser.cookie_header(&other_path), None);
}

#[test]
fn forms_are_read_with_their_button() {
    let page = Page {
        url: Url::parse("http://127.0.0.1:1/session/end?x=1").unwrap(),
        status: 200,
        headers: HeaderMap::new(),
        body: r#"<h1>Sign out</h1><form id="op.logoutForm" method="post" action="/session/end/confirm"><input type="hidden" name="xsrf" value="a&amp;b"/></form>
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>"#
            .to_owned(),
    };
    let submission = form(&page);
    assert_eq!(
        submission.action.as_str(),
        "http://127.0.0.1:1/session/end/confirm"
    );
    assert_eq!(
        submission.fields,
        [
            ("xsrf".to_owned(), "a&b".to_owned()),
            ("logout".to_owned(), "yes".to_owned())
        ]
    );
}
