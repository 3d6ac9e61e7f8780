//! Fixtures for the criterion benches and load runs (`examples/grpc_load.rs`,
//! `scripts/bench.sh`): a realistic policy of any size for a pool of its own, numbered
//! tokens that are all distinct, a large revocation list, and the requests the load
//! rotates over.

use serde_json::{Value, json};

use crate::token::{SigningKey, issuer, now};

/// The bench pool (`scripts/bench.sh` serves its key set under this id).
pub const POOL: &str = "ap-south-1_benchpool";
/// Its app client.
pub const CLIENT: &str = "4benchclient0123456789abc";
/// The `kid` of the bench signing key.
pub const KID: &str = "bench-key-1";

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

/// Access-token claims number `n` for [`POOL`]: distinct `n` give distinct tokens (sub,
/// jti, origin_jti differ).
pub fn claims(n: u64, scope: &str) -> Value {
    let now = now();
    json!({
        "sub": format!("{:08x}-bbbb-4ccc-8ddd-{:012x}", n >> 32, n & 0xffff_ffff_ffff),
        "cognito:groups": ["bench-users"],
        "iss": issuer(POOL),
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
    })
}

/// Token number `n`, signed by `key`, carrying [`TOKEN_SCOPE`].
pub fn token(key: &SigningKey, n: u64) -> String {
    key.sign(&claims(n, TOKEN_SCOPE))
}

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
/// `sub` + `issuedBefore`. None matches a token of [`token`].
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
