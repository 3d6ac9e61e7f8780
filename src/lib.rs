//! cognito-ext-authz: Envoy's external authorization service (`envoy.service.auth.v3`)
//! enforcing the access policy of an AWS API Gateway Cognito User Pools authorizer.
//!
//! One request flows one way through named stages (see [`decide`]): the path is made safe to
//! match, the route is chosen ([`policy`]), the credential is read from the configured header
//! ([`credential`]), the Cognito access token is verified ([`token`]), the route's scopes and
//! groups are checked, and a [`decide::Decision`] comes out. [`grpc`] is the only module that
//! knows protobuf; [`server`] wires gRPC, health, the admin HTTP port, reloads and shutdown.

pub mod active;
pub mod credential;
pub mod decide;
pub mod explain;
pub mod files;
pub mod grpc;
pub mod host;
pub mod import;
pub mod listen;
pub mod metrics;
pub mod path;
pub mod policy;
pub mod server;
pub mod settings;
pub mod shutdown;
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
