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

use std::future::poll_fn;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use h2::RecvStream;
use prost::Message as _;
use tokio::sync::Semaphore;

use super::AuthorizationService;

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

/// Why a check gets a gRPC error instead of an answer (the only checks that do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The `CheckRequest` is larger than `AUTHZ_MAX_REQUEST_BYTES`: `RESOURCE_EXHAUSTED`,
    /// sent as soon as its length prefix is read.
    TooLarge,
    /// The message is compressed (no compression is offered): `UNIMPLEMENTED`.
    Compressed,
    /// No whole message, more than one, or one that is not a `CheckRequest`: `INTERNAL`.
    Malformed,
    /// The check took longer than its timeout: `CANCELLED`, as tonic answers.
    TimedOut,
    /// The stream was reset or the connection lost before the message was read.
    Gone,
    /// A call other than a check (health, reflection) past the connection's limit of such
    /// calls open at once: `RESOURCE_EXHAUSTED`.
    TooManyCalls,
}

impl Refusal {
    /// The `grpc-status` and (percent-encoded) `grpc-message` it is answered with.
    pub fn status(self) -> (&'static str, &'static str) {
        match self {
            Refusal::TooLarge => ("8", "CheckRequest%20larger%20than%20the%20limit"),
            Refusal::Compressed => ("12", "compressed%20messages%20are%20not%20accepted"),
            Refusal::Malformed => ("13", "not%20one%20whole%20CheckRequest"),
            Refusal::TimedOut => ("1", "Timeout%20expired"),
            Refusal::Gone => ("1", ""),
            Refusal::TooManyCalls => ("8", "too%20many%20calls%20on%20this%20connection"),
        }
    }
}

/// Length of the gRPC message prefix: a compression flag and a 4-byte big-endian length.
const PREFIX: usize = 5;

/// Answers `envoy.service.auth.v3.Authorization/Check` calls with [`AuthorizationService`].
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

    /// Reads the one `CheckRequest` of a call, decides it and returns the `CheckResponse`
    /// as a gRPC message (prefix included), ready to send.
    pub async fn answer(&self, request: http::Request<RecvStream>) -> Result<Bytes, Refusal> {
        let _turn = match self.in_flight.clone().try_acquire_owned() {
            Ok(turn) => turn,
            Err(_) => {
                crate::metrics::limit_tripped("grpc_in_flight");
                self.in_flight
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Refusal::Gone)?
            }
        };
        let message = read_message(request.into_body(), self.max_request_bytes).await?;
        let view = CheckRequestView::decode(message).map_err(|_| Refusal::Malformed)?;
        let response = self.service.check_view(view).await;
        let len = response.encoded_len();
        let mut framed = BytesMut::with_capacity(PREFIX + len);
        framed.put_u8(0);
        framed.put_u32(u32::try_from(len).map_err(|_| Refusal::Malformed)?);
        response
            .encode(&mut framed)
            .map_err(|_| Refusal::Malformed)?;
        Ok(framed.freeze())
    }
}

/// Reads the stream to its end and returns its one message, refusing one over `limit`
/// bytes as soon as its length prefix says so (nothing more of it is read).
async fn read_message(mut body: RecvStream, limit: usize) -> Result<Bytes, Refusal> {
    // Usually the whole message arrives in one DATA frame: kept as it is, without a copy.
    let mut first: Option<Bytes> = None;
    let mut gathered = BytesMut::new();
    loop {
        let chunk = match poll_fn(|cx| body.poll_data(cx)).await {
            Some(Ok(chunk)) => chunk,
            Some(Err(_)) => return Err(Refusal::Gone),
            None => break,
        };
        let _ = body.flow_control().release_capacity(chunk.len());
        if first.is_none() && gathered.is_empty() {
            first = Some(chunk);
        } else {
            if let Some(first) = first.take() {
                gathered.extend_from_slice(&first);
            }
            gathered.extend_from_slice(&chunk);
        }
        let read: &[u8] = first.as_deref().unwrap_or(&gathered);
        if read.len() >= PREFIX {
            if read[0] != 0 {
                return Err(Refusal::Compressed);
            }
            let len = u32::from_be_bytes([read[1], read[2], read[3], read[4]]) as usize;
            if len > limit {
                crate::metrics::limit_tripped("grpc_message_size");
                return Err(Refusal::TooLarge);
            }
            // More than one message: what was read stays within one message and a frame.
            if read.len() > PREFIX + len {
                return Err(Refusal::Malformed);
            }
        }
    }
    let whole = first.unwrap_or_else(|| gathered.freeze());
    if whole.len() < PREFIX {
        return Err(Refusal::Malformed);
    }
    let len = u32::from_be_bytes([whole[1], whole[2], whole[3], whole[4]]) as usize;
    if whole.len() != PREFIX + len {
        return Err(Refusal::Malformed);
    }
    Ok(whole.slice(PREFIX..))
}
