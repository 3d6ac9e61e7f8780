//! A do-nothing `envoy.service.auth.v3.Authorization/Check` server: every check is allowed
//! with an empty `OkHttpResponse`, without looking at the request.
//!
//! It is what anyone would write first: the generated tonic server from the same proto
//! (`cognito_ext_authz::proto`), decoding the whole `CheckRequest`, on tonic's and tokio's
//! defaults (`#[tokio::main]`, `Server::builder()`). Measuring it gives the floor of the
//! ext_authz protocol hop on this machine: what any authorization service costs before it
//! decides anything. `scripts/bench.sh` compares the real service with it.
//!
//! With `--identity` every answer is instead one fixed allow shaped like the real
//! service's allow with every option on (identity headers set, the others removed, the
//! decision in `dynamic_metadata`), built once and cloned: it separates Envoy's cost of
//! applying such an answer from the cost of deciding it. `--identity-headers` sends only
//! its header changes, `--identity-metadata` only its metadata.
//!
//! Usage: `cargo run --release --example noop_authz -- [ADDR] [--identity |
//! --identity-headers | --identity-metadata]` (default address `127.0.0.1:9100`).

use std::sync::Arc;

use cognito_ext_authz::answer::Answer;
use cognito_ext_authz::credential::Headers;
use cognito_ext_authz::decision::{AllowReason, Decision};
use cognito_ext_authz::token::VerifiedToken;

use cognito_ext_authz::proto::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, OkHttpResponse, authorization_server,
    authorization_server::AuthorizationServer, check_response::HttpResponse,
};
use cognito_ext_authz::proto::google::rpc;
use tonic::{Request, Response, Status};

struct Noop {
    /// The fixed answer; `None` for the empty allow.
    answer: Option<CheckResponse>,
}

/// The answer the real service gives a typical allowed request.
fn identity_answer() -> CheckResponse {
    let token = VerifiedToken {
        token_use: cognito_ext_authz::policy::model::TokenUse::Access,
        sub: "00000000-bbbb-4ccc-8ddd-000000000001".to_owned(),
        client_id: "4benchclient0123456789abc".to_owned(),
        username: Some("user1".to_owned()),
        aud: None,
        claims: Vec::new(),
        scopes: "svc1/read svc1/write svc7/read svc7/write svc7/files svc13/read svc13/write"
            .split(' ')
            .map(str::to_owned)
            .collect(),
        groups: vec!["bench-users".to_owned()],
        exp: u64::MAX,
        pool: 0,
        kid: "bench-key-1".to_owned(),
        jti: None,
        origin_jti: None,
        iat: None,
    };
    let decision = Decision::Allow {
        reason: AllowReason::Authorized,
        route: Some(Arc::from("svc7-item")),
        authorizer: Some(Arc::from("default")),
        token: Some(Arc::new(token)),
        claim_headers: Vec::new().into(),
    };
    cognito_ext_authz::grpc::to_response(&Answer::new(&decision, &Headers::default()))
}

#[tonic::async_trait]
impl authorization_server::Authorization for Noop {
    async fn check(
        &self,
        _request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        if let Some(answer) = &self.answer {
            return Ok(Response::new(answer.clone()));
        }
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let identity = has("--identity") || has("--identity-headers") || has("--identity-metadata");
    let addr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("127.0.0.1:9100", String::as_str)
        .parse()?;
    let answer = identity.then(|| {
        let mut answer = identity_answer();
        if has("--identity-headers") {
            answer.dynamic_metadata = None;
        }
        if has("--identity-metadata") {
            answer.http_response = Some(HttpResponse::OkResponse(OkHttpResponse::default()));
        }
        answer
    });
    eprintln!("noop_authz listening on {addr} (identity answer: {identity})");
    tonic::transport::Server::builder()
        .add_service(AuthorizationServer::new(Noop { answer }))
        .serve(addr)
        .await?;
    Ok(())
}
