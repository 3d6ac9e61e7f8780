#!/usr/bin/env bash
# Builds the in-process filter (crates/wasm-filter) as a proxy-wasm module:
#   target/wasm32-wasip1/wasm-release/cognito_ext_authz_wasm.wasm
# (under $CARGO_TARGET_DIR when set). deploy/wasm/ loads it; docs/wasm.md says how.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip1 >/dev/null 2>&1 || true
cargo build --locked --profile wasm-release -p cognito-ext-authz-wasm --target wasm32-wasip1
module="${CARGO_TARGET_DIR:-target}/wasm32-wasip1/wasm-release/cognito_ext_authz_wasm.wasm"
echo "== $module ($(stat -c %s "$module") bytes)"
