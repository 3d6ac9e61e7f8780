//! Shared by the criterion benches and `examples/grpc_load.rs`: a realistic policy of any
//! size, Cognito-shaped access tokens signed with a generated RSA-2048 key, and
//! `CheckRequest`s shaped the way Envoy's ext_authz filter sends them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_ext_authz::proto::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, attribute_context,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

pub const POOL: &str = "ap-south-1_benchpool";
pub const CLIENT: &str = "4benchclient0123456789abc";
pub const KID: &str = "bench-key-1";

pub fn issuer() -> String {
    format!("https://cognito-idp.ap-south-1.amazonaws.com/{POOL}")
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An RSA-2048 signing key, as Cognito uses.
pub struct BenchKey {
    pub pkcs1_der: Vec<u8>,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl BenchKey {
    pub fn generate() -> BenchKey {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        Self::from_private(private)
    }

    pub fn from_pkcs1_der(der: &[u8]) -> BenchKey {
        Self::from_private(rsa::RsaPrivateKey::from_pkcs1_der(der).unwrap())
    }

    fn from_private(private: rsa::RsaPrivateKey) -> BenchKey {
        let public = private.to_public_key();
        let der = private.to_pkcs1_der().unwrap().as_bytes().to_vec();
        BenchKey {
            encoding: EncodingKey::from_rsa_der(&der),
            pkcs1_der: der,
            jwk: json!({
                "alg": "RS256",
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
                "kid": KID,
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "use": "sig",
            }),
        }
    }

    /// The JWKS document Cognito would serve for the pool.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk] }).to_string()
    }

    /// Token number `n`: distinct `n` give distinct tokens (sub, jti, origin_jti differ).
    pub fn token(&self, n: u64, scope: &str) -> String {
        let now = now();
        let claims = json!({
            "sub": format!("{:08x}-bbbb-4ccc-8ddd-{:012x}", n >> 32, n & 0xffff_ffff_ffff),
            "cognito:groups": ["bench-users"],
            "iss": issuer(),
            "version": 2,
            "client_id": CLIENT,
            "origin_jti": format!("11111111-2222-4333-8444-{n:012x}"),
            "event_id": "66666666-7777-4888-9999-000000000000",
            "token_use": "access",
            "scope": scope,
            "auth_time": now - 60,
            "exp": now + 6 * 3600,
            "iat": now - 60,
            "jti": format!("abcdefab-cdef-4bcd-8fab-{n:012x}"),
            "username": format!("user{n}"),
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap()
    }
}

/// The scope every bench token carries: enough for every path in [`TARGETS`].
pub const TOKEN_SCOPE: &str =
    "svc1/read svc1/write svc7/read svc7/write svc7/files svc13/read svc13/write";

/// Requests the load rotates over (method, host, path); all allowed with [`TOKEN_SCOPE`]
/// under a policy of at least 70 routes.
pub const TARGETS: [(&str, &str, &str); 5] = [
    ("GET", "api.example.com", "/svc1/items/123?expand=owner"),
    ("PUT", "api.example.com", "/svc7/items/abc"),
    ("DELETE", "api.example.com", "/svc13/items/9/tags/red"),
    ("GET", "api.example.com", "/svc7/files/reports/2026/q3.pdf"),
    ("POST", "api.example.com", "/svc13/items"),
];

/// A policy of `routes` routes (rounded down to a multiple of five, plus one public
/// route): per service, a literal collection path split by method, an `{id}` path for
/// three methods (on some services limited to `api.example.com` and `*.example.com`), a
/// two-parameter path, and a `{proxy+}` file tree.
pub fn policy_yaml(routes: usize, jwks_uri: &str) -> String {
    let mut out = format!(
        "userPools:\n  - id: {POOL}\n    appClients: [{CLIENT}]\n    jwksUri: {jwks_uri}\n\
         defaultAction: deny\nroutes:\n  - name: health\n    path: /health\n    auth: none\n"
    );
    for i in 0..routes / 5 {
        let hosts = if i % 3 == 0 {
            "\n    hosts: [api.example.com, \"*.example.com\"]"
        } else {
            ""
        };
        out.push_str(&format!(
            "  - name: svc{i}-list\n    methods: [GET]\n    path: /svc{i}/items\n    scopes: [svc{i}/read]\n\
             \x20 - name: svc{i}-create\n    methods: [POST]\n    path: /svc{i}/items\n    scopes: [svc{i}/write]\n\
             \x20 - name: svc{i}-item{hosts}\n    methods: [GET, PUT, DELETE]\n    path: /svc{i}/items/{{id}}\n    scopes: [svc{i}/read, svc{i}/write]\n\
             \x20 - name: svc{i}-tag\n    methods: [DELETE]\n    path: /svc{i}/items/{{id}}/tags/{{tag}}\n    scopes: [svc{i}/write]\n\
             \x20 - name: svc{i}-files\n    path: /svc{i}/files/{{proxy+}}\n    scopes: [svc{i}/files, svc{i}/write]\n"
        ));
    }
    out
}

/// A revocation list of `n` entries, as an operator would write it: two in five `jti`
/// entries (half with `addedAt` and a reason), one in five `originJti`, two in five
/// `sub` + `issuedBefore`. None matches a token of [`BenchKey::token`].
pub fn revocations_yaml(n: usize) -> String {
    let mut out = String::with_capacity(n * 80);
    out.push_str("revocations:\n");
    for i in 0..n {
        match i % 5 {
            0 => out.push_str(&format!(
                "  - jti: 0f1c2d3e-4b5a-4c6d-8e7f-{i:012x}\n    addedAt: 2026-11-26T10:00:00Z\n    reason: leaked in a log\n"
            )),
            1 => out.push_str(&format!("  - jti: 0f1c2d3e-4b5a-4c6d-8e7f-{i:012x}\n")),
            2 => out.push_str(&format!("  - originJti: 0b7e1f2a-3c4d-4e5f-8a6b-{i:012x}\n")),
            _ => out.push_str(&format!(
                "  - sub: 7d0e1f2a-3b4c-4d5e-8f6a-{i:012x}\n    issuedBefore: 1795687200\n"
            )),
        }
    }
    out
}

/// A `CheckRequest` as Envoy's HTTP filter sends it, with the headers a browser or SDK
/// client typically sends.
pub fn check_request(method: &str, host: &str, path: &str, token: Option<&str>) -> CheckRequest {
    let mut headers: HashMap<String, String> = [
        (":authority", host),
        (":method", method),
        (":path", path),
        (":scheme", "http"),
        ("accept", "application/json"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
        ("x-forwarded-proto", "http"),
        ("x-request-id", "5f0c7a0e-6a8f-4d55-9f3e-1c2b3a4d5e6f"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(t) = token {
        headers.insert("authorization".to_owned(), format!("Bearer {t}"));
    }
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(attribute_context::Request {
                http: Some(attribute_context::HttpRequest {
                    id: "12345678901234567890".to_owned(),
                    method: method.to_owned(),
                    path: path.to_owned(),
                    host: host.to_owned(),
                    scheme: "http".to_owned(),
                    protocol: "HTTP/1.1".to_owned(),
                    headers,
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    }
}
