//! The HTTP authorization port (`AUTHZ_HTTP_AUTH_ADDR`): authorization subrequests from
//! gateways that cannot send gRPC `Check` calls (NGINX `auth_request`, ingress-nginx
//! `auth-url`, Traefik `ForwardAuth`, Envoy `http_service`, Istio `envoyExtAuthzHttp`).
//!
//! Each subrequest is read into the same protocol-free [`Request`] a gRPC check becomes
//! (`original.rs`: one endpoint per gateway, each reading only its own headers) and decided
//! through [`crate::decide`], so it gets the gRPC port's decision, log line, counts and
//! [`Answer`]: a denial is that answer's status, headers (`www-authenticate`, the gateway
//! response's) and JSON body; an allow is 200 with the identity headers to set upstream as
//! response headers, for the gateway to copy (`auth_request_set`, `authResponseHeaders`,
//! `allowed_upstream_headers`), values as the gRPC answer's (UTF-8 included). Envoy's
//! endpoint also lists the identity headers the request must lose in
//! `x-envoy-auth-headers-to-remove`, which Envoy applies as it applies the gRPC answer's
//! `headers_to_remove`: with every `_` spelling of each, since Envoy sends this port only
//! the headers it is told to, where the gRPC port sees them all; NGINX's also repeats a
//! denial's body in [`NGINX_DENIAL_BODY`], since `auth_request` relays no body. Dynamic
//! metadata has no HTTP form and is not built.
//!
//! HTTP/1.1 only, on connections bounded as the gRPC port's ([`crate::listen`]: most open
//! at once, idle timeout; TLS as the gRPC port with ALPN `http/1.1`), with a bounded
//! request head ([`MAX_HEAD_BYTES`], larger: 431) read within the request timeout, at most
//! `AUTHZ_MAX_IN_FLIGHT` subrequests decided at once, each within the request timeout
//! (past it: 503, which every gateway treats as a refusal). A subrequest's body is never
//! read: what has arrived with the head is skipped, and otherwise the connection is closed
//! after the answer, so a body is never read as another subrequest. Other targets are 404.

mod original;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Semaphore, mpsc};

pub use original::{ENVOY_PREFIX, Endpoint};

use crate::answer::Answer;
use crate::pipeline::{Pipeline, Request};
use crate::trace_context::Correlation;

/// Largest request head read (request line and headers): Envoy's default header limit is
/// 60 KiB, and a subrequest carries the client's headers. Larger: 431, unread.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The header Envoy's `http_service` reads the upstream headers to remove from.
const ENVOY_HEADERS_TO_REMOVE: &str = "x-envoy-auth-headers-to-remove";

/// The denial's body again, as a header, on NGINX's endpoint: `auth_request` relays a
/// subrequest's status (and `WWW-Authenticate`) but never its body, so the shipped config
/// answers the body from this header (`auth_request_set`). Left out when the body cannot
/// be a header value (a gateway response body over several lines).
pub const NGINX_DENIAL_BODY: &str = "x-authz-denial-body";

/// Bounds of the HTTP authorization port besides its connections'.
#[derive(Debug, Clone, Copy)]
pub struct HttpAuthLimits {
    /// Longest time to read a request head, and to decide once it is read.
    pub request_timeout: Duration,
    /// Most subrequests decided at once over all connections.
    pub max_in_flight: usize,
}

/// The HTTP authorization port.
pub struct HttpAuthPort {
    pipeline: Arc<Pipeline>,
    limits: HttpAuthLimits,
    in_flight: Arc<Semaphore>,
}

impl HttpAuthPort {
    pub fn new(pipeline: Arc<Pipeline>, limits: HttpAuthLimits) -> Self {
        Self {
            pipeline,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            limits,
        }
    }

    /// Serves each connection from `connections` until `stop` completes.
    pub async fn serve<C>(
        self: Arc<Self>,
        mut connections: mpsc::Receiver<std::io::Result<C>>,
        stop: impl Future<Output = ()>,
    ) where
        C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        use hyper_util::rt::{TokioIo, TokioTimer};
        tokio::pin!(stop);
        let head_timeout = self.limits.request_timeout;
        loop {
            let Some(conn) = crate::listen::next_conn(&mut connections, &mut stop).await else {
                return;
            };
            let port = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let port = port.clone();
                    async move { Ok::<_, Infallible>(port.answer(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(head_timeout)
                    .max_buf_size(MAX_HEAD_BYTES)
                    .serve_connection(TokioIo::new(conn), service)
                    .await;
            });
        }
    }

    /// Answers one subrequest.
    async fn answer<B>(&self, request: http::Request<B>) -> Response<Body> {
        let started = Instant::now();
        let (parts, _body) = request.into_parts();
        let target = parts
            .uri
            .path_and_query()
            .map_or("", |p| p.as_str())
            .to_owned();
        // An absolute-form target names a host of its own: which one the gateway meant
        // cannot be known, so only origin-form targets reach an endpoint.
        let endpoint = match Endpoint::of(&target) {
            Some(found) if parts.uri.authority().is_none() => found,
            _ => return plain(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#),
        };
        let (endpoint, envoy_target) = endpoint;
        // hyper's buffer bound holds memory, but may read somewhat past it before it finds
        // the end of the head; this holds the head itself to the bound, exactly.
        if head_bytes(&parts, target.len()) > MAX_HEAD_BYTES {
            crate::observe::metrics::limit_tripped("http_auth_head_too_large");
            return plain(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                r#"{"message":"Request Header Fields Too Large"}"#,
            );
        }
        let Ok(_slot) = self.in_flight.acquire().await else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        };
        let correlation = Correlation::from_headers(
            parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().as_bytes(), v.as_bytes())),
        );
        let read: Result<Request, _> = original::read(
            endpoint,
            parts.method.as_str(),
            envoy_target,
            &parts.headers,
        );
        let decided = crate::decide::decide(
            &self.pipeline,
            read,
            &correlation,
            started,
            false,
            crate::observe::telemetry::Port::Http,
        );
        match tokio::time::timeout(self.limits.request_timeout, decided).await {
            Ok(answer) => to_response(&answer, endpoint),
            Err(_) => {
                crate::observe::metrics::limit_tripped("http_auth_request_timeout");
                plain(StatusCode::SERVICE_UNAVAILABLE, "")
            }
        }
    }
}

/// The HTTP response for an answer on `endpoint`.
pub fn to_response(answer: &Answer, endpoint: Endpoint) -> Response<Body> {
    match answer {
        Answer::Upstream { set, remove, .. } => {
            let mut response = Response::new(Body::empty());
            let headers = response.headers_mut();
            let mut remove = remove.clone();
            for (name, value) in set {
                // Sent as the gRPC answer sets it, UTF-8 included (obs-text, which every
                // gateway relays): a value left out would leave the client's header in
                // place on a gateway that only overwrites (Istio). Values were checked
                // for control characters; one still refused is removed instead.
                match (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_bytes(value.as_bytes()),
                ) {
                    (Ok(name), Ok(value)) => {
                        headers.insert(name, value);
                    }
                    _ => remove.push(name.clone()),
                }
            }
            if endpoint == Endpoint::Envoy {
                // Envoy sends only the headers it is told to (Istio: the token's), so the
                // service cannot see a client's `x_cognito_sub` as the gRPC port does:
                // every such spelling of every identity header is named, seen or not.
                let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
                let spellings: Vec<String> = names
                    .iter()
                    .copied()
                    .chain(remove.iter().map(String::as_str))
                    .flat_map(underscore_spellings)
                    .collect();
                for spelling in spellings {
                    if !remove.contains(&spelling) {
                        remove.push(spelling);
                    }
                }
                if let Ok(value) = HeaderValue::from_str(&remove.join(",")) {
                    headers.insert(ENVOY_HEADERS_TO_REMOVE, value);
                }
            }
            response
        }
        Answer::Respond {
            status,
            headers: answer_headers,
            body,
            ..
        } => {
            let mut response = Response::new(Body::from(body.to_string()));
            *response.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::FORBIDDEN);
            let headers = response.headers_mut();
            for (name, value) in answer_headers {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    headers.append(name, value);
                }
            }
            if endpoint == Endpoint::Nginx
                && let Ok(value) = HeaderValue::from_str(body)
            {
                headers.insert(NGINX_DENIAL_BODY, value);
            }
            response
        }
    }
}

/// Most `-` in a header name whose every `_` spelling is named for Envoy to remove (2^n - 1
/// of them); a longer name (a policy's claim header) has only the all-`_` spelling named,
/// besides the spellings the request carried.
const MAX_SPELLED_DASHES: u32 = 6;

/// Every spelling of header `name` with some of its `-` written `_` (not `name` itself):
/// WSGI, CGI and Rack fold `_` into `-`, so an upstream reads each as `name`.
fn underscore_spellings(name: &str) -> Vec<String> {
    let dashes: Vec<usize> = name.match_indices('-').map(|(i, _)| i).collect();
    let n = dashes.len() as u32;
    if n == 0 {
        return Vec::new();
    }
    if n > MAX_SPELLED_DASHES {
        return vec![name.replace('-', "_")];
    }
    (1..(1u32 << n))
        .map(|mask| {
            let mut spelling = name.as_bytes().to_vec();
            for (bit, at) in dashes.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    spelling[*at] = b'_';
                }
            }
            String::from_utf8(spelling).unwrap_or_default()
        })
        .collect()
}

/// The size of a request head as sent: request line, and each header line.
fn head_bytes(parts: &http::request::Parts, target: usize) -> usize {
    let line = parts.method.as_str().len() + target + " HTTP/1.1\r\n".len();
    parts.headers.iter().fold(line, |n, (k, v)| {
        n + k.as_str().len() + v.len() + ": \r\n".len()
    })
}

/// A response that is not a decision (404, 503), JSON when it has a body.
fn plain(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if !body.is_empty() {
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    response
}
