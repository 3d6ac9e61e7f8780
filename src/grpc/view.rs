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

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use bytes::{BufMut, Bytes, BytesMut};
use h2::RecvStream;
use prost::Message as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// A call on a connection whose client leaves the answers already sent unread (its
    /// flow-control window closed): `RESOURCE_EXHAUSTED`.
    AnswersUnread,
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
            Refusal::AnswersUnread => ("8", "answers%20on%20this%20connection%20not%20read"),
        }
    }
}

/// Length of the gRPC message prefix: a compression flag and a 4-byte big-endian length.
const PREFIX: usize = 5;

/// A connection may hold at most this fraction of the checks in flight (at least one):
/// streams that send most of a large message and stop hold their places until the request
/// timeout, and one connection cannot take them all.
const CONNECTION_SHARE_DIVISOR: usize = 8;

/// Answers `envoy.service.auth.v3.Authorization/Check` calls with [`AuthorizationService`].
#[derive(Clone)]
pub struct CheckServer {
    service: AuthorizationService,
    max_request_bytes: usize,
    in_flight: Arc<Semaphore>,
    connection_share: usize,
}

/// One connection's part in the checks in flight: at most its share of the places, and
/// the bytes its checks have received while they wait for one.
pub struct ConnectionChecks {
    share: Arc<Semaphore>,
    /// Bytes received on this connection's streams that do not hold a place yet, not given
    /// back to flow control (so within the connection's window).
    waiting_bytes: AtomicUsize,
    stream_window: usize,
    connection_window: usize,
}

impl CheckServer {
    /// Serves `service`, refusing `CheckRequest`s larger than `max_request_bytes` and
    /// reading at most `max_in_flight` checks at once, at most an eighth of them (at least
    /// one) for one connection. A check takes its place once its message is there (or as
    /// much of it as its flow-control window lets through): a stream that sends nothing, or
    /// part of a small message, holds no place, its bytes within HTTP/2 flow control. The
    /// memory that checks being read can take is at most `max_in_flight ×
    /// max_request_bytes`.
    pub fn new(
        service: AuthorizationService,
        max_request_bytes: usize,
        max_in_flight: usize,
    ) -> Self {
        Self {
            service,
            max_request_bytes,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            connection_share: (max_in_flight / CONNECTION_SHARE_DIVISOR).max(1),
        }
    }

    /// The state of one new connection whose streams get `stream_window` bytes and whose
    /// connection gets `connection_window` bytes of HTTP/2 flow-control window.
    pub fn connection(&self, stream_window: u32, connection_window: u32) -> ConnectionChecks {
        ConnectionChecks {
            share: Arc::new(Semaphore::new(self.connection_share)),
            waiting_bytes: AtomicUsize::new(0),
            stream_window: stream_window as usize,
            connection_window: connection_window as usize,
        }
    }

    /// Reads the one `CheckRequest` of a call on `connection`, decides it and returns the
    /// `CheckResponse` as a gRPC message (prefix included), ready to send.
    ///
    /// The message is waited for without a place among the checks in flight; then `turn`
    /// (the connection's answers are being written, or a refusal), the connection's share
    /// and a place.
    pub async fn answer(
        &self,
        connection: &ConnectionChecks,
        mut body: RecvStream,
        turn: impl Future<Output = Result<(), Refusal>>,
    ) -> Result<Bytes, Refusal> {
        let mut arrived = arrive(&mut body, connection, self.max_request_bytes).await?;
        let mut turn = pin!(turn);
        match poll_fn(|cx| Poll::Ready(turn.as_mut().poll(cx))).await {
            Poll::Ready(turn) => turn?,
            Poll::Pending => {
                // Waiting: the message is copied out of the buffer HTTP/2 read it into,
                // which other frames share and which it would otherwise keep.
                arrived.compact();
                turn.await?;
            }
        }
        let _share = take(&connection.share, "grpc_connection_share").await?;
        let _place = take(&self.in_flight, "grpc_in_flight").await?;
        let message = read_rest(body, arrived, self.max_request_bytes).await?;
        // Deciding is boxed: a check waiting for its message (above) stays small.
        Box::pin(self.decide(message)).await
    }

    async fn decide(&self, message: Bytes) -> Result<Bytes, Refusal> {
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

/// A permit of `places`, counted as `limit` tripped when it has to be waited for.
async fn take(
    places: &Arc<Semaphore>,
    limit: &'static str,
) -> Result<OwnedSemaphorePermit, Refusal> {
    match places.clone().try_acquire_owned() {
        Ok(permit) => Ok(permit),
        Err(_) => {
            crate::observe::metrics::limit_tripped(limit);
            places
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Refusal::Gone)
        }
    }
}

/// What has arrived of a message before its check takes a place: kept as received, its
/// bytes not given back to flow control (so the client cannot send more than its windows
/// allow), and counted in the connection's waiting bytes until they are.
struct Arrived<'a> {
    /// Usually the whole message arrives in one DATA frame: kept as it is, without a copy.
    first: Option<Bytes>,
    gathered: BytesMut,
    unreleased: usize,
    ended: bool,
    connection: &'a ConnectionChecks,
}

impl Arrived<'_> {
    fn add(&mut self, chunk: Bytes) {
        self.unreleased += chunk.len();
        self.connection
            .waiting_bytes
            .fetch_add(chunk.len(), Ordering::Relaxed);
        gather(&mut self.first, &mut self.gathered, chunk);
    }

    fn compact(&mut self) {
        if let Some(first) = self.first.take() {
            self.gathered = BytesMut::from(&first[..]);
        }
    }

    fn read(&self) -> &[u8] {
        self.first.as_deref().unwrap_or(&self.gathered)
    }

    /// No more can arrive without giving flow-control window back: the stream's window is
    /// used up, or half the connection's is held by streams waiting for a place (the
    /// client could not finish any of them).
    fn window_used(&self) -> bool {
        self.unreleased >= self.connection.stream_window
            || self.connection.waiting_bytes.load(Ordering::Relaxed)
                >= self.connection.connection_window / 2
    }
}

impl Drop for Arrived<'_> {
    fn drop(&mut self) {
        // Given back to flow control, or dropped with the stream (h2 gives it back then).
        self.connection
            .waiting_bytes
            .fetch_sub(self.unreleased, Ordering::Relaxed);
    }
}

/// Appends `chunk` to what was read (`first` alone while it is the only chunk).
fn gather(first: &mut Option<Bytes>, gathered: &mut BytesMut, chunk: Bytes) {
    if first.is_none() && gathered.is_empty() {
        *first = Some(chunk);
    } else {
        if let Some(first) = first.take() {
            gathered.extend_from_slice(&first);
        }
        gathered.extend_from_slice(&chunk);
    }
}

/// Checks the prefix of what was read so far: refuses a compressed message, one declared
/// over `limit` bytes (as soon as its length prefix says so) and more than one message.
fn check_prefix(read: &[u8], limit: usize) -> Result<(), Refusal> {
    if read.len() >= PREFIX {
        if read[0] != 0 {
            return Err(Refusal::Compressed);
        }
        let len = u32::from_be_bytes([read[1], read[2], read[3], read[4]]) as usize;
        if len > limit {
            crate::observe::metrics::limit_tripped("grpc_message_size");
            return Err(Refusal::TooLarge);
        }
        // More than one message: what was read stays within one message and a frame.
        if read.len() > PREFIX + len {
            return Err(Refusal::Malformed);
        }
    }
    Ok(())
}

/// Waits, holding no place, until the stream has ended or no more of it can arrive
/// without giving flow-control window back.
async fn arrive<'a>(
    body: &mut RecvStream,
    connection: &'a ConnectionChecks,
    limit: usize,
) -> Result<Arrived<'a>, Refusal> {
    let mut arrived = Arrived {
        first: None,
        gathered: BytesMut::new(),
        unreleased: 0,
        ended: false,
        connection,
    };
    while !arrived.window_used() {
        match poll_fn(|cx| body.poll_data(cx)).await {
            Some(Ok(chunk)) => {
                arrived.add(chunk);
                check_prefix(arrived.read(), limit)?;
            }
            Some(Err(_)) => return Err(Refusal::Gone),
            None => {
                arrived.ended = true;
                break;
            }
        }
    }
    Ok(arrived)
}

/// Gives what arrived back to flow control, reads the stream to its end and returns its one
/// message.
async fn read_rest(
    mut body: RecvStream,
    mut arrived: Arrived<'_>,
    limit: usize,
) -> Result<Bytes, Refusal> {
    let _ = body.flow_control().release_capacity(arrived.unreleased);
    arrived
        .connection
        .waiting_bytes
        .fetch_sub(arrived.unreleased, Ordering::Relaxed);
    arrived.unreleased = 0;
    let mut first = arrived.first.take();
    let mut gathered = std::mem::take(&mut arrived.gathered);
    if !arrived.ended {
        loop {
            let chunk = match poll_fn(|cx| body.poll_data(cx)).await {
                Some(Ok(chunk)) => chunk,
                Some(Err(_)) => return Err(Refusal::Gone),
                None => break,
            };
            let _ = body.flow_control().release_capacity(chunk.len());
            gather(&mut first, &mut gathered, chunk);
            check_prefix(first.as_deref().unwrap_or(&gathered), limit)?;
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
