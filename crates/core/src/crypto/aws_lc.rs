//! The aws-lc-rs backend: each key parsed once into aws-lc's RS256 verifier (PKCS#1 v1.5
//! with SHA-256, 2048 to 8192 bits), so a check does only the RSA public operation.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

use super::{Backend, PublicKey, VerifyRs256};

/// The aws-lc-rs backend.
#[derive(Debug)]
pub struct AwsLc;

struct Key(ParsedPublicKey);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaPublicKey")
    }
}

impl VerifyRs256 for Key {
    fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

impl Backend for AwsLc {
    fn rsa_public_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key_der(n, e))
            .map(|key| Arc::new(Key(key)) as PublicKey)
            .map_err(|e| e.to_string())
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    /// The first 128 bits of the token's SHA-256 (hardware-accelerated here): another
    /// token with the same key is a second preimage, a 2^128 search.
    fn token_key(token: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        out.copy_from_slice(&Self::sha256(token)[..16]);
        out
    }
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017).
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = der_unsigned_integer(n);
    body.extend(der_unsigned_integer(e));
    let mut out = vec![0x30];
    der_length(&mut out, body.len());
    out.extend(body);
    out
}

fn der_unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let mut value = bytes[start..].to_vec();
    if value.first().is_none_or(|b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    let mut out = vec![0x02];
    der_length(&mut out, value.len());
    out.extend(value);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_rsa_public_keys_in_der() {
        assert_eq!(
            rsa_public_key_der(&[0x00, 0x81], &[0x01, 0x00, 0x01]),
            [
                0x30, 0x09, 0x02, 0x02, 0x00, 0x81, 0x02, 0x03, 0x01, 0x00, 0x01
            ]
        );
        let der = rsa_public_key_der(&[0x7f; 256], &[3]);
        assert_eq!(&der[..8], [0x30, 0x82, 0x01, 0x07, 0x02, 0x82, 0x01, 0x00]);
        assert_eq!(der.len(), 4 + 4 + 256 + 3);
        // From 128 on, a length takes the long form: 0x80 | how many bytes follow.
        for (len, want) in [
            (0x7f, &[0x7f][..]),
            (0x80, &[0x81, 0x80]),
            (0x100, &[0x82, 0x01, 0x00]),
        ] {
            let mut out = Vec::new();
            der_length(&mut out, len);
            assert_eq!(out, want, "{len}");
        }
    }

    #[test]
    fn sha256_is_sha256() {
        assert_eq!(
            AwsLc::sha256(b"abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "FIPS 180-2's first example"
        );
    }
}
