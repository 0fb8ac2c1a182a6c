//! The API example: a JSON API that accepts logi access tokens (`Authorization: Bearer`).
//!
//! | route | who may call it |
//! |---|---|
//! | `GET /public` | anyone; says who is calling when a valid token comes along |
//! | `GET /me` | any valid token: `{"sub": …, "scopes": […]}` |
//! | `GET /orders` | a token with the scope `orders:read`: the caller's orders |
//! | `POST /orders` | a token with the scope `orders:write`: creates an order from `{"item": …, "quantity": …}` |
//!
//! Refusals are the layer's: no token is 401 with `WWW-Authenticate: Bearer`, a refused token is
//! 401 `Bearer error="invalid_token", error_description="…"`, a missing scope is 403
//! `Bearer error="insufficient_scope", scope="…"`. Never a redirect: an API-only layer has no
//! sign-in page.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use logi::{LogiLayer, LogiUser};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The API's routes behind `logi`, with an empty in-memory order book.
pub fn app(logi: LogiLayer) -> Router {
    Router::new()
        .route("/public", get(public))
        .route("/me", get(me))
        .route("/orders", get(list_orders).post(create_order))
        .with_state(Orders::default())
        .layer(logi)
}

/// Open to anyone; a valid token only changes the greeting.
async fn public(user: Option<LogiUser>) -> Json<Value> {
    let caller = user.map(|user| user.sub().to_owned());
    Json(json!({ "message": "hello from a public route", "caller": caller }))
}

/// Any valid token.
#[logi::protected]
async fn me(user: LogiUser) -> Json<Value> {
    Json(json!({ "sub": user.sub(), "scopes": user.scopes() }))
}

/// The caller's orders.
#[logi::protected(scopes = ["orders:read"])]
async fn list_orders(user: LogiUser, State(orders): State<Orders>) -> Json<Vec<Order>> {
    Json(orders.of(user.sub()))
}

/// An order to create, as the client sends it.
#[derive(Debug, Deserialize)]
struct NewOrder {
    item: String,
    #[serde(default = "one")]
    quantity: u32,
}

fn one() -> u32 {
    1
}

/// Creates an order for the caller. The guard runs before `Json`: a caller without the scope
/// gets 403 whatever the body.
#[logi::protected(scopes = ["orders:write"])]
async fn create_order(
    user: LogiUser,
    State(orders): State<Orders>,
    Json(order): Json<NewOrder>,
) -> (StatusCode, Json<Order>) {
    (StatusCode::CREATED, Json(orders.add(user.sub(), order)))
}

/// An order, as the API answers it.
#[derive(Debug, Clone, Serialize)]
struct Order {
    id: u64,
    owner: String,
    item: String,
    quantity: u32,
}

/// Every order, in memory.
#[derive(Debug, Clone, Default)]
struct Orders(Arc<Mutex<Vec<Order>>>);

impl Orders {
    fn of(&self, owner: &str) -> Vec<Order> {
        let orders = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        orders
            .iter()
            .filter(|order| order.owner == owner)
            .cloned()
            .collect()
    }

    fn add(&self, owner: &str, new: NewOrder) -> Order {
        let mut orders = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let order = Order {
            id: orders.len() as u64 + 1,
            owner: owner.to_owned(),
            item: new.item,
            quantity: new.quantity,
        };
        orders.push(order.clone());
        order
    }
}
