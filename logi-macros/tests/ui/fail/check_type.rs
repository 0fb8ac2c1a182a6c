//! A predicate of the wrong type is reported at the user's path.

use logi::LogiUser;

#[derive(serde::Deserialize)]
struct Claims {}

fn typed_predicate(_: &LogiUser<Claims>) -> bool {
    true
}

fn not_a_predicate(_: &LogiUser) -> u8 {
    0
}

#[logi::protected(check = typed_predicate)]
async fn typed() {}

#[logi::protected(check = not_a_predicate)]
async fn wrong_output() {}

fn main() {}
