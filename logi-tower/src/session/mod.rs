//! Sessions: what they hold, how they are sealed into cookies, and how each request loads them.

pub(crate) mod cookie;
pub(crate) mod data;
pub(crate) mod manager;
