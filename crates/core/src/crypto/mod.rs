//! The core's cryptography, behind one small trait so that another backend can serve it:
//! RS256 verification with an RSA public key parsed once per key set, SHA-256, and the
//! verified-token cache's key. The backend is chosen at build time; the service's is aws-lc-rs
//! (feature `aws-lc`, the default), the one reqwest and rustls already use; the
//! WebAssembly filter's is RustCrypto's `rsa` and `sha2` (feature `rust-crypto`), held to
//! the same answers by the tests in `agreement.rs`.

use std::fmt;
use std::sync::Arc;

/// What the core asks of a cryptography backend.
pub trait Backend {
    /// An RSA public key from its big-endian modulus `n` and exponent `e` (the JWK's
    /// decoded `n` and `e`), ready for RS256 (2048 to 8192 bits); why not, when it cannot
    /// be used.
    fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String>;

    /// SHA-256 of `data`.
    fn sha256(data: &[u8]) -> [u8; 32];

    /// The verified-token cache's key for `token`: 128 bits that no other token can be
    /// made to share (finding one is a 2^128 search), so that a cached verification is
    /// only ever reused for the very token it was made for.
    fn token_key(token: &[u8]) -> [u8; 16];
}

/// A public key that verifies RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256).
pub trait VerifyRs256: Send + Sync + fmt::Debug {
    /// Whether `signature` is this key's RS256 signature of `message`.
    fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool;
}

/// A parsed public key, shared by the key set and the verified-token cache (the cache
/// compares keys by identity).
pub type PublicKey = Arc<dyn VerifyRs256>;

#[cfg(feature = "aws-lc")]
pub mod aws_lc;
#[cfg(feature = "rust-crypto")]
pub mod rust_crypto;

// aws-lc when it is there (the service's), RustCrypto otherwise (the WebAssembly filter's);
// a build with both (the tests that hold them to each other) serves with aws-lc.
#[cfg(feature = "aws-lc")]
pub use aws_lc::AwsLc as Compiled;
#[cfg(all(feature = "rust-crypto", not(feature = "aws-lc")))]
pub use rust_crypto::RustCrypto as Compiled;

#[cfg(not(any(feature = "aws-lc", feature = "rust-crypto")))]
compile_error!(
    "cognito-ext-authz-core needs a cryptography backend: enable `aws-lc` (the default) or `rust-crypto`"
);

#[cfg(all(test, feature = "aws-lc", feature = "rust-crypto"))]
mod agreement;

/// An RSA public key, through the compiled-in backend.
pub fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
    Compiled::rsa_public_key(n, e)
}

/// The verified-token cache's key for `token`, through the compiled-in backend.
pub fn token_key(token: &[u8]) -> [u8; 16] {
    Compiled::token_key(token)
}

/// SHA-256, through the compiled-in backend.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Compiled::sha256(data)
}
