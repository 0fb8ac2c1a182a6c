pub(crate) mod cookie;
