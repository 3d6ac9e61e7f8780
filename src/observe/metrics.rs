//! Prometheus metrics: the counters and histograms every part of the service updates.
//!
//! A leaf: it knows names and labels, nothing of requests, decisions or tokens.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use std::sync::Arc;

pub const DECISIONS: &str = "cognito_ext_authz_decisions_total";
pub const CHECK_DURATION: &str = "cognito_ext_authz_check_duration_seconds";
pub const KEY_FETCHES: &str = "cognito_ext_authz_key_fetches_total";
pub const POLICY_RELOADS: &str = "cognito_ext_authz_policy_reloads_total";
pub const POLICY_FILE_RELOADS: &str = "cognito_ext_authz_policy_file_reloads_total";
pub const POLICY_FILE_REFUSED: &str = "cognito_ext_authz_policy_file_refused";
pub const CACHE_HITS: &str = "cognito_ext_authz_token_cache_hits_total";
pub const CACHE_MISSES: &str = "cognito_ext_authz_token_cache_misses_total";
pub const LIMITS_TRIPPED: &str = "cognito_ext_authz_limits_tripped_total";
pub const LOG_LINES_DROPPED: &str = "cognito_ext_authz_log_lines_dropped_total";
pub const REVOCATION_RELOADS: &str = "cognito_ext_authz_revocation_reloads_total";
pub const REVOCATIONS: &str = "cognito_ext_authz_revocations";

/// Check latency buckets, in seconds: 25 µs to 250 ms.
const LATENCY_BUCKETS: [f64; 13] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Handles of the label-free metrics, resolved once the recorder is installed, so the hot
/// path skips the registry lookup (hashing the name) on every check.
struct Fixed {
    check_duration: metrics::Histogram,
    cache_hits: metrics::Counter,
    cache_misses: metrics::Counter,
}

static FIXED: OnceLock<Fixed> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn install() -> PrometheusHandle {
    // The decision core tells of each verified-token cache lookup; counted here.
    crate::token::verify::observe_cache_lookups(token_cache);
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full(CHECK_DURATION.to_owned()),
                    &LATENCY_BUCKETS,
                )
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed; then ours just renders nothing.
            let installed = metrics::set_global_recorder(recorder).is_ok();
            if installed {
                keep_up(handle.clone());
            }
            describe();
            if installed {
                let _ = FIXED.set(Fixed {
                    check_duration: metrics::histogram!(CHECK_DURATION),
                    cache_hits: metrics::counter!(CACHE_HITS),
                    cache_misses: metrics::counter!(CACHE_MISSES),
                });
            }
            handle
        })
        .clone()
}

/// How often histogram samples are folded into their buckets.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the histograms' recorded samples into their buckets every [`UPKEEP_INTERVAL`]
/// on a thread of its own (`metrics-upkeep`). The recorder keeps every sample until then:
/// without this, a service nobody scrapes would keep 8 bytes per check forever.
fn keep_up(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the metrics upkeep thread: {e}; histogram samples are folded only when /metrics is scraped"
        );
    }
}

fn describe() {
    metrics::describe_counter!(DECISIONS, "Check decisions by result, reason and route.");
    metrics::describe_histogram!(
        CHECK_DURATION,
        metrics::Unit::Seconds,
        "Time to decide one check."
    );
    metrics::describe_counter!(KEY_FETCHES, "User pool key set fetches by pool and result.");
    metrics::describe_counter!(POLICY_RELOADS, "Policy (re)loads by result.");
    metrics::describe_counter!(
        POLICY_FILE_RELOADS,
        "Loads of each file of a policy folder by file and result."
    );
    metrics::describe_gauge!(
        POLICY_FILE_REFUSED,
        "1 while a policy folder file's newest version is refused (its last good version, or none, in force)."
    );
    metrics::describe_counter!(REVOCATION_RELOADS, "Revocation list (re)loads by result.");
    metrics::describe_gauge!(
        REVOCATIONS,
        "Entries of the revocation list in force, by kind (jti, origin_jti, sub)."
    );
    metrics::describe_counter!(CACHE_HITS, "Verified-token cache hits.");
    metrics::describe_counter!(CACHE_MISSES, "Verified-token cache misses.");
    metrics::describe_counter!(
        LIMITS_TRIPPED,
        "Times a resource limit was reached, by limit (docs/security.md)."
    );
    metrics::describe_counter!(
        LOG_LINES_DROPPED,
        "Log lines dropped because the log writer could not keep up."
    );
}

/// Counts one time a resource limit was reached.
pub fn limit_tripped(limit: &'static str) {
    metrics::counter!(LIMITS_TRIPPED, "limit" => limit).increment(1);
}

type DropCount = Box<dyn Fn() -> u64 + Send + Sync>;
static LOG_DROPS: OnceLock<DropCount> = OnceLock::new();

/// Follows the log writer's count of dropped lines (shown on `/metrics`).
pub fn watch_log_drops(dropped: impl Fn() -> u64 + Send + Sync + 'static) {
    let _ = LOG_DROPS.set(Box::new(dropped));
}

/// The Prometheus text, with the counters kept outside the registry brought up to date.
pub fn render(handle: &PrometheusHandle) -> String {
    if let Some(drops) = LOG_DROPS.get() {
        metrics::counter!(LOG_LINES_DROPPED).absolute(drops());
    }
    handle.render()
}

/// Counts one decision: `result` and `reason` labels, the matched route's name (shared
/// with the policy, not copied for the label), and the time it took.
pub fn decision(
    result: &'static str,
    reason: &'static str,
    route: Option<Arc<str>>,
    authorizer: Option<Arc<str>>,
    elapsed: Duration,
) {
    let label = |v: Option<Arc<str>>| v.map_or(metrics::SharedString::const_str(""), Into::into);
    metrics::counter!(DECISIONS,
        "result" => result,
        "reason" => reason,
        "route" => label(route),
        "authorizer" => label(authorizer),
    )
    .increment(1);
    match FIXED.get() {
        Some(fixed) => fixed.check_duration.record(elapsed.as_secs_f64()),
        None => metrics::histogram!(CHECK_DURATION).record(elapsed.as_secs_f64()),
    }
}

/// Counts one key set fetch.
pub fn key_fetch(pool: &str, result: &'static str) {
    metrics::counter!(KEY_FETCHES, "pool" => pool.to_owned(), "result" => result).increment(1);
}

/// Counts one policy load or reload.
pub fn policy_reload(result: &'static str) {
    metrics::counter!(POLICY_RELOADS, "result" => result).increment(1);
}

/// Counts one load of a policy folder's file (`success`: its new version taken,
/// `failure`: refused), and shows whether its newest version is refused.
pub fn policy_file(file: &str, result: &'static str) {
    metrics::counter!(POLICY_FILE_RELOADS, "file" => file.to_owned(), "result" => result)
        .increment(1);
    policy_file_refused(file, result == "failure");
}

/// Shows whether a policy folder file's newest version is refused (`false` once it is
/// taken or removed).
pub fn policy_file_refused(file: &str, refused: bool) {
    metrics::gauge!(POLICY_FILE_REFUSED, "file" => file.to_owned()).set(if refused {
        1.0
    } else {
        0.0
    });
}

/// Counts one revocation list load or reload.
pub fn revocation_reload(result: &'static str) {
    metrics::counter!(REVOCATION_RELOADS, "result" => result).increment(1);
}

/// Shows the size of the revocation list now in force, by kind (`jti`, `origin_jti`,
/// `sub`).
pub fn revocations_in_force(by_kind: [(&'static str, usize); 3]) {
    for (kind, n) in by_kind {
        metrics::gauge!(REVOCATIONS, "kind" => kind).set(n as f64);
    }
}

/// Counts one verified-token cache lookup.
pub fn token_cache(hit: bool) {
    if let Some(fixed) = FIXED.get() {
        if hit {
            fixed.cache_hits.increment(1);
        } else {
            fixed.cache_misses.increment(1);
        }
    } else if hit {
        metrics::counter!(CACHE_HITS).increment(1);
    } else {
        metrics::counter!(CACHE_MISSES).increment(1);
    }
}

// --- TLS on the gRPC port (src/tls/). One block, so it moves as one piece. ---

pub const TLS_RELOADS: &str = "cognito_ext_authz_tls_reloads_total";
pub const TLS_NOT_AFTER: &str = "cognito_ext_authz_tls_certificate_not_after_timestamp_seconds";
pub const TLS_HANDSHAKES: &str = "cognito_ext_authz_tls_handshakes_total";

static TLS_DESCRIBED: std::sync::Once = std::sync::Once::new();

/// Describes the TLS metrics once (after [`install`], which the first TLS load follows).
fn describe_tls() {
    TLS_DESCRIBED.call_once(|| {
        metrics::describe_counter!(
            TLS_RELOADS,
            "Loads of the gRPC port's certificate, key and client CA files, by result."
        );
        metrics::describe_gauge!(
            TLS_NOT_AFTER,
            metrics::Unit::Seconds,
            "notAfter of the certificate the gRPC port serves, in Unix seconds."
        );
        metrics::describe_counter!(
            TLS_HANDSHAKES,
            "TLS handshakes on the gRPC port, by result."
        );
    });
}

/// Counts one load of the TLS files (`success`, `failure`).
pub fn tls_reload(result: &'static str) {
    describe_tls();
    metrics::counter!(TLS_RELOADS, "result" => result).increment(1);
}

/// Shows the notAfter (Unix seconds) of the certificate now served.
pub fn tls_not_after(unix_seconds: i64) {
    describe_tls();
    metrics::gauge!(TLS_NOT_AFTER).set(unix_seconds as f64);
}

/// Counts one TLS handshake (`ok`, `timeout`, `not_tls`, `no_client_certificate`,
/// `bad_client_certificate`, `failed`).
pub fn tls_handshake(result: &'static str) {
    metrics::counter!(TLS_HANDSHAKES, "result" => result).increment(1);
}

// ---------------------------------------------------------------------------------------
// Trace export (src/observe/telemetry.rs)

pub const SPANS_DROPPED: &str = "cognito_ext_authz_spans_dropped_total";

/// Describes the trace export counters and shows them at zero (called when export starts).
pub fn describe_telemetry() {
    metrics::describe_counter!(
        SPANS_DROPPED,
        "Trace spans not exported, by reason: queue_full (the export queue was full), export_failed (the collector refused or did not answer)."
    );
    for reason in ["queue_full", "export_failed"] {
        metrics::counter!(SPANS_DROPPED, "reason" => reason).increment(0);
    }
}

/// Counts `n` spans that were not exported.
pub fn spans_dropped(reason: &'static str, n: u64) {
    metrics::counter!(SPANS_DROPPED, "reason" => reason).increment(n);
}
