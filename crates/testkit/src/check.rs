//! `CheckRequest`s shaped as Envoy's ext_authz HTTP filter sends them, and [`check`], which
//! reads the `CheckResponse` the way Envoy would act on it ([`Answer`]).

use std::collections::HashMap;

use cognito_ext_authz::proto::envoy::config::core::v3::{
    HeaderMap, HeaderValue, HeaderValueOption,
};
use cognito_ext_authz::proto::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, attribute_context, authorization_client::AuthorizationClient,
    check_response::HttpResponse,
};
use tonic::transport::Channel;

/// The HTTP request inside a check request, to change: `attributes.request.http`, each of
/// which must be there. Works on a `CheckRequest` and on the service's `CheckRequestView`.
#[macro_export]
macro_rules! http_mut {
    ($req:expr) => {
        $req.attributes
            .as_mut()
            .unwrap()
            .request
            .as_mut()
            .unwrap()
            .http
            .as_mut()
            .unwrap()
    };
}

/// A `CheckRequest` as Envoy's HTTP filter sends it (headers in the joined map), with only
/// the pseudo-headers and `headers`.
pub fn request(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> CheckRequest {
    let mut map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    map.insert(":method".into(), method.into());
    map.insert(":path".into(), path.into());
    map.insert(":authority".into(), host.into());
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(attribute_context::Request {
                http: Some(attribute_context::HttpRequest {
                    method: method.into(),
                    path: path.into(),
                    host: host.into(),
                    headers: map,
                    scheme: "http".into(),
                    protocol: "HTTP/1.1".into(),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    }
}

/// The request most tests send: `POST /users/1` on host `h`, with
/// `authorization: Bearer {token}`.
pub fn token_request(token: &str) -> CheckRequest {
    request(
        "POST",
        "h",
        "/users/1",
        &[("authorization", &format!("Bearer {token}"))],
    )
}

/// The same request with Envoy's `encode_raw_headers: true` (header_map, raw bytes).
pub fn raw_request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &[u8])],
) -> CheckRequest {
    let mut req = request(method, host, path, &[]);
    let http = http_mut!(req);
    http.headers.clear();
    http.header_map = Some(HeaderMap {
        headers: headers
            .iter()
            .map(|(k, v)| HeaderValue {
                key: k.to_string(),
                value: String::new(),
                raw_value: v.to_vec(),
            })
            .collect(),
    });
    req
}

/// A `CheckRequest` as Envoy's HTTP filter sends it, with the headers a browser or SDK
/// client typically sends.
pub fn check_request(method: &str, host: &str, path: &str, token: Option<&str>) -> CheckRequest {
    let mut headers: HashMap<String, String> = [
        (":authority", host),
        (":method", method),
        (":path", path),
        (":scheme", "http"),
        ("accept", "application/json"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
        ("x-forwarded-proto", "http"),
        ("x-request-id", "5f0c7a0e-6a8f-4d55-9f3e-1c2b3a4d5e6f"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(t) = token {
        headers.insert("authorization".to_owned(), format!("Bearer {t}"));
    }
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(attribute_context::Request {
                http: Some(attribute_context::HttpRequest {
                    id: "12345678901234567890".to_owned(),
                    method: method.to_owned(),
                    path: path.to_owned(),
                    host: host.to_owned(),
                    scheme: "http".to_owned(),
                    protocol: "HTTP/1.1".to_owned(),
                    headers,
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    }
}

/// What Envoy would do with a `CheckResponse`.
#[derive(Debug)]
pub struct Answer {
    /// 200 for an allow, else the denial's HTTP status.
    pub status: u16,
    pub grpc_code: i32,
    /// Headers set (allow: on the upstream request; deny: on the response).
    pub headers: HashMap<String, String>,
    /// Upstream headers removed (allow only).
    pub removed: Vec<String>,
    /// Whether every header is set with OVERWRITE_IF_EXISTS_OR_ADD.
    pub overwrites: bool,
    pub body: String,
    pub metadata: HashMap<String, String>,
}

impl Answer {
    /// The status with the metadata value `key` (which must be there), to assert both at once.
    pub fn status_and(&self, key: &str) -> (u16, &str) {
        (self.status, self.metadata[key].as_str())
    }
}

/// The gRPC client of the service's `Authorization` API, as [`Service::client`] connects it.
///
/// [`Service::client`]: crate::Service::client
pub type CheckClient = AuthorizationClient<Channel>;

/// Sends `req` and reads the answer as Envoy would; a gRPC-level error fails the test.
pub async fn check(client: &mut CheckClient, req: CheckRequest) -> Answer {
    let resp = client
        .check(req)
        .await
        .expect("Check must never fail at the gRPC level")
        .into_inner();
    let grpc_code = resp.status.as_ref().map_or(0, |s| s.code);
    let metadata = resp
        .dynamic_metadata
        .map(|m| {
            m.fields
                .into_iter()
                .map(|(k, v)| {
                    let text = match v.kind {
                        Some(prost_types::value::Kind::StringValue(s)) => s,
                        Some(prost_types::value::Kind::ListValue(l)) => l
                            .values
                            .into_iter()
                            .filter_map(|v| match v.kind {
                                Some(prost_types::value::Kind::StringValue(s)) => Some(s),
                                _ => None,
                            })
                            .collect::<Vec<_>>()
                            .join(","),
                        other => format!("{other:?}"),
                    };
                    (k, text)
                })
                .collect()
        })
        .unwrap_or_default();
    let to_map = |hs: Vec<HeaderValueOption>| {
        let overwrites = hs.iter().all(|h| h.append_action == 2);
        let map = hs
            .into_iter()
            .filter_map(|h| h.header)
            .map(|h| (h.key, h.value))
            .collect::<HashMap<_, _>>();
        (map, overwrites)
    };
    match resp.http_response {
        Some(HttpResponse::OkResponse(ok)) => {
            assert_eq!(grpc_code, 0);
            let (headers, overwrites) = to_map(ok.headers);
            Answer {
                status: 200,
                grpc_code,
                headers,
                removed: ok.headers_to_remove,
                overwrites,
                body: String::new(),
                metadata,
            }
        }
        Some(HttpResponse::DeniedResponse(denied)) => {
            assert_ne!(grpc_code, 0, "a denial must carry a non-OK status");
            let (headers, overwrites) = to_map(denied.headers);
            Answer {
                status: denied.status.map_or(403, |s| s.code as u16),
                grpc_code,
                headers,
                removed: Vec::new(),
                overwrites,
                body: denied.body,
                metadata,
            }
        }
        None => panic!("CheckResponse without http_response"),
    }
}

/// A gRPC message: the uncompressed prefix and `message`.
pub fn grpc_message(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0u8];
    framed.extend(u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend(message);
    framed
}
