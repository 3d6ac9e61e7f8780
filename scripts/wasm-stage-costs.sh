#!/usr/bin/env bash
# What each stage of the in-process filter's work on one request costs in WebAssembly, under
# Node's V8 (the engine Envoy embeds), without Envoy: reading the request, the decision on a
# cached token, building the answer, and the pieces inside them (docs/performance.md).
# Uses scripts/bench.sh's fixtures (target/bench/fixtures: its policy, key set and tokens),
# made here when missing.
#   scripts/wasm-stage-costs.sh [ROUNDS]      (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
rounds=${1:-20000}
target=${CARGO_TARGET_DIR:-$root/target}
fix=$root/target/bench/fixtures
command -v node >/dev/null || { echo "node (18 or later) is needed" >&2; exit 2; }

rustup target add wasm32-wasip1 >/dev/null 2>&1 || true
cargo build --quiet --locked --profile wasm-release -p cognito-ext-authz-wasm \
  --features stage-costs --example stage_costs --target wasm32-wasip1
module=$target/wasm32-wasip1/wasm-release/examples/stage_costs.wasm

if [ ! -s "$fix/policy.yaml" ] || [ ! -s "$fix/stage-tokens.txt" ]; then
  cargo build --quiet --release --example grpc_load
  mkdir -p "$fix"
  "$target/release/examples/grpc_load" setup "$fix" \
    --jwks-uri http://127.0.0.1:18000/ap-south-1_benchpool/.well-known/jwks.json --routes 200 2>/dev/null
  "$target/release/examples/grpc_load" mint "$fix" --count 1 --out "$fix/stage-tokens.txt"
fi
config=$fix/stage-plugin.yaml
{
  echo "keys: {cluster: jwks}"
  echo "policy: |"
  sed 's/^/  /' "$fix/policy.yaml"
} > "$config"

node scripts/bench/wasm_stages.mjs "$module" "$fix" \
  "$config" "$fix/jwks.json" "$fix/stage-tokens.txt" GET api.example.com /svc1/items/123?expand=owner "$rounds"
