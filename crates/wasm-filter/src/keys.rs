//! Key sets through the host's HTTP calls.
//!
//! The core keeps each pool's keys ([`PoolKeys`]: last good keys kept, one refetch per
//! unknown `kid` per cooldown) and asks a [`KeySource`] for a key set. The service's source
//! awaits an HTTPS fetch; a proxy-wasm filter cannot wait inside a callback, its HTTP
//! calls answer in a later one. So [`HostKeys`] answers the core at once: with the key
//! set the host delivered, when there is one waiting, or else by noting the fetch as
//! wanted (the root context dispatches it at its next tick) and answering "not yet", which the core
//! treats as a failed fetch: the last good keys stay, and a pool that has none refuses
//! its tokens (401). When the host's answer arrives it is delivered and the core's
//! refresh runs again to take it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cognito_ext_authz_core::token::keys::BoxFuture;
use cognito_ext_authz_core::{KeyError, KeyMap, KeySource};

/// The fetches wanted and the answers delivered, shared by the filter and the core.
#[derive(Default)]
pub(crate) struct Exchange {
    /// (pool, uri) the core asked for and nobody has dispatched yet.
    wanted: Vec<(String, String)>,
    /// Answers from the host, waiting for the core's next refresh of that pool.
    delivered: HashMap<(String, String), Result<KeyMap, KeyError>>,
}

/// The core's [`KeySource`] in the filter.
#[derive(Clone, Default)]
pub(crate) struct HostKeys {
    exchange: Arc<Mutex<Exchange>>,
}

/// What the core is told while the host's answer is still to come.
pub(crate) const PENDING: &str = "key set requested from the host; no answer yet";

impl HostKeys {
    fn with<T>(&self, f: impl FnOnce(&mut Exchange) -> T) -> T {
        // One thread per VM: never contended; a poisoned lock still holds usable data.
        f(&mut self.exchange.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The fetches the core asked for since the last call.
    pub(crate) fn take_wanted(&self) -> Vec<(String, String)> {
        self.with(|x| std::mem::take(&mut x.wanted))
    }

    /// Whether the core asked for a fetch nobody has dispatched yet.
    pub(crate) fn wants_any(&self) -> bool {
        self.with(|x| !x.wanted.is_empty())
    }

    /// Hands the host's answer for (pool, uri) to the core's next refresh of that pool.
    pub(crate) fn deliver(&self, pool: &str, uri: &str, answer: Result<KeyMap, KeyError>) {
        self.with(|x| {
            x.delivered
                .insert((pool.to_owned(), uri.to_owned()), answer)
        });
    }
}

impl KeySource for HostKeys {
    fn fetch<'a>(&'a self, pool: &'a str, uri: &'a str) -> BoxFuture<'a, Result<KeyMap, KeyError>> {
        let key = (pool.to_owned(), uri.to_owned());
        let answer = self.with(|x| match x.delivered.remove(&key) {
            Some(answer) => answer,
            None => {
                if !x.wanted.contains(&key) {
                    x.wanted.push(key);
                }
                Err(KeyError::Http(PENDING.to_owned()))
            }
        });
        Box::pin(std::future::ready(answer))
    }

    fn detached(&self, work: BoxFuture<'static, ()>) -> BoxFuture<'static, ()> {
        // Nothing here ever waits (see the module's comment): the work is done when polled.
        work
    }
}

/// Polls `future` once: everything the core does in the filter completes at once, since
/// [`HostKeys`] never makes it wait. `None` if it did not (it cannot: the filter then
/// refuses the request).
pub(crate) fn now<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}

/// The key set in an HTTP answer: the service's rules (200 only, bounded size, a usable
/// JWKS).
pub(crate) fn read_answer(
    status: Option<&[u8]>,
    body: Option<&[u8]>,
    body_size: usize,
) -> Result<KeyMap, KeyError> {
    use cognito_ext_authz_core::token::keys::{MAX_JWKS_BYTES, parse_jwks};
    let status = status
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| KeyError::Http("no answer from the key set's cluster".into()))?;
    if status != 200 {
        return Err(KeyError::Status(status));
    }
    if body_size > MAX_JWKS_BYTES {
        return Err(KeyError::TooLarge);
    }
    let body = body.ok_or_else(|| KeyError::Http("the answer's body could not be read".into()))?;
    parse_jwks(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_once_then_hands_over_what_was_delivered() {
        let keys = HostKeys::default();
        let first = now(keys.fetch("p", "u")).unwrap();
        assert!(matches!(first, Err(KeyError::Http(ref m)) if m == PENDING));
        let _ = now(keys.fetch("p", "u")).unwrap();
        assert_eq!(keys.take_wanted(), [("p".to_owned(), "u".to_owned())]);
        assert!(keys.take_wanted().is_empty());
        keys.deliver("p", "u", Err(KeyError::Status(404)));
        assert!(matches!(
            now(keys.fetch("p", "u")).unwrap(),
            Err(KeyError::Status(404))
        ));
        assert!(
            keys.take_wanted().is_empty(),
            "a delivered answer is not asked for again"
        );
    }

    #[test]
    fn reads_answers_by_the_services_rules() {
        assert!(matches!(
            read_answer(Some(b"404"), Some(b""), 0),
            Err(KeyError::Status(404))
        ));
        assert!(matches!(read_answer(None, None, 0), Err(KeyError::Http(_))));
        assert!(matches!(
            read_answer(Some(b"200"), None, 300 * 1024),
            Err(KeyError::TooLarge)
        ));
        assert!(matches!(
            read_answer(Some(b"200"), Some(b"<html>"), 6),
            Err(KeyError::NotJwks(_))
        ));
    }
}
