#!/usr/bin/env bash
# Builds approvalc's four callback Lambdas as deployment zips for the `provided.al2023`
# runtime (a zip holding one executable named `bootstrap`), without Docker.
#
#   scripts/package-lambdas.sh [--arch x86_64|arm64|all] [--out DIR] [--check-only]
#
#   out: DIR/<arch>/approvalc-{ssm-callback,codepipeline-callback,cleanup,reconciler}.zip
#        (default DIR = dist/lambda, untracked). Every zip is then checked by
#        runtime/packaging/check_zips.py (one executable `bootstrap`, ELF of the right
#        architecture, glibc loader and libraries only, no GLIBC_ version above 2.34 =
#        Amazon Linux 2023); --check-only runs that check on DIR without building.
#
# Tools come from PyPI only: cargo-lambda 1.9.2, which pulls `ziglang` and links with zig
# (cargo-zigbuild), installed into .tools/cargo-lambda on first use. The Rust std for the
# target must already be in the toolchain: `rustup target add` downloads from outside the
# package registries, so a missing target is reported and skipped (exit 3 if no zip at all
# could be built). The build uses the workspace's `lambda` profile (root Cargo.toml: size-optimised,
# fat LTO, one codegen unit, abort on panic, stripped), which takes several minutes on 2 cores;
# this script is not part of the required tests (docs/runtime.md, "Packaging", says how long).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/dist/lambda"
ARCH=all
CARGO_LAMBDA_VERSION=1.9.2
BINS=(ssm-callback codepipeline-callback cleanup reconciler)
CHECK_ONLY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="${2:?--arch needs a value}"; shift 2 ;;
    --out) OUT="${2:?--out needs a value}"; shift 2 ;;
    --check-only) CHECK_ONLY=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "package-lambdas.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$ARCH" in
  all) ARCHES=(x86_64 arm64) ;;
  x86_64|arm64) ARCHES=("$ARCH") ;;
  *) echo "package-lambdas.sh: --arch must be x86_64, arm64 or all" >&2; exit 2 ;;
esac

log() { printf '[package-lambdas] %s\n' "$*" >&2; }
check() { python3 "$ROOT/runtime/packaging/check_zips.py" "$OUT"; }

if [ "$CHECK_ONLY" -eq 1 ]; then
  check
  exit
fi

VENV="${APPROVALC_TOOLS_DIR:-$ROOT/.tools}/cargo-lambda"
if ! "$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
  log "installing cargo-lambda $CARGO_LAMBDA_VERSION (and ziglang) from PyPI into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
# cargo-lambda finds zig through the venv's python (`python -m ziglang`).
export PATH="$VENV/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

triple_of() {
  case "$1" in
    x86_64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
  esac
}

built=0
for arch in "${ARCHES[@]}"; do
  triple="$(triple_of "$arch")"
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    log "skipping $arch: the Rust std for $triple is not installed (rustup target add $triple)"
    continue
  fi
  lambda_dir="$CARGO_TARGET_DIR/lambda-$arch"
  log "building ${BINS[*]} for $arch ($triple)"
  (cd "$ROOT" && cargo lambda build --profile lambda --quiet \
      --package approvalc-runtime --features aws --bins \
      --target "$triple" --output-format zip --lambda-dir "$lambda_dir")
  mkdir -p "$OUT/$arch"
  for bin in "${BINS[@]}"; do
    cp "$lambda_dir/$bin/bootstrap.zip" "$OUT/$arch/approvalc-$bin.zip"
  done
  built=$((built + 1))
done

if [ "$built" -eq 0 ]; then
  log "no architecture could be built"
  exit 3
fi
log "zips in $OUT:"
check
