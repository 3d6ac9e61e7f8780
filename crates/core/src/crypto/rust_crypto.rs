//! The pure-Rust backend (RustCrypto's `rsa` and `sha2`), for builds where aws-lc cannot
//! go: the in-process WebAssembly filter. It accepts exactly what the aws-lc backend
//! accepts: RSA keys of 2048 to 8192 bits with an odd public exponent from 3 to 2^33 - 1,
//! and RSASSA-PKCS1-v1_5 signatures with SHA-256 exactly as long as the modulus.

use std::fmt;
use std::sync::Arc;

use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest as _, Sha256};

use super::{Backend, PublicKey, VerifyRs256};

/// The RustCrypto backend.
#[derive(Debug)]
pub struct RustCrypto;

/// The largest public exponent aws-lc (like BoringSSL and ring) verifies with.
const MAX_EXPONENT: u64 = (1 << 33) - 1;

struct Key {
    key: VerifyingKey<Sha256>,
    /// The modulus length in bytes: a signature of any other length is refused, as aws-lc
    /// refuses it.
    size: usize,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaPublicKey")
    }
}

impl VerifyRs256 for Key {
    fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.size {
            return false;
        }
        let Ok(signature) = Signature::try_from(signature) else {
            return false;
        };
        self.key.verify(message, &signature).is_ok()
    }
}

impl Backend for RustCrypto {
    fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
        let n = BigUint::from_bytes_be(n);
        let bits = n.bits();
        if !(2048..=8192).contains(&bits) {
            return Err(format!(
                "RSA modulus of {bits} bits (2048 to 8192 accepted)"
            ));
        }
        let significant = &e[e.iter().position(|b| *b != 0).unwrap_or(e.len())..];
        let exponent = (significant.len() <= 8).then(|| {
            significant
                .iter()
                .fold(0u64, |acc, b| acc << 8 | u64::from(*b))
        });
        if !exponent.is_some_and(|e| (3..=MAX_EXPONENT).contains(&e) && e % 2 == 1) {
            return Err("RSA public exponent is not an odd number from 3 to 2^33 - 1".into());
        }
        let e = BigUint::from_bytes_be(significant);
        let key = RsaPublicKey::new_with_max_size(n, e, 8192).map_err(|e| e.to_string())?;
        let size = key.size();
        Ok(Arc::new(Key {
            key: VerifyingKey::new(key),
            size,
        }) as PublicKey)
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }
}
