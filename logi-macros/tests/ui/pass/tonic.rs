//! Tonic service methods: under `#[tonic::async_trait]` (it runs first) and plain `async fn`s.

use logi::LogiUser;
use logi::grpc::LogiRequestExt as _;
use tonic::{Request, Response, Status};

#[tonic::async_trait]
trait Greeter: Send + Sync + 'static {
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status>;
    async fn any(&self, request: Request<String>) -> Result<Response<String>, Status>;
    async fn unnamed(&self, request: Request<String>) -> Result<Response<()>, Status>;
    async fn mutable(&self, request: Request<String>) -> Result<Response<String>, Status>;
}

struct MyGreeter;

fn operator(user: &LogiUser) -> bool {
    user.has_scope("operator")
}

#[tonic::async_trait]
impl Greeter for MyGreeter {
    #[logi::protected]
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status> {
        let user = request.logi_user().map(|u| u.sub().to_owned());
        Ok(Response::new(format!("{} {user:?}", request.into_inner())))
    }

    #[logi::protected(scopes = ["greeter:hello"], any_scope = ["a", "b"], check = operator)]
    async fn any(&self, request: Request<String>) -> Result<Response<String>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    #[logi::protected(scopes = ["greeter:hello"])]
    async fn unnamed(&self, _: Request<String>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    #[logi::protected(crate = "::logi", any_scope = ["admin"])]
    async fn mutable(&self, mut request: Request<String>) -> Result<Response<String>, Status> {
        request.get_mut().push('!');
        Ok(Response::new(request.into_inner()))
    }
}

impl MyGreeter {
    #[logi::protected(scopes = ["greeter:hello"])]
    async fn inherent(&self, _: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

fn main() {
    let _ = MyGreeter.inherent(Request::new(()));
    let _ = MyGreeter.say_hello(Request::new(String::new()));
}
