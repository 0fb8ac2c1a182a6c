//! Sessions: what they hold, how they are sealed into cookies or kept in a store, and how each
//! request loads them.
//! State level: owns the session's content, sealing and storage, and the sign-out records; knows
//! no routes and no refusals (the layer decides what a missing session means).

pub(crate) mod cookie;
pub(crate) mod data;
pub(crate) mod manager;
pub(crate) mod signout;
pub mod store;
