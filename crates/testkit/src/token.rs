//! Cognito-shaped signing keys and access tokens: RSA-2048 keys published as JWKs, the
//! claims of a user access token from the OAuth endpoints, RS256 minting.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// The user pool of the tests.
pub const POOL: &str = "ap-south-1_abcdefghi";
/// Its app client.
pub const CLIENT: &str = "4example23456789abc";
/// A custom scope the test policies require.
pub const SCOPE: &str = "user_management_lambdas/api";

/// The `iss` Cognito puts in a pool's tokens.
pub fn issuer(pool: &str) -> String {
    let region = pool.split('_').next().unwrap();
    format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An RSA-2048 key pair, as Cognito uses.
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    /// The public key as a JWK (`alg` RS256, `use` sig).
    pub jwk: Value,
    pub public_pem: String,
    /// The private key, PKCS#1 DER: written to disk to mint more tokens later.
    pub pkcs1_der: Vec<u8>,
}

impl SigningKey {
    /// A fresh key (generation takes a moment: tests share [`key`]).
    pub fn generate(kid: &str) -> SigningKey {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        Self::from_private(kid, private)
    }

    /// A key saved earlier from [`SigningKey::pkcs1_der`].
    pub fn from_pkcs1_der(kid: &str, der: &[u8]) -> SigningKey {
        Self::from_private(kid, rsa::RsaPrivateKey::from_pkcs1_der(der).unwrap())
    }

    fn from_private(kid: &str, private: rsa::RsaPrivateKey) -> SigningKey {
        let public = private.to_public_key();
        let der = private.to_pkcs1_der().unwrap().as_bytes().to_vec();
        SigningKey {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_der(&der),
            jwk: json!({
                "alg": "RS256",
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                "kid": kid,
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "use": "sig",
            }),
            public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
            pkcs1_der: der,
        }
    }

    /// The JWKS document of a pool whose only key is this one.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk] }).to_string()
    }

    /// Signs `claims` with RS256 and this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// Signs with RS256 under an arbitrary header (extra or hostile header fields).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let signed = format!("{}.{}", b64_json(header), b64_json(claims));
        let sig = jsonwebtoken::crypto::sign(signed.as_bytes(), &self.encoding, Algorithm::RS256)
            .unwrap();
        format!("{signed}.{sig}")
    }
}

/// Keys shared by every test in a binary (`test-key-0` to `test-key-2`).
pub fn key(n: usize) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..3)
            .map(|i| SigningKey::generate(&format!("test-key-{i}")))
            .collect()
    })[n]
}

/// The claims of a Cognito user access token from the OAuth endpoints, for [`POOL`].
pub fn access_claims(scope: &str) -> Value {
    let now = now();
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["admins"],
        "iss": issuer(POOL),
        "version": 2,
        "client_id": CLIENT,
        "origin_jti": "11111111-2222-3333-4444-555555555555",
        "event_id": "66666666-7777-8888-9999-000000000000",
        "token_use": "access",
        "scope": scope,
        "auth_time": now - 60,
        "exp": now + 3600,
        "iat": now - 60,
        "jti": "abcdefab-cdef-abcd-efab-cdefabcdefab",
        "username": "alice",
    })
}

/// The token most tests present: [`key`]`(0)`'s signature on [`access_claims`]`(`[`SCOPE`]`)`.
pub fn scope_token() -> String {
    key(0).sign(&access_claims(SCOPE))
}

/// base64url(JSON) of a value.
pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}
