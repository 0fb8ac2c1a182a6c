//! What every handler takes from the request: the provider's shared state.
//! The bottom of `routes`: it imports only the state.

use std::sync::Arc;

use axum::extract::State;

use crate::testing::state::ProviderState;

/// Shorthand for handlers' shared state.
pub(super) type Provider = State<Arc<ProviderState>>;
