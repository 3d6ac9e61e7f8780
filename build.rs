//! Compiles the ext_authz v3 subset in `proto/` with protox (pure Rust, no system `protoc`),
//! and writes its file descriptor set to `OUT_DIR/authz_descriptor.bin` for gRPC
//! reflection (`src/reflection.rs`).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/envoy/service/auth/v3/external_auth.proto",
        "proto/envoy/service/auth/v3/attribute_context.proto",
        "proto/envoy/config/core/v3/base.proto",
        "proto/envoy/type/v3/http_status.proto",
        "proto/google/rpc/status.proto",
    ];
    let fds = protox::compile(files, ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("authz_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        // The service's gRPC port is src/grpc (h2 directly); the generated server is the
        // do-nothing baseline of the benchmarks (examples/noop_authz.rs), the client the tests'.
        .build_server(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
