//! Fetching user pools' key sets over HTTPS: the service's [`KeySource`].
//!
//! Each fetch has a timeout (connecting included), no redirects, and a size bound read
//! before parsing ([`MAX_JWKS_BYTES`]); it runs in a trace span and is counted per pool and
//! result. A refetch on an unknown `kid` runs in a task of its own.

use std::time::Duration;

use crate::token::keys::{BoxFuture, KeyError, KeyMap, KeySource, MAX_JWKS_BYTES, parse_jwks};

/// Fetches key sets over HTTP(S) with timeouts and a size limit.
#[derive(Debug, Clone)]
pub struct KeyFetcher {
    client: reqwest::Client,
}

impl KeyFetcher {
    /// A fetcher whose requests give up after `timeout` (connecting included).
    pub fn new(timeout: Duration) -> Result<Self, KeyError> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cognito-ext-authz/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| KeyError::Http(e.to_string()))?;
        Ok(Self { client })
    }

    /// Fetches and parses the key set at `uri` (`validate --online` checks each pool this
    /// way), without counting it.
    pub async fn fetch(&self, uri: &str) -> Result<KeyMap, KeyError> {
        let mut response = self
            .client
            .get(uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| KeyError::Http(error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(KeyError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err(KeyError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| KeyError::Http(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(KeyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl KeySource for KeyFetcher {
    fn fetch<'a>(&'a self, pool: &'a str, uri: &'a str) -> BoxFuture<'a, Result<KeyMap, KeyError>> {
        Box::pin(async move {
            let span = tracing::info_span!(target: crate::observe::telemetry::SPAN_TARGET, "key set fetch", pool = %pool);
            let result = tracing::Instrument::instrument(KeyFetcher::fetch(self, uri), span).await;
            let outcome = if result.is_ok() { "success" } else { "failure" };
            crate::observe::metrics::key_fetch(pool, outcome);
            result
        })
    }

    fn detached(&self, work: BoxFuture<'static, ()>) -> BoxFuture<'static, ()> {
        let task = tokio::spawn(work);
        Box::pin(async move {
            let _ = task.await;
        })
    }
}
