# syntax=docker/dockerfile:1
#
# cognito-ext-authz container image.
#
#   docker build -t cognito-ext-authz:0.1.0 .
#
# Stage 1 builds a static release binary on Alpine (Rust targets musl there and links it
# statically; aws-lc and mimalloc are compiled with the C toolchain installed below).
# Stage 2 copies it onto distroless/static-debian12: no libc, no shell or package manager,
# just CA certificates for the HTTPS key fetches and the unprivileged user 65532
# ("nonroot") the Helm chart's securityContext expects.
#
# The binary uses mimalloc as its allocator, so musl's allocator, which serialises
# multi-threaded allocation, is not on the request path.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS build
# The C toolchain for aws-lc-sys and mimalloc; versions come with the pinned Alpine base.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev gcc g++ make perl
WORKDIR /src
COPY . .
# Cache mounts keep the crate registry and build artefacts between builds (BuildKit);
# the binary is copied out of the cached target folder within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin cognito-ext-authz \
 && install -D -m 0755 target/release/cognito-ext-authz /out/cognito-ext-authz

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="cognito-ext-authz" \
      org.opencontainers.image.description="Envoy/Istio ext_authz gRPC service enforcing API Gateway Cognito authorizer policy" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/cognito-ext-authz /cognito-ext-authz
USER 65532:65532
# 9000: gRPC (ext_authz Check, grpc.health.v1); 9090: HTTP admin (/metrics, /healthz, /readyz).
EXPOSE 9000 9090
ENTRYPOINT ["/cognito-ext-authz"]
CMD ["serve"]
