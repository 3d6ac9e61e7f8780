//! The real `cognito-ext-authz serve` process on loopback ports, its policy (and revocation
//! list) in a kubelet-style ConfigMap folder, with what a test asks of it: readiness, a
//! gRPC client, health, metrics, decision log lines, signals, exit.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cognito_ext_authz::proto::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use serde_json::Value;
use tonic::transport::Channel;

use crate::check::{Answer, check, token_request};

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

/// The value of `AUTHZ_HTTP_AUTH_ADDR` in a [`Service`]'s `env` that turns the HTTP
/// authorization port on at a loopback port the kit picks ([`Service::http_auth`]), picked
/// again with the other ports when one was taken before the service bound it.
pub const PICK_PORT: &str = "testkit:pick-a-port";

/// A loopback address with a port free at the time of the call.
pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The real `cognito-ext-authz serve` process, with its policy in a kubelet-style
/// ConfigMap folder (`policy.yaml -> ..data/policy.yaml`, `..data -> ..<timestamp>`).
///
/// `bin` is the service binary: `env!("CARGO_BIN_EXE_cognito-ext-authz")` in the test
/// (see the crate doc).
pub struct Service {
    bin: PathBuf,
    child: Option<Child>,
    pub grpc: SocketAddr,
    pub admin: SocketAddr,
    /// The HTTP authorization port, listened on when `env` sets `AUTHZ_HTTP_AUTH_ADDR` to
    /// [`PICK_PORT`].
    pub http_auth: SocketAddr,
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
    versions: usize,
    /// The last `spawn`'s env and arguments, to start again on other ports when a port
    /// picked by [`free_port`] was taken by someone else before the service bound it.
    spawned_with: (Vec<(String, String)>, Vec<String>),
}

impl Service {
    /// Starts the service on `policy_yaml`, mounted the way the kubelet mounts a ConfigMap,
    /// with `env` added to the few `AUTHZ_*` settings the kit always sets.
    pub fn start(bin: &str, policy_yaml: &str, env: &[(&str, &str)]) -> Service {
        Self::start_in(bin, policy_yaml, env, true)
    }

    /// Starts the service as [`Service::start`] does and waits until it is ready.
    pub async fn ready(bin: &str, policy_yaml: &str, env: &[(&str, &str)]) -> Service {
        let mut service = Service::start(bin, policy_yaml, env);
        service.wait_ready().await;
        service
    }

    /// Prepared (policy written as a plain file) but not started: call [`Service::spawn`]
    /// or [`Service::spawn_with_args`].
    pub fn prepare(bin: &str, policy_yaml: &str) -> Service {
        let service = Service::unstarted(bin);
        std::fs::write(service.policy_path(), policy_yaml).unwrap();
        service
    }

    /// With `kubelet` false the policy is a plain file in the folder.
    pub fn start_in(bin: &str, policy_yaml: &str, env: &[(&str, &str)], kubelet: bool) -> Service {
        let mut service = Service::unstarted(bin);
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
        bin: &str,
        policy_yaml: &str,
        revocations_yaml: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut service = Service::unstarted(bin);
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

    /// Starts the service on a policy folder (`AUTHZ_POLICY_PATH` naming the folder) with
    /// `files`, mounted the way the kubelet mounts a ConfigMap's keys (`name ->
    /// ..data/name`); [`Service::swap_files`] changes them.
    pub fn start_folder(bin: &str, files: &[(&str, &str)], env: &[(&str, &str)]) -> Service {
        let mut service = Service::unstarted(bin);
        service.swap_files(files);
        service.link_files(files);
        let dir = service.dir.path().to_str().unwrap().to_owned();
        let mut env = env.to_vec();
        env.push(("AUTHZ_POLICY_PATH", &dir));
        service.spawn(&env);
        service
    }

    /// Links each of `files` to its `..data` version, as the kubelet does for a key the
    /// ConfigMap did not have before (links of earlier keys stay).
    pub fn link_files(&self, files: &[(&str, &str)]) {
        for (name, _) in files {
            let link = self.dir.path().join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                std::os::unix::fs::symlink(format!("..data/{name}"), link).unwrap();
            }
        }
    }

    /// Fresh ports and an empty folder, nothing running.
    fn unstarted(bin: &str) -> Service {
        let dir = tempfile::tempdir().unwrap();
        Service {
            bin: PathBuf::from(bin),
            child: None,
            grpc: free_port(),
            admin: free_port(),
            http_auth: free_port(),
            log: dir.path().join("service.log"),
            dir,
            versions: 0,
            spawned_with: (Vec::new(), Vec::new()),
        }
    }

    /// Starts `serve` in the prepared folder, with `env` over the kit's settings.
    pub fn spawn(&mut self, env: &[(&str, &str)]) {
        self.spawn_with_args(env, &[]);
    }

    /// Starts `serve` with command-line arguments after it.
    pub fn spawn_with_args(&mut self, env: &[(&str, &str)], args: &[&str]) {
        self.spawned_with = (
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            args.iter().map(|a| a.to_string()).collect(),
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(&self.bin);
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
            // Off by default; on here so tests can read each decision from the answer
            // (tests/tokens/ checks the default; `env` may turn it off again).
            .env("AUTHZ_DYNAMIC_METADATA", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            match (*k, *v) {
                ("AUTHZ_HTTP_AUTH_ADDR", PICK_PORT) => cmd.env(k, self.http_auth.to_string()),
                _ => cmd.env(k, v),
            };
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
        let mut port_retries = 0;
        loop {
            let url = format!("http://{}/readyz", self.admin);
            if let Ok(r) = reqwest::get(&url).await
                && r.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                // free_port() closes the port it found, so another process (a parallel
                // test) can take it before the service binds it: start again elsewhere.
                let logs = self.logs();
                if logs.contains("Address already in use") && port_retries < 5 {
                    port_retries += 1;
                    self.grpc = free_port();
                    self.admin = free_port();
                    self.http_auth = free_port();
                    let _ = std::fs::remove_file(&self.log);
                    let (env, args) = self.spawned_with.clone();
                    let env: Vec<(&str, &str)> =
                        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    self.spawn_with_args(&env, &args);
                    continue;
                }
                panic!("service exited with {status}:\n{logs}");
            }
            assert!(
                Instant::now() < deadline,
                "service not ready in time:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the service answers to [`token_request`]`(token)` (`POST /users/1` with the
    /// token), over a new client.
    pub async fn check_token(&self, token: &str) -> Answer {
        check(&mut self.client().await, token_request(token)).await
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

/// The resident memory of process `pid`, in KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}
