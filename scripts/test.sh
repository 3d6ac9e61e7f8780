#!/usr/bin/env bash
# The test command: Rust unit and integration tests, then end-to-end tests through a real
# Envoy and the deployment checks (Helm chart, Kubernetes schemas, Istio manifests).
#
# A missing tool (Envoy, moto_server, the Helm SDK, ...) fails the run. For a quick local
# run without them, AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1 turns those failures into skips,
# each printed in the summary (-rs). See docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --release --locked --bin cognito-ext-authz
# The in-process filter's module: the e2e suite runs the decisions through it too.
scripts/build-wasm.sh
# The service, the decision core and the importer (crates/core's and crates/import's unit
# tests); crates/testkit, the test kit, has none of its own.
cargo test --locked --workspace
# The harness (`support`) is installed into .venv by scripts/setup.sh (pip install -e).
# -p support.tools: the one missing-tool rule applies to every test, whichever helper skipped.
.venv/bin/python -m pytest -q -rs -p support.tools tests/python
