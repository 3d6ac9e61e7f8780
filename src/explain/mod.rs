//! `check`: decide one request offline with the real pipeline, and explain the decision.
//!
//! The decision is [`Pipeline::decide`]'s own, over the operator's policy and the pools'
//! real (or `--jwks`) key sets, so `check` can never disagree with `serve`. The explanation
//! is read off that decision, not recomputed: the token checks run in a fixed order (see
//! [`crate::token::verify`]), so the [`TokenError`] the pipeline returned says which check
//! failed, every check before it passed and every one after it was not reached. The only
//! thing decoded here is the token's (unverified) header and claims, for display; the raw
//! token and its signature are never printed. With `--revocations FILE` the token is also
//! looked up in that revocation list, as `serve` does, and a match is shown with its entry
//! and reason.
//!
//! [`offline`] sets up the policy and key sets; [`render`] writes the explanation.

mod offline;
pub(crate) mod render;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;

use crate::active::ActivePolicy;
use crate::credential;
use crate::decision::{Decision, DenyReason};
use crate::errors::FileErrors;
use crate::pipeline::{Pipeline, Request};
use crate::token::TokenError;
use crate::token::verify::TokenCheck;
use offline::KeySets;

/// Why `check` could not decide (exit 2): never a decision.
#[derive(Debug, Error)]
pub enum CheckError {
    /// The policy does not load.
    #[error("{0}")]
    Policy(FileErrors),
    /// A file or the token could not be read, or keys could not be had.
    #[error("{0}")]
    Input(String),
}

/// Where the token comes from.
#[derive(Debug, Clone)]
pub enum TokenInput {
    /// No token header at all.
    None,
    /// The header value as given (`eyJ...` or `Bearer eyJ...`).
    Value(String),
    /// A file holding it (`-`: standard input); surrounding whitespace is ignored.
    File(PathBuf),
}

/// What `check` is asked.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub policy: PathBuf,
    pub method: String,
    pub path: String,
    pub host: String,
    pub token: TokenInput,
    /// A JWKS file used as every pool's key set; `None` fetches each pool's keys once.
    pub jwks: Option<PathBuf>,
    /// A revocation list to look the token up in; `None`: no list.
    pub revocations: Option<PathBuf>,
}

/// The outcome of one token check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStatus {
    Pass,
    Fail(String),
    NotReached,
}

/// The outcome of every token check, from how the pipeline's verification ended:
/// `None` not verified at all, `Some(Ok)` verified, `Some(Err(e))` refused with `e`.
pub fn token_checks(outcome: Option<Result<(), &TokenError>>) -> Vec<(TokenCheck, CheckStatus)> {
    let failed = match outcome {
        None => None,
        Some(Ok(())) => Some(None),
        Some(Err(e)) => Some(Some((e.check(), e.to_string()))),
    };
    let mut reached = failed.is_some();
    TokenCheck::ALL
        .iter()
        .map(|&check| {
            let status = match &failed {
                Some(Some((at, why))) if *at == check => {
                    reached = false;
                    CheckStatus::Fail(why.clone())
                }
                _ if reached => CheckStatus::Pass,
                _ => CheckStatus::NotReached,
            };
            (check, status)
        })
        .collect()
}

/// The explained decision.
#[derive(Debug)]
pub struct Explanation {
    pub decision: Decision,
    text: String,
}

impl Explanation {
    /// Whether the request goes upstream (exit 0: allowed, or a dry run's would-deny) or
    /// is refused (exit 1).
    pub fn allowed(&self) -> bool {
        self.decision.lets_through()
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Loads the policy and key sets, decides the request and explains it. An error is a
/// usage or input problem (exit 2), never a decision.
pub async fn check(options: &CheckOptions) -> Result<Explanation, CheckError> {
    let policy = crate::files::load_policy(&options.policy).map_err(CheckError::Policy)?;
    let revocations = match &options.revocations {
        Some(path) => Some(crate::files::load_revocations(path).map_err(CheckError::Policy)?),
        None => None,
    };
    let header_value = match &options.token {
        TokenInput::None => None,
        TokenInput::Value(v) => Some(v.clone()),
        TokenInput::File(path) => Some(offline::read_token_file(path)?),
    };
    let KeySets {
        keys,
        mut notes,
        failed: failed_pools,
    } = offline::key_sets(&policy, options.jwks.as_deref()).await?;
    let mut headers = std::collections::HashMap::new();
    if let Some(v) = &header_value {
        // The value goes into every authorizer's token header: the matched route reads its own.
        for authorizer in &policy.authorizers {
            headers.insert(authorizer.token_header.clone(), v.clone());
        }
    }
    let request = Request::new(
        options.method.clone(),
        options.host.clone(),
        options.path.clone(),
        headers.into_iter().collect(),
    );
    let pipeline = Pipeline::new(
        ActivePolicy {
            policy,
            keys,
            generation: 1,
        },
        0,
    );
    match (&options.revocations, revocations) {
        (Some(path), Some(list)) => {
            notes.push(format!(
                "revocations: {} ({})",
                path.display(),
                list.summary()
            ));
            pipeline.replace_revocations(Arc::new(list));
        }
        _ => notes.push("revocations: none (--revocations FILE to look the token up)".to_owned()),
    }
    let decision = pipeline.decide(&request).await;
    let active = pipeline.active();

    if let Decision::Deny {
        reason: DenyReason::InvalidToken(TokenError::UnknownKey),
        ..
    } = &decision
    {
        let header = &active.policy.authorizers[0].token_header;
        let token = credential::bearer_token(request.headers(), header).ok();
        let pool = token
            .and_then(|t| render::decode_part(t, 1))
            .and_then(|c| c.get("iss").and_then(Value::as_str).map(str::to_owned))
            .and_then(|iss| active.policy.pool_for_issuer(&iss));
        if let Some((_, e)) = failed_pools.iter().find(|(i, _)| Some(*i) == pool) {
            return Err(CheckError::Input(format!(
                "cannot decide: the key set of the token's pool could not be fetched ({e}); pass --jwks FILE to check offline"
            )));
        }
    }

    let text = render::render(&active.policy, &request, &decision, &notes);
    Ok(Explanation { decision, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_marks_earlier_checks_passed_and_later_ones_not_reached() {
        let checks = token_checks(Some(Err(&TokenError::BadSignature)));
        let at = checks
            .iter()
            .position(|(c, _)| *c == TokenCheck::Signature)
            .unwrap();
        assert!(checks[..at].iter().all(|(_, s)| *s == CheckStatus::Pass));
        assert!(matches!(checks[at].1, CheckStatus::Fail(_)));
        assert!(
            checks[at + 1..]
                .iter()
                .all(|(_, s)| *s == CheckStatus::NotReached)
        );
        assert!(
            token_checks(Some(Ok(())))
                .iter()
                .all(|(_, s)| *s == CheckStatus::Pass)
        );
        assert!(
            token_checks(None)
                .iter()
                .all(|(_, s)| *s == CheckStatus::NotReached)
        );
    }
}
