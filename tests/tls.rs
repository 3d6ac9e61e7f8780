//! TLS and mTLS on the gRPC port (SPEC 1-2, issue 14), against the real service process:
//! certificates made here (a CA, server and client certificates), real rustls handshakes
//! on loopback, and the certificate files replaced the way the kubelet and cert-manager do.
//!
//! Why one file of this length: nearly half is the TLS plumbing only these tests need (a CA,
//! a kubelet-style Secret, a rustls client); the tests read against it, one per behaviour.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use cognito_ext_authz::proto::envoy::service::auth::v3::check_response::HttpResponse;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use testkit::*;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, RootCertStore};
use tonic::transport::{Channel, Endpoint, Uri};

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
/// Generous: every wait below polls for an observable condition until this deadline.
const DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Certificates

/// A certificate authority that issues server and client certificates.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
}

/// A certificate and its key, as PEM, and the certificate's DER to recognise it on the wire.
#[derive(Clone)]
struct Issued {
    cert: String,
    key: String,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = dn(name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`, valid until `year`-01-01.
    fn server(&self, name: &str, year: i32) -> Issued {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        params.distinguished_name = dn(name);
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate (what Envoy presents under mTLS).
    fn client(&self, name: &str) -> Issued {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name = dn(name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: rcgen::CertificateParams) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

fn dn(common_name: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}

/// Unix seconds of `year`-01-01T00:00:00Z (what the notAfter gauge should show).
fn new_year(year: i32) -> i64 {
    rcgen::date_time_ymd(year, 1, 1).unix_timestamp()
}

// ---------------------------------------------------------------------------------------
// The Secret folder

/// A folder laid out like a mounted Kubernetes Secret: `tls.crt -> ..data/tls.crt`,
/// `..data -> ..<version>`; [`Secret::swap`] replaces every file at once, as the kubelet does.
struct Secret {
    dir: PathBuf,
    versions: usize,
}

impl Secret {
    fn new(dir: &Path, files: &[(&str, &str)]) -> Secret {
        std::fs::create_dir_all(dir).unwrap();
        let mut secret = Secret {
            dir: dir.to_owned(),
            versions: 0,
        };
        secret.swap(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
        }
        secret
    }

    fn swap(&mut self, files: &[(&str, &str)]) {
        self.versions += 1;
        let version = format!(
            "..2026_11_26_00_00_{:02}.{}",
            self.versions,
            std::process::id()
        );
        std::fs::create_dir(self.dir.join(&version)).unwrap();
        for (name, text) in files {
            std::fs::write(self.dir.join(&version).join(name), text).unwrap();
        }
        let tmp = self.dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("..data")).unwrap();
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// Replaces a plain file the safe way outside Kubernetes: write beside it, rename over it.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

// ---------------------------------------------------------------------------------------
// Clients

/// How a test client connects: which CA it trusts, which certificate it presents.
#[derive(Clone)]
struct Client {
    config: Arc<rustls::ClientConfig>,
}

/// One TLS connection to the service: the certificate it was shown, the protocol ALPN
/// settled on, and a gRPC channel bound to exactly this connection (it never reconnects,
/// so a call that works proves this connection works).
struct Connection {
    server_cert: Vec<u8>,
    alpn: Option<Vec<u8>>,
    authz: AuthorizationClient<Channel>,
    channel: Channel,
}

impl Client {
    fn new(trusted: &str, identity: Option<&Issued>) -> Client {
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(
            CertificateDer::pem_slice_iter(trusted.as_bytes()).map(Result::unwrap),
        );
        assert_eq!(added, 1);
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let mut config = match identity {
            Some(id) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(id.cert.as_bytes())
                        .map(Result::unwrap)
                        .collect(),
                    PrivateKeyDer::from_pem_slice(id.key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        Client {
            config: Arc::new(config),
        }
    }

    /// A TLS handshake with the service, then HTTP/2 over it.
    async fn connect(&self, addr: SocketAddr) -> Result<Connection, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let (_, session) = tls.get_ref();
        let server_cert = session
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .ok_or("no server certificate")?;
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        let channel = Endpoint::from_static("http://localhost")
            .connect_with_connector(OneConnection(Arc::new(Mutex::new(Some(tls)))))
            .await
            .map_err(|e| format!("HTTP/2: {e}"))?;
        Ok(Connection {
            server_cert,
            alpn,
            authz: AuthorizationClient::new(channel.clone()),
            channel,
        })
    }

    /// Waits until the service answers a handshake (it starts in the background).
    async fn connect_when_up(&self, service: &Service) -> Connection {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.connect(service.grpc).await {
                Ok(c) => return c,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot connect: {e}\n{}",
                        service.logs()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// The certificate a new connection is shown.
    async fn served_cert(&self, addr: SocketAddr) -> Vec<u8> {
        self.connect(addr).await.unwrap().server_cert
    }
}

/// A connector that hands tonic one already-established TLS stream, once.
struct OneConnection(Arc<Mutex<Option<TlsStream<TcpStream>>>>);

impl tonic::codegen::Service<Uri> for OneConnection {
    type Response = hyper_util::rt::TokioIo<TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        std::future::ready(match self.0.lock().unwrap().take() {
            Some(stream) => Ok(hyper_util::rt::TokioIo::new(stream)),
            None => Err(std::io::Error::other("this test connection is used up")),
        })
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The HTTP status a check of `POST /users/1` gets on `conn`, or the gRPC error.
async fn status_on(conn: &mut Connection, token: Option<&str>) -> Result<u16, String> {
    let auth = token.map(bearer);
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let call = conn.authz.check(request("POST", "h", "/users/1", &headers));
    let answer = match tokio::time::timeout(DEADLINE, call).await {
        Ok(Ok(answer)) => answer.into_inner(),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no answer".to_owned()),
    };
    Ok(match answer.http_response {
        Some(HttpResponse::OkResponse(_)) => 200,
        Some(HttpResponse::DeniedResponse(d)) => d.status.map_or(403, |s| s.code as u16),
        None => panic!("CheckResponse without http_response"),
    })
}

async fn health_on(conn: &Connection) -> i32 {
    let mut health = tonic_health::pb::health_client::HealthClient::new(conn.channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "envoy.service.auth.v3.Authorization".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

/// Polls `f` until it returns true, failing after [`DEADLINE`].
async fn eventually<F, Fut>(what: &str, service: &Service, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for: {what}\n{}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of one metric sample (`name{labels}`), 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

const RELOAD_OK: &str = "cognito_ext_authz_tls_reloads_total{result=\"success\"}";
const RELOAD_FAILED: &str = "cognito_ext_authz_tls_reloads_total{result=\"failure\"}";
const NOT_AFTER: &str = "cognito_ext_authz_tls_certificate_not_after_timestamp_seconds";

fn token() -> String {
    key(0).sign(&access_claims(SCOPE))
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread")]
async fn checks_and_health_are_served_over_tls_and_a_plaintext_client_is_refused() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("test CA");
    let server = ca.server("authz", 2031);
    let tls_dir = tempfile::tempdir().unwrap();
    let secret = Secret::new(
        tls_dir.path(),
        &[("tls.crt", &server.cert), ("tls.key", &server.key)],
    );
    let service = Service::ready(
        BIN,
        &policy(&keys, ROUTES),
        &[
            ("AUTHZ_TLS_CERT_FILE", &secret.path("tls.crt")),
            ("AUTHZ_TLS_KEY_FILE", &secret.path("tls.key")),
        ],
    )
    .await;

    let client = Client::new(&ca.pem, None);
    let mut conn = client.connect_when_up(&service).await;
    assert_eq!(conn.server_cert, server.der);
    assert_eq!(conn.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));
    assert_eq!(status_on(&mut conn, None).await, Ok(401));
    // Health is served on the same port, under the same TLS.
    assert_eq!(health_on(&conn).await, 1);

    // A plaintext gRPC client gets no answer: its HTTP/2 preface is not a TLS handshake.
    let plain = async {
        let mut plain = AuthorizationClient::connect(format!("http://{}", service.grpc)).await?;
        plain
            .check(request("POST", "h", "/users/1", &[]))
            .await
            .map_err(Into::<Box<dyn std::error::Error>>::into)
    };
    let answer = tokio::time::timeout(DEADLINE, plain)
        .await
        .expect("refused in time");
    assert!(
        answer.is_err(),
        "a plaintext client was answered: {answer:?}"
    );

    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2031) as f64,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, RELOAD_OK), 1.0, "{metrics}");
    assert!(
        sample(
            &metrics,
            "cognito_ext_authz_tls_handshakes_total{result=\"not_tls\"}"
        ) >= 1.0,
        "{metrics}"
    );
    // The admin port stays plain HTTP (service.metrics() above used http://).
    drop(keys);
}

/// The service serving TLS with the secret's `tls.crt` and `tls.key`, and asking clients
/// for a certificate from its `ca.crt`.
async fn mtls_service(keys: &KeyServer, secret: &Secret) -> Service {
    Service::ready(
        BIN,
        &policy(keys, ROUTES),
        &[
            ("AUTHZ_TLS_CERT_FILE", &secret.path("tls.crt")),
            ("AUTHZ_TLS_KEY_FILE", &secret.path("tls.key")),
            ("AUTHZ_TLS_CLIENT_CA_FILE", &secret.path("ca.crt")),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn mtls_admits_only_clients_with_a_certificate_from_the_client_ca() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let stranger_ca = Ca::new("some other CA");
    let server = ca.server("authz", 2031);
    let tls_dir = tempfile::tempdir().unwrap();
    let secret = Secret::new(
        tls_dir.path(),
        &[
            ("tls.crt", &server.cert),
            ("tls.key", &server.key),
            ("ca.crt", &client_ca.pem),
        ],
    );
    let service = mtls_service(&keys, &secret).await;

    let envoy = Client::new(&ca.pem, Some(&client_ca.client("envoy")));
    let mut conn = envoy.connect_when_up(&service).await;
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));
    assert_eq!(health_on(&conn).await, 1);

    // Without a certificate, or with one from another CA: no check is ever answered (under
    // TLS 1.3 the client may think its handshake done until the server's alert arrives).
    for (who, client) in [
        ("no certificate", Client::new(&ca.pem, None)),
        (
            "a certificate from another CA",
            Client::new(&ca.pem, Some(&stranger_ca.client("envoy"))),
        ),
    ] {
        match client.connect(service.grpc).await {
            Err(_) => {}
            Ok(mut conn) => {
                let answer = status_on(&mut conn, Some(&token())).await;
                assert!(
                    answer.is_err(),
                    "a client with {who} was answered: {answer:?}"
                );
            }
        }
    }
    let metrics = service.metrics().await;
    for refusal in ["no_client_certificate", "bad_client_certificate"] {
        let series = format!("cognito_ext_authz_tls_handshakes_total{{result=\"{refusal}\"}}");
        assert!(sample(&metrics, &series) >= 1.0, "{series}\n{metrics}");
    }
    // The client that belongs still gets answers, on its old and on a new connection.
    assert_eq!(status_on(&mut conn, Some(&token())).await, Ok(200));
    let mut again = envoy.connect(service.grpc).await.unwrap();
    assert_eq!(status_on(&mut again, Some(&token())).await, Ok(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_reaches_new_connections_while_established_ones_keep_working() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("cert-manager CA");
    let client_ca = Ca::new("client CA");
    let first = ca.server("authz", 2031);
    let second = ca.server("authz", 2032);
    let tls_dir = tempfile::tempdir().unwrap();
    let mut secret = Secret::new(
        tls_dir.path(),
        &[
            ("tls.crt", &first.cert),
            ("tls.key", &first.key),
            ("ca.crt", &client_ca.pem),
        ],
    );
    let service = mtls_service(&keys, &secret).await;
    let envoy = Client::new(&ca.pem, Some(&client_ca.client("envoy")));
    let mut established = envoy.connect_when_up(&service).await;
    assert_eq!(established.server_cert, first.der);
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));

    // cert-manager renews: the kubelet swaps `..data` to a folder with the new pair.
    secret.swap(&[
        ("tls.crt", &second.cert),
        ("tls.key", &second.key),
        ("ca.crt", &client_ca.pem),
    ]);
    eventually(
        "a new connection shown the new certificate",
        &service,
        || async { envoy.served_cert(service.grpc).await == second.der },
    )
    .await;
    // The connection made before the rotation is not cut and keeps being answered.
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
    assert_eq!(status_on(&mut established, None).await, Ok(401));
    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2032) as f64,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, RELOAD_OK), 2.0, "{metrics}");
    assert_eq!(sample(&metrics, RELOAD_FAILED), 0.0, "{metrics}");

    // The client CA rotates too: a client of the old CA is refused from now on.
    let new_client_ca = Ca::new("client CA 2");
    secret.swap(&[
        ("tls.crt", &second.cert),
        ("tls.key", &second.key),
        ("ca.crt", &new_client_ca.pem),
    ]);
    let envoy2 = Client::new(&ca.pem, Some(&new_client_ca.client("envoy")));
    eventually(
        "a client of the new client CA admitted",
        &service,
        || async {
            match envoy2.connect(service.grpc).await {
                Ok(mut c) => status_on(&mut c, Some(&token())).await == Ok(200),
                Err(_) => false,
            }
        },
    )
    .await;
    match envoy.connect(service.grpc).await {
        Err(_) => {}
        Ok(mut c) => assert!(status_on(&mut c, Some(&token())).await.is_err()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_replacement_is_refused_and_counted_and_the_last_good_pair_stays() {
    let keys = KeyServer::publishing(POOL, key(0)).await;
    let ca = Ca::new("test CA");
    let first = ca.server("authz", 2031);
    let second = ca.server("authz", 2032);
    // Plain files, replaced by rename (outside Kubernetes), read once quiet for 200 ms.
    let tls_dir = tempfile::tempdir().unwrap();
    let cert = write(tls_dir.path(), "tls.crt", &first.cert);
    let key_file = write(tls_dir.path(), "tls.key", &first.key);
    let service = Service::ready(
        BIN,
        &policy(&keys, ROUTES),
        &[
            ("AUTHZ_TLS_CERT_FILE", cert.to_str().unwrap()),
            ("AUTHZ_TLS_KEY_FILE", key_file.to_str().unwrap()),
            ("AUTHZ_POLICY_QUIET_MS", "200"),
        ],
    )
    .await;
    let client = Client::new(&ca.pem, None);
    let mut established = client.connect_when_up(&service).await;
    assert_eq!(established.server_cert, first.der);

    // A renewed certificate whose key was never written: the pair does not match.
    replace(&cert, &second.cert);
    eventually(
        "the mismatched pair refused and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 1.0 },
    )
    .await;
    assert!(
        service.logs().contains("does not match"),
        "{}",
        service.logs()
    );
    assert_eq!(client.served_cert(service.grpc).await, first.der);

    // A key file that is not a key: refused too, and its text never reaches the log.
    replace(
        &key_file,
        "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5\n-----END PRIVATE KEY-----\n",
    );
    eventually(
        "the unreadable key refused and counted",
        &service,
        || async { sample(&service.metrics().await, RELOAD_FAILED) == 2.0 },
    )
    .await;
    assert!(!service.logs().contains("bm90LWEta2V5"));
    assert_eq!(client.served_cert(service.grpc).await, first.der);
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2031) as f64,
        "{metrics}"
    );

    // The key arrives: the new pair is put in force.
    replace(&key_file, &second.key);
    eventually("the completed pair served", &service, || async {
        client.served_cert(service.grpc).await == second.der
    })
    .await;
    assert_eq!(status_on(&mut established, Some(&token())).await, Ok(200));
    let metrics = service.metrics().await;
    assert_eq!(
        sample(&metrics, NOT_AFTER),
        new_year(2032) as f64,
        "{metrics}"
    );
    // No key material is ever logged.
    let key_body: String = first
        .key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!service.logs().contains(&key_body[..20]));
}

/// Runs `serve` with `env` and returns (exit code, stderr) once it exits.
fn serve_exit(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.yaml",
        &format!(
            "userPools:\n  - id: {POOL}\n    jwksUri: http://127.0.0.1:9/{POOL}/.well-known/jwks.json\n{ROUTES}"
        ),
    );
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("AUTHZ_LISTEN_ADDR", free_port().to_string())
        .env("AUTHZ_ADMIN_ADDR", free_port().to_string())
        .env("AUTHZ_POLICY_PATH", &policy)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop on bad TLS settings: {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn startup_errors_name_the_variable_and_the_file() {
    let ca = Ca::new("test CA");
    let server = ca.server("authz", 2031);
    let other = ca.server("other", 2031);
    let dir = tempfile::tempdir().unwrap();
    let cert = write(dir.path(), "tls.crt", &server.cert);
    let key_file = write(dir.path(), "tls.key", &server.key);
    let other_key = write(dir.path(), "other.key", &other.key);
    let not_ca = write(dir.path(), "ca.crt", "no certificates here\n");
    let missing = dir.path().join("missing.crt");
    let (cert, key_file, other_key, not_ca, missing) = (
        cert.to_str().unwrap(),
        key_file.to_str().unwrap(),
        other_key.to_str().unwrap(),
        not_ca.to_str().unwrap(),
        missing.to_str().unwrap(),
    );

    /// The environment, the variable the error must name, the file it must name.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", missing),
                ("AUTHZ_TLS_KEY_FILE", key_file),
            ],
            "AUTHZ_TLS_CERT_FILE",
            missing,
        ),
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", cert),
                ("AUTHZ_TLS_KEY_FILE", other_key),
            ],
            "AUTHZ_TLS_KEY_FILE",
            other_key,
        ),
        (
            &[
                ("AUTHZ_TLS_CERT_FILE", cert),
                ("AUTHZ_TLS_KEY_FILE", key_file),
                ("AUTHZ_TLS_CLIENT_CA_FILE", not_ca),
            ],
            "AUTHZ_TLS_CLIENT_CA_FILE",
            not_ca,
        ),
        (&[("AUTHZ_TLS_CERT_FILE", cert)], "AUTHZ_TLS_KEY_FILE", ""),
    ];
    for (env, variable, file) in cases {
        let (code, stderr) = serve_exit(env);
        assert_ne!(code, Some(0), "{env:?}: {stderr}");
        assert!(stderr.contains(variable), "{env:?}: {stderr}");
        assert!(stderr.contains(file), "{env:?}: {stderr}");
        assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    }
}
