//! `serve`: wiring the gRPC service, health, the HTTP authorization port (when
//! `AUTHZ_HTTP_AUTH_ADDR` is set), the admin HTTP port, key maintenance, policy
//! and revocation list reloads and graceful shutdown.
//!
//! Start-up: load the policy and the revocation list when one is configured (a bad one
//! stops the process with every error listed: fail closed), bind both ports, report
//! NOT_SERVING, fetch every pool's keys, then report SERVING; both files are then followed
//! and reloaded. On SIGTERM health goes NOT_SERVING while checks are still answered for the
//! drain period; then the listeners close, in-flight checks finish and the process exits 0.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::active::ActivePolicy;
use crate::files::{read_policy_folder, read_policy_text, read_revocations_text};
use crate::follow::policy as watch;
use crate::grpc::{AuthorizationService, CheckServer, GrpcPort, Http2Limits};
use crate::http_auth::{HttpAuthLimits, HttpAuthPort};
use crate::keys::KeyFetcher;
use crate::lifecycle::{Lifecycle, Phase, signal};
use crate::pipeline::Pipeline;
use crate::policy::Policy;
use crate::revocation::RevocationList;
use crate::settings::Settings;
use crate::token::keys::{KeyStore, PoolKeys};

/// The gRPC service name health is reported for (besides the empty "whole server" name).
const SERVICE_NAME: &str = "envoy.service.auth.v3.Authorization";

/// Longest wait between two attempts to fetch a key set that has never loaded.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Why the service could not start or stopped serving; each names the file, address or
/// part it is about.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The policy or revocation file cannot be read (the errors name the file).
    #[error("{0}")]
    Unreadable(crate::errors::FileErrors),
    /// The policy file is invalid.
    #[error("{}: {errors}", path.display())]
    Policy {
        path: PathBuf,
        errors: crate::errors::FileErrors,
    },
    /// The revocation list is invalid (the errors name the file).
    #[error("revocation list refused:\n{0}")]
    Revocations(crate::errors::FileErrors),
    /// TLS on the gRPC port cannot start.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsStartError),
    /// The HTTP client that fetches key sets cannot be built.
    #[error(transparent)]
    KeyFetcher(#[from] crate::token::keys::KeyError),
    /// A file cannot be followed for changes.
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    /// A port cannot be listened on.
    #[error("cannot listen on {addr} ({setting}): {source}")]
    Listen {
        addr: std::net::SocketAddr,
        setting: &'static str,
        source: std::io::Error,
    },
    /// gRPC reflection cannot be built from the embedded descriptors.
    #[error("gRPC reflection: {0}")]
    Reflection(tonic_reflection::server::Error),
}

/// Runs the service until SIGTERM/SIGINT; `Ok` after a clean drain.
pub async fn serve(settings: Settings) -> Result<(), ServeError> {
    let metrics = crate::observe::metrics::install();
    let refused = |errors| {
        crate::observe::metrics::policy_reload("failure");
        ServeError::Policy {
            path: settings.policy_path.clone(),
            errors,
        }
    };
    // A policy file, or a folder of them (each file taken or refused on its own).
    // Whether every policy file has had a version in force: a folder's file that never
    // has holds readiness (src/follow/policy.rs, Folder::whole).
    let mut whole = Arc::new(AtomicBool::new(true));
    let (policy, digest, folder) = if settings.policy_path.is_dir() {
        let read = read_policy_folder(&settings.policy_path).map_err(ServeError::Unreadable)?;
        let digest = read.digest;
        let mut folder = watch::Folder::new(settings.policy_path.clone());
        whole = folder.whole();
        // The first reading that takes any file changes what is in force: always a policy.
        let policy = folder
            .take(read)
            .and_then(|p| p.ok_or_else(|| crate::errors::FileErrors::one("no policy file taken")))
            .map_err(refused)?;
        (policy, digest, Some(folder))
    } else {
        let text = read_policy_text(&settings.policy_path).map_err(ServeError::Unreadable)?;
        let policy = Policy::parse(&text).map_err(refused)?;
        (policy, crate::follow::text_digest(&text), None)
    };
    crate::observe::metrics::policy_reload("success");
    tracing::info!(path = %settings.policy_path.display(), summary = %policy.summary(), "policy loaded");
    let revocations = match &settings.revocations_path {
        Some(path) => Some(load_revocations(path)?),
        None => None,
    };
    let tls = match &settings.tls {
        Some(files) => Some(crate::tls::Tls::start(
            files,
            crate::tls::Follow {
                poll: settings.policy_poll,
                quiet: settings.policy_quiet,
            },
        )?),
        None => None,
    };

    let fetcher = KeyFetcher::new(settings.jwks_timeout)?;
    let store = Arc::new(KeyStore::new(Arc::new(fetcher), settings.jwks_cooldown));
    let keys = store.for_policy(&policy);
    let pipeline = Arc::new(Pipeline::new(
        ActivePolicy {
            policy,
            keys,
            generation: 1,
        },
        settings.token_cache_entries,
    ));
    let follow_timing = crate::follow::Timing {
        poll: settings.policy_poll,
        quiet: settings.policy_quiet,
    };
    if let (Some(path), Some((list, digest))) = (&settings.revocations_path, revocations) {
        pipeline.replace_revocations(Arc::new(list));
        let updates = crate::follow::revocations::spawn(path.clone(), digest, follow_timing)
            .map_err(|source| ServeError::Watch {
                path: path.clone(),
                source,
            })?;
        tokio::spawn(apply_revocations(updates, pipeline.clone()));
    }

    let grpc_listener = tokio::net::TcpListener::bind(settings.listen_addr)
        .await
        .map_err(|source| ServeError::Listen {
            addr: settings.listen_addr,
            setting: "AUTHZ_LISTEN_ADDR",
            source,
        })?;
    let admin_listener = tokio::net::TcpListener::bind(settings.admin_addr)
        .await
        .map_err(|source| ServeError::Listen {
            addr: settings.admin_addr,
            setting: "AUTHZ_ADMIN_ADDR",
            source,
        })?;

    let http_auth_listener = match settings.http_auth_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Listen {
                    addr,
                    setting: "AUTHZ_HTTP_AUTH_ADDR",
                    source,
                })?,
        ),
        None => None,
    };

    let lifecycle = Lifecycle::new();
    let ready = Arc::new(AtomicBool::new(false));
    let (reporter, health_service) = tonic_health::server::health_reporter();
    set_health(&reporter, ServingStatus::NotServing).await;

    tokio::spawn(maintain_keys(
        pipeline.clone(),
        settings.jwks_refresh,
        settings.jwks_timeout * KEYS_READY_WAIT_TIMEOUTS,
        Readiness {
            reporter: reporter.clone(),
            ready: ready.clone(),
            policy_whole: whole,
        },
        lifecycle.clone(),
    ));
    let updates = match folder {
        Some(folder) => watch::spawn_folder(folder, digest, follow_timing),
        None => watch::spawn(settings.policy_path.clone(), digest, follow_timing),
    }
    .map_err(|source| ServeError::Watch {
        path: settings.policy_path.clone(),
        source,
    })?;
    tokio::spawn(apply_policies(
        updates,
        pipeline.clone(),
        store,
        settings.jwks_timeout,
    ));
    tokio::spawn(drain_on_signal(
        lifecycle.clone(),
        reporter.clone(),
        ready.clone(),
        settings.drain,
    ));

    let admin = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { crate::observe::metrics::render(&metrics) }
            }),
        )
        .with_state(ready.clone());
    let http_auth_connections = if http_auth_listener.is_some() {
        settings.max_connections
    } else {
        0
    };
    crate::listen::raise_file_limit(
        settings.max_connections + http_auth_connections + settings.admin_max_connections,
    );
    let admin_connections = crate::listen::accept(
        admin_listener,
        crate::listen::Limits {
            port: "admin",
            max_connections: settings.admin_max_connections,
            idle_timeout: Some(ADMIN_HEADER_TIMEOUT),
        },
    );
    let admin_task = tokio::spawn(serve_admin(admin_connections, admin, lifecycle.clone()));

    let http_auth_task = http_auth_listener.map(|listener| {
        let connections = crate::listen::accept(
            listener,
            crate::listen::Limits {
                port: "http_auth",
                max_connections: settings.max_connections,
                idle_timeout: settings.idle_timeout,
            },
        );
        let port = Arc::new(HttpAuthPort::new(
            pipeline.clone(),
            HttpAuthLimits {
                request_timeout: settings.request_timeout,
                max_in_flight: settings.max_in_flight,
            },
        ));
        let stopping = lifecycle.clone();
        let stop = async move { stopping.reached(Phase::Stopping).await };
        match &tls {
            Some(tls) => tokio::spawn(port.serve(tls.accept_http1(connections), stop)),
            None => tokio::spawn(port.serve(connections, stop)),
        }
    });
    match settings.http_auth_addr {
        Some(http_auth) => {
            tracing::info!(grpc = %settings.listen_addr, http_auth = %http_auth, admin = %settings.admin_addr, "listening")
        }
        None => {
            tracing::info!(grpc = %settings.listen_addr, admin = %settings.admin_addr, "listening")
        }
    }
    let grpc_stop = lifecycle.clone();
    let grpc_connections = crate::listen::accept(
        grpc_listener,
        crate::listen::Limits {
            port: "grpc",
            max_connections: settings.max_connections,
            idle_timeout: settings.idle_timeout,
        },
    );
    let check = CheckServer::new(
        AuthorizationService::new(pipeline).with_dynamic_metadata(settings.dynamic_metadata),
        settings.max_request_bytes,
        settings.max_in_flight,
    );
    let (reflection_v1, reflection_v1alpha) = if settings.reflection {
        (
            Some(crate::reflection::v1().map_err(ServeError::Reflection)?),
            Some(crate::reflection::v1alpha().map_err(ServeError::Reflection)?),
        )
    } else {
        (None, None)
    };
    // A health request is a service name: tonic's default of 4 MiB is not needed.
    let health_service =
        health_service.max_decoding_message_size(crate::reflection::MAX_REQUEST_BYTES);
    let mut others = tonic::service::Routes::new(health_service);
    if let Some(v1) = reflection_v1 {
        others = others.add_service(v1);
    }
    if let Some(v1alpha) = reflection_v1alpha {
        others = others.add_service(v1alpha);
    }
    let port = Arc::new(GrpcPort::new(
        check,
        others,
        Http2Limits {
            max_streams: settings.max_streams_per_connection,
            request_timeout: settings.request_timeout,
            idle_timeout: settings.idle_timeout,
        },
    ));
    let stop = async move { grpc_stop.reached(Phase::Stopping).await };
    match tls {
        Some(tls) => port.serve(tls.accept(grpc_connections), stop).await,
        None => port.serve(grpc_connections, stop).await,
    }
    admin_task.abort();
    if let Some(task) = http_auth_task {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Longest time an admin client may take to send its request headers (and to start the
/// next request on a kept-alive connection).
const ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest request head the admin port reads (hyper's smallest buffer); a larger one is
/// refused with 431.
const ADMIN_MAX_HEAD_BYTES: usize = 8 * 1024;

/// Serves the admin HTTP port: HTTP/1.1 with a bounded request head and a header timeout,
/// so a slow or oversized client costs a bounded amount and is cut off.
async fn serve_admin(
    mut connections: tokio::sync::mpsc::Receiver<std::io::Result<crate::listen::Conn>>,
    router: axum::Router,
    lifecycle: Lifecycle,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    loop {
        let stopping = lifecycle.reached(Phase::Stopping);
        let Some(conn) = crate::listen::next_conn(&mut connections, stopping).await else {
            return;
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(ADMIN_HEADER_TIMEOUT)
                .max_buf_size(ADMIN_MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(conn), service);
            let _ = tokio::time::timeout(ADMIN_CONNECTION_LIMIT, served).await;
        });
    }
}

/// Longest life of one admin connection (a scrape takes milliseconds).
const ADMIN_CONNECTION_LIMIT: Duration = Duration::from_secs(60);

async fn readyz(State(ready): State<Arc<AtomicBool>>) -> (StatusCode, &'static str) {
    if ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter.set_service_status(SERVICE_NAME, status).await;
}

/// Waits for SIGTERM/SIGINT, reports NOT_SERVING, keeps answering for `drain`, then stops.
async fn drain_on_signal(
    lifecycle: Lifecycle,
    reporter: HealthReporter,
    ready: Arc<AtomicBool>,
    drain: Duration,
) {
    let name = signal().await;
    tracing::info!(signal = name, drain_seconds = drain.as_secs(), "draining");
    lifecycle.advance(Phase::Draining);
    ready.store(false, Ordering::Release);
    set_health(&reporter, ServingStatus::NotServing).await;
    tokio::select! {
        _ = tokio::time::sleep(drain) => {}
        other = signal() => tracing::info!(signal = other, "second signal; stopping now"),
    }
    lifecycle.advance(Phase::Stopping);
}

/// How long a pool whose key fetches keep failing (for reasons that may pass) holds the pod
/// unready, in key fetch timeouts: 30 s with the default 5 s timeout.
const KEYS_READY_WAIT_TIMEOUTS: u32 = 6;

/// What reports the pod ready, and what else it waits for.
struct Readiness {
    reporter: HealthReporter,
    /// Set when SERVING is reported (the admin port's /readyz reads it).
    ready: Arc<AtomicBool>,
    /// Every policy file has had a version in force.
    policy_whole: Arc<AtomicBool>,
}

/// Fetches key sets that never loaded (with backoff) and refreshes loaded ones every
/// `refresh`; reports SERVING once the pools' keys allow it ([`ActivePolicy::keys_ready`]:
/// a pool refused definitively, or failing for longer than `ready_wait`, no longer holds
/// the pod unready as long as another pool has keys) and every policy file of a folder has
/// had a version in force.
async fn maintain_keys(
    pipeline: Arc<Pipeline>,
    refresh: Duration,
    ready_wait: Duration,
    readiness: Readiness,
    lifecycle: Lifecycle,
) {
    let Readiness {
        reporter,
        ready,
        policy_whole,
    } = readiness;
    // Per key set whose last fetch failed: when to try next and the current retry delay.
    let mut retry: HashMap<(String, String), (Instant, Duration)> = HashMap::new();
    let mut serving = false;
    loop {
        let active = pipeline.active();
        let due: Vec<Arc<PoolKeys>> = active
            .keys
            .iter()
            .filter(|k| {
                let stale = !k.is_loaded() || k.since_last_success().is_none_or(|d| d >= refresh);
                let backed_off = retry
                    .get(&key_of(k))
                    .is_some_and(|(at, _)| Instant::now() < *at);
                stale && !backed_off
            })
            .cloned()
            .collect();
        // Side by side, each bounded by its timeout: a key server that hangs delays no
        // other pool's keys (nor the pod's readiness) by its timeout.
        let results = futures_util::future::join_all(due.iter().map(|k| k.refresh())).await;
        for (keys, result) in due.into_iter().zip(results) {
            if result.is_ok() {
                retry.remove(&key_of(&keys));
            } else {
                let delay = retry
                    .get(&key_of(&keys))
                    .map_or(Duration::from_secs(1), |(_, d)| (*d * 2).min(MAX_RETRY));
                retry.insert(key_of(&keys), (Instant::now() + delay, delay));
            }
        }
        if !serving
            && active.keys_ready(ready_wait)
            && policy_whole.load(Ordering::Acquire)
            && lifecycle.phase() == Phase::Running
        {
            serving = true;
            ready.store(true, Ordering::Release);
            set_health(&reporter, ServingStatus::Serving).await;
            let missing = active.pools_without_keys();
            if missing.is_empty() {
                tracing::info!("every user pool's keys are loaded; serving");
            } else {
                tracing::warn!(
                    pools = ?missing,
                    "serving without the keys of these user pools: their tokens are refused (401) until their keys are fetched"
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = lifecycle.reached(Phase::Draining) => return,
        }
    }
}

fn key_of(keys: &PoolKeys) -> (String, String) {
    (keys.pool_id().to_owned(), keys.uri().to_owned())
}

/// Puts each new valid policy in force, after trying to fetch keys for pools it adds.
async fn apply_policies(
    mut updates: tokio::sync::mpsc::Receiver<Policy>,
    pipeline: Arc<Pipeline>,
    store: Arc<KeyStore>,
    timeout: Duration,
) {
    while let Some(policy) = updates.recv().await {
        let keys = store.for_policy(&policy);
        // Side by side: one slow key server holds the reload (and every other team's
        // change in it) for one timeout, not one per pool added.
        futures_util::future::join_all(
            keys.iter()
                .filter(|k| !k.is_loaded())
                .map(|k| tokio::time::timeout(timeout, k.refresh())),
        )
        .await;
        let generation = pipeline.active().generation + 1;
        let summary = policy.summary();
        pipeline.replace(ActivePolicy {
            policy,
            keys,
            generation,
        });
        crate::observe::metrics::policy_reload("success");
        tracing::info!(generation, summary = %summary, "policy reloaded");
    }
}

/// Loads the revocation list at start: refused (the process does not start) when it cannot
/// be read or is invalid, like the policy. Returns it with the digest of its text.
fn load_revocations(path: &std::path::Path) -> Result<(RevocationList, [u8; 32]), ServeError> {
    let text = read_revocations_text(path).map_err(ServeError::Unreadable)?;
    let list = RevocationList::parse(&text).map_err(|e| {
        crate::observe::metrics::revocation_reload("failure");
        ServeError::Revocations(e.in_file(path))
    })?;
    crate::observe::metrics::revocation_reload("success");
    crate::observe::metrics::revocations_in_force(list.sizes());
    tracing::info!(path = %path.display(), summary = %list.summary(), "revocation list loaded");
    Ok((list, crate::follow::text_digest(&text)))
}

/// Puts each new valid revocation list in force: from then on every check, cached token or
/// not, is looked up in it. A replaced list is kept until the next reload, so that a check
/// that was still using it is not the one that frees it (100,000 entries take milliseconds
/// to free), and is then freed on the blocking pool.
async fn apply_revocations(
    mut updates: tokio::sync::mpsc::Receiver<RevocationList>,
    pipeline: Arc<Pipeline>,
) {
    let mut previous = None;
    while let Some(list) = updates.recv().await {
        let summary = list.summary();
        let sizes = list.sizes();
        let replaced = pipeline.replace_revocations(Arc::new(list));
        if let Some(older) = previous.replace(replaced) {
            tokio::task::spawn_blocking(move || drop(older));
        }
        crate::observe::metrics::revocation_reload("success");
        crate::observe::metrics::revocations_in_force(sizes);
        tracing::info!(summary = %summary, "revocation list reloaded");
    }
}
