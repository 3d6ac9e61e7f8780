# syntax=docker/dockerfile:1
#
# cognito-ext-authz container image, multi-arch (linux/amd64 and linux/arm64, e.g. AWS
# Graviton) without emulation:
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg SOURCE=https://git.example.com/platform/cognito-ext-authz \
#     -t registry.example.com/platform/cognito-ext-authz:0.1.0 --push .
#
# Stage 1 always runs on the build machine's own architecture ($BUILDPLATFORM) and
# cross-compiles for the target one ($TARGETPLATFORM) with tonistiigi/xx: clang and lld
# for the build machine, the target's musl and libgcc from Alpine (xx-apk), and xx-cargo
# picking the Rust target (x86_64- or aarch64-unknown-linux-musl). The binary is linked
# statically (aws-lc and mimalloc are compiled by clang for the target) and checked to
# be static and of the target architecture (xx-verify). No QEMU: an arm64 image builds as
# fast as an amd64 one.
# Stage 2 copies it onto distroless/static-debian12: no libc, no shell or package manager,
# just CA certificates for the HTTPS key fetches and the unprivileged user 65532
# ("nonroot") the Helm chart's securityContext expects.
#
# Every base image is pinned by the digest of its multi-arch index (a tag moves; a digest
# does not), with the tag kept for readers. The digests were current for these tags in
# 2026-08; refresh them with `docker buildx imagetools inspect IMAGE:TAG` (or let
# Renovate/Dependabot do it), always from the index, never a one-platform manifest.
#
# The binary uses mimalloc as its allocator, so musl's allocator, which serialises
# multi-threaded allocation, is not on the request path.

FROM --platform=$BUILDPLATFORM tonistiigi/xx:1.9.0@sha256:c64defb9ed5a91eacb37f96ccc3d4cd72521c4bd18d5442905b95e2226b0e707 AS xx

FROM --platform=$BUILDPLATFORM rust:1.95-alpine@sha256:606fd313a0f49743ee2a7bd49a0914bab7deedb12791f3a846a34a4711db7ed2 AS build
# xx is a handful of scripts (xx-apk, xx-cargo, xx-verify, ...) meant to be copied whole.
# hadolint ignore=DL3067
COPY --from=xx / /
# The build machine's compiler and linker (clang targets any architecture; lld links it),
# and perl and make for aws-lc's build scripts; versions come with the pinned Alpine base.
# hadolint ignore=DL3018
RUN apk add --no-cache clang lld perl make
ARG TARGETPLATFORM
# The target architecture's C runtime (musl, libgcc, libstdc++ headers) into its sysroot.
# hadolint ignore=DL3018
RUN xx-apk add --no-cache musl-dev gcc g++
WORKDIR /src
COPY . .
# Cache mounts keep the crate registry and build artefacts between builds (BuildKit), one
# target folder per platform; the binary is copied out of it within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=cognito-ext-authz-target-${TARGETPLATFORM} \
    xx-cargo build --release --locked --bin cognito-ext-authz \
 && xx-verify --static "target/$(xx-cargo --print-target-triple)/release/cognito-ext-authz" \
 && install -D -m 0755 "target/$(xx-cargo --print-target-triple)/release/cognito-ext-authz" \
      /out/cognito-ext-authz

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
# OCI annotations: where the image comes from and which commit it is. Pass VERSION,
# REVISION (the git commit) and SOURCE (the repository URL) as build arguments.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://git.example.com/platform/cognito-ext-authz
LABEL org.opencontainers.image.title="cognito-ext-authz" \
      org.opencontainers.image.description="Envoy/Istio ext_authz gRPC service enforcing API Gateway Cognito authorizer policy" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
COPY --from=build /out/cognito-ext-authz /cognito-ext-authz
USER 65532:65532
# 9000: gRPC (ext_authz Check, grpc.health.v1); 9090: HTTP admin (/metrics, /healthz, /readyz).
EXPOSE 9000 9090
ENTRYPOINT ["/cognito-ext-authz"]
CMD ["serve"]
