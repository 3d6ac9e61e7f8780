//! The decision core of cognito-ext-authz: everything that decides a request the way an
//! AWS API Gateway Cognito User Pools authorizer would, and nothing that does I/O.
//!
//! One request flows one way through named stages ([`pipeline`]): the path and host are
//! made safe to match ([`path`], [`host`]), the route is chosen ([`policy`]), the credential
//! is read from the configured header ([`credential`]), the Cognito token is verified
//! ([`token`]) and checked against the revocation list ([`revocation`]), the route's scopes
//! and groups are checked, and a [`Decision`] comes out; [`answer`] turns it into what the
//! proxy should do, in API Gateway's words. Key sets come from a [`KeySource`] the caller
//! provides (the service fetches them over HTTPS).
//!
//! # The public interface
//!
//! What callers use is re-exported here:
//!
//! - [`Pipeline`] decides a [`Request`] against the policy in force ([`ActivePolicy`]: a
//!   compiled [`Policy`] and its pools' [`PoolKeys`]) and the [`RevocationList`] in force;
//! - [`Decision`] says what was decided and why ([`AllowReason`], [`DenyReason`]), a
//!   denial with the [`DenialResponse`] the client gets; [`Answer`] is what the proxy does
//!   with the request ([`MetaValue`]s for its access logs);
//! - [`Policy::parse`] and [`RevocationList::parse`] read the two files an operator writes;
//!   [`FileErrors`] lists everything wrong with either, each problem [`Located`];
//! - a [`KeySource`] (implemented by the caller) fetches key sets ([`KeyMap`], or a
//!   [`KeyError`]); a [`KeyStore`] keeps each pool's [`PoolKeys`] across reloads;
//! - [`Verifier`] turns a token into a [`VerifiedToken`] or a [`TokenError`], verifying
//!   signatures through [`crypto`]'s backend (aws-lc-rs by default, behind a trait so that
//!   another can serve it);
//! - [`Headers`] are the request's headers, as the proxy sent them;
//! - [`trace_context::Correlation`] ties a check to its request's trace and id.
//!
//! The modules stay public for the tools that need more (`import` writes the policy's
//! [`policy::model`] and checks it with [`policy::rules`]; `check` explains a decision
//! with [`policy::table`] and [`token::verify::TokenCheck`]); what nothing outside the
//! core uses is private to it.
//!
//! Layout: `path`, `host` and `credential` are leaves; `policy` compiles the policy file;
//! `token` and `revocation` read tokens and lists; `decision` and `answer` say what was
//! decided and what to answer; `active` and `pipeline` put them together;
//! `trace_context` reads the request's `traceparent` and `x-request-id` for the logs.

#![deny(missing_docs, unreachable_pub)]

pub mod active;
pub mod answer;
pub mod credential;
pub mod crypto;
pub mod decision;
pub mod errors;
pub mod host;
pub mod nesting;
pub mod path;
pub mod pipeline;
pub mod policy;
pub mod policy_tests;
pub mod request;
pub mod revocation;
pub mod token;
pub mod trace_context;

pub use active::ActivePolicy;
pub use answer::{Answer, MetaValue};
pub use decision::{AllowReason, Decision, DenialResponse, DenyReason};
pub use errors::{FileErrors, Located};
pub use pipeline::Pipeline;
pub use policy::Policy;
pub use request::{Headers, Request};
pub use revocation::RevocationList;
pub use token::keys::{KeyError, KeyMap, KeySource, KeyStore, PoolKeys};
pub use token::{TokenError, VerifiedToken, Verifier};

/// The `tracing` target of the spans the service exports as OpenTelemetry traces.
pub const SPAN_TARGET: &str = "cognito_ext_authz::trace";
