//! cognito-ext-authz: Envoy's external authorization service (`envoy.service.auth.v3`)
//! enforcing the access policy of an AWS API Gateway Cognito User Pools authorizer.
//!
//! The decision core (`crates/core`: [`path`], [`host`], [`credential`], [`policy`],
//! [`token`], [`revocation`], [`decision`], [`answer`], [`pipeline`]) decides; it is
//! re-exported here whole. This package serves it: [`grpc`] is the only module that knows
//! protobuf; [`http_auth`] answers the same decisions as HTTP authorization subrequests;
//! both decide, log ([`observe::decision_log`]) and count through [`decide`]; [`server`]
//! wires gRPC, the HTTP authorization port, health, the admin HTTP port, reloads and
//! shutdown; [`keys`] fetches key sets; [`follow`] follows
//! the mounted files (policy, revocations, TLS); [`settings`], [`listen`] and [`tls`] are
//! the serving parts, [`observe`] what it tells (logs, metrics, traces); [`explain`],
//! [`policytest`] and [`import`] (`crates/import`, re-exported) are the offline tools
//! (`check`, `test`, `import`).

pub use cognito_ext_authz_import as import;

pub use cognito_ext_authz_core::{
    active, answer, credential, crypto, decision, errors, host, path, pipeline, policy, revocation,
    token, trace_context,
};

pub mod decide;
pub mod explain;
pub mod files;
pub mod follow;
pub mod grpc;
pub mod http_auth;
pub mod keys;
pub mod lifecycle;
pub mod listen;
pub mod observe;
pub mod policytest;
pub mod reflection;
pub mod server;
pub mod settings;
pub mod tls;

/// Code generated from `proto/` (Envoy's ext_authz v3 subset).
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    pub mod envoy {
        pub mod service {
            pub mod auth {
                pub mod v3 {
                    tonic::include_proto!("envoy.service.auth.v3");
                }
            }
        }
        pub mod config {
            pub mod core {
                pub mod v3 {
                    tonic::include_proto!("envoy.config.core.v3");
                }
            }
        }
        pub mod r#type {
            pub mod v3 {
                tonic::include_proto!("envoy.r#type.v3");
            }
        }
    }
    pub mod google {
        pub mod rpc {
            tonic::include_proto!("google.rpc");
        }
    }
}
