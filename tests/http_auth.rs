//! The HTTP authorization port (`AUTHZ_HTTP_AUTH_ADDR`, docs/http-auth.md) against the
//! real binary: every endpoint answers exactly what the gRPC port answers for the same
//! request (a differential over a table of requests, same policy, same tokens, both
//! ports), reads only its own headers, refuses missing or repeated originals with 400,
//! bounds its request head, and serves TLS when `AUTHZ_TLS_*` is set.
//!
//! Requests are written byte for byte on a TCP connection, so a test can repeat a header or
//! send a target no HTTP client library would.
//!
//! Why one file of this length: one port, and its tests share the table of requests and
//! the raw HTTP/1.1 client.

mod tls_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use testkit::*;
use tls_support::{Ca, Secret, mtls_files};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: create-user
    methods: [POST]
    path: /users/{id}
    scopes: [user_management_lambdas/api]
  - name: any-token
    path: /me
  - name: admins-only
    path: /admin
    groups: [admins]
  - name: ops-only
    path: /ops
    groups: [ops]
  - name: health
    path: /health
    auth: none
  - name: closed
    path: /closed
    auth: deny
"#;

const IDENTITY: [&str; 6] = [
    "x-cognito-sub",
    "x-cognito-client-id",
    "x-cognito-username",
    "x-cognito-scope",
    "x-cognito-groups",
    "x-cognito-route",
];

/// An HTTP/1.1 response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Lower-case names, in order.
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn identity(&self) -> BTreeMap<String, String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-cognito-"))
            .cloned()
            .collect()
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Writes `head` (request line and headers, without the blank line; `connection: close`
/// is added) and reads the whole response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, head: &str) -> Reply {
    let request = format!("{head}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse(&raw)
}

async fn send(addr: SocketAddr, head: &str) -> Reply {
    exchange(tokio::net::TcpStream::connect(addr).await.unwrap(), head).await
}

/// The request line and headers of a subrequest to `endpoint` for the original request
/// `method host path` with `headers`, as that gateway's shipped config sends it.
fn subrequest(
    endpoint: &str,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> String {
    let mut head = match endpoint {
        "envoy" => format!("{method} /envoy{path} HTTP/1.1\r\nhost: {host}"),
        "nginx" => format!(
            "GET /nginx HTTP/1.1\r\nhost: {host}\r\nx-original-method: {method}\r\nx-original-uri: {path}"
        ),
        "ingress-nginx" => format!(
            "GET /ingress-nginx HTTP/1.1\r\nhost: authz.internal\r\nx-original-method: {method}\r\nx-original-url: https://{host}{path}"
        ),
        "traefik" => format!(
            "GET /traefik HTTP/1.1\r\nhost: authz.internal\r\nx-forwarded-method: {method}\r\nx-forwarded-host: {host}\r\nx-forwarded-uri: {path}"
        ),
        other => panic!("no endpoint {other}"),
    };
    for (k, v) in headers {
        head.push_str(&format!("\r\n{k}: {v}"));
    }
    head
}

const ENDPOINTS: [&str; 4] = ["envoy", "nginx", "ingress-nginx", "traefik"];

/// The service with the HTTP port on, and its address.
async fn start(env: &[(&str, &str)]) -> (KeyServer, Service, SocketAddr) {
    let mut env = env.to_vec();
    env.push(("AUTHZ_HTTP_AUTH_ADDR", PICK_PORT));
    let (keys, service) = keys_and_service(BIN, ROUTES, &env).await;
    let http = service.http_auth;
    (keys, service, http)
}

fn tokens() -> Vec<(&'static str, String)> {
    let mut expired = access_claims(SCOPE);
    expired["exp"] = json!(now() - 60);
    let mut other_client = access_claims(SCOPE);
    other_client["client_id"] = json!("someone-else");
    let mut no_groups = access_claims("openid");
    no_groups.as_object_mut().unwrap().remove("cognito:groups");
    vec![
        ("with scope", key(0).sign(&access_claims(SCOPE))),
        ("without scope", key(0).sign(&access_claims("openid"))),
        ("no groups", key(0).sign(&no_groups)),
        ("expired", key(0).sign(&expired)),
        ("other client", key(0).sign(&other_client)),
        ("unknown key", key(1).sign(&access_claims(SCOPE))),
        ("not a jwt", "not-a-token".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_what_the_grpc_port_answers() {
    let (_keys, service, http) = start(&[]).await;
    let mut client = service.client().await;
    let requests: [(&str, &str); 12] = [
        ("POST", "/users/42"),
        ("POST", "/users/42?x=1&y=%2F"),
        ("GET", "/users/42"),
        ("GET", "/me"),
        ("GET", "/admin"),
        ("GET", "/ops"),
        ("GET", "/health"),
        ("DELETE", "/closed"),
        ("GET", "/nowhere"),
        ("GET", "/users/../admin"),
        ("GET", "/users/1%2f2"),
        ("GET", "/me;jsessionid=1"),
    ];
    let mut tokens: Vec<(&str, Option<String>)> =
        tokens().into_iter().map(|(n, t)| (n, Some(t))).collect();
    tokens.push(("no token", None));
    let mut compared = 0;
    let mut statuses = std::collections::BTreeSet::new();
    for (method, path) in requests {
        for (name, token) in &tokens {
            let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
            let mut headers: Vec<(&str, &str)> = vec![("x-cognito-sub", "forged-sub")];
            if let Some(b) = &bearer {
                headers.push(("authorization", b));
            }
            let grpc = check(
                &mut client,
                request(method, "api.example.com", path, &headers),
            )
            .await;
            statuses.insert(grpc.status);
            for endpoint in ENDPOINTS {
                let what = format!("{endpoint}: {method} {path} with {name}");
                let reply = send(
                    http,
                    &subrequest(endpoint, method, "api.example.com", path, &headers),
                )
                .await;
                assert_eq!(reply.status, grpc.status, "{what}: {reply:?} vs {grpc:?}");
                if grpc.status == 200 {
                    let expected: BTreeMap<String, String> = grpc
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(reply.identity(), expected, "{what}");
                    assert_ne!(
                        reply.header("x-cognito-sub"),
                        Some("forged-sub"),
                        "{what}: a forged identity header was echoed"
                    );
                    assert_eq!(reply.body, "", "{what}");
                } else {
                    assert_eq!(reply.body, grpc.body, "{what}");
                    // NGINX's endpoint repeats the body as a header for auth_request.
                    let repeated = reply.header("x-authz-denial-body");
                    if endpoint == "nginx" {
                        assert_eq!(repeated, Some(grpc.body.as_str()), "{what}");
                    } else {
                        assert_eq!(repeated, None, "{what}");
                    }
                    for h in ["www-authenticate", "content-type"] {
                        assert_eq!(
                            reply.header(h),
                            grpc.headers.get(h).map(String::as_str),
                            "{what}: {h}"
                        );
                    }
                    assert_eq!(reply.identity(), BTreeMap::new(), "{what}");
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 12 * 8 * 4);
    // The table covers every kind of answer.
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [200, 400, 401, 403]
    );
    // Every subrequest was decided and logged like a check: as many lines as answers, the
    // same reasons on both ports.
    let last = service.decision(compared * 5 / 4).await;
    assert!(last["decision"].as_str().is_some(), "{last}");
    let lines = service.decisions();
    assert_eq!(lines.len(), compared * 5 / 4);
    for group in lines.chunks(5) {
        let reasons: Vec<&serde_json::Value> = group.iter().map(|l| &l["reason"]).collect();
        assert!(reasons.iter().all(|r| *r == reasons[0]), "{group:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allow_carries_the_identity_and_envoy_is_told_what_to_remove() {
    let (_keys, service, http) = start(&[]).await;
    let token = key(0).sign(&access_claims(SCOPE));
    let bearer = format!("Bearer {token}");
    let forged = [
        ("authorization", bearer.as_str()),
        ("x-cognito-sub", "forged"),
        ("x-cognito-groups", "admins"),
        ("x_cognito_route", "forged"),
    ];
    for endpoint in ENDPOINTS {
        let reply = send(
            http,
            &subrequest(endpoint, "POST", "api.example.com", "/users/7", &forged),
        )
        .await;
        assert_eq!(reply.status, 200, "{endpoint}: {reply:?}");
        assert_eq!(
            reply.header("x-cognito-sub"),
            Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        );
        assert_eq!(reply.header("x-cognito-client-id"), Some(CLIENT));
        assert_eq!(reply.header("x-cognito-route"), Some("create-user"));
        let removed = reply.header("x-envoy-auth-headers-to-remove");
        if endpoint == "envoy" {
            // Every identity header the token does not supply, and the forged spelling.
            let removed: Vec<&str> = removed.unwrap().split(',').collect();
            assert!(removed.contains(&"x_cognito_route"), "{removed:?}");
        } else {
            assert_eq!(removed, None, "{endpoint}");
        }
    }
    // A public route: no identity but the route, every forged one to be removed by Envoy.
    let reply = send(http, &subrequest("envoy", "GET", "h", "/health", &forged)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.identity(),
        BTreeMap::from([("x-cognito-route".to_owned(), "health".to_owned())])
    );
    let removed = reply.header("x-envoy-auth-headers-to-remove").unwrap();
    for h in &IDENTITY[..5] {
        assert!(removed.split(',').any(|r| r == *h), "{h} in {removed}");
    }
    let line = service.decision(1).await;
    assert_eq!(line["decision"], "allow");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_endpoint_reads_only_its_own_headers() {
    let (_keys, _service, http) = start(&[]).await;
    let token = key(0).sign(&access_claims(SCOPE));
    let auth = format!("authorization: Bearer {token}");
    for (target, headers, status) in [
        // Envoy's endpoint decides on its own target: a client's X-Original-URI (or a
        // Traefik header) passed through changes nothing.
        (
            "/envoy/closed",
            "x-original-uri: /me\r\nx-original-method: GET\r\nx-forwarded-uri: /me\r\nx-original-url: https://h/me",
            403,
        ),
        (
            "/envoy/me",
            "x-original-uri: /closed\r\nx-forwarded-uri: /closed",
            200,
        ),
        // NGINX's reads X-Original-URI, never its own target or Traefik's header.
        (
            "/nginx?/me",
            "x-original-method: GET\r\nx-original-uri: /closed\r\nx-forwarded-uri: /me",
            403,
        ),
        // Traefik's reads X-Forwarded-*, never NGINX's headers.
        (
            "/traefik",
            "x-forwarded-method: GET\r\nx-forwarded-host: h\r\nx-forwarded-uri: /closed\r\nx-original-uri: /me\r\nx-original-method: GET",
            403,
        ),
    ] {
        let head = format!("GET {target} HTTP/1.1\r\nhost: h\r\n{auth}\r\n{headers}");
        let reply = send(http, &head).await;
        assert_eq!(reply.status, status, "{target}: {reply:?}");
    }
    // Other targets are not endpoints.
    for target in ["/", "/envoy", "/check", "/nginx/me", "/Traefik"] {
        let reply = send(http, &format!("GET {target} HTTP/1.1\r\nhost: h\r\n{auth}")).await;
        assert_eq!(reply.status, 404, "{target}: {reply:?}");
        assert_eq!(reply.identity(), BTreeMap::new());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_repeated_original_is_a_logged_400() {
    let (_keys, service, http) = start(&[]).await;
    let token = key(0).sign(&access_claims(SCOPE));
    let auth = format!("authorization: Bearer {token}");
    let cases = [
        ("GET /nginx HTTP/1.1\r\nhost: h\r\nx-original-uri: /me".to_owned(), "x-original-method: missing"),
        ("GET /nginx HTTP/1.1\r\nhost: h\r\nx-original-method: GET".to_owned(), "x-original-uri: missing"),
        ("GET /nginx HTTP/1.1\r\nhost: h\r\nx-original-method: GET\r\nx-original-uri: /me\r\nx-original-uri: /closed".to_owned(), "x-original-uri: repeated"),
        ("GET /nginx HTTP/1.1\r\nhost: h\r\nhost: h\r\nx-original-method: GET\r\nx-original-uri: /me".to_owned(), "host: repeated"),
        ("GET /nginx HTTP/1.1\r\nhost: h\r\nx-original-method: GET\r\nx-original-method: POST\r\nx-original-uri: /me".to_owned(), "x-original-method: repeated"),
        ("GET /ingress-nginx HTTP/1.1\r\nhost: h\r\nx-original-method: GET".to_owned(), "x-original-url: missing"),
        ("GET /ingress-nginx HTTP/1.1\r\nhost: h\r\nx-original-method: GET\r\nx-original-url: /me".to_owned(), "x-original-url: not_url"),
        ("GET /ingress-nginx HTTP/1.1\r\nhost: h\r\nx-original-method: GET\r\nx-original-url: https://h/me\r\nx-original-url: https://h/closed".to_owned(), "x-original-url: repeated"),
        ("GET /traefik HTTP/1.1\r\nhost: h\r\nx-forwarded-method: GET\r\nx-forwarded-uri: /me".to_owned(), "x-forwarded-host: missing"),
        ("GET /traefik HTTP/1.1\r\nhost: h\r\nx-forwarded-method: GET\r\nx-forwarded-host: h\r\nx-forwarded-host: evil\r\nx-forwarded-uri: /me".to_owned(), "x-forwarded-host: repeated"),
        ("GET /traefik HTTP/1.1\r\nhost: h\r\nx-forwarded-host: h\r\nx-forwarded-uri: /me".to_owned(), "x-forwarded-method: missing"),
        ("GET /envoy/me HTTP/1.1\r\nhost: h\r\nhost: evil".to_owned(), "host: repeated"),
    ];
    for (n, (head, detail)) in cases.iter().enumerate() {
        let reply = send(http, &format!("{head}\r\n{auth}")).await;
        assert_eq!(reply.status, 400, "{head}: {reply:?}");
        assert_eq!(reply.body, r#"{"message":"Bad Request"}"#);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.identity(), BTreeMap::new());
        let line = service.decision(n + 1).await;
        assert_eq!(line["decision"], "deny", "{line}");
        assert_eq!(line["reason"], "bad_subrequest", "{line}");
        assert_eq!(line["detail"], *detail, "{line}");
    }
    let metrics = service.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "cognito_ext_authz_decisions_total",
            &["reason=\"bad_subrequest\""]
        ),
        Some(cases.len() as f64)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_head_is_refused_unread() {
    let (_keys, service, http) = start(&[]).await;
    let huge = "a".repeat(70 * 1024);
    let reply = send(
        http,
        &format!("GET /envoy/me HTTP/1.1\r\nhost: h\r\nx-padding: {huge}"),
    )
    .await;
    assert_eq!(reply.status, 431, "{reply:?}");
    assert_eq!(reply.identity(), BTreeMap::new());
    // Under the bound, a large (but legal) head is read and decided.
    let token = key(0).sign(&access_claims(SCOPE));
    let padding = "a".repeat(40 * 1024);
    let reply = send(
        http,
        &format!(
            "GET /envoy/me HTTP/1.1\r\nhost: h\r\nauthorization: Bearer {token}\r\nx-padding: {padding}"
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(service.decision(1).await["decision"], "allow");
    assert_eq!(
        service.decisions().len(),
        1,
        "the refused head was never decided"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_and_revocation_apply_as_on_the_grpc_port() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let revoked = {
        let mut c = access_claims(SCOPE);
        c["jti"] = json!("revoked-jti");
        key(0).sign(&c)
    };
    let service = Service::start_with_revocations(
        BIN,
        &policy(&keys, &format!("mode: dryRun\n{ROUTES}")),
        "revocations:\n  - jti: revoked-jti\n",
        &[("AUTHZ_HTTP_AUTH_ADDR", PICK_PORT)],
    );
    let mut service = service;
    service.wait_ready().await;
    let http = service.http_auth;
    // Dry run: a request without a token goes through, logged as would_deny.
    let reply = send(http, &subrequest("nginx", "GET", "h", "/me", &[])).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.identity(), BTreeMap::new());
    let line = service.decision(1).await;
    assert_eq!(line["decision"], "would_deny", "{line}");
    // A revoked token, under dry run too, carries no identity.
    let bearer = format!("Bearer {revoked}");
    let reply = send(
        http,
        &subrequest("traefik", "GET", "h", "/me", &[("authorization", &bearer)]),
    )
    .await;
    let line = service.decision(2).await;
    assert_eq!(line["reason"], "revoked", "{line}");
    assert_eq!(reply.header("x-cognito-sub"), None, "{reply:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_on_the_grpc_port_is_tls_on_the_http_port() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let ca = Ca::new("test CA");
    let server = ca.server("authz", 2031);
    let client_id = ca.client("gateway");
    let dir = tempfile::tempdir().unwrap();
    // The gateway's certificate is issued by the server's own CA.
    let secret = Secret::new(dir.path(), &mtls_files(&server, &ca));
    let (_keys, _service, http) = start(&[
        ("AUTHZ_TLS_CERT_FILE", &secret.path("tls.crt")),
        ("AUTHZ_TLS_KEY_FILE", &secret.path("tls.key")),
        ("AUTHZ_TLS_CLIENT_CA_FILE", &secret.path("ca.crt")),
    ])
    .await;

    let config = |identity: bool| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            CertificateDer::pem_slice_iter(ca.pem.as_bytes()).map(Result::unwrap),
        );
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let mut config = if identity {
            builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(client_id.cert.as_bytes())
                        .map(Result::unwrap)
                        .collect(),
                    PrivateKeyDer::from_pem_slice(client_id.key.as_bytes()).unwrap(),
                )
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        // As Go's client (Traefik's) offers: h2 first, then http/1.1.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    };
    let token = key(0).sign(&access_claims(SCOPE));
    let head = subrequest(
        "envoy",
        "GET",
        "h",
        "/me",
        &[("authorization", &format!("Bearer {token}"))],
    );
    let tcp = tokio::net::TcpStream::connect(http).await.unwrap();
    let tls = config(true)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "the HTTP port must never settle on h2"
    );
    let reply = exchange(tls, &head).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("x-cognito-route"), Some("any-token"));

    // mTLS as on the gRPC port: without a client certificate, nothing is answered.
    let tcp = tokio::net::TcpStream::connect(http).await.unwrap();
    if let Ok(mut tls) = config(false)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
    {
        // TLS 1.3: the refusal arrives after the client's handshake is done.
        let _ = tls.write_all(format!("{head}\r\n\r\n").as_bytes()).await;
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw).await;
        assert!(raw.is_empty(), "{:?}", String::from_utf8_lossy(&raw));
    }
    // Plaintext is not answered.
    let mut plain = tokio::net::TcpStream::connect(http).await.unwrap();
    plain
        .write_all(format!("{head}\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw).await;
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
}
