//! `logi-doctor`, the built binary, against the in-process logi provider over real HTTP: a
//! module per group of checks, what they share in `support`.

mod command_line;
mod credentials;
mod discovery;
mod formats;
mod keys;
mod redirect_uris;
mod run;
mod support;
