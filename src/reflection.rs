//! gRPC reflection (`grpc.reflection.v1`, and `v1alpha` for older clients such as grpcurl
//! before 1.9), so `grpcurl -plaintext HOST:9000 list` and `describe` work on the gRPC port.
//!
//! The `Check` endpoint is hand-written ([`crate::grpc::view`] reads the request as a bytes
//! view), so nothing generated describes it: the descriptors served are those of Envoy's
//! `envoy.service.auth.v3.Authorization` compiled from `proto/` by `build.rs` (the same
//! package, message names and field numbers Envoy publishes), tonic-health's
//! `grpc.health.v1.Health`, and the reflection services themselves. Only public schemas are
//! exposed; `AUTHZ_REFLECTION=false` turns it off.

use tonic_reflection::server::{Builder, Error, v1, v1alpha};

/// The file descriptor set of `proto/`, written by `build.rs`.
pub const AUTHZ_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authz_descriptor.bin"));

/// Every descriptor set served; both reflection versions list the same services.
fn builder() -> Builder<'static> {
    Builder::configure()
        .include_reflection_service(false)
        .register_encoded_file_descriptor_set(AUTHZ_FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
}

/// Largest reflection request read: a symbol or file name is a few hundred bytes. Each
/// answer echoes its request (`host` twice), so tonic's default of 4 MiB let a client that
/// never reads its answers make the service hold ~11 MB per call.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;

/// The `grpc.reflection.v1` service.
pub fn v1() -> Result<v1::ServerReflectionServer<impl v1::ServerReflection>, Error> {
    Ok(builder()
        .build_v1()?
        .max_decoding_message_size(MAX_REQUEST_BYTES))
}

/// The `grpc.reflection.v1alpha` service.
pub fn v1alpha() -> Result<v1alpha::ServerReflectionServer<impl v1alpha::ServerReflection>, Error> {
    Ok(builder()
        .build_v1alpha()?
        .max_decoding_message_size(MAX_REQUEST_BYTES))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_descriptor_sets_build() {
        assert!(super::v1().is_ok());
        assert!(super::v1alpha().is_ok());
    }
}
