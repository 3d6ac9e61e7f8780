//! A [`GrpcPort`] serving in-memory connections, and HTTP/2 clients that can stop reading
//! their socket, hold their flow-control windows shut or trickle them open.
//!
//! The tests run on a paused clock (`start_paused`): time moves only when every task waits,
//! so "a while later" is exact and instant, and [`settle`] returns once the port has done
//! everything it can with what it was sent.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use metrics_exporter_prometheus::PrometheusHandle;
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use crate::active::ActivePolicy;
use crate::grpc::AuthorizationService;
use crate::grpc::view::CheckServer;
use crate::pipeline::Pipeline;
use crate::policy::Policy;
use crate::proto::envoy::service::auth::v3::{AttributeContext, CheckRequest, attribute_context};

use super::super::{GrpcPort, Http2Limits};

/// The policy of every test: one public route, named `route` (its name is in every answer,
/// so its length sets the answer's).
fn policy(route: &str) -> Policy {
    Policy::parse(&format!(
        "userPools:\n  - id: us-east-1_Test\n    jwksUri: http://127.0.0.1:1/jwks.json\n\
         routes:\n  - name: {route}\n    path: /public\n    auth: none\n"
    ))
    .unwrap()
}

/// The port's limits: 64 streams per connection, the request and idle timeouts given.
pub fn limits(request_timeout: Duration, idle_timeout: Option<Duration>) -> Http2Limits {
    Http2Limits {
        max_streams: 64,
        request_timeout,
        idle_timeout,
    }
}

/// A connection's server end: a plain socket, or TLS over one.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// A running port: connections are handed to it as the listener would.
pub struct Port {
    conns: mpsc::Sender<io::Result<Box<dyn Io>>>,
    stop: Option<oneshot::Sender<()>>,
    pub served: tokio::task::JoinHandle<()>,
}

impl Port {
    pub fn start(route: &str, limits: Http2Limits) -> Self {
        Self::start_with(route, limits, 256)
    }

    /// [`Port::start`] reading and deciding at most `max_in_flight` checks at once (an
    /// eighth of them, at least one, for one connection).
    pub fn start_with(route: &str, limits: Http2Limits, max_in_flight: usize) -> Self {
        let pipeline = Pipeline::new(
            ActivePolicy {
                policy: policy(route),
                keys: Vec::new(),
                generation: 1,
            },
            1000,
        );
        let checks = CheckServer::new(
            AuthorizationService::new(Arc::new(pipeline)),
            64 * 1024,
            max_in_flight,
        );
        let port = Arc::new(GrpcPort::new(
            checks,
            tonic::service::Routes::default(),
            limits,
        ));
        let (conns, incoming) = mpsc::channel::<io::Result<Box<dyn Io>>>(8);
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(port.serve(incoming, async {
            let _ = stopped.await;
        }));
        Self {
            conns,
            stop: Some(stop),
            served,
        }
    }

    /// Stops the port (as on SIGTERM): GOAWAY, then the checks in flight finish.
    pub fn stop(&mut self) {
        let _ = self.stop.take().expect("stopped once").send(());
    }

    /// A new client connection whose stream flow-control window is `window` bytes, over a
    /// socket that holds `buffer` bytes each way.
    pub async fn connect(&self, window: u32, buffer: usize) -> Client {
        let (ours, theirs) = tokio::io::duplex(buffer);
        let writes = Arc::new(Gate::default());
        let theirs = Gated {
            io: theirs,
            reads: None,
            writes: Some(writes.clone()),
        };
        self.conns.send(Ok(Box::new(theirs))).await.unwrap();
        let gate = Arc::new(Gate::default());
        let valved = Gated {
            io: ours,
            reads: Some(gate.clone()),
            writes: None,
        };
        let mut client = Client::over(valved, window, gate).await;
        client.writes = Some(writes);
        client
    }

    /// [`Port::connect`] over TLS, with the service's TLS settings (`Tls::load`).
    pub async fn connect_tls(&self, window: u32, buffer: usize) -> Client {
        let gate = Arc::new(Gate::default());
        let tls = self.tls_socket(buffer, gate.clone()).await;
        Client::over(tls, window, gate).await
    }

    /// A TLS connection to the port, HTTP/2 left to the caller.
    pub async fn tls_socket(
        &self,
        buffer: usize,
        gate: Arc<Gate>,
    ) -> tokio_rustls::client::TlsStream<Gated> {
        let (acceptor, connector) = tls_pair();
        let (ours, theirs) = tokio::io::duplex(buffer);
        let valved = Gated {
            io: ours,
            reads: Some(gate),
            writes: None,
        };
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let (client, server) = tokio::join!(
            connector.connect(name, valved),
            acceptor.accept_with(theirs, crate::tls::bound)
        );
        self.conns
            .send(Ok(Box::new(server.unwrap())))
            .await
            .unwrap();
        client.unwrap()
    }
}

/// A server and a client TLS configuration: the service's own from a certificate for
/// `localhost`, and a client trusting its CA.
fn tls_pair() -> (tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector) {
    use rustls_pki_types::pem::PemObject as _;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).unwrap();
    let tls = crate::tls::Tls::load(&crate::settings::TlsFiles {
        cert: dir.path().join("tls.crt"),
        key: dir.path().join("tls.key"),
        client_ca: None,
    })
    .unwrap();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        rustls_pki_types::CertificateDer::pem_slice_iter(ca_cert.pem().as_bytes())
            .map(Result::unwrap),
    );
    let provider = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider();
    let mut client = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h2".to_vec()];
    (
        tokio_rustls::TlsAcceptor::from(tls.config()),
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    )
}

/// One client connection.
pub struct Client {
    send: h2::client::SendRequest<Bytes>,
    gate: Arc<Gate>,
    /// New stream windows for the connection to announce (SETTINGS).
    windows: mpsc::UnboundedSender<u32>,
    /// Whether the port's end of the socket takes writes (plain connections).
    writes: Option<Arc<Gate>>,
    /// Ends when the connection is closed: an error unless it was closed cleanly.
    pub closed: tokio::task::JoinHandle<Result<(), h2::Error>>,
}

impl Client {
    async fn over(io: impl Io, window: u32, gate: Arc<Gate>) -> Self {
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(window)
            .max_concurrent_reset_streams(1024)
            .handshake(io)
            .await
            .unwrap();
        let (windows, mut window_changes) = mpsc::unbounded_channel();
        let mut connection = Box::pin(connection);
        let closed = tokio::spawn(std::future::poll_fn(move |cx| {
            while let Poll::Ready(Some(window)) = window_changes.poll_recv(cx) {
                connection.set_initial_window_size(window)?;
            }
            connection.as_mut().poll(cx)
        }));
        Self {
            send,
            gate,
            windows,
            writes: None,
            closed,
        }
    }

    /// Whether the port's writes to the socket go through: `false`, as if the socket's
    /// buffers were full, however large they are.
    pub fn socket_takes_writes(&self, takes: bool) {
        self.writes
            .as_ref()
            .expect("a plain connection")
            .set(!takes);
    }

    /// Announces a stream flow-control window of `window` bytes (SETTINGS), for the
    /// streams open and those to come.
    pub fn open_windows(&self, window: u32) {
        self.windows.send(window).unwrap();
    }

    /// Stops (`false`) or resumes (`true`) reading the socket: the port's writes block once
    /// the socket's buffer is full.
    pub fn reading(&self, reading: bool) {
        self.gate.set(!reading);
    }

    /// Opens a `Check` call and sends its head only: the message is for later.
    pub async fn open(&mut self) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
        self.open_call(crate::grpc::CHECK_PATH).await
    }

    /// Opens a gRPC call to `path` and sends its head only.
    pub async fn open_call(
        &mut self,
        path: &str,
    ) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
        self.send = self.send.clone().ready().await.expect("connection open");
        let head = http::Request::post(format!("http://authz{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        self.send.send_request(head, false).expect("stream opened")
    }

    /// Sends one whole check of `GET /public`.
    pub async fn check(&mut self) -> h2::client::ResponseFuture {
        let (response, mut body) = self.open().await;
        body.send_data(check_message(), true).unwrap();
        response
    }

    pub fn is_open(&self) -> bool {
        !self.closed.is_finished()
    }
}

/// The framed `CheckRequest` of `GET /public` on `api.example.com`.
pub fn check_message() -> Bytes {
    let http = attribute_context::HttpRequest {
        method: "GET".into(),
        path: "/public".into(),
        host: "api.example.com".into(),
        headers: [
            (":method", "GET"),
            (":path", "/public"),
            (":authority", "api.example.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
        ..Default::default()
    };
    let request = CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(attribute_context::Request { http: Some(http) }),
            ..Default::default()
        }),
    };
    let message = request.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend(u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend(message);
    framed.into()
}

/// What a call was answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Trailers-only: a gRPC error and no message.
    Refused(String),
    /// A message of `len` bytes (prefix included) and the trailers' `grpc-status`.
    Answered { status: String, len: usize },
}

/// Reads the answer of `response` whole, giving each piece's window back as it comes.
pub async fn answer(response: h2::client::ResponseFuture) -> Result<Answer, h2::Error> {
    trickled(response, Duration::ZERO).await
}

/// [`answer`], waiting `pause` before giving back the window of each piece.
pub async fn trickled(
    response: h2::client::ResponseFuture,
    pause: Duration,
) -> Result<Answer, h2::Error> {
    let response = response.await?;
    // What Envoy's gRPC client takes as a gRPC answer, errors included.
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    if let Some(status) = response.headers().get("grpc-status") {
        return Ok(Answer::Refused(status.to_str().unwrap().to_owned()));
    }
    let mut body = response.into_body();
    let mut len = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        len += chunk.len();
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await?.expect("trailers");
    Ok(Answer::Answered {
        status: trailers["grpc-status"].to_str().unwrap().to_owned(),
        len,
    })
}

/// Whether `answer` is a message with `grpc-status: 0`.
pub fn answered(answer: Answer) -> bool {
    matches!(answer, Answer::Answered { status, .. } if status == "0")
}

/// Reads every answer of `calls` (each within 10 s), asserting that each is a message with
/// `grpc-status: 0`.
pub async fn all_answered(calls: Vec<h2::client::ResponseFuture>) {
    for call in calls {
        let answer = tokio::time::timeout(Duration::from_secs(10), answer(call))
            .await
            .expect("every answer arrives")
            .unwrap();
        assert!(answered(answer));
    }
}

/// The length of the answer (prefix included) to a check of the public route named `route`.
pub async fn answer_len(route: &str) -> usize {
    let port = Port::start(route, limits(Duration::from_secs(10), None));
    let mut client = port.connect(1 << 20, 64 * 1024).await;
    match answer(client.check().await).await.unwrap() {
        Answer::Answered { status, len } if status == "0" => len,
        other => panic!("{other:?}"),
    }
}

/// Returns once the port and the clients have done all they can: on the paused clock,
/// time moves only when no task can go on.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Counts what the port reports (decisions, limits tripped) on this test's thread alone.
pub struct Counted {
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
}

impl Counted {
    pub fn new() -> Self {
        Self {
            recorder: metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
        }
    }

    /// Counts while the guard lives (the port and the clients run on the test's thread).
    pub fn install(&self) -> metrics::LocalRecorderGuard<'_> {
        metrics::set_default_local_recorder(&self.recorder)
    }

    fn handle(&self) -> PrometheusHandle {
        self.recorder.handle()
    }

    /// Checks decided so far.
    pub fn decisions(&self) -> u64 {
        self.sum(crate::observe::metrics::DECISIONS, "")
    }

    /// Times `limit` was tripped.
    pub fn tripped(&self, limit: &str) -> u64 {
        self.sum(
            crate::observe::metrics::LIMITS_TRIPPED,
            &format!("limit=\"{limit}\""),
        )
    }

    fn sum(&self, metric: &str, label: &str) -> u64 {
        self.handle()
            .render()
            .lines()
            .filter(|l| l.starts_with(metric) && l.contains(label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

/// An open or shut way through a socket: reads for the client's end, writes for the port's.
#[derive(Default)]
pub struct Gate {
    shut: AtomicBool,
    waker: AtomicWaker,
}

impl Gate {
    /// Whether the gate is shut now; if so, `cx` is woken when it opens.
    fn holds(&self, cx: &Context<'_>) -> bool {
        if !self.shut.load(Ordering::Acquire) {
            return false;
        }
        self.waker.register(cx.waker());
        self.shut.load(Ordering::Acquire)
    }

    fn set(&self, shut: bool) {
        self.shut.store(shut, Ordering::Release);
        self.waker.wake();
    }
}

/// One end of an in-memory socket whose reads (the client's end) or writes (the port's)
/// go through only while their gate is open.
pub struct Gated {
    io: DuplexStream,
    reads: Option<Arc<Gate>>,
    writes: Option<Arc<Gate>>,
}

impl AsyncRead for Gated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.reads.as_ref().is_some_and(|g| g.holds(cx)) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Gated {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.writes.as_ref().is_some_and(|g| g.holds(cx)) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
