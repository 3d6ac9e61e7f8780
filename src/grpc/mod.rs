//! The only module that knows protobuf: `CheckRequest` → [`Request`], [`Decision`] →
//! `CheckResponse`.
//!
//! Every outcome, allow or deny, is an `Ok` `CheckResponse`: a gRPC error would be an outage
//! to Envoy, and `failure_mode_allow` could turn it into an allow. Denials carry
//! `denied_response` with the HTTP status, so Envoy answers 401/400 and not its default 403.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use prost_types::{ListValue, Struct, Value, value::Kind};

mod view;

pub use view::{
    AttributesView, CHECK_PATH, CheckRequestView, CheckServer, HeaderEntryView, HeaderMapView,
    HeaderValueView, HttpRequestView, RequestView,
};

use crate::credential::Headers;
use crate::decide::{Authorizer, Decision, DenyReason, Request};
use crate::host::BadHost;
use crate::path::UnsafePath;
use crate::proto::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, header_value_option::HeaderAppendAction,
};
use crate::proto::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse, check_response::HttpResponse,
};
use crate::proto::envoy::r#type::v3::{HttpStatus, StatusCode};
use crate::proto::google::rpc;

/// Identity headers set on allowed requests; any the token does not supply are removed.
pub const IDENTITY_HEADERS: [&str; 6] = [
    "x-cognito-sub",
    "x-cognito-client-id",
    "x-cognito-username",
    "x-cognito-scope",
    "x-cognito-groups",
    "x-cognito-route",
];

/// google.rpc.Code values.
const CODE_OK: i32 = 0;
const CODE_PERMISSION_DENIED: i32 = 7;
const CODE_UNAUTHENTICATED: i32 = 16;
const CODE_INVALID_ARGUMENT: i32 = 3;

/// The `envoy.service.auth.v3.Authorization` service.
#[derive(Clone)]
pub struct AuthorizationService {
    authorizer: Arc<Authorizer>,
}

impl AuthorizationService {
    pub fn new(authorizer: Arc<Authorizer>) -> Self {
        Self { authorizer }
    }

    /// Decides one check as read off the wire, logs and counts the decision, and builds
    /// the response.
    pub async fn check_view(&self, request: CheckRequestView) -> CheckResponse {
        let started = Instant::now();
        let (decision, request) = match to_request(request) {
            Ok(request) => (self.authorizer.decide(&request).await, request),
            Err(unreadable) => (
                Decision::Deny {
                    reason: unreadable.reason(),
                    route: None,
                    insufficient_scope_status: 401,
                },
                Request::default(),
            ),
        };
        crate::metrics::record_decision(&decision, &request, started.elapsed());
        to_response(&decision, &forged_identity_headers(&request.headers))
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
    let headers = Headers::Raw(
        pairs
            .into_iter()
            .filter_map(|(k, v)| {
                let mut k = String::from_utf8(k).ok()?;
                k.make_ascii_lowercase();
                Some((k, v))
            })
            .collect(),
    );
    let text = |bytes: Vec<u8>, what| String::from_utf8(bytes).map_err(|_| what);
    let mut method = text(http.method, Unreadable::Method)?;
    method.make_ascii_uppercase();
    let host = or_pseudo_header(text(http.host, Unreadable::Host)?, &headers, ":authority")
        .map_err(|_| Unreadable::Host)?;
    let path = or_pseudo_header(text(http.path, Unreadable::Path)?, &headers, ":path")
        .map_err(|_| Unreadable::Path)?;
    Ok(Request {
        method,
        host,
        path,
        headers,
    })
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

/// Request headers that are an identity header once lower-cased with `_` read as `-`
/// (`x_cognito_sub`, `X-Cognito_Groups`), other than the identity header itself: WSGI, CGI
/// and Rack fold `_` into `-`, so an upstream would read them as ours. They are always
/// removed.
pub fn forged_identity_headers(headers: &Headers) -> Vec<String> {
    let mut forged = Vec::new();
    headers.for_each_name(|name| {
        if name.contains('_')
            && IDENTITY_HEADERS.iter().any(|h| {
                h.len() == name.len()
                    && h.bytes()
                        .zip(name.bytes())
                        .all(|(a, b)| a == b.to_ascii_lowercase() || (a == b'-' && b == b'_'))
            })
            && !forged.iter().any(|f: &String| f == name)
        {
            forged.push(name.to_owned());
        }
    });
    forged
}

/// Builds the `CheckResponse` for a decision; `forged` are request headers to remove on an
/// allow besides the identity headers the token does not supply.
pub fn to_response(decision: &Decision, forged: &[String]) -> CheckResponse {
    match decision {
        Decision::Allow { route, token, .. } => {
            let mut set: Vec<(&str, String)> = Vec::with_capacity(IDENTITY_HEADERS.len());
            if let Some(t) = token {
                set.push(("x-cognito-sub", t.sub.clone()));
                set.push(("x-cognito-client-id", t.client_id.clone()));
                if let Some(u) = &t.username {
                    set.push(("x-cognito-username", u.clone()));
                }
                if !t.scopes.is_empty() {
                    set.push(("x-cognito-scope", t.scopes.join(" ")));
                }
                if !t.groups.is_empty() {
                    set.push(("x-cognito-groups", t.groups.join(",")));
                }
            }
            if let Some(r) = route {
                set.push(("x-cognito-route", r.to_string()));
            }
            // A value Envoy could not carry safely is dropped (and so removed).
            set.retain(|(_, v)| !v.is_empty() && !v.chars().any(|c| c.is_control()));
            let headers_to_remove = IDENTITY_HEADERS
                .iter()
                .filter(|h| !set.iter().any(|(s, _)| s == *h))
                .map(|h| h.to_string())
                .chain(forged.iter().cloned())
                .collect();
            CheckResponse {
                status: Some(rpc::Status {
                    code: CODE_OK,
                    message: String::new(),
                }),
                http_response: Some(HttpResponse::OkResponse(OkHttpResponse {
                    headers: set
                        .into_iter()
                        .map(|(k, v)| header(k, v, HeaderAppendAction::OverwriteIfExistsOrAdd))
                        .collect(),
                    headers_to_remove,
                    response_headers_to_add: Vec::new(),
                })),
                dynamic_metadata: Some(metadata(decision)),
            }
        }
        Decision::Deny {
            reason,
            insufficient_scope_status,
            ..
        } => {
            let answer = reason.response(*insufficient_scope_status);
            let mut headers = vec![header(
                "content-type",
                "application/json".to_owned(),
                HeaderAppendAction::OverwriteIfExistsOrAdd,
            )];
            if let Some(w) = answer.www_authenticate {
                headers.push(header(
                    "www-authenticate",
                    w.to_owned(),
                    HeaderAppendAction::OverwriteIfExistsOrAdd,
                ));
            }
            let code = match answer.status {
                401 => CODE_UNAUTHENTICATED,
                400 => CODE_INVALID_ARGUMENT,
                _ => CODE_PERMISSION_DENIED,
            };
            CheckResponse {
                status: Some(rpc::Status {
                    code,
                    message: reason.label().to_owned(),
                }),
                http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
                    status: Some(HttpStatus {
                        code: http_status(answer.status) as i32,
                    }),
                    headers,
                    body: answer.body.to_owned(),
                })),
                dynamic_metadata: Some(metadata(decision)),
            }
        }
    }
}

fn http_status(status: u16) -> StatusCode {
    match status {
        400 => StatusCode::BadRequest,
        401 => StatusCode::Unauthorized,
        _ => StatusCode::Forbidden,
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

fn string(s: impl Into<String>) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.into())),
    }
}

/// The decision for Envoy's access logs and RBAC (`envoy.filters.http.ext_authz` namespace).
fn metadata(decision: &Decision) -> Struct {
    let mut fields = BTreeMap::new();
    fields.insert("decision".to_owned(), string(decision.result()));
    fields.insert("reason".to_owned(), string(decision.reason()));
    if let Some(route) = decision.route() {
        fields.insert("route".to_owned(), string(route));
    }
    if let Some(t) = decision.token() {
        fields.insert("sub".to_owned(), string(&t.sub));
        fields.insert("client_id".to_owned(), string(&t.client_id));
        if let Some(u) = &t.username {
            fields.insert("username".to_owned(), string(u));
        }
        fields.insert("scope".to_owned(), string(t.scopes.join(" ")));
        fields.insert(
            "groups".to_owned(),
            Value {
                kind: Some(Kind::ListValue(ListValue {
                    values: t.groups.iter().map(string).collect(),
                })),
            },
        );
    }
    Struct { fields }
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
        assert_eq!(r.headers.value("authorization"), Some(&bad[..]));
        let r = to_request(bytes_view(b"GET", b"h", b"/a", (&bad, b"v"))).unwrap();
        let mut names = 0;
        r.headers.for_each_name(|_| names += 1);
        assert_eq!(names, 0);
        assert_eq!(Unreadable::Path.reason().response(401).status, 400);
        assert_eq!(Unreadable::NotHttp.reason().response(401).status, 403);
    }

    #[test]
    fn identity_headers_spelled_with_underscores_are_removed() {
        let headers = Headers::Raw(
            [
                "x_cognito_sub",
                "x-cognito_groups",
                "x_cognito_route",
                "x-cognito-sub",
                "x_cognito_subject",
                "x_other",
                "x_cognito_sub",
            ]
            .iter()
            .map(|n| (n.to_string(), b"v".to_vec()))
            .collect(),
        );
        let forged = forged_identity_headers(&headers);
        assert_eq!(
            forged,
            ["x_cognito_sub", "x-cognito_groups", "x_cognito_route"]
        );
        let allow = Decision::Allow {
            reason: crate::decide::AllowReason::PublicRoute,
            route: None,
            token: None,
        };
        let Some(HttpResponse::OkResponse(ok)) = to_response(&allow, &forged).http_response else {
            panic!("an allow");
        };
        for name in IDENTITY_HEADERS
            .iter()
            .copied()
            .chain(forged.iter().map(String::as_str))
        {
            assert!(ok.headers_to_remove.iter().any(|h| h == name), "{name}");
        }
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
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/users/1?x=1");
        assert_eq!(request.host, "api.example.com");
        assert_eq!(
            crate::credential::bearer_token(&request.headers, "authorization"),
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
        assert_eq!((request.path.as_str(), request.host.as_str()), ("/a", "h"));
        assert_eq!(
            to_request(view_of(&CheckRequest { attributes: None })).unwrap_err(),
            Unreadable::NotHttp
        );
    }
}
