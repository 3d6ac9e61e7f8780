//! The filter: one root context per plugin and worker holds the policy, the key sets and
//! the verified-token cache (the core's [`Pipeline`]); one HTTP context per request asks
//! it for a decision and carries out the core's [`Answer`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cognito_ext_authz_core::active::ActivePolicy;
use cognito_ext_authz_core::host::BadHost;
use cognito_ext_authz_core::path::UnsafePath;
use cognito_ext_authz_core::token::keys::MAX_JWKS_BYTES;
use cognito_ext_authz_core::{
    Answer, Decision, DenyReason, Headers, KeyError, KeyStore, Pipeline, PoolKeys, Request,
    TokenError,
};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::config::{Config, KeysConfig};
use crate::host;
use crate::keys::{HostKeys, PENDING, now, read_answer};

/// How often the root context looks at its key sets and starts the fetches wanted. Key
/// fetches start only there, never from a request's context: the host ties a call to the
/// context that starts it, and a request that goes away would take the answer with it.
const TICK: Duration = Duration::from_millis(50);
/// The longest wait between two attempts at a key set that failed (the service's).
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Everything one plugin instance decides with, on one worker.
pub(crate) struct Filter {
    /// The root context's id: the context key fetches belong to.
    root_id: u32,
    pipeline: Pipeline,
    keys: Vec<Arc<PoolKeys>>,
    /// (pool id, jwksUri), index for index with `keys`.
    sets: Vec<(String, String)>,
    timing: KeysConfig,
    source: HostKeys,
    state: RefCell<State>,
    /// Whether the host writes debug lines (looked up at each tick): the decision line is
    /// only formatted and handed over when it does.
    debug: Cell<bool>,
}

#[derive(Default)]
struct State {
    /// Key fetches in flight: HTTP call token -> (pool index, when to give up on it).
    calls: HashMap<u32, (usize, Instant)>,
    /// Per pool: when to look at its key set next, and the retry delay after failures.
    next: Vec<(Instant, Option<Duration>)>,
    /// Requests paused on an unknown `kid` until the key fetches in flight are done.
    waiting: Vec<(u32, Request)>,
}

impl Filter {
    pub(crate) fn new(root_id: u32, config: Config, source: HostKeys) -> Filter {
        let store = KeyStore::new(Arc::new(source.clone()), config.keys.cooldown);
        let keys = store.for_policy(&config.policy);
        let sets = config
            .policy
            .pools
            .iter()
            .map(|p| (p.id.clone(), p.jwks_uri.clone()))
            .collect();
        let start = Instant::now();
        let state = State {
            next: vec![(start, None); keys.len()],
            ..State::default()
        };
        let pipeline = Pipeline::new(
            ActivePolicy {
                policy: config.policy,
                keys: keys.clone(),
                generation: 1,
            },
            config.cache_entries,
        );
        pipeline.replace_revocations(Arc::new(config.revocations));
        Filter {
            root_id,
            pipeline,
            keys,
            sets,
            timing: config.keys,
            source,
            state: RefCell::new(state),
            debug: Cell::new(true),
        }
    }

    /// The core's decision on `request`.
    pub(crate) fn decide(&self, request: &Request) -> Decision {
        // Cannot stay pending (keys.rs); if it ever did, the request is refused.
        now(self.pipeline.decide(request))
            .unwrap_or_else(|| self.refuse(DenyReason::InvalidToken(TokenError::UnknownKey)))
    }

    /// A denial for a request that cannot be decided at all.
    fn refuse(&self, reason: DenyReason) -> Decision {
        self.pipeline.refuse(reason)
    }

    /// Whether a key fetch is wanted or in flight (a request on an unknown `kid` waits).
    fn fetching(&self) -> bool {
        !self.state.borrow().calls.is_empty() || self.source.wants_any()
    }

    /// Starts the key fetches the core asked for, one per pool at a time; only ever from
    /// the root context's own callbacks (its tick, an answer, its configuration).
    fn dispatch_wanted(&self) {
        for (pool, uri) in self.source.take_wanted() {
            let Some(index) = self.sets.iter().position(|s| s.0 == pool && s.1 == uri) else {
                continue;
            };
            if self.state.borrow().calls.values().any(|(i, _)| *i == index) {
                continue;
            }
            let Some(target) = self.timing.targets.get(index) else {
                continue;
            };
            match host::http_get(
                &target.cluster,
                &target.authority,
                &target.path,
                self.timing.timeout,
            ) {
                Ok(token) => {
                    // A little past the host's own timeout: its answer normally comes first.
                    let give_up = Instant::now() + self.timing.timeout + Duration::from_secs(2);
                    self.state
                        .borrow_mut()
                        .calls
                        .insert(token, (index, give_up));
                }
                Err(status) => {
                    let why = format!(
                        "the host refused the call to cluster {} ({status:?})",
                        target.cluster
                    );
                    self.taken(index, Err(KeyError::Http(why)));
                }
            }
        }
    }

    /// Gives the core the answer for pool `index` and records when to look again.
    pub(crate) fn taken(
        &self,
        index: usize,
        answer: Result<cognito_ext_authz_core::KeyMap, KeyError>,
    ) {
        let (Some((pool, uri)), Some(keys)) = (self.sets.get(index), self.keys.get(index)) else {
            return;
        };
        match &answer {
            Ok(map) => host::log(
                LogLevel::Info,
                &format!(
                    "cognito-ext-authz: key set of {pool} fetched ({} keys)",
                    map.len()
                ),
            ),
            Err(e) if keys.is_loaded() => host::log(
                LogLevel::Warn,
                &format!(
                    "cognito-ext-authz: key set fetch for {pool} failed ({e}); keeping the last good keys"
                ),
            ),
            Err(e) => host::log(
                LogLevel::Warn,
                &format!(
                    "cognito-ext-authz: key set fetch for {pool} failed ({e}); its tokens are refused (401) until it succeeds"
                ),
            ),
        }
        self.source.deliver(pool, uri, answer);
        let ok = matches!(now(keys.refresh()), Some(Ok(_)));
        let mut state = self.state.borrow_mut();
        if let Some(next) = state.next.get_mut(index) {
            *next = if ok {
                (Instant::now() + self.timing.refresh, None)
            } else {
                let delay = next
                    .1
                    .map_or(Duration::from_secs(1), |d| (d * 2).min(MAX_RETRY));
                (Instant::now() + delay, Some(delay))
            };
        }
    }

    /// A key fetch answered (`token`), on whichever context started it.
    fn answered(&self, token: u32, body_size: usize) {
        let Some((index, _)) = self.state.borrow_mut().calls.remove(&token) else {
            return;
        };
        let status = host::call_response_header(":status");
        let body = (body_size <= MAX_JWKS_BYTES)
            .then(|| host::call_response_body(body_size))
            .flatten();
        self.taken(
            index,
            read_answer(status.as_deref(), body.as_deref(), body_size),
        );
        self.wake();
    }

    /// Once no key fetch is in flight, decides the paused requests again.
    fn wake(&self) {
        if self.fetching() {
            return;
        }
        let waiting = std::mem::take(&mut self.state.borrow_mut().waiting);
        for (context_id, request) in waiting {
            if host::set_effective_context(context_id).is_err() {
                continue; // the request is gone
            }
            let decision = self.decide(&request);
            self.log_decision(&decision, &request);
            if let Action::Continue = carry_out(&decision, &request) {
                let _ = host::resume_request();
            }
        }
        // Back to the root: whatever the callback does next is the root's own.
        let _ = host::set_effective_context(self.root_id);
    }

    /// Looks at every key set: gives up on fetches past their time, refreshes the ones
    /// due (a failing one with the service's backoff).
    fn tick(&self) {
        self.debug.set(host::logs_debug());
        let now_at = Instant::now();
        let overdue: Vec<(u32, usize)> = self
            .state
            .borrow()
            .calls
            .iter()
            .filter(|(_, (_, give_up))| now_at >= *give_up)
            .map(|(token, (index, _))| (*token, *index))
            .collect();
        for (token, index) in overdue {
            self.state.borrow_mut().calls.remove(&token);
            self.taken(
                index,
                Err(KeyError::Http("no answer within the timeout".into())),
            );
        }
        let due: Vec<usize> = {
            let state = self.state.borrow();
            (0..self.keys.len())
                .filter(|i| state.next.get(*i).is_some_and(|(at, _)| now_at >= *at))
                .filter(|i| !state.calls.values().any(|(j, _)| j == i))
                .collect()
        };
        for index in due {
            if let Some(keys) = self.keys.get(index) {
                // Asks for the key set (HostKeys notes it as wanted).
                let answer = now(keys.refresh());
                debug_assert!(matches!(answer, Some(Err(KeyError::Http(ref m))) if m == PENDING));
            }
        }
        self.dispatch_wanted();
        self.wake();
    }

    fn forget(&self, context_id: u32) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.waiting.retain(|(id, _)| *id != context_id);
        }
    }

    /// One line per decision in Envoy's log (debug level): never a token, nor the query.
    fn log_decision(&self, decision: &Decision, request: &Request) {
        if !self.debug.get() {
            return;
        }
        let path = request.path().split('?').next().unwrap_or_default();
        let line = match decision {
            Decision::Allow { reason, route, .. } => format!(
                "cognito-ext-authz: allow reason={reason:?} route={} method={} path={path}",
                route.as_deref().unwrap_or("-"),
                request.method(),
            ),
            Decision::Deny {
                reason,
                route,
                dry_run,
                ..
            } => format!(
                "cognito-ext-authz: {} reason={} route={} method={} path={path}",
                if dry_run.is_some() {
                    "would_deny"
                } else {
                    "deny"
                },
                reason.label(),
                route.as_deref().unwrap_or("-"),
                request.method(),
            ),
        };
        host::log(LogLevel::Debug, &line);
    }
}

/// The root context: reads the configuration, keeps the key sets fresh.
pub(crate) struct Root {
    id: u32,
    filter: Option<Rc<Filter>>,
}

impl Root {
    /// The root context `id`, not configured yet.
    pub(crate) fn new(id: u32) -> Root {
        Root { id, filter: None }
    }
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        if let Some(filter) = &self.filter {
            filter.answered(token, body_size);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let text = host::plugin_configuration().unwrap_or_default();
        let config = match std::str::from_utf8(&text)
            .map_err(|e| e.to_string())
            .and_then(Config::parse)
        {
            Ok(config) => config,
            Err(e) => {
                host::log(
                    LogLevel::Critical,
                    &format!("cognito-ext-authz: the plugin configuration is refused: {e}"),
                );
                return false;
            }
        };
        let pools = config.policy.pools.len();
        let routes = config.policy.routes.routes().len();
        let filter = Rc::new(Filter::new(self.id, config, HostKeys::default()));
        host::log(
            LogLevel::Info,
            &format!("cognito-ext-authz: policy loaded ({routes} routes, {pools} user pools)"),
        );
        filter.tick();
        self.filter = Some(filter);
        let _ = host::set_tick_period(TICK);
        true
    }

    fn on_tick(&mut self) {
        if let Some(filter) = &self.filter {
            filter.tick();
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http {
            context_id,
            filter: self.filter.clone(),
            waited: false,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct Http {
    context_id: u32,
    /// `None` when the configuration was refused: every request is then refused too.
    filter: Option<Rc<Filter>>,
    waited: bool,
}

impl Drop for Http {
    fn drop(&mut self) {
        if self.waited
            && let Some(filter) = &self.filter
        {
            filter.forget(self.context_id);
        }
    }
}

// Key fetches belong to the root context (its tick starts them): a request's context is
// never told of an HTTP call's answer.
impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let Some(filter) = self.filter.clone() else {
            // Deny by default: no policy, no request.
            let _ = host::send_response(
                503,
                &[("content-type".into(), "application/json".into())],
                br#"{"message":"Service Unavailable"}"#,
            );
            return Action::Pause;
        };
        let request = match read_request() {
            Ok(request) => request,
            Err(reason) => {
                let decision = filter.refuse(reason);
                return carry_out(&decision, &Request::default());
            }
        };
        let decision = filter.decide(&request);
        if is_unknown_key(&decision) && filter.fetching() && !self.waited {
            // The service waits for the refetch an unknown kid starts; so does the filter,
            // paused until the key fetches wanted or in flight are done (the root starts
            // them at its next tick; each is bounded by its timeout).
            self.waited = true;
            filter
                .state
                .borrow_mut()
                .waiting
                .push((self.context_id, request));
            return Action::Pause;
        }
        filter.log_decision(&decision, &request);
        carry_out(&decision, &request)
    }
}

fn is_unknown_key(decision: &Decision) -> bool {
    matches!(
        decision,
        Decision::Deny {
            reason: DenyReason::InvalidToken(TokenError::UnknownKey),
            ..
        }
    )
}

/// The request as the core takes it, from the host's header map, as the service reads it
/// from Envoy's check (method, `:authority`, `:path` with its query, every header line).
fn read_request() -> Result<Request, DenyReason> {
    request_from_lines(host::request_headers().ok_or(DenyReason::NotHttp)?)
}

/// The request the core takes from the host's header lines.
pub(crate) fn request_from_lines(lines: Vec<(String, Vec<u8>)>) -> Result<Request, DenyReason> {
    let pseudo = |name: &str| {
        lines
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8(v.clone()))
            .unwrap_or_else(|| Ok(String::new()))
    };
    let method = pseudo(":method").map_err(|_| DenyReason::UnsafeMethod)?;
    let host = pseudo(":authority").map_err(|_| DenyReason::UnsafeHost(BadHost::NotUtf8))?;
    let path = pseudo(":path").map_err(|_| DenyReason::UnsafePath(UnsafePath::NotUtf8))?;
    Ok(Request::new(method, host, path, Headers::from_lines(lines)))
}

/// Does what the core's answer says: identity headers set and forged ones removed, or the
/// denial sent. The action for the current callback.
fn carry_out(decision: &Decision, request: &Request) -> Action {
    match Answer::build(decision, request.headers(), false) {
        Answer::Upstream { set, remove, .. } => {
            let mut failed = false;
            // Only what the request has: every host call crosses out of the VM, and
            // removing a header that is not there changes nothing.
            for name in remove
                .iter()
                .filter(|n| request.headers().value(n).is_some())
            {
                failed |= host::remove_request_header(name).is_err();
            }
            for (name, value) in &set {
                failed |= host::set_request_header(name, value).is_err();
            }
            if failed {
                // An identity header that cannot be written or removed must not let the
                // request through with the client's own.
                let _ = host::send_response(
                    500,
                    &[("content-type".into(), "application/json".into())],
                    br#"{"message":"Internal Server Error"}"#,
                );
                return Action::Pause;
            }
            Action::Continue
        }
        Answer::Respond {
            status,
            headers,
            body,
            ..
        } => {
            let _ = host::send_response(status, &headers, body.as_bytes());
            Action::Pause
        }
    }
}
