//! A local stand-in for Cognito's `/{poolId}/.well-known/jwks.json`: serves each pool's key
//! set over HTTP, counts fetches, and can be told to fail, hang, redirect, hold or answer
//! with any body, per pool or for all of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::token::{CLIENT, POOL, SigningKey};

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

    /// A key server already serving `key` in `pool`'s key set.
    pub async fn publishing(pool: &str, key: &SigningKey) -> KeyServer {
        let keys = KeyServer::start().await;
        keys.publish(pool, key);
        keys
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
