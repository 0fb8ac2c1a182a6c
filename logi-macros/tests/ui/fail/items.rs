//! The attribute on what it cannot protect.

use logi::LogiUser;
use tonic::{Request, Response, Status};

#[logi::protected]
fn not_async() -> &'static str {
    "sync"
}

#[logi::protected]
pub struct NotAFunction {
    field: u8,
}

#[logi::protected(scopes = ["orders:read"])]
async fn optional_user(id: u32, user: Option<LogiUser>) -> String {
    format!("{id} {user:?}")
}

struct Service;

impl Service {
    #[logi::protected]
    async fn no_request(&self) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    #[logi::protected]
    async fn not_a_request(&self, _request: String) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    #[logi::protected]
    fn not_async_method(&self, _request: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

fn main() {}
