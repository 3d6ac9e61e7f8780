//! Cognito access tokens: key sets ([`keys`]), verification ([`verify`]) and the cache of
//! verified tokens ([`cache`]).

pub mod cache;
pub mod keys;
pub mod verify;

pub use verify::{AccessToken, TokenError, Verifier};
