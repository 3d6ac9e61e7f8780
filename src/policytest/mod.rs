//! `test`: run a policy's test cases offline with the real pipeline (docs/policy.md).
//!
//! Each case is a request, a token described by a kind and claims, and what must come
//! out. The tokens are real RS256 tokens signed with keys made for the run ([`mint`]),
//! which stand in for every pool's key set, so each case goes through exactly what `serve`
//! does: [`Pipeline::decide`] and [`Answer::new`]. A failing case carries `check`'s
//! explanation of the decision ([`crate::explain`]), so the reader sees which step said no.
//! [`junit`] writes the results for CI.
//!
//! Revocation: the run's revocation list is the operator's (`--revocations FILE`, when
//! given) plus one entry made for the run, the `jti` every `revoked` token carries
//! ([`mint::REVOKED_JTI`]). So `kind: revoked` shows how the policy answers a revoked token,
//! and tokens described by their claims (`sub`, `iat`, `jti`, `origin_jti`) show what the
//! operator's list revokes.

pub mod junit;
mod mint;
pub use cognito_ext_authz_core::policy_tests as model;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use thiserror::Error;

use crate::active::ActivePolicy;
use crate::answer::Answer;
use crate::decision::Decision;
use crate::errors::FileErrors;
use crate::pipeline::{Pipeline, Request};
use crate::policy::Policy;
use crate::policy::model::TokenUse;
use crate::revocation::RevocationList;
use crate::revocation::model::EntryFile;
use crate::token::keys::PoolKeys;
pub use mint::{DEFAULT_CLIENT, DEFAULT_SCOPE, DEFAULT_SUB, DEFAULT_USERNAME, REVOKED_JTI};
pub use model::{Expect, TestCase, TestFile, TestRequest, TokenKind, TokenSpec};

/// Largest tests file read.
pub const MAX_TESTS_BYTES: usize = 4 * 1024 * 1024;

/// Why the tests could not run at all (exit 2).
#[derive(Debug, Error)]
pub enum TestError {
    #[error("{0}")]
    Policy(FileErrors),
    #[error("{0}")]
    Input(String),
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// What differed from the expectation, one line each, and the explanation.
    Fail {
        mismatches: Vec<String>,
        explanation: String,
    },
    /// The case could not be run as written (an unknown pool, claims a kind cannot take).
    Error(String),
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub outcome: Outcome,
    /// What the policy answered, whatever was expected; `None` when the case could not
    /// run.
    pub answer: Option<Observed>,
    pub duration: Duration,
}

/// What the policy answered one case (`test --answers`): the status, the decision's
/// reason label, the matched route and the denial's body. Comparing these between two
/// policies over one request set shows where they decide differently.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Observed {
    pub name: String,
    pub status: u16,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// Every case's result, in file order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub results: Vec<CaseResult>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .count()
    }

    /// Failed cases, errors included.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// The test-runner output: one line a case, a failure's details indented under it,
    /// `N passed, M failed` last.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            match &r.outcome {
                Outcome::Pass => {
                    let _ = writeln!(out, "ok    {}", r.name);
                }
                Outcome::Fail {
                    mismatches,
                    explanation,
                } => {
                    let _ = writeln!(out, "FAIL  {}", r.name);
                    for m in mismatches {
                        let _ = writeln!(out, "      {m}");
                    }
                    for line in explanation.lines() {
                        let _ = writeln!(out, "      | {line}");
                    }
                }
                Outcome::Error(e) => {
                    let _ = writeln!(out, "ERROR {}", r.name);
                    let _ = writeln!(out, "      {e}");
                }
            }
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

/// Reads a tests file: a regular file, at most [`MAX_TESTS_BYTES`] read, nested at most
/// [`crate::files::MAX_NESTING`] levels.
pub fn load_tests(path: &Path) -> Result<TestFile, TestError> {
    let text = crate::files::read_text(path, MAX_TESTS_BYTES)
        .map_err(|e| TestError::Input(format!("{}: cannot read: {e}", path.display())))?;
    let options = serde_saphyr::Options {
        budget: Some(serde_saphyr::Budget {
            max_depth: crate::files::MAX_NESTING,
            ..serde_saphyr::Budget::default()
        }),
        ..serde_saphyr::Options::default()
    };
    serde_saphyr::from_str_with_options(&text, options)
        .map_err(|e| TestError::Input(format!("{}: {e}", path.display())))
}

/// Runs the cases of `tests_path` against the policy at `policy_path`, with the revocation
/// list at `revocations_path` when given.
pub async fn run_files(
    policy_path: &Path,
    tests_path: &Path,
    revocations_path: Option<&Path>,
) -> Result<Report, TestError> {
    let policy = crate::files::load_policy(policy_path).map_err(TestError::Policy)?;
    let revocations = match revocations_path {
        Some(path) => {
            let text = crate::files::read_revocations_text(path).map_err(TestError::Policy)?;
            let file = crate::revocation::parse_file(&text)
                .map_err(|e| TestError::Policy(e.in_file(path)))?;
            // Checked on its own first, so its errors point into the operator's file.
            RevocationList::compile(&file.revocations)
                .map_err(|e| TestError::Policy(e.in_file(path)))?;
            file.revocations
        }
        None => Vec::new(),
    };
    let tests = load_tests(tests_path)?;
    run(policy, &tests, &revocations).await
}

/// Runs `tests` against `policy`, with `revocations` (and the entry revoking `revoked`
/// tokens) as the revocation list.
pub async fn run(
    policy: Policy,
    tests: &TestFile,
    revocations: &[EntryFile],
) -> Result<Report, TestError> {
    if policy.pools.is_empty() {
        return Err(TestError::Input("the policy has no user pools".to_owned()));
    }
    let keys = mint::Keys::generate().map_err(TestError::Input)?;
    let map = keys.key_map().map_err(TestError::Input)?;
    let pool_keys = policy
        .pools
        .iter()
        .map(|p| Arc::new(PoolKeys::fixed(&p.id, map.clone())))
        .collect();
    // No token cache: every case is verified from scratch.
    let pipeline = Pipeline::new(
        ActivePolicy {
            policy,
            keys: pool_keys,
            generation: 1,
        },
        0,
    );
    let mut entries = revocations.to_vec();
    entries.push(EntryFile {
        jti: Some(REVOKED_JTI.to_owned()),
        reason: Some("made for this test run: every `kind: revoked` token carries it".to_owned()),
        ..EntryFile::default()
    });
    let list = RevocationList::compile(&entries).map_err(TestError::Policy)?;
    pipeline.replace_revocations(Arc::new(list));
    let mut report = Report::default();
    for case in &tests.tests {
        let started = Instant::now();
        let name = case_name(case);
        let (outcome, answer) = match request_for(case, &pipeline.active().policy, &keys) {
            Ok(request) => {
                let (outcome, answer) = judge(case, &pipeline, &request).await;
                (
                    outcome,
                    Some(Observed {
                        name: name.clone(),
                        ..answer
                    }),
                )
            }
            Err(e) => (Outcome::Error(e), None),
        };
        report.results.push(CaseResult {
            name,
            outcome,
            answer,
            duration: started.elapsed(),
        });
    }
    Ok(report)
}

/// The case's name, or one made from its request and token.
pub fn case_name(case: &TestCase) -> String {
    if let Some(n) = &case.name {
        return n.clone();
    }
    let token = match &case.token {
        None => "no token".to_owned(),
        Some(t) if t.kind == Some(TokenKind::None) => "no token".to_owned(),
        Some(t) => {
            let kind = t.kind.unwrap_or(TokenKind::Valid).name();
            if t.claims.is_empty() {
                format!("{kind} token")
            } else {
                let claims: Vec<String> = t
                    .claims
                    .iter()
                    .map(|(k, v)| {
                        format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned))
                    })
                    .collect();
                format!("{kind} token, {}", claims.join(", "))
            }
        }
    };
    let host = if case.request.host.is_empty() {
        String::new()
    } else {
        format!(" host {}", case.request.host)
    };
    format!(
        "{} {}{host} ({token}) -> {}",
        case.request.method, case.request.path, case.expect.status
    )
}

/// The pipeline's request for a case, its token minted.
fn request_for(case: &TestCase, policy: &Policy, keys: &mint::Keys) -> Result<Request, String> {
    let mut headers: HashMap<String, String> = case
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    if let Some(spec) = &case.token {
        let kind = spec.kind.unwrap_or(TokenKind::Valid);
        if kind == TokenKind::Revoked && spec.claims.contains_key("jti") {
            return Err(format!(
                "token kind `revoked` sets `jti` itself ({REVOKED_JTI}, on the run's revocation list): leave `jti` out of its claims"
            ));
        }
        if kind == TokenKind::None {
            if !spec.claims.is_empty() || spec.pool.is_some() {
                return Err("token kind `none` takes no `claims` or `pool`".to_owned());
            }
        } else {
            // The token goes where the matched route's authorizer reads it, of the kind the
            // route takes, from that authorizer's first pool unless the case names one.
            let route = crate::path::segments(&case.request.path)
                .ok()
                .and_then(|segments| {
                    let host = crate::host::normalize(case.request.host.as_bytes()).ok()?;
                    let method = case.request.method.trim().to_ascii_uppercase();
                    policy.routes.find(&segments, &method, &host)
                });
            let authorizer = route.map_or(&policy.authorizers[0], |r| {
                &policy.authorizers[r.authorizer]
            });
            let token_use = route.map_or(TokenUse::Access, |r| r.token_use);
            let header = authorizer.token_header.clone();
            if headers.contains_key(&header) {
                return Err(format!(
                    "the request sets the token header `{header}` and the case describes a token: keep one"
                ));
            }
            // A pool of the policy the route's authorizer does not trust issues a token the
            // route must refuse; its app clients are those another authorizer gives it.
            let (pool, app_clients) = match &spec.pool {
                None => authorizer
                    .pools
                    .first()
                    .map(|t| (t.pool, t.app_clients.as_ref())),
                Some(id) => policy.pools.iter().position(|p| &p.id == id).map(|pool| {
                    let trusted = authorizer
                        .trusts(pool)
                        .or_else(|| policy.authorizers.iter().find_map(|a| a.trusts(pool)));
                    (pool, trusted.and_then(|t| t.app_clients.as_ref()))
                }),
            }
            .ok_or_else(|| {
                format!(
                    "token pool `{}` is not one of the policy's user pools",
                    spec.pool.as_deref().unwrap_or("")
                )
            })?;
            let pool = &policy.pools[pool];
            let issuers: Vec<&str> = policy.pools.iter().map(|p| p.issuer.as_str()).collect();
            let claims = mint::claims(kind, token_use, pool, app_clients, &issuers, &spec.claims);
            let jwt = keys.sign(&claims, kind != TokenKind::BadSignature)?;
            headers.insert(header, format!("Bearer {jwt}"));
        }
    }
    Ok(Request::new(
        case.request.method.clone(),
        case.request.host.clone(),
        case.request.path.clone(),
        headers.into_iter().collect(),
    ))
}

/// Decides the case's request and compares the answer with the expectation; also returns
/// the answer itself (its `name` left for the caller).
async fn judge(case: &TestCase, pipeline: &Pipeline, request: &Request) -> (Outcome, Observed) {
    let decision = pipeline.decide(request).await;
    let answer = Answer::new(&decision, request.headers());
    let observed = Observed {
        name: String::new(),
        status: match &answer {
            Answer::Upstream { .. } => 200,
            Answer::Respond { status, .. } => *status,
        },
        reason: decision.reason().to_owned(),
        route: decision.route().map(str::to_owned),
        body: match &answer {
            Answer::Upstream { .. } => None,
            Answer::Respond { body, .. } => Some(body.to_string()),
        },
    };
    let mismatches = compare(&case.expect, &decision, &answer);
    if mismatches.is_empty() {
        return (Outcome::Pass, observed);
    }
    let notes =
        ["keys: generated for this test run, standing in for every pool's key set".to_owned()];
    let explanation =
        crate::explain::render::render(&pipeline.active().policy, request, &decision, &notes);
    (
        Outcome::Fail {
            mismatches,
            explanation,
        },
        observed,
    )
}

/// Every way the answer differs from `expect`.
fn compare(expect: &Expect, decision: &Decision, answer: &Answer) -> Vec<String> {
    let mut out = Vec::new();
    let (status, headers, body): (u16, Vec<(String, String)>, Option<&str>) = match answer {
        Answer::Upstream { set, .. } => (
            200,
            set.iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            None,
        ),
        Answer::Respond {
            status,
            headers,
            body,
            ..
        } => (*status, headers.clone(), Some(&**body)),
    };
    if status != expect.status {
        out.push(format!(
            "status: expected {}, got {status} ({})",
            expect.status,
            decision.reason()
        ));
    }
    if let Some(route) = &expect.route
        && decision.route() != Some(route.as_str())
    {
        out.push(format!(
            "route: expected {route:?}, got {}",
            decision
                .route()
                .map_or("no route".to_owned(), |r| format!("{r:?}"))
        ));
    }
    if let Some(reason) = &expect.reason
        && decision.reason() != reason
    {
        out.push(format!(
            "reason: expected {reason}, got {}",
            decision.reason()
        ));
    }
    for (name, want) in &expect.headers {
        let name = name.to_ascii_lowercase();
        let got = headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v);
        match (want, got) {
            (Some(w), Some(g)) if w == g => {}
            (None, None) => {}
            (Some(w), Some(g)) => out.push(format!("header {name}: expected {w:?}, got {g:?}")),
            (Some(w), None) => out.push(format!("header {name}: expected {w:?}, not set")),
            (None, Some(g)) => out.push(format!("header {name}: expected absent, got {g:?}")),
        }
    }
    if let Some(want) = &expect.body {
        match body {
            None => out.push(format!(
                "body: expected {want:?}, but the request was allowed (no body of ours)"
            )),
            Some(got) if same_body(want, got) => {}
            Some(got) => out.push(format!("body: expected {want:?}, got {got:?}")),
        }
    }
    out
}

/// Equal text, or equal JSON values.
fn same_body(want: &str, got: &str) -> bool {
    want == got
        || matches!(
            (serde_json::from_str::<Value>(want), serde_json::from_str::<Value>(got)),
            (Ok(a), Ok(b)) if a == b
        )
}

#[cfg(test)]
mod tests;
