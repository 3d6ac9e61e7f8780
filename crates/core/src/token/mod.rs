//! Cognito access tokens: the verified token ([`access`]), key sets ([`keys`]),
//! verification ([`verify`]) and the cache of verified tokens (`cache`, private to it).

pub mod access;
pub(crate) mod cache;
pub mod keys;
pub mod verify;

pub use access::VerifiedToken;
pub use verify::{TokenError, Trust, Verifier};
