//! `GET /auth/me`: the signed-in user as JSON, for pages with their own front end.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};

use super::unix_now;
use crate::layer::Shared;
use crate::reject::{json, json_error};
use crate::session::manager::Loaded;

pub(super) fn current_user(shared: &Shared, parts: &Parts) -> Response<Bytes> {
    match shared.sessions.load(&parts.headers, unix_now()) {
        Loaded::Valid { data, .. } => {
            let mut body = serde_json::Map::new();
            body.insert("sub".into(), data.sub.into());
            body.insert("iss".into(), data.iss.into());
            for (k, v) in data.claims {
                body.entry(k).or_insert(v);
            }
            let scopes: Vec<&str> = data.scope.split_whitespace().collect();
            body.insert("scopes".into(), scopes.into());
            json(StatusCode::OK, &body.into())
        }
        _ => json_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "not signed in",
            Some(HeaderValue::from_static("Bearer")),
        ),
    }
}
