//! Sessions: what they hold, how they are sealed into cookies or kept in a store, and how each
//! request loads them.

pub(crate) mod cookie;
pub(crate) mod data;
pub(crate) mod manager;
pub(crate) mod signout;
pub mod store;
