//! The pure-Rust backend, for builds where aws-lc cannot go: the in-process WebAssembly
//! filter. SHA-256 is RustCrypto's `sha2`; the verified-token cache's key is a keyed
//! SipHash (`siphasher`); the RSA public operation is written here
//! (Montgomery multiplication on 32-bit limbs, whose 64-bit products WebAssembly has
//! natively), because a general big-integer library costs about ten times as much there
//! (docs/wasm.md). Only public values are involved, so nothing needs constant time.
//!
//! It accepts exactly what the aws-lc backend accepts (held to it by `agreement.rs`):
//! RSA keys of 2048 to 8192 bits with an odd modulus and an odd public exponent from 3 to
//! 2^33 - 1, and RSASSA-PKCS1-v1_5 signatures with SHA-256 (the DigestInfo with NULL
//! parameters) exactly as long as the modulus and smaller than it.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::{Backend, PublicKey, VerifyRs256};

/// The RustCrypto backend.
#[derive(Debug)]
pub struct RustCrypto;

/// The largest public exponent aws-lc (like BoringSSL and ring) verifies with.
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// DER `DigestInfo` for SHA-256 (RFC 8017, section 9.2, note 1), before the digest.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// An RSA public key, ready for Montgomery arithmetic.
struct Key {
    /// The modulus, least significant limb first.
    n: Vec<u32>,
    /// -n^-1 mod 2^32.
    n0_inv: u32,
    /// R^2 mod n, R = 2^(32 * limbs): takes a number into Montgomery form.
    r2: Vec<u32>,
    e: u64,
    /// The modulus length in bytes: a signature of any other length is refused.
    size: usize,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaPublicKey")
    }
}

impl Backend for RustCrypto {
    fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
        let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
        let bits = match n.first() {
            Some(top) => n.len() * 8 - top.leading_zeros() as usize,
            None => 0,
        };
        if !(2048..=8192).contains(&bits) {
            return Err(format!(
                "RSA modulus of {bits} bits (2048 to 8192 accepted)"
            ));
        }
        if n.last().is_some_and(|b| b % 2 == 0) {
            return Err("RSA modulus is even".into());
        }
        let e = &e[e.iter().position(|b| *b != 0).unwrap_or(e.len())..];
        let exponent =
            (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)));
        let Some(e) = exponent.filter(|e| (3..=MAX_EXPONENT).contains(e) && e % 2 == 1) else {
            return Err("RSA public exponent is not an odd number from 3 to 2^33 - 1".into());
        };
        let n_limbs = limbs(n, n.len().div_ceil(4));
        let r2 = r_squared(&n_limbs);
        Ok(Arc::new(Key {
            n0_inv: neg_inverse(n_limbs[0]),
            n: n_limbs,
            r2,
            e,
            size: n.len(),
        }) as PublicKey)
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    /// Keyed SipHash-2-4 with a 128-bit output and a secret key drawn once per process:
    /// a pseudo-random function, so without the key (never shown anywhere) another token
    /// with the same cache key is a blind 2^128 search. A third of SHA-256's cost in
    /// WebAssembly, which has no SHA instructions (docs/wasm.md). Without a source of
    /// randomness, the first 128 bits of SHA-256.
    fn token_key(token: &[u8]) -> [u8; 16] {
        use std::hash::Hasher as _;
        use std::sync::OnceLock;

        use siphasher::sip128::{Hasher128 as _, SipHasher24};

        static SECRET: OnceLock<Option<[u8; 16]>> = OnceLock::new();
        let secret = SECRET.get_or_init(|| {
            let mut key = [0u8; 16];
            getrandom::fill(&mut key).ok().map(|()| key)
        });
        match secret {
            Some(key) => {
                let mut hasher = SipHasher24::new_with_key(key);
                hasher.write(token);
                hasher.finish128().as_bytes()
            }
            None => {
                let mut out = [0u8; 16];
                out.copy_from_slice(&Self::sha256(token)[..16]);
                out
            }
        }
    }
}

impl VerifyRs256 for Key {
    fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.size {
            return false;
        }
        let s = limbs(signature, self.n.len());
        if compare(&s, &self.n) != Ordering::Less {
            return false;
        }
        let m = self.pow_e(&s);
        let mut expected = vec![0xff; self.size];
        let digest_at = self.size - 32;
        let info_at = digest_at - SHA256_DIGEST_INFO.len();
        expected[0] = 0x00;
        expected[1] = 0x01;
        expected[info_at - 1] = 0x00;
        expected[info_at..digest_at].copy_from_slice(&SHA256_DIGEST_INFO);
        expected[digest_at..].copy_from_slice(&Sha256::digest(message));
        big_endian(&m, self.size) == expected
    }
}

impl Key {
    /// s^e mod n.
    fn pow_e(&self, s: &[u32]) -> Vec<u32> {
        let base = self.mont_mul(s, &self.r2);
        let mut acc = base.clone();
        for bit in (0..63 - self.e.leading_zeros()).rev() {
            acc = self.mont_mul(&acc, &acc);
            if self.e >> bit & 1 == 1 {
                acc = self.mont_mul(&acc, &base);
            }
        }
        let mut one = vec![0; self.n.len()];
        one[0] = 1;
        self.mont_mul(&acc, &one)
    }

    /// a * b * R^-1 mod n (both below n), by coarsely integrated operand scanning.
    fn mont_mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let len = self.n.len();
        let mut t = vec![0u32; len + 2];
        for &ai in a {
            let mut carry = 0u64;
            for (tj, &bj) in t.iter_mut().zip(b) {
                let sum = u64::from(*tj) + u64::from(ai) * u64::from(bj) + carry;
                *tj = sum as u32;
                carry = sum >> 32;
            }
            let sum = u64::from(t[len]) + carry;
            t[len] = sum as u32;
            t[len + 1] = (sum >> 32) as u32;

            let m = t[0].wrapping_mul(self.n0_inv);
            let mut carry = (u64::from(t[0]) + u64::from(m) * u64::from(self.n[0])) >> 32;
            for j in 1..len {
                let sum = u64::from(t[j]) + u64::from(m) * u64::from(self.n[j]) + carry;
                t[j - 1] = sum as u32;
                carry = sum >> 32;
            }
            let sum = u64::from(t[len]) + carry;
            t[len - 1] = sum as u32;
            t[len] = t[len + 1] + (sum >> 32) as u32;
            t[len + 1] = 0;
        }
        // t < 2n: one subtraction at most.
        if t[len] != 0 || compare(&t[..len], &self.n) != Ordering::Less {
            subtract(&mut t[..=len], &self.n);
        }
        t.truncate(len);
        t
    }
}

/// `bytes` (big-endian) as `count` limbs, least significant first.
fn limbs(bytes: &[u8], count: usize) -> Vec<u32> {
    let mut out = vec![0u32; count];
    for (i, b) in bytes.iter().rev().enumerate() {
        if let Some(limb) = out.get_mut(i / 4) {
            *limb |= u32::from(*b) << (8 * (i % 4));
        }
    }
    out
}

/// `x` as `size` big-endian bytes (x < 2^(8 * size)).
fn big_endian(x: &[u32], size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    for (i, byte) in out.iter_mut().rev().enumerate() {
        *byte = x.get(i / 4).map_or(0, |limb| (limb >> (8 * (i % 4))) as u8);
    }
    out
}

/// Compares two numbers of the same number of limbs.
fn compare(a: &[u32], b: &[u32]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// a -= b (a has at least as many limbs as b, and a >= b).
fn subtract(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0i64;
    for (i, ai) in a.iter_mut().enumerate() {
        let diff = i64::from(*ai) - i64::from(b.get(i).copied().unwrap_or(0)) - borrow;
        *ai = diff as u32;
        borrow = i64::from(diff < 0);
    }
}

/// -n0^-1 mod 2^32 (n0 odd), by Newton's iteration.
fn neg_inverse(n0: u32) -> u32 {
    let mut x: u32 = 1;
    for _ in 0..5 {
        x = x.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(x)));
    }
    x.wrapping_neg()
}

/// R^2 mod n, by doubling 1 modulo n 2 * 32 * limbs times (once per key).
fn r_squared(n: &[u32]) -> Vec<u32> {
    let len = n.len();
    let mut x = vec![0u32; len + 1];
    x[0] = 1;
    for _ in 0..2 * 32 * len {
        let mut carry = 0;
        for limb in x.iter_mut() {
            let next = *limb >> 31;
            *limb = *limb << 1 | carry;
            carry = next;
        }
        if x[len] != 0 || compare(&x[..len], n) != Ordering::Less {
            subtract(&mut x, n);
        }
    }
    x.truncate(len);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limb_helpers() {
        assert_eq!(limbs(&[1, 2, 3, 4, 5], 2), [0x02030405, 0x01]);
        assert_eq!(big_endian(&[0x02030405, 0x01], 5), [1, 2, 3, 4, 5]);
        for n0 in [1u32, 3, 0xffff_ffff, 0x1234_5677] {
            assert_eq!(n0.wrapping_mul(neg_inverse(n0)), u32::MAX, "{n0:#x}");
        }
        // R^2 mod n for a one-limb n: 2^64 mod 1_000_003.
        assert_eq!(
            r_squared(&[1_000_003]),
            [(1u128 << 64).rem_euclid(1_000_003) as u32]
        );
    }

    #[test]
    fn token_keys_are_per_token_and_keyed() {
        let token = format!("eyJ.{}.sig", "a".repeat(900));
        let key = RustCrypto::token_key(token.as_bytes());
        assert_eq!(key, RustCrypto::token_key(token.as_bytes()));
        // Any one byte changed anywhere, or one more or fewer: another key.
        let mut seen = std::collections::HashSet::from([key]);
        for at in 0..token.len() {
            let mut other = token.clone().into_bytes();
            other[at] ^= 1;
            assert!(seen.insert(RustCrypto::token_key(&other)), "byte {at}");
        }
        assert!(seen.insert(RustCrypto::token_key(&token.as_bytes()[1..])));
        assert!(seen.insert(RustCrypto::token_key(format!("{token}a").as_bytes())));
        // Keyed (WASI and every host here have randomness): not the plain SHA-256 prefix,
        // and not SipHash under an all-zero key.
        assert_ne!(key[..], RustCrypto::sha256(token.as_bytes())[..16]);
        use siphasher::sip128::{Hasher128 as _, SipHasher24};
        use std::hash::Hasher as _;
        let mut unkeyed = SipHasher24::new_with_key(&[0; 16]);
        unkeyed.write(token.as_bytes());
        assert_ne!(key, unkeyed.finish128().as_bytes());
    }
}
