//! Test support: a Cognito-shaped key server, token minting, and the real service binary
//! started on loopback ports, talked to over gRPC exactly as Envoy does.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_ext_authz::proto::envoy::config::core::v3::{HeaderMap, HeaderValue};
use cognito_ext_authz::proto::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, attribute_context, authorization_client::AuthorizationClient,
    check_response::HttpResponse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use tonic::transport::Channel;

pub const POOL: &str = "ap-south-1_abcdefghi";
pub const CLIENT: &str = "4example23456789abc";
pub const SCOPE: &str = "user_management_lambdas/api";

pub fn issuer(pool: &str) -> String {
    let region = pool.split('_').next().unwrap();
    format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An RSA-2048 key pair, as Cognito uses.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Value,
    pub public_pem: String,
}

impl SigningKey {
    pub fn generate(kid: &str) -> SigningKey {
        let mut rng = rand::thread_rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let public = private.to_public_key();
        let der = private.to_pkcs1_der().unwrap();
        SigningKey {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({
                "alg": "RS256",
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                "kid": kid,
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "use": "sig",
            }),
            public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
        }
    }

    /// Signs `claims` with RS256 and this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with RS256 under an arbitrary header (extra or hostile header fields).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let signed = format!("{}.{}", b64_json(header), b64_json(claims));
        let sig = jsonwebtoken::crypto::sign(signed.as_bytes(), &self.encoding, Algorithm::RS256)
            .unwrap();
        format!("{signed}.{sig}")
    }
}

/// Keys shared by every test in a binary (generation takes a moment).
pub fn key(n: usize) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..3)
            .map(|i| SigningKey::generate(&format!("test-key-{i}")))
            .collect()
    })[n]
}

/// The claims of a Cognito user access token from the OAuth endpoints.
pub fn access_claims(scope: &str) -> Value {
    let now = now();
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["admins"],
        "iss": issuer(POOL),
        "version": 2,
        "client_id": CLIENT,
        "origin_jti": "11111111-2222-3333-4444-555555555555",
        "event_id": "66666666-7777-8888-9999-000000000000",
        "token_use": "access",
        "scope": scope,
        "auth_time": now - 60,
        "exp": now + 3600,
        "iat": now - 60,
        "jti": "abcdefab-cdef-abcd-efab-cdefabcdefab",
        "username": "alice",
    })
}

/// base64url(JSON) of a value.
pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A local stand-in for Cognito's `/{poolId}/.well-known/jwks.json`.
pub struct KeyServer {
    pub addr: SocketAddr,
    state: Arc<KeyState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Default)]
struct KeyState {
    keys: Mutex<HashMap<String, Vec<Value>>>,
    /// Per pool: answer this way instead of with the pool's key set.
    answers: Mutex<HashMap<String, Answering>>,
    down: AtomicBool,
    fetches: AtomicUsize,
    fetches_by_pool: Mutex<HashMap<String, usize>>,
}

/// How the key server answers for one pool, other than with its key set.
#[derive(Clone)]
pub enum Answering {
    /// `302 Found` to this URL.
    Redirect(String),
    /// Never answers (the request hangs until the client gives up).
    Hang,
    /// This exact body, as `application/json`.
    Body(String),
    /// Holds each request while the flag is true, then answers with the key set.
    Hold(Arc<AtomicBool>),
}

async fn serve_jwks(
    State(state): State<Arc<KeyState>>,
    UrlPath(pool): UrlPath<String>,
) -> axum::response::Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    *state
        .fetches_by_pool
        .lock()
        .unwrap()
        .entry(pool.clone())
        .or_default() += 1;
    if state.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let answer = state.answers.lock().unwrap().get(&pool).cloned();
    match answer {
        Some(Answering::Redirect(to)) => {
            return (StatusCode::FOUND, [(axum::http::header::LOCATION, to)], "").into_response();
        }
        Some(Answering::Hang) => std::future::pending::<()>().await,
        Some(Answering::Body(body)) => {
            return (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
        Some(Answering::Hold(held)) => {
            while held.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        None => {}
    }
    let keys = state.keys.lock().unwrap().get(&pool).cloned();
    match keys {
        Some(keys) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json!({ "keys": keys }).to_string(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such pool").into_response(),
    }
}

impl KeyServer {
    pub async fn start() -> KeyServer {
        let state = Arc::new(KeyState::default());
        let app = axum::Router::new()
            .route(
                "/{pool}/.well-known/jwks.json",
                axum::routing::get(serve_jwks),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        KeyServer {
            addr,
            state,
            stop: Some(tx),
        }
    }

    pub fn jwks_uri(&self, pool: &str) -> String {
        format!("http://{}/{pool}/.well-known/jwks.json", self.addr)
    }

    /// Adds a key to a pool's key set.
    pub fn publish(&self, pool: &str, key: &SigningKey) {
        self.state
            .keys
            .lock()
            .unwrap()
            .entry(pool.to_owned())
            .or_default()
            .push(key.jwk.clone());
    }

    /// Removes every key with this `kid` from a pool's key set.
    pub fn withdraw(&self, pool: &str, kid: &str) {
        if let Some(keys) = self.state.keys.lock().unwrap().get_mut(pool) {
            keys.retain(|k| k["kid"] != kid);
        }
    }

    /// Answers for `pool` this way from now on instead of with its key set.
    pub fn answer(&self, pool: &str, how: Answering) {
        self.state
            .answers
            .lock()
            .unwrap()
            .insert(pool.to_owned(), how);
    }

    /// The key set document currently served for `pool`.
    pub fn jwks_document(&self, pool: &str) -> Value {
        let keys = self.state.keys.lock().unwrap().get(pool).cloned();
        json!({ "keys": keys.unwrap_or_default() })
    }

    /// Makes every fetch fail with 503 (or work again).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Requests for one pool's key set.
    pub fn fetches_of(&self, pool: &str) -> usize {
        self.state
            .fetches_by_pool
            .lock()
            .unwrap()
            .get(pool)
            .copied()
            .unwrap_or(0)
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A policy for `pool` with keys from `keys`, plus `rest` (YAML after `userPools`).
pub fn policy(keys: &KeyServer, rest: &str) -> String {
    format!(
        "userPools:\n  - id: {POOL}\n    appClients: [{CLIENT}]\n    jwksUri: {}\n{rest}",
        keys.jwks_uri(POOL)
    )
}

/// The value of the first sample of `name` whose labels include every one of `labels`.
pub fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
            (series == name || series.starts_with(&format!("{name}{{")))
                && labels.iter().all(|want| series.contains(want))
        })
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

/// Polls `f` until it returns true, for up to `secs` seconds (a generous deadline: the
/// condition is what is waited on, never the time).
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The real `cognito-ext-authz serve` process, with its policy in a kubelet-style
/// ConfigMap folder (`policy.yaml -> ..data/policy.yaml`, `..data -> ..<timestamp>`).
pub struct Service {
    child: Option<Child>,
    pub grpc: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    versions: usize,
}

impl Service {
    pub fn start(policy_yaml: &str, env: &[(&str, &str)]) -> Service {
        Self::start_in(policy_yaml, env, true)
    }

    /// With `kubelet` false the policy is a plain file in the folder.
    /// Prepared (policy written) but not started: call [`Service::spawn_with_args`].
    pub fn prepare(policy_yaml: &str) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let service = Service {
            child: None,
            grpc: free_port(),
            admin: free_port(),
            log: dir.path().join("service.log"),
            dir,
            versions: 0,
        };
        std::fs::write(service.policy_path(), policy_yaml).unwrap();
        service
    }

    pub fn start_in(policy_yaml: &str, env: &[(&str, &str)], kubelet: bool) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let mut service = Service {
            child: None,
            grpc: free_port(),
            admin: free_port(),
            log: dir.path().join("service.log"),
            dir,
            versions: 0,
        };
        if kubelet {
            service.swap_policy(policy_yaml);
            std::os::unix::fs::symlink("..data/policy.yaml", service.policy_path()).unwrap();
        } else {
            std::fs::write(service.policy_path(), policy_yaml).unwrap();
        }
        service.spawn(env);
        service
    }

    /// Like [`Service::start`], with a revocation list beside the policy in the same
    /// kubelet-style folder (`revocations.yaml -> ..data/revocations.yaml`) and
    /// `AUTHZ_REVOCATIONS_PATH` naming it.
    pub fn start_with_revocations(
        policy_yaml: &str,
        revocations_yaml: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut service = Service::prepare(policy_yaml);
        std::fs::remove_file(service.policy_path()).unwrap();
        service.swap_files(&[
            ("policy.yaml", policy_yaml),
            ("revocations.yaml", revocations_yaml),
        ]);
        for name in ["policy.yaml", "revocations.yaml"] {
            std::os::unix::fs::symlink(format!("..data/{name}"), service.dir.path().join(name))
                .unwrap();
        }
        let path = service.revocations_path();
        let mut env = env.to_vec();
        env.push(("AUTHZ_REVOCATIONS_PATH", path.to_str().unwrap()));
        service.spawn(&env);
        service
    }

    pub fn spawn(&mut self, env: &[(&str, &str)]) {
        self.spawn_with_args(env, &[]);
    }

    /// Starts `serve` with command-line arguments after it.
    pub fn spawn_with_args(&mut self, env: &[(&str, &str)], args: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cognito-ext-authz"));
        cmd.arg("serve")
            .args(args)
            .env_clear()
            .env("AUTHZ_LISTEN_ADDR", self.grpc.to_string())
            .env("AUTHZ_ADMIN_ADDR", self.admin.to_string())
            .env("AUTHZ_POLICY_PATH", self.policy_path())
            .env("AUTHZ_LOG_FORMAT", "json")
            .env("AUTHZ_DRAIN_SECONDS", "0")
            .env("AUTHZ_POLICY_POLL_SECONDS", "1")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policy.yaml")
    }

    pub fn revocations_path(&self) -> PathBuf {
        self.dir.path().join("revocations.yaml")
    }

    /// The process id of the running service.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Replaces the policy the way the kubelet updates a mounted ConfigMap: a new
    /// timestamped folder, then an atomic rename of the `..data` symlink.
    pub fn swap_policy(&mut self, yaml: &str) {
        self.swap_files(&[("policy.yaml", yaml)]);
    }

    /// Replaces the folder's files (every key of the ConfigMap: a file left out is gone
    /// after the swap) the way the kubelet does.
    pub fn swap_files(&mut self, files: &[(&str, &str)]) {
        self.versions += 1;
        let root = self.dir.path();
        let version = format!(
            "..2026_11_26_00_00_{:02}.{}",
            self.versions,
            std::process::id()
        );
        std::fs::create_dir(root.join(&version)).unwrap();
        for (name, text) in files {
            std::fs::write(root.join(&version).join(name), text).unwrap();
        }
        let tmp = root.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&version, &tmp).unwrap();
        std::fs::rename(&tmp, root.join("..data")).unwrap();
    }

    /// The value of one sample of the service's `/metrics` (0 when absent), waiting for
    /// the admin port to be up.
    pub async fn metric(&self, name: &str, labels: &[&str]) -> f64 {
        let url = format!("http://{}/metrics", self.admin);
        let deadline = Instant::now() + Duration::from_secs(30);
        let text = loop {
            match reqwest::get(&url).await {
                Ok(r) => break r.text().await.unwrap(),
                Err(e) => assert!(Instant::now() < deadline, "no /metrics: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        sample(&text, name, labels).unwrap_or(0.0)
    }

    /// The `n`th decision log line (from 1), waiting for it: lines are written by a
    /// background thread, shortly after the answer.
    pub async fn decision(&self, n: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.decisions();
            if lines.len() >= n {
                return lines[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no decision line #{n}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The decision log lines (JSON, `target` `decision`), parsed.
    pub fn decisions(&self) -> Vec<Value> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "decision")
            .collect()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// The service's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// gRPC health status for a service name (1 SERVING, 2 NOT_SERVING).
    pub async fn health(&self, service: &str) -> i32 {
        let channel = Channel::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
        client
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/readyz` until it answers 200.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://{}/readyz", self.admin);
        loop {
            if let Ok(r) = reqwest::get(&url).await
                && r.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("service exited with {status}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "service not ready in time:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the gRPC port accepts connections.
    pub async fn client(&self) -> AuthorizationClient<Channel> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match AuthorizationClient::connect(format!("http://{}", self.grpc)).await {
                Ok(c) => return c,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot connect: {e}\n{}",
                        self.logs()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let ok = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for the process to exit; returns its exit code.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "service did not exit:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `CheckRequest` as Envoy's HTTP filter sends it (headers in the joined map).
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

/// The same request with Envoy's `encode_raw_headers: true` (header_map, raw bytes).
pub fn raw_request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &[u8])],
) -> CheckRequest {
    let mut req = request(method, host, path, &[]);
    let http = req
        .attributes
        .as_mut()
        .unwrap()
        .request
        .as_mut()
        .unwrap()
        .http
        .as_mut()
        .unwrap();
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

pub async fn check(client: &mut AuthorizationClient<Channel>, req: CheckRequest) -> Answer {
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
    let to_map = |hs: Vec<cognito_ext_authz::proto::envoy::config::core::v3::HeaderValueOption>| {
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

/// Writes `text` to a file in `dir`, returning its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A certificate authority and a server certificate it signed for `127.0.0.1` and
/// `localhost`, made fresh for one test.
pub struct TestPki {
    /// The CA certificate (PEM): trusted only by a process told to trust it.
    pub ca_pem: String,
    server_chain: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl TestPki {
    pub fn new() -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "cognito-ext-authz test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf.subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        TestPki {
            ca_pem: ca_cert.pem(),
            server_chain: vec![leaf_cert.der().clone()],
            server_key: leaf_key.serialize_der(),
        }
    }
}

/// An HTTPS key server for one document, with the certificate of a [`TestPki`].
/// Minimal HTTP/1.1: one request per connection, answered with the document.
pub struct TlsKeyServer {
    pub addr: SocketAddr,
    fetches: Arc<AtomicUsize>,
}

impl TlsKeyServer {
    pub async fn start(pki: &TestPki, document: String) -> TlsKeyServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                pki.server_chain.clone(),
                rustls::pki_types::PrivatePkcs8KeyDer::from(pki.server_key.clone()).into(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let counted = fetches.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let document = document.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16_384 {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{document}",
                        document.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        TlsKeyServer { addr, fetches }
    }

    pub fn jwks_uri(&self, pool: &str) -> String {
        format!("https://{}/{pool}/.well-known/jwks.json", self.addr)
    }

    /// Requests answered (over a handshake the client accepted).
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}
