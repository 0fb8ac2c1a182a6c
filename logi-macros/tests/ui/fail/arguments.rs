//! Misused arguments: each error points at the argument at fault.

#[logi::protected(scope = ["orders:read"])]
async fn unknown_key() {}

#[logi::protected(scopes = ["a"], scopes = ["b"])]
async fn duplicated_key() {}

#[logi::protected(scopes = [])]
async fn empty_scopes() {}

#[logi::protected(any_scope = ["admin", support])]
async fn not_a_literal() {}

#[logi::protected(scopes = ["orders read"])]
async fn not_a_scope() {}

#[logi::protected(scopes = "orders:read")]
async fn not_a_list() {}

#[logi::protected(crate = "not a path")]
async fn bad_crate_path() {}

fn main() {}
