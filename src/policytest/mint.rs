//! Keys and tokens made for one test run, standing in for the pools' own.
//!
//! Every pool of the policy gets the same freshly generated RSA key set, so the real
//! verifier checks real RS256 signatures; `badSignature` tokens are signed with a second
//! key under the same `kid`, so they fail at the signature, not at the key lookup. The
//! private keys live only in memory for the run.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::policy::Pool;
use crate::policy::model::TokenUse;
use crate::token::access::now_unix;
use crate::token::keys::KeyMap;

use super::TokenKind;

/// The `kid` of the generated key.
pub const KID: &str = "cognito-ext-authz-test";
/// `sub` of the default token.
pub const DEFAULT_SUB: &str = "00000000-0000-4000-8000-000000000001";
/// `username` of the default token.
pub const DEFAULT_USERNAME: &str = "test-user";
/// `client_id` when the pool does not restrict app clients.
pub use cognito_ext_authz_core::policy_tests::DEFAULT_CLIENT;
/// `scope` of the default token: what Cognito grants a user sign-in.
pub const DEFAULT_SCOPE: &str = "aws.cognito.signin.user.admin";
/// `jti` of every `revoked` token: the run's revocation list holds it.
pub const REVOKED_JTI: &str = "cognito-ext-authz-test-revoked";
/// `client_id` of a `wrongClient` token.
pub const WRONG_CLIENT: &str = "wrongclient000000000000000";

/// The run's keys: the one every pool trusts, and one no pool trusts.
pub struct Keys {
    trusted: KeyPair,
    untrusted: KeyPair,
    rng: SystemRandom,
}

impl Keys {
    /// Generates two RSA-2048 key pairs.
    pub fn generate() -> Result<Keys, String> {
        let gen_key = || {
            KeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| "cannot generate an RSA key for the test run".to_owned())
        };
        Ok(Keys {
            trusted: gen_key()?,
            untrusted: gen_key()?,
            rng: SystemRandom::new(),
        })
    }

    /// The key set every pool is given in place of its own.
    pub fn key_map(&self) -> Result<KeyMap, String> {
        let key = ParsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            self.trusted.public_key().as_ref(),
        )
        .map_err(|_| "cannot parse the generated public key".to_owned())?;
        Ok(HashMap::from([(
            KID.to_owned(),
            Arc::new(MintedKey(key)) as crate::crypto::PublicKey,
        )]))
    }

    /// A signed RS256 token with `claims`; `trusted: false` signs with the other key.
    pub fn sign(&self, claims: &Map<String, Value>, trusted: bool) -> Result<String, String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
        );
        let key = if trusted {
            &self.trusted
        } else {
            &self.untrusted
        };
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &self.rng,
            input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "cannot sign the test token".to_owned())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The claims of a token of `kind` from `pool`: a valid Cognito token of the kind `route`
/// takes (an access token, or an ID token), changed as the kind says, then `overrides` set
/// over it (`null` removes a claim). `idToken` and `accessToken` are that token whatever the
/// route takes. `issuers` are every configured issuer, which a `wrongIssuer` token must not
/// be.
pub fn claims(
    kind: TokenKind,
    route: TokenUse,
    pool: &Pool,
    app_clients: Option<&std::collections::HashSet<String>>,
    issuers: &[&str],
    overrides: &Map<String, Value>,
) -> Map<String, Value> {
    let now = now_unix();
    let client = app_clients
        .and_then(|c| c.iter().min().cloned())
        .unwrap_or_else(|| DEFAULT_CLIENT.to_owned());
    let token_use = match kind {
        TokenKind::IdToken => TokenUse::Id,
        TokenKind::AccessToken => TokenUse::Access,
        _ => route,
    };
    let mut c = Map::new();
    c.insert("sub".into(), json!(DEFAULT_SUB));
    c.insert("iss".into(), json!(pool.issuer));
    c.insert("auth_time".into(), json!(now));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + 3600));
    match token_use {
        TokenUse::Access => {
            c.insert("client_id".into(), json!(client));
            c.insert("origin_jti".into(), json!(format!("origin-{now}")));
            c.insert("token_use".into(), json!("access"));
            c.insert("scope".into(), json!(DEFAULT_SCOPE));
            c.insert("jti".into(), json!(format!("test-{now}")));
            c.insert("username".into(), json!(DEFAULT_USERNAME));
        }
        TokenUse::Id => {
            // What Cognito puts in an ID token: `aud` rather than `client_id`, no scope.
            c.insert("aud".into(), json!(client));
            c.insert("origin_jti".into(), json!(format!("origin-{now}")));
            c.insert("jti".into(), json!(format!("test-{now}")));
            c.insert("token_use".into(), json!("id"));
            c.insert("cognito:username".into(), json!(DEFAULT_USERNAME));
            c.insert("email".into(), json!("test-user@example.com"));
        }
    }
    let client_claim = match token_use {
        TokenUse::Access => "client_id",
        TokenUse::Id => "aud",
    };
    match kind {
        TokenKind::Valid
        | TokenKind::None
        | TokenKind::BadSignature
        | TokenKind::IdToken
        | TokenKind::AccessToken => {}
        TokenKind::Revoked => {
            c.insert("jti".into(), json!(REVOKED_JTI));
        }
        TokenKind::Expired => {
            c.insert("auth_time".into(), json!(now - 7200));
            c.insert("iat".into(), json!(now - 7200));
            c.insert("exp".into(), json!(now - 3600));
        }
        TokenKind::WrongIssuer => {
            let mut iss =
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_WrongPool".to_owned();
            while issuers.contains(&iss.as_str()) {
                iss.push('0');
            }
            c.insert("iss".into(), json!(iss));
        }
        TokenKind::WrongClient => {
            c.insert(client_claim.into(), json!(WRONG_CLIENT));
        }
    }
    for (k, v) in overrides {
        if v.is_null() {
            c.remove(k);
        } else {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

/// The run's public key, verifying as the service's keys do (aws-lc's RS256).
struct MintedKey(ParsedPublicKey);

impl std::fmt::Debug for MintedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MintedKey")
    }
}

impl crate::crypto::VerifyRs256 for MintedKey {
    fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}
