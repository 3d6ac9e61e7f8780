//! Token rules (docs/decisions.md) and responses (docs/decisions.md), through the real service over gRPC.
//!
//! `answers`: what each token gets (the bad-token table, one row per docs/decisions.md
//! rule); `claims`: the claim, key and algorithm rules at their edges.

use serde_json::json;
use testkit::*;

mod answers;
mod claims;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

const ROUTES: &str = r#"routes:
  - name: create-user
    methods: [POST]
    path: /users/{id}
    scopes: [user_management_lambdas/api]
  - name: any-token
    path: /me
  - name: admins-only
    path: /admin
    groups: [admins]
  - name: ops-only
    path: /ops
    groups: [ops]
"#;

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

const EXPIRED: &str = r#"{"message":"The incoming token has expired"}"#;

const INVALID: &str = r#"Bearer error="invalid_token""#;
