//! Request ids and trace context are for following a request, never for deciding it: no
//! `x-request-id` or `traceparent` value, however malformed, long or repeated, changes
//! what a check answers (`proptest`), and one check is never an error because of them.

use std::sync::{Arc, OnceLock};

use cognito_ext_authz::active::ActivePolicy;
use cognito_ext_authz::grpc::AuthorizationService;
use cognito_ext_authz::pipeline::Pipeline;
use cognito_ext_authz::policy::Policy;
use cognito_ext_authz::proto::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use cognito_ext_authz::token::keys::{PoolKeys, parse_jwks};
use proptest::prelude::*;
use serde_json::json;
use testkit::*;

struct Fixture {
    service: AuthorizationService,
    bearer: String,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let yaml = format!(
            "userPools:\n  - id: {POOL}\n    jwksUri: http://127.0.0.1:1/jwks.json\nroutes:\n  - name: create-user\n    path: /users/{{id}}\n    scopes: [{SCOPE}]\n  - name: health\n    path: /health\n    auth: none\n"
        );
        let policy = Policy::parse(&yaml).unwrap();
        let jwks = json!({ "keys": [key(0).jwk.clone()] }).to_string();
        let keys = vec![Arc::new(PoolKeys::fixed(
            POOL,
            parse_jwks(jwks.as_bytes()).unwrap(),
        ))];
        let pipeline = Pipeline::new(
            ActivePolicy {
                policy,
                keys,
                generation: 1,
            },
            1000,
        );
        Fixture {
            service: AuthorizationService::new(Arc::new(pipeline)),
            bearer: format!("Bearer {}", key(0).sign(&access_claims(SCOPE))),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    })
}

/// The requests every property runs: allowed, no token, wrong scope, public, no route,
/// unsafe path.
/// Method, path and headers of one check.
type Case = (&'static str, &'static str, Vec<(&'static str, String)>);

fn cases(f: &Fixture) -> Vec<Case> {
    let other = format!("Bearer {}", key(0).sign(&access_claims("other/scope")));
    vec![
        (
            "POST",
            "/users/1",
            vec![("authorization", f.bearer.clone())],
        ),
        ("POST", "/users/1", vec![]),
        ("POST", "/users/1", vec![("authorization", other)]),
        ("GET", "/health", vec![]),
        ("GET", "/nowhere", vec![]),
        (
            "GET",
            "/a/../users/1",
            vec![("authorization", f.bearer.clone())],
        ),
    ]
}

fn decide(request: CheckRequest) -> CheckResponse {
    let f = fixture();
    f.runtime.block_on(f.service.check(request))
}

/// The HTTP status Envoy would act on: 200 for an allow, else the denial's.
fn status(response: &CheckResponse) -> u16 {
    use cognito_ext_authz::proto::envoy::service::auth::v3::check_response::HttpResponse;
    match &response.http_response {
        Some(HttpResponse::OkResponse(_)) => 200,
        Some(HttpResponse::DeniedResponse(d)) => d.status.as_ref().map_or(403, |s| s.code as u16),
        None => panic!("no http_response"),
    }
}

/// The same check with extra headers, in the joined map and in the raw header map.
fn with_extra(
    method: &str,
    path: &str,
    headers: &[(&'static str, String)],
    extra: &[(&str, Vec<u8>)],
) -> [CheckRequest; 2] {
    let mut joined: Vec<(&str, String)> = headers.iter().map(|(k, v)| (*k, v.clone())).collect();
    for (k, v) in extra {
        joined.push((k, String::from_utf8_lossy(v).into_owned()));
    }
    let joined_refs: Vec<(&str, &str)> = joined.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut raw: Vec<(&str, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (*k, v.as_bytes().to_vec()))
        .collect();
    raw.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    let raw_refs: Vec<(&str, &[u8])> = raw.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    [
        request(method, "h", path, &joined_refs),
        raw_request(method, "h", path, &raw_refs),
    ]
}

/// Header values: well-formed ids and traceparents, near misses, and arbitrary bytes.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(String::into_bytes),
        "[0-9a-fA-F]{2}-[0-9a-fA-F]{32}-[0-9a-fA-F]{16}-[0-9a-fA-F]{2}(-.{0,8})?"
            .prop_map(String::into_bytes),
        "\\PC{0,300}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..600),
    ]
}

fn name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("x-request-id"),
        Just("traceparent"),
        Just("X-Request-Id"),
        Just("TraceParent"),
        Just("tracestate"),
    ]
}

#[test]
fn well_formed_ids_leave_every_decision_as_it_was() {
    let f = fixture();
    let tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec();
    // Without ids the cases are decided as the policy says: allowed, no token, wrong
    // scope, public, no route, unsafe path.
    let statuses: Vec<u16> = cases(f)
        .into_iter()
        .map(|(method, path, headers)| {
            let [plain, _] = with_extra(method, path, &headers, &[]);
            status(&decide(plain))
        })
        .collect();
    assert_eq!(statuses, [200, 401, 401, 200, 403, 400]);
    for (method, path, headers) in cases(f) {
        let [plain, _] = with_extra(method, path, &headers, &[]);
        let plain = decide(plain);
        for r in with_extra(
            method,
            path,
            &headers,
            &[
                ("x-request-id", b"req-1".to_vec()),
                ("traceparent", tp.clone()),
            ],
        ) {
            assert_eq!(decide(r), plain, "{method} {path}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_request_ids_and_traceparents_never_change_a_decision(
        extra in prop::collection::vec((name(), header_value()), 1..4),
        case in 0usize..6,
    ) {
        let f = fixture();
        let (method, path, headers) = cases(f).swap_remove(case);
        let [plain, _] = with_extra(method, path, &headers, &[]);
        let plain = decide(plain);
        let extra: Vec<(&str, Vec<u8>)> = extra.into_iter().collect();
        for r in with_extra(method, path, &headers, &extra) {
            prop_assert_eq!(decide(r), plain.clone());
        }
    }
}
