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
use tonic::{Response, Status};

use crate::credential::Headers;
use crate::decide::{Authorizer, Decision, DenyReason, Request};
use crate::proto::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, header_value_option::HeaderAppendAction,
};
use crate::proto::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse, authorization_server,
    check_response::HttpResponse,
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

    /// Decides one `CheckRequest`, logs and counts the decision, and builds the response.
    pub async fn check(&self, request: CheckRequest) -> CheckResponse {
        let started = Instant::now();
        let (decision, request) = match to_request(request) {
            Some(request) => (self.authorizer.decide(&request).await, request),
            None => (
                Decision::Deny {
                    reason: DenyReason::NotHttp,
                    route: None,
                    insufficient_scope_status: 401,
                },
                Request::default(),
            ),
        };
        crate::metrics::record_decision(&decision, &request, started.elapsed());
        to_response(&decision)
    }
}

#[tonic::async_trait]
impl authorization_server::Authorization for AuthorizationService {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        Ok(Response::new(
            AuthorizationService::check(self, request.into_inner()).await,
        ))
    }
}

/// Moves the HTTP attributes out of a `CheckRequest`; `None` if it has none.
pub fn to_request(request: CheckRequest) -> Option<Request> {
    let http = request.attributes?.request?.http?;
    let headers = match http.header_map {
        Some(map) if !map.headers.is_empty() => Headers::Raw(
            map.headers
                .into_iter()
                .map(|h| {
                    let value = if h.raw_value.is_empty() {
                        h.value.into_bytes()
                    } else {
                        h.raw_value
                    };
                    (h.key.to_ascii_lowercase(), value)
                })
                .collect(),
        ),
        _ => Headers::Joined(http.headers),
    };
    let mut method = http.method;
    method.make_ascii_uppercase();
    let host = or_pseudo_header(http.host, &headers, ":authority");
    let path = or_pseudo_header(http.path, &headers, ":path");
    Some(Request {
        method,
        host,
        path,
        headers,
    })
}

/// `value`, or when Envoy left it empty, the pseudo-header `name` from the header map.
fn or_pseudo_header(value: String, headers: &Headers, name: &str) -> String {
    if !value.is_empty() {
        return value;
    }
    match headers {
        Headers::Joined(map) => map.get(name).cloned(),
        Headers::Raw(list) => list
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| String::from_utf8(v.clone()).ok()),
    }
    .unwrap_or_default()
}

/// Builds the `CheckResponse` for a decision.
pub fn to_response(decision: &Decision) -> CheckResponse {
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

    #[test]
    fn reads_raw_header_maps_and_falls_back_to_pseudo_headers() {
        let raw = |k: &str, v: &str| HeaderValue {
            key: k.to_owned(),
            value: String::new(),
            raw_value: v.as_bytes().to_vec(),
        };
        let request = to_request(check_request(attribute_context::HttpRequest {
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
        let request = to_request(check_request(attribute_context::HttpRequest {
            path: "/a".into(),
            host: "h".into(),
            headers: [(":path".to_owned(), "/b".to_owned())].into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!((request.path.as_str(), request.host.as_str()), ("/a", "h"));
        assert!(to_request(CheckRequest { attributes: None }).is_none());
    }
}
