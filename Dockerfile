# syntax=docker/dockerfile:1
#
# cognito-ext-authz container image.
#
#   docker build -t cognito-ext-authz:0.1.0 .
#
# Stage 1 builds the release binary with the Rust toolchain on Debian 12 (bookworm).
# Stage 2 copies it onto distroless/cc-debian12: the same glibc the binary was linked
# against, CA certificates for the HTTPS key fetches, no shell or package manager, and the
# unprivileged user 65532 ("nonroot") the Helm chart's securityContext expects.
#
# glibc rather than a musl static binary: musl's allocator serialises multi-threaded
# allocation, which costs throughput on the request path; the distroless base adds only
# libc, libgcc and the CA bundle to the binary.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the crate registry and build artefacts between builds (BuildKit);
# the binary is copied out of the cached target folder within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin cognito-ext-authz \
 && install -D -m 0755 target/release/cognito-ext-authz /out/cognito-ext-authz

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="cognito-ext-authz" \
      org.opencontainers.image.description="Envoy/Istio ext_authz gRPC service enforcing API Gateway Cognito authorizer policy" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/cognito-ext-authz /cognito-ext-authz
USER 65532:65532
# 9000: gRPC (ext_authz Check, grpc.health.v1); 9090: HTTP admin (/metrics, /healthz, /readyz).
EXPOSE 9000 9090
ENTRYPOINT ["/cognito-ext-authz"]
CMD ["serve"]
