#!/usr/bin/env bash
# The test command: Rust unit and integration tests, then end-to-end tests through a real
# Envoy and the deployment checks (Helm chart, Kubernetes schemas, Istio manifests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked --bin cognito-ext-authz
cargo test --locked
.venv/bin/python -m pytest -q tests/python
