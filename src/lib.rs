//! cognito-ext-authz: Envoy's external authorization service (`envoy.service.auth.v3`)
//! enforcing the access policy of an AWS API Gateway Cognito User Pools authorizer.
//!
//! One request flows one way through named stages (see [`pipeline`]): the path and host are
//! made safe to match ([`path`], [`host`]), the route is chosen ([`policy`]), the credential
//! is read from the configured header ([`credential`]), the Cognito access token is
//! verified ([`token`]), the route's scopes and groups are checked, and a
//! [`decision::Decision`] comes out; [`answer`] turns it into what Envoy should do, without
//! protobuf. [`grpc`] is the only module that knows protobuf; [`http_auth`] answers the
//! same decisions as HTTP authorization subrequests; both decide, log ([`decision_log`])
//! and count through [`decide`]. [`server`] wires gRPC, the HTTP authorization port,
//! health, the admin HTTP port, reloads and shutdown. Layers only import downwards: [`metrics`], [`path`], [`host`], [`files`] and
//! [`settings`] are leaves; [`explain`] is `check`'s offline use of the same pipeline.

pub mod active;
pub mod answer;
pub mod credential;
pub mod decide;
pub mod decision;
pub mod decision_log;
pub mod explain;
pub mod files;
pub mod follow;
pub mod grpc;
pub mod host;
pub mod http_auth;
pub mod import;
pub mod lifecycle;
pub mod listen;
pub mod log_sink;
pub mod metrics;
pub mod path;
pub mod pipeline;
pub mod policy;
pub mod policytest;
pub mod reflection;
pub mod revocation;
pub mod server;
pub mod settings;
pub mod telemetry;
pub mod tls;
pub mod token;

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
