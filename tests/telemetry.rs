//! Following a request: the decision line carries `request_id` and `trace_id`, and with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set each check is an OpenTelemetry span, received here by a
//! real OTLP/gRPC receiver on loopback (`TraceService/Export` from `opentelemetry-proto`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use testkit::*;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n  - name: health\n    path: /health\n    auth: none\n";

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// Every export request received, as sent.
#[derive(Clone, Default)]
struct Receiver {
    exports: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.exports.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Receiver {
    async fn start() -> (Receiver, std::net::SocketAddr) {
        let receiver = Receiver::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = TraceServiceServer::new(receiver.clone());
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        (receiver, addr)
    }

    fn spans(&self) -> Vec<Span> {
        let exports = self.exports.lock().unwrap();
        exports
            .iter()
            .flat_map(|e| &e.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    async fn wait_for(&self, name: &str, count: usize) -> Vec<Span> {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| s.name == name)
                .collect();
            if spans.len() >= count || Instant::now() > until {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            AnyValue::BoolValue(b) => Some(b.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn each_check_is_a_span_in_the_callers_trace_with_no_token_material() {
    let (receiver, otlp) = Receiver::start().await;
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let endpoint = format!("http://{otlp}");
    let service = Service::ready(
        BIN,
        &policy(&keys, ROUTES),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("AUTHZ_HTTP_AUTH_ADDR", PICK_PORT),
        ],
    )
    .await;
    let mut client = service.client().await;
    let token = key(0).sign(&access_claims(SCOPE));
    let bearer = format!("Bearer {token}");
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");

    let allowed = check(
        &mut client,
        request(
            "POST",
            "h",
            "/users/1?secret=query",
            &[
                ("authorization", &bearer),
                ("traceparent", &traceparent),
                ("x-request-id", "req-otel-allow"),
            ],
        ),
    )
    .await;
    assert_eq!(allowed.status, 200);
    let denied = check(
        &mut client,
        request(
            "POST",
            "h",
            "/users/2",
            &[
                ("x-request-id", "req-otel-deny"),
                ("traceparent", "garbage"),
            ],
        ),
    )
    .await;
    assert_eq!(denied.status, 401);

    // The same kind of check through the HTTP authorization port.
    let http = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(service.http_auth)
            .await
            .unwrap();
        let head = "GET /envoy/users/3 HTTP/1.1\r\nhost: h\r\nx-request-id: req-otel-http\r\nconnection: close\r\n\r\n";
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(http.starts_with("HTTP/1.1 401"), "{http}");

    let spans = receiver.wait_for("authz check", 3).await;
    assert_eq!(spans.len(), 3, "{:#?}", receiver.spans());
    // Each span says which port the check came through.
    let http_span = spans
        .iter()
        .find(|s| attribute(s, "request_id").as_deref() == Some("req-otel-http"))
        .expect("the HTTP port's check span");
    assert_eq!(
        attribute(http_span, "network.protocol.name").as_deref(),
        Some("http")
    );
    assert_eq!(attribute(http_span, "rpc.system"), None);
    assert_eq!(attribute(http_span, "decision").as_deref(), Some("deny"));
    let allow = spans
        .iter()
        .find(|s| attribute(s, "request_id").as_deref() == Some("req-otel-allow"))
        .expect("the allowed check's span");
    // A child of the caller's span, in the caller's trace.
    assert_eq!(hex(&allow.trace_id), TRACE_ID);
    assert_eq!(hex(&allow.parent_span_id), PARENT_ID);
    assert_eq!(attribute(allow, "decision").as_deref(), Some("allow"));
    assert_eq!(attribute(allow, "reason").as_deref(), Some("authorized"));
    assert_eq!(attribute(allow, "route").as_deref(), Some("create-user"));
    assert_eq!(attribute(allow, "authorizer").as_deref(), Some("default"));
    assert_eq!(attribute(allow, "cache_hit").as_deref(), Some("false"));
    assert_eq!(attribute(allow, "status").as_deref(), Some("200"));
    assert_eq!(
        attribute(allow, "sub").as_deref(),
        Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
    );
    assert_eq!(attribute(allow, "client_id").as_deref(), Some(CLIENT));
    assert_eq!(attribute(allow, "rpc.system").as_deref(), Some("grpc"));

    // A garbage traceparent is ignored: a new root trace, and still a decision.
    let deny = spans
        .iter()
        .find(|s| attribute(s, "request_id").as_deref() == Some("req-otel-deny"))
        .expect("the denied check's span");
    assert_ne!(hex(&deny.trace_id), TRACE_ID);
    assert!(deny.parent_span_id.is_empty());
    assert_eq!(attribute(deny, "decision").as_deref(), Some("deny"));
    assert_eq!(attribute(deny, "reason").as_deref(), Some("no_token"));
    assert_eq!(attribute(deny, "status").as_deref(), Some("401"));

    // The key set fetch at start-up is a span of its own.
    assert!(
        !receiver.wait_for("key set fetch", 1).await.is_empty(),
        "{:#?}",
        receiver.spans()
    );

    // No token material anywhere in what was exported: not the token, not any of its
    // parts, no claim but sub and client_id, not the query string.
    let everything = format!("{:?}", receiver.exports.lock().unwrap());
    for part in std::iter::once(token.as_str()).chain(token.split('.')) {
        assert!(!everything.contains(part), "token material exported");
    }
    for forbidden in [
        "Bearer",
        "alice",
        SCOPE,
        "admins",
        "abcdefab-cdef-abcd-efab-cdefabcdefab",
        "11111111-2222-3333-4444-555555555555",
        "secret=query",
    ] {
        assert!(!everything.contains(forbidden), "{forbidden} exported");
    }
    assert!(everything.contains("cognito-ext-authz"), "service.name");

    // The decision lines carry the ids.
    let logs = service.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(r#""request_id":"req-otel-allow""#))
        .unwrap_or_else(|| panic!("no decision line with the request id:\n{logs}"));
    assert!(
        line.contains(&format!(r#""trace_id":"{TRACE_ID}""#)),
        "{line}"
    );
    let line = logs
        .lines()
        .find(|l| l.contains(r#""request_id":"req-otel-deny""#))
        .unwrap();
    assert!(line.contains(r#""trace_id":"""#), "{line}");
    assert!(
        !logs.contains("authz check"),
        "trace spans stay out of the log"
    );

    let metrics = service.metrics().await;
    assert!(
        metrics.contains(r#"cognito_ext_authz_spans_dropped_total{reason="queue_full"} 0"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_endpoint_nothing_is_exported_and_lines_still_carry_the_ids() {
    let (_keys, service) = keys_and_service(BIN, ROUTES, &[]).await;
    let mut client = service.client().await;
    let a = check(
        &mut client,
        request(
            "GET",
            "h",
            "/health",
            &[
                ("x-request-id", "plain-1"),
                ("traceparent", &format!("00-{TRACE_ID}-{PARENT_ID}-00")),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, 200);
    // A request id that is not one (spaces, too long) is left out, never cut or refused.
    let long = "x".repeat(200);
    for bad in ["has space", long.as_str()] {
        let a = check(
            &mut client,
            request("GET", "h", "/health", &[("x-request-id", bad)]),
        )
        .await;
        assert_eq!(a.status, 200);
    }
    // Log lines go out through a background writer: wait for the third decision line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let logs = loop {
        let logs = service.logs();
        let decisions = logs
            .lines()
            .filter(|l| l.contains(r#""route":"health""#))
            .count();
        if decisions >= 3 || std::time::Instant::now() > deadline {
            break logs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let line = logs
        .lines()
        .find(|l| l.contains(r#""request_id":"plain-1""#))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(
        line.contains(&format!(r#""trace_id":"{TRACE_ID}""#)),
        "{line}"
    );
    assert!(!logs.contains("has space") && !logs.contains(&long));
    assert_eq!(
        logs.lines()
            .filter(|l| l.contains(r#""request_id":"""#) && l.contains(r#""route":"health""#))
            .count(),
        2,
        "{logs}"
    );
    assert!(!service.metrics().await.contains("spans_dropped"));
}
