//! A do-nothing `envoy.service.auth.v3.Authorization/Check` server: every check is allowed
//! with an empty `OkHttpResponse`, without looking at the request.
//!
//! It is built from the same proto (`cognito_ext_authz::proto`) and the same tonic/HTTP/2
//! settings as the real service, so measuring it gives the floor of the ext_authz protocol
//! hop on this machine: what any authorization service costs before it decides anything.
//! `scripts/bench.sh` compares the real service with it.
//!
//! Usage: `cargo run --release --example noop_authz -- [ADDR]` (default `127.0.0.1:9100`).

use std::time::Duration;

use cognito_ext_authz::proto::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, OkHttpResponse, authorization_server,
    authorization_server::AuthorizationServer, check_response::HttpResponse,
};
use cognito_ext_authz::proto::google::rpc;
use tonic::{Request, Response, Status};

struct Noop;

#[tonic::async_trait]
impl authorization_server::Authorization for Noop {
    async fn check(
        &self,
        _request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        Ok(Response::new(CheckResponse {
            status: Some(rpc::Status {
                code: 0,
                message: String::new(),
            }),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
            dynamic_metadata: None,
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".to_owned())
        .parse()?;
    eprintln!("noop_authz listening on {addr}");
    // The same HTTP/2 settings as `cognito-ext-authz serve` (src/server.rs).
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .initial_stream_window_size(1024 * 1024)
        .initial_connection_window_size(8 * 1024 * 1024)
        .max_concurrent_streams(1024)
        .add_service(AuthorizationServer::new(Noop))
        .serve(addr)
        .await?;
    Ok(())
}
