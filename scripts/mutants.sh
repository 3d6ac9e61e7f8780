#!/usr/bin/env bash
# Mutation testing of the security core with cargo-mutants (on demand: too slow for CI on
# two cores). Each mutant is built and the Rust tests are run against it; a mutant the
# tests do not notice ("missed") is a gap, or an equivalent change explained in
# docs/testing.md.
#
#   scripts/mutants.sh                                # the whole security core
#   scripts/mutants.sh crates/core/src/token/verify.rs crates/core/src/path.rs
#   TEST_ARGS="--lib --test tokens" scripts/mutants.sh crates/core/src/token/verify.rs
#   TEST_ARGS="--lib" scripts/mutants.sh crates/core/src/path.rs     # unit tests first, then
#   MUTANTS_ARGS=--iterate TEST_ARGS="--lib --test metrics" scripts/mutants.sh crates/core/src/path.rs
#
# TEST_ARGS narrows the test targets built and run per mutant (arguments to `cargo test`,
# `--lib --test routes`); by default every Rust test runs. Results go to mutants.out/ in
# the mutants' target folder, or MUTANTS_OUT (outcomes.json, missed.txt, caught.txt).
# Needs: cargo install cargo-mutants --locked
set -euo pipefail
cd "$(dirname "$0")/.."

CORE=(
  crates/core/src/path.rs
  crates/core/src/host.rs
  crates/core/src/credential.rs
  crates/core/src/pipeline.rs
  crates/core/src/answer.rs
  crates/core/src/token/verify.rs
  crates/core/src/token/keys.rs
  crates/core/src/token/cache.rs
  crates/core/src/policy/table.rs
  crates/core/src/policy/template.rs
  src/grpc/mod.rs
  src/grpc/view.rs
)
files=("$@")
[ ${#files[@]} -eq 0 ] && files=("${CORE[@]}")

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
  exit 2
fi

# Its own target folder: mutated builds must never overwrite the test binaries of the
# working tree (seed it with `cp -a` of an existing target folder to skip the first build).
# Absolute, and ignored by git: cargo-mutants copies the tree (less what .gitignore names)
# into a scratch folder per run and runs cargo there.
target_dir="${MUTANTS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}-mutants}"
mkdir -p "$target_dir"
export CARGO_TARGET_DIR="$(cd "$target_dir" && pwd)"

# --test-workspace: a mutant of crates/core is tested by the service's tests too (the
# integration tests that replay attacks live in the root package).
args=(--jobs 1 --test-workspace true --gitignore true --timeout "${MUTANTS_TIMEOUT:-300}" --output "${MUTANTS_OUT:-$CARGO_TARGET_DIR}")
for f in "${files[@]}"; do
  args+=(-f "$f")
done
# TEST_ARGS go to every cargo invocation, the build as well as the test run: otherwise each
# mutant builds and links every test binary (minutes on two cores) only to run a few.
# shellcheck disable=SC2086 # TEST_ARGS is a list of arguments
for a in ${TEST_ARGS:-}; do
  args+=(--cargo-arg="$a")
done
# MUTANTS_ARGS: more cargo-mutants options, e.g. "--iterate" to re-run only the mutants the
# last run in that output folder did not catch (with broader TEST_ARGS).
# shellcheck disable=SC2086
exec cargo mutants "${args[@]}" ${MUTANTS_ARGS:-}
