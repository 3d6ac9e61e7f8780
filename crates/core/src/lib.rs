//! The decision core of cognito-ext-authz: everything that decides a request the way an
//! AWS API Gateway Cognito User Pools authorizer would, and nothing that does I/O.
//!
//! One request flows one way through named stages ([`pipeline`]): the path and host are
//! made safe to match ([`path`], [`host`]), the route is chosen ([`policy`]), the credential
//! is read from the configured header ([`credential`]), the Cognito token is verified
//! ([`token`]) and checked against the revocation list ([`revocation`]), the route's scopes
//! and groups are checked, and a [`decision::Decision`] comes out; [`answer`] turns it into
//! what the proxy should do, in API Gateway's words. Key sets come from a
//! [`token::keys::KeySource`] the caller provides (the service fetches them over HTTPS).
//!
//! Layout: `path`, `host` and `credential` are leaves; `policy` compiles the policy file;
//! `token` and `revocation` read tokens and lists; `decision` and `answer` say what was
//! decided and what to answer; `active` and `pipeline` put them together.

#![warn(missing_docs)]
#![deny(unreachable_pub)]

pub mod active;
pub mod answer;
pub mod credential;
pub mod decision;
pub mod host;
pub mod path;
pub mod pipeline;
pub mod policy;
pub mod revocation;
pub mod token;

/// The `tracing` target of the spans the service exports as OpenTelemetry traces.
pub const SPAN_TARGET: &str = "cognito_ext_authz::trace";
