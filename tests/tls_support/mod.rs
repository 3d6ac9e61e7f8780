//! The TLS plumbing the TLS tests share (`tests/tls.rs`, `tests/tls_validity.rs`): a CA
//! that issues server and client certificates, a folder laid out like a mounted Kubernetes
//! Secret, a rustls client that reports the certificate it was shown, and the service
//! started with TLS files.

#![allow(dead_code)] // each test file uses part of it

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
pub const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

pub const ROUTES: &str = "routes:\n  - name: create-user\n    path: /users/{id}\n    scopes: [user_management_lambdas/api]\n";
/// Generous: every wait below polls for an observable condition until this deadline.
pub const DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Certificates

/// A certificate authority that issues server and client certificates.
pub struct Ca {
    pub issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub pem: String,
}

/// A certificate and its key, as PEM, and the certificate's DER to recognise it on the wire.
#[derive(Clone)]
pub struct Issued {
    pub cert: String,
    pub key: String,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
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
    pub fn server(&self, name: &str, year: i32) -> Issued {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        params.distinguished_name = dn(name);
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate (what Envoy presents under mTLS).
    pub fn client(&self, name: &str) -> Issued {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name = dn(name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    pub fn issue(&self, params: rcgen::CertificateParams) -> Issued {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

pub fn dn(common_name: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}

/// Unix seconds of `year`-01-01T00:00:00Z (what the notAfter gauge should show).
pub fn new_year(year: i32) -> i64 {
    rcgen::date_time_ymd(year, 1, 1).unix_timestamp()
}

// ---------------------------------------------------------------------------------------
// The Secret folder

/// A folder laid out like a mounted Kubernetes Secret: `tls.crt -> ..data/tls.crt`,
/// `..data -> ..<version>`; [`Secret::swap`] replaces every file at once, as the kubelet does.
pub struct Secret {
    pub dir: PathBuf,
    pub versions: usize,
}

impl Secret {
    pub fn new(dir: &Path, files: &[(&str, &str)]) -> Secret {
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

    pub fn swap(&mut self, files: &[(&str, &str)]) {
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

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// Replaces a plain file the safe way outside Kubernetes: write beside it, rename over it.
pub fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

// ---------------------------------------------------------------------------------------
// Clients

/// How a test client connects: which CA it trusts, which certificate it presents.
#[derive(Clone)]
pub struct Client {
    pub config: Arc<rustls::ClientConfig>,
}

/// One TLS connection to the service: the certificate it was shown, the protocol ALPN
/// settled on, and a gRPC channel bound to exactly this connection (it never reconnects,
/// so a call that works proves this connection works).
pub struct Connection {
    pub server_cert: Vec<u8>,
    pub alpn: Option<Vec<u8>>,
    pub authz: AuthorizationClient<Channel>,
    pub channel: Channel,
}

impl Client {
    pub fn new(trusted: &str, identity: Option<&Issued>) -> Client {
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
    pub async fn connect(&self, addr: SocketAddr) -> Result<Connection, String> {
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
    pub async fn connect_when_up(&self, service: &Service) -> Connection {
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
    pub async fn served_cert(&self, addr: SocketAddr) -> Vec<u8> {
        self.connect(addr).await.unwrap().server_cert
    }
}

/// A connector that hands tonic one already-established TLS stream, once.
pub struct OneConnection(Arc<Mutex<Option<TlsStream<TcpStream>>>>);

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

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The HTTP status a check of `POST /users/1` gets on `conn`, or the gRPC error.
pub async fn status_on(conn: &mut Connection, token: Option<&str>) -> Result<u16, String> {
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

pub async fn health_on(conn: &Connection) -> i32 {
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
pub async fn eventually<F, Fut>(what: &str, service: &Service, mut f: F)
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
pub fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

pub const RELOAD_OK: &str = "cognito_ext_authz_tls_reloads_total{result=\"success\"}";
pub const RELOAD_FAILED: &str = "cognito_ext_authz_tls_reloads_total{result=\"failure\"}";
pub const NOT_AFTER: &str = "cognito_ext_authz_tls_certificate_not_after_timestamp_seconds";

pub fn token() -> String {
    key(0).sign(&access_claims(SCOPE))
}

/// The service serving TLS with the secret's `tls.crt` and `tls.key`, and asking clients
/// for a certificate from its `ca.crt`.
pub async fn mtls_service(keys: &KeyServer, secret: &Secret) -> Service {
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

/// The service serving TLS with the secret's `tls.crt` and `tls.key`, asking clients for no
/// certificate.
pub async fn tls_service(keys: &KeyServer, secret: &Secret) -> Service {
    tls_service_with(keys, secret, &[]).await
}

/// [`tls_service`] with `settings` added to its environment.
pub async fn tls_service_with(
    keys: &KeyServer,
    secret: &Secret,
    settings: &[(&str, &str)],
) -> Service {
    let (cert, key) = (secret.path("tls.crt"), secret.path("tls.key"));
    let mut env = vec![
        ("AUTHZ_TLS_CERT_FILE", cert.as_str()),
        ("AUTHZ_TLS_KEY_FILE", key.as_str()),
    ];
    env.extend_from_slice(settings);
    Service::ready(BIN, &policy(keys, ROUTES), &env).await
}

/// The files of an mTLS secret: the server's pair as `tls.crt` and `tls.key`, and the client
/// CA as `ca.crt`.
pub fn mtls_files<'a>(server: &'a Issued, client_ca: &'a Ca) -> [(&'static str, &'a str); 3] {
    [
        ("tls.crt", &server.cert),
        ("tls.key", &server.key),
        ("ca.crt", &client_ca.pem),
    ]
}

/// Runs `serve` with `env` and returns (exit code, stderr) once it exits.
pub fn serve_exit(env: &[(&str, &str)]) -> (Option<i32>, String) {
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
    if wait_within(&mut child, DEADLINE).is_none() {
        panic!("serve did not stop on bad TLS settings: {env:?}");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
