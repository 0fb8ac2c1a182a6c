//! Procedural macros for [`logi`](https://docs.rs/logi-tower): use them through the `logi` crate.
