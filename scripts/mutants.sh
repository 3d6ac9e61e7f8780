#!/usr/bin/env bash
# Mutation testing of the security core with cargo-mutants (on demand: too slow for CI on
# two cores). Each mutant is built and the Rust tests are run against it; a mutant the
# tests do not notice ("missed") is a gap, or an equivalent change explained in
# docs/testing.md.
#
#   scripts/mutants.sh                                # the whole security core
#   scripts/mutants.sh src/token/verify.rs src/path.rs
#   TEST_ARGS="--lib --test tokens" scripts/mutants.sh src/token/verify.rs
#
# TEST_ARGS narrows the tests run per mutant (arguments to `cargo test`); by default every
# Rust test runs. Results go to mutants.out/ in that target folder (outcomes.json, missed.txt, caught.txt).
# Needs: cargo install cargo-mutants --locked
set -euo pipefail
cd "$(dirname "$0")/.."

CORE=(
  src/path.rs
  src/credential.rs
  src/decide.rs
  src/token/verify.rs
  src/token/keys.rs
  src/token/cache.rs
  src/policy/table.rs
  src/policy/template.rs
  src/grpc.rs
)
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("${CORE[@]}")

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
fi

# Its own target folder: mutated builds must never overwrite the test binaries of the
# working tree (seed it with `cp -a` of an existing target folder to skip the first build).
export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}-mutants}"

args=(--jobs 1 --timeout "${MUTANTS_TIMEOUT:-300}" --output "${MUTANTS_OUT:-$CARGO_TARGET_DIR}")
for f in "${files[@]}"; do
  args+=(-f "$f")
done
# shellcheck disable=SC2086 # TEST_ARGS is a list of arguments
exec cargo mutants "${args[@]}" -- ${TEST_ARGS:-}
