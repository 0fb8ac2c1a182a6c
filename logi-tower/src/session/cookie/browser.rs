//! A browser's cookie jar in miniature, for tests: it applies `Set-Cookie` values as a browser
//! would and sends them back in a `Cookie` header.

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// One stored cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) name: String,
    pub(super) value: String,
    pub(super) path: String,
    pub(super) domain: Option<String>,
    pub(super) secure: bool,
}

/// The cookies of one site, in creation order.
#[derive(Debug, Default)]
pub(super) struct Browser {
    pub(super) cookies: Vec<Stored>,
}

impl Browser {
    /// Applies `Set-Cookie` values in order. A cookie replaces (or, with `Max-Age=0`, removes)
    /// the stored one with the same name, path and domain only, as in RFC 6265 §5.3. A cookie
    /// over 4096 bytes of name and value is dropped, as browsers do.
    pub(super) fn apply(&mut self, set_cookies: &[HeaderValue]) {
        for header in set_cookies {
            let line = header.to_str().expect("Set-Cookie is ASCII");
            let mut parts = line.split("; ");
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut cookie = Stored {
                name: name.to_owned(),
                value: value.to_owned(),
                path: "/".to_owned(),
                domain: None,
                secure: false,
            };
            let mut removal = false;
            for attribute in parts {
                match attribute.split_once('=') {
                    Some(("Path", path)) => cookie.path = path.to_owned(),
                    Some(("Domain", domain)) => cookie.domain = Some(domain.to_owned()),
                    Some(("Max-Age", "0")) => removal = true,
                    None if attribute == "Secure" => cookie.secure = true,
                    _ => {}
                }
            }
            let same = |c: &Stored| {
                c.name == cookie.name && c.path == cookie.path && c.domain == cookie.domain
            };
            let position = self.cookies.iter().position(same);
            if removal || name.len() + value.len() > 4096 {
                if let Some(position) = position {
                    self.cookies.remove(position);
                }
            } else if let Some(position) = position {
                self.cookies[position] = cookie;
            } else {
                self.cookies.push(cookie);
            }
        }
    }

    /// The `Cookie` header the browser sends, as request headers.
    pub(super) fn request(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if !self.cookies.is_empty() {
            let line = self
                .cookies
                .iter()
                .map(|c| format!("{}={}", c.name, c.value))
                .collect::<Vec<_>>()
                .join("; ");
            headers.insert(COOKIE, HeaderValue::try_from(line).unwrap());
        }
        headers
    }

    pub(super) fn names(&self) -> Vec<&str> {
        self.cookies.iter().map(|c| c.name.as_str()).collect()
    }

    pub(super) fn remove(&mut self, name: &str) {
        self.cookies.retain(|c| c.name != name);
    }
}
