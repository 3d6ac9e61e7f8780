//! The only module that knows protobuf: `CheckRequest` → [`Request`], decided through
//! [`crate::decide`], [`Answer`] → `CheckResponse`.
//!
//! Every outcome, allow or deny, is an `Ok` `CheckResponse`: a gRPC error would be an outage
//! to Envoy, and `failure_mode_allow` could turn it into an allow. Denials carry
//! `denied_response` with the HTTP status, so Envoy answers 401/400 and not its default 403.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use prost_types::{ListValue, Struct, Value, value::Kind};

mod http2;
mod view;

pub use http2::{GrpcPort, Http2Limits};
pub use view::{
    AttributesView, CHECK_PATH, CheckRequestView, CheckServer, HeaderEntryView, HeaderMapView,
    HeaderValueView, HttpRequestView, Refusal, RequestView,
};

use crate::answer::{Answer, MetaValue};
use crate::credential::Headers;
use crate::decision::DenyReason;
use crate::host::BadHost;
use crate::path::UnsafePath;
use crate::pipeline::{Pipeline, Request};
use crate::proto::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, header_value_option::HeaderAppendAction,
};
use crate::proto::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse, check_response::HttpResponse,
};
use crate::proto::envoy::r#type::v3::{HttpStatus, StatusCode};
use crate::proto::google::rpc;
use crate::trace_context::Correlation;

/// google.rpc.Code values.
const CODE_OK: i32 = 0;
const CODE_PERMISSION_DENIED: i32 = 7;
const CODE_UNAUTHENTICATED: i32 = 16;
const CODE_INVALID_ARGUMENT: i32 = 3;

/// The `envoy.service.auth.v3.Authorization` service.
#[derive(Clone)]
pub struct AuthorizationService {
    pipeline: Arc<Pipeline>,
    dynamic_metadata: bool,
}

impl AuthorizationService {
    /// Answers with the decision in `dynamic_metadata`.
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self {
            pipeline,
            dynamic_metadata: true,
        }
    }

    /// Puts the decision in `dynamic_metadata` only when `on` (`AUTHZ_DYNAMIC_METADATA`).
    pub fn with_dynamic_metadata(mut self, on: bool) -> Self {
        self.dynamic_metadata = on;
        self
    }

    /// Decides one check as read off the wire, logs and counts the decision, and builds
    /// the response.
    pub async fn check_view(&self, request: CheckRequestView) -> CheckResponse {
        let started = Instant::now();
        // Read before the request is taken apart, so even an unreadable check is logged
        // with its ids; never consulted by the decision.
        let correlation = correlation_of(&request);
        let request = to_request(request).map_err(Unreadable::reason);
        to_response(
            &crate::decide::decide(
                &self.pipeline,
                request,
                &correlation,
                started,
                self.dynamic_metadata,
                crate::observe::telemetry::Port::Grpc,
            )
            .await,
        )
    }

    /// Decides one `CheckRequest` (the generated type, as tests and tools build it).
    pub async fn check(&self, request: CheckRequest) -> CheckResponse {
        self.check_view(view_of(&request)).await
    }
}

/// The wire view of a generated `CheckRequest` (re-encoded; for tests and tools).
pub fn view_of(request: &CheckRequest) -> CheckRequestView {
    use prost::Message;
    CheckRequestView::decode(request.encode_to_vec().as_slice())
        .expect("a CheckRequest always decodes as its view")
}

/// The request id and trace context of a check, read from the same header list
/// [`to_request`] uses (`header_map` when Envoy sent it, else the joined `headers`).
fn correlation_of(request: &CheckRequestView) -> Correlation {
    let Some(http) = request
        .attributes
        .as_ref()
        .and_then(|a| a.request.as_ref())
        .and_then(|r| r.http.as_ref())
    else {
        return Correlation::default();
    };
    match &http.header_map {
        Some(map) if !map.headers.is_empty() => {
            Correlation::from_headers(map.headers.iter().map(|h| {
                let value = if h.raw_value.is_empty() {
                    &h.value
                } else {
                    &h.raw_value
                };
                (h.key.as_slice(), value.as_slice())
            }))
        }
        _ => Correlation::from_headers(
            http.headers
                .iter()
                .map(|h| (h.key.as_slice(), h.value.as_slice())),
        ),
    }
}

/// Why a check's HTTP attributes cannot be read as a request; each becomes a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// No HTTP attributes at all (not an HTTP filter's check).
    NotHttp,
    /// The method is not UTF-8.
    Method,
    /// The host is not UTF-8.
    Host,
    /// The path is not UTF-8.
    Path,
}

impl Unreadable {
    /// The denial for it: 403 for a check that is not HTTP, 400 otherwise.
    pub fn reason(self) -> DenyReason {
        match self {
            Unreadable::NotHttp => DenyReason::NotHttp,
            Unreadable::Method => DenyReason::UnsafeMethod,
            Unreadable::Host => DenyReason::UnsafeHost(BadHost::NotUtf8),
            Unreadable::Path => DenyReason::UnsafePath(UnsafePath::NotUtf8),
        }
    }
}

/// Moves the HTTP attributes out of a check.
///
/// Header names are lower-cased and those that are not UTF-8 dropped (no rule reads them);
/// header values stay bytes. The header map Envoy sends with `encode_raw_headers` wins over
/// the joined `headers` map.
pub fn to_request(request: CheckRequestView) -> Result<Request, Unreadable> {
    let http = request
        .attributes
        .and_then(|a| a.request)
        .and_then(|r| r.http)
        .ok_or(Unreadable::NotHttp)?;
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = match http.header_map {
        Some(map) if !map.headers.is_empty() => map
            .headers
            .into_iter()
            .map(|h| {
                let value = if h.raw_value.is_empty() {
                    h.value
                } else {
                    h.raw_value
                };
                (h.key, value)
            })
            .collect(),
        _ => http.headers.into_iter().map(|h| (h.key, h.value)).collect(),
    };
    let headers = Headers::from_lines(
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((String::from_utf8(k).ok()?, v))),
    );
    let text = |bytes: Vec<u8>, what| String::from_utf8(bytes).map_err(|_| what);
    let method = text(http.method, Unreadable::Method)?;
    let host = or_pseudo_header(text(http.host, Unreadable::Host)?, &headers, ":authority")
        .map_err(|_| Unreadable::Host)?;
    let path = or_pseudo_header(text(http.path, Unreadable::Path)?, &headers, ":path")
        .map_err(|_| Unreadable::Path)?;
    Ok(Request::new(method, host, path, headers))
}

/// `value`, or when Envoy left it empty, the pseudo-header `name` from the header map.
fn or_pseudo_header(value: String, headers: &Headers, name: &str) -> Result<String, ()> {
    if !value.is_empty() {
        return Ok(value);
    }
    match headers.value(name) {
        Some(v) => String::from_utf8(v.to_vec()).map_err(|_| ()),
        None => Ok(String::new()),
    }
}

/// The `CheckResponse` for an answer.
pub fn to_response(answer: &Answer) -> CheckResponse {
    let overwrite = |k: &str, v: String| header(k, v, HeaderAppendAction::OverwriteIfExistsOrAdd);
    match answer {
        Answer::Upstream {
            set,
            remove,
            metadata: fields,
        } => CheckResponse {
            status: Some(rpc::Status {
                code: CODE_OK,
                message: String::new(),
            }),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                headers: set.iter().map(|(k, v)| overwrite(k, v.clone())).collect(),
                headers_to_remove: remove.clone(),
                response_headers_to_add: Vec::new(),
            })),
            dynamic_metadata: metadata(fields),
        },
        Answer::Respond {
            status,
            reason,
            headers,
            body,
            metadata: fields,
        } => {
            let code = match status {
                401 => CODE_UNAUTHENTICATED,
                400 => CODE_INVALID_ARGUMENT,
                _ => CODE_PERMISSION_DENIED,
            };
            CheckResponse {
                status: Some(rpc::Status {
                    code,
                    message: (*reason).to_owned(),
                }),
                http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
                    status: Some(HttpStatus {
                        code: http_status(*status),
                    }),
                    headers: headers
                        .iter()
                        .map(|(k, v)| overwrite(k, v.clone()))
                        .collect(),
                    body: body.to_string(),
                })),
                dynamic_metadata: metadata(fields),
            }
        }
    }
}

/// The status as Envoy's `HttpStatus` code: the statuses a denial can have (the policy
/// refuses others) are all values of Envoy's `StatusCode`, which this crate's copy of the
/// enum only partly lists; anything else becomes 403.
fn http_status(status: u16) -> i32 {
    if crate::policy::responses::STATUSES.contains(&status) {
        i32::from(status)
    } else {
        StatusCode::Forbidden as i32
    }
}

fn header(key: &str, value: String, action: HeaderAppendAction) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value,
            raw_value: Vec::new(),
        }),
        append_action: action as i32,
        keep_empty_value: false,
    }
}

fn string(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_owned())),
    }
}

/// The answer's metadata as Envoy's `dynamic_metadata` struct (namespace
/// `envoy.filters.http.ext_authz`); none when there is none.
fn metadata(fields: &[(&'static str, MetaValue)]) -> Option<Struct> {
    if fields.is_empty() {
        return None;
    }
    let fields = fields
        .iter()
        .map(|(k, v)| {
            let value = match v {
                MetaValue::Text(t) => string(t),
                MetaValue::List(items) => Value {
                    kind: Some(Kind::ListValue(ListValue {
                        values: items.iter().map(|i| string(i)).collect(),
                    })),
                },
            };
            ((*k).to_owned(), value)
        })
        .collect::<BTreeMap<_, _>>();
    Some(Struct { fields })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::envoy::config::core::v3::HeaderMap;
    use crate::proto::envoy::service::auth::v3::{AttributeContext, attribute_context};

    fn check_request(http: attribute_context::HttpRequest) -> CheckRequest {
        CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(attribute_context::Request { http: Some(http) }),
                ..Default::default()
            }),
        }
    }

    fn view(http: attribute_context::HttpRequest) -> CheckRequestView {
        view_of(&check_request(http))
    }

    fn bytes_view(
        method: &[u8],
        host: &[u8],
        path: &[u8],
        header: (&[u8], &[u8]),
    ) -> CheckRequestView {
        CheckRequestView {
            attributes: Some(view::AttributesView {
                request: Some(view::RequestView {
                    http: Some(view::HttpRequestView {
                        method: method.to_vec(),
                        host: host.to_vec(),
                        path: path.to_vec(),
                        headers: vec![view::HeaderEntryView {
                            key: header.0.to_vec(),
                            value: header.1.to_vec(),
                        }],
                        header_map: None,
                    }),
                }),
            }),
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_read_not_refused() {
        let ok = bytes_view(b"GET", b"h", b"/a", (b"authorization", b"t"));
        assert!(to_request(ok).is_ok());
        let bad = [0xff, 0xfe];
        assert_eq!(
            to_request(bytes_view(&bad, b"h", b"/a", (b"a", b"b"))).unwrap_err(),
            Unreadable::Method
        );
        assert_eq!(
            to_request(bytes_view(b"GET", &bad, b"/a", (b"a", b"b"))).unwrap_err(),
            Unreadable::Host
        );
        assert_eq!(
            to_request(bytes_view(b"GET", b"h", &bad, (b"a", b"b"))).unwrap_err(),
            Unreadable::Path
        );
        // A header value that is not text stays bytes; a header name that is not text is
        // dropped (no rule can name it).
        let r = to_request(bytes_view(b"GET", b"h", b"/a", (b"authorization", &bad))).unwrap();
        assert_eq!(r.headers().value("authorization"), Some(&bad[..]));
        let r = to_request(bytes_view(b"GET", b"h", b"/a", (&bad, b"v"))).unwrap();
        let mut names = 0;
        r.headers().for_each_name(|_| names += 1);
        assert_eq!(names, 0);
        let none = crate::policy::responses::GatewayResponses::default();
        assert_eq!(Unreadable::Path.reason().response(401, &none).status, 400);
        assert_eq!(
            Unreadable::NotHttp.reason().response(401, &none).status,
            403
        );
    }

    #[test]
    fn request_ids_are_read_from_the_header_map_envoy_sent_else_from_the_joined_headers() {
        let raw = |k: &str, v: &str, raw_value: bool| HeaderValue {
            key: k.to_owned(),
            value: if raw_value {
                String::new()
            } else {
                v.to_owned()
            },
            raw_value: if raw_value {
                v.as_bytes().to_vec()
            } else {
                Vec::new()
            },
        };
        // `encode_raw_headers`: the value is in `raw_value`; the joined map is ignored.
        let with_map = view(attribute_context::HttpRequest {
            headers: [("x-request-id".to_owned(), "joined".to_owned())].into(),
            header_map: Some(HeaderMap {
                headers: vec![raw("X-Request-Id", "from-map", true)],
            }),
            ..Default::default()
        });
        assert_eq!(
            correlation_of(&with_map).request_id.as_deref(),
            Some("from-map")
        );
        // A header map entry with `value` (not `raw_value`) is read too.
        let plain = view(attribute_context::HttpRequest {
            header_map: Some(HeaderMap {
                headers: vec![raw("x-request-id", "plain-value", false)],
            }),
            ..Default::default()
        });
        assert_eq!(
            correlation_of(&plain).request_id.as_deref(),
            Some("plain-value")
        );
        // An empty header map: the joined headers.
        let joined = view(attribute_context::HttpRequest {
            headers: [("x-request-id".to_owned(), "joined".to_owned())].into(),
            header_map: Some(HeaderMap { headers: vec![] }),
            ..Default::default()
        });
        assert_eq!(
            correlation_of(&joined).request_id.as_deref(),
            Some("joined")
        );
        // Not an HTTP check: no ids, no failure.
        let none = view_of(&CheckRequest { attributes: None });
        assert_eq!(correlation_of(&none).request_id, None);
    }

    #[test]
    fn reads_raw_header_maps_and_falls_back_to_pseudo_headers() {
        let raw = |k: &str, v: &str| HeaderValue {
            key: k.to_owned(),
            value: String::new(),
            raw_value: v.as_bytes().to_vec(),
        };
        let request = to_request(view(attribute_context::HttpRequest {
            method: "post".into(),
            header_map: Some(HeaderMap {
                headers: vec![
                    raw(":path", "/users/1?x=1"),
                    raw(":authority", "api.example.com"),
                    raw("Authorization", "Bearer a.b.c"),
                ],
            }),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.path(), "/users/1?x=1");
        assert_eq!(request.host(), "api.example.com");
        assert_eq!(
            crate::credential::bearer_token(request.headers(), "authorization"),
            Ok("a.b.c")
        );
        // Envoy's own fields win over the header map.
        let request = to_request(view(attribute_context::HttpRequest {
            path: "/a".into(),
            host: "h".into(),
            headers: [(":path".to_owned(), "/b".to_owned())].into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!((request.path(), request.host()), ("/a", "h"));
        // An empty header map: the joined headers are read.
        let request = to_request(view(attribute_context::HttpRequest {
            headers: [("authorization".to_owned(), "Bearer x.y.z".to_owned())].into(),
            header_map: Some(HeaderMap { headers: vec![] }),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(
            crate::credential::bearer_token(request.headers(), "authorization"),
            Ok("x.y.z")
        );
        assert_eq!(
            to_request(view_of(&CheckRequest { attributes: None })).unwrap_err(),
            Unreadable::NotHttp
        );
    }
}
