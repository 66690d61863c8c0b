#!/usr/bin/env bash
# THE test command, for developers and CI alike (.ci/run calls it):
#
#   scripts/test.sh
#
# 1. scripts/install-tools.sh   moto + external validators (pinned; a no-op when current)
# 2. cargo fmt --all --check
# 3. cargo clippy --workspace --all-targets --all-features -- -D warnings
# 4. cargo test --workspace --all-features --no-fail-fast  (all features: the runtime's AWS ports, Lambda bins and moto tests sit behind `aws`)
#
# Every step runs even when an earlier one fails, so one run shows every problem;
# the exit status is non-zero when any step failed. Tests that need moto fail (they
# never skip) when step 1 could not install it. With CI set (CI=true), output has no
# colours or progress bars, and insta never writes snapshots (it fails on a mismatch).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

if [[ -n "${CI:-}" ]]; then
  export CARGO_TERM_COLOR=never CARGO_TERM_PROGRESS_WHEN=never INSTA_UPDATE=no
fi
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

failed=()
timings=()
step() {
  local name="$1"; shift
  local t0=$SECONDS
  printf '\n==> %s: %s\n' "$name" "$*"
  if "$@"; then
    timings+=("$name ok ($((SECONDS - t0)) s)")
  else
    failed+=("$name")
    timings+=("$name FAILED ($((SECONDS - t0)) s)")
  fi
}

step install-tools scripts/install-tools.sh
step fmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets --all-features -- -D warnings
step test cargo test --workspace --all-features --no-fail-fast

printf '\n==> summary\n'
printf '  %s\n' "${timings[@]}"
if ((${#failed[@]})); then
  printf 'test.sh: FAILED: %s\n' "${failed[*]}"
  exit 1
fi
echo "test.sh: all steps passed"
