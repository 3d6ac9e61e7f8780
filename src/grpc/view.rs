//! A wire-compatible view of `CheckRequest` and the `Check` endpoint that decodes it.
//!
//! Envoy's `CheckRequest` declares method, host, path and header values as protobuf
//! `string`s, which a decoder must refuse when they are not UTF-8; with
//! `encode_raw_headers` (and a misbehaving proxy) they need not be. A refusal there would be
//! a gRPC error, which Envoy treats as an outage and `failure_mode_allow` as an allow. This
//! view declares only the fields the service reads, with the same field numbers, as
//! `bytes` (the same wire type as `string`), so every check that can be read at all reaches
//! a decision; everything else in the message is skipped by the decoder unread.
//!
//! The endpoint is written out here rather than generated so it can decode this view and
//! bound the message size: a `CheckRequest` over the limit is answered with
//! `RESOURCE_EXHAUSTED`, the one check answered with a gRPC error (`docs/security.md`).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService, UnaryService};

use super::AuthorizationService;
use crate::proto::envoy::service::auth::v3::CheckResponse;

/// `envoy.service.auth.v3.CheckRequest`, the fields read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckRequestView {
    #[prost(message, optional, tag = "1")]
    pub attributes: Option<AttributesView>,
}

/// `AttributeContext`: `request` is field 4.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributesView {
    #[prost(message, optional, tag = "4")]
    pub request: Option<RequestView>,
}

/// `AttributeContext.Request`: `http` is field 2.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestView {
    #[prost(message, optional, tag = "2")]
    pub http: Option<HttpRequestView>,
}

/// `AttributeContext.HttpRequest`, every `string` read as `bytes`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpRequestView {
    #[prost(bytes = "vec", tag = "2")]
    pub method: Vec<u8>,
    /// `map<string, string> headers = 3`: on the wire, a repeated key/value message.
    #[prost(message, repeated, tag = "3")]
    pub headers: Vec<HeaderEntryView>,
    #[prost(bytes = "vec", tag = "4")]
    pub path: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub host: Vec<u8>,
    #[prost(message, optional, tag = "13")]
    pub header_map: Option<HeaderMapView>,
}

/// One entry of the `headers` map.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderEntryView {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `envoy.config.core.v3.HeaderMap`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderMapView {
    #[prost(message, repeated, tag = "1")]
    pub headers: Vec<HeaderValueView>,
}

/// `envoy.config.core.v3.HeaderValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderValueView {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub raw_value: Vec<u8>,
}

/// The gRPC path of `Check`.
pub const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// google.rpc.Code values tonic uses for an oversized message, and the one we answer with.
const GRPC_OUT_OF_RANGE: &str = "11";
const GRPC_RESOURCE_EXHAUSTED: &str = "8";

/// The `envoy.service.auth.v3.Authorization` endpoint, decoding [`CheckRequestView`].
#[derive(Clone)]
pub struct CheckServer {
    service: AuthorizationService,
    max_request_bytes: usize,
    in_flight: Arc<Semaphore>,
}

impl CheckServer {
    /// Serves `service`, refusing `CheckRequest`s larger than `max_request_bytes` and
    /// reading at most `max_in_flight` checks at once: a check waiting for its turn is not
    /// read, so its bytes stay within HTTP/2 flow control, and the memory that checks being
    /// read can take is at most `max_in_flight × max_request_bytes`.
    pub fn new(
        service: AuthorizationService,
        max_request_bytes: usize,
        max_in_flight: usize,
    ) -> Self {
        Self {
            service,
            max_request_bytes,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
        }
    }
}

impl NamedService for CheckServer {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

struct CheckCall(AuthorizationService);

impl UnaryService<CheckRequestView> for CheckCall {
    type Response = CheckResponse;
    type Future = BoxFuture<tonic::Response<CheckResponse>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<CheckRequestView>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move {
            Ok(tonic::Response::new(
                service.check_view(request.into_inner()).await,
            ))
        })
    }
}

impl Service<http::Request<Body>> for CheckServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.uri().path() != CHECK_PATH {
            return Box::pin(async { Ok(tonic::Status::unimplemented("").into_http()) });
        }
        let call = CheckCall(self.service.clone());
        let limit = self.max_request_bytes;
        let in_flight = self.in_flight.clone();
        Box::pin(async move {
            let _turn = match in_flight.clone().try_acquire_owned() {
                Ok(turn) => turn,
                Err(_) => {
                    crate::metrics::limit_tripped("grpc_in_flight");
                    match in_flight.acquire_owned().await {
                        Ok(turn) => turn,
                        Err(_) => return Ok(tonic::Status::unavailable("stopping").into_http()),
                    }
                }
            };
            let mut grpc =
                Grpc::new(tonic_prost::ProstCodec::<CheckResponse, CheckRequestView>::default())
                    .max_decoding_message_size(limit);
            let mut response = grpc.unary(call, request).await;
            // tonic refuses an oversized message with OUT_OF_RANGE before reading it; the
            // contract (and gRPC's own convention) names that RESOURCE_EXHAUSTED.
            let headers = response.headers_mut();
            if headers
                .get("grpc-status")
                .is_some_and(|v| v == GRPC_OUT_OF_RANGE)
            {
                crate::metrics::limit_tripped("grpc_message_size");
                headers.insert(
                    "grpc-status",
                    http::HeaderValue::from_static(GRPC_RESOURCE_EXHAUSTED),
                );
                headers.insert(
                    "grpc-message",
                    http::HeaderValue::from_static("CheckRequest%20larger%20than%20the%20limit"),
                );
            }
            Ok(response)
        })
    }
}
