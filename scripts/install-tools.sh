#!/usr/bin/env bash
# Installs the external tools the tests need, with pinned versions. Idempotent.
#
#   scripts/install-tools.sh [--no-validators]
#
#   .tools/venv      Python venv with moto[server] 5.2.5, fully frozen in
#                    scripts/requirements-moto.txt (the AWS emulator that
#                    crates/moto-server starts for deploy/runtime tests)
#   validators       tools/validators/install.sh: asl-validator, statelint,
#                    amazon-states-language-service, cfn-lint into
#                    ${XDG_CACHE_HOME:-$HOME/.cache}/approvalc-validators
#
# Every part is skipped when its stamp file matches the pinned inputs, so a
# second run takes about a second. Uses only PyPI and the npm registry.
# Needs python3 >= 3.10 (with the venv module), node and npm.
# APPROVALC_TOOLS_DIR moves .tools elsewhere (crates/moto-server then needs
# APPROVALC_MOTO_SERVER=<dir>/venv/bin/moto_server).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${APPROVALC_TOOLS_DIR:-$ROOT/.tools}"
WITH_VALIDATORS=1
for arg in "$@"; do
  case "$arg" in
    --no-validators) WITH_VALIDATORS=0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install-tools.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[install-tools] %s\n' "$*" >&2; }
t0=$SECONDS

# --- moto ---------------------------------------------------------------------
python3 - <<'EOF' || { log "python3 >= 3.10 is required for moto 5.2.5"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
EOF

VENV="$TOOLS/venv"
REQS="$ROOT/scripts/requirements-moto.txt"
# The stamp covers the requirements and the interpreter: a venv breaks when the
# python3 it was made from is replaced.
want="$( { cat "$REQS"; python3 -c 'import sys; print(sys.version, sys.executable)'; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$VENV/.stamp" && "$(cat "$VENV/.stamp")" == "$want" && -x "$VENV/bin/moto_server" ]]; then
  log "moto up to date ($VENV)"
else
  log "installing moto into $VENV"
  rm -rf "$VENV"
  mkdir -p "$TOOLS"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input \
      --require-virtualenv -r "$REQS"
  "$VENV/bin/python" -c 'import moto.server' >/dev/null
  echo "$want" > "$VENV/.stamp"
fi

# --- validators ---------------------------------------------------------------
if [[ $WITH_VALIDATORS == 1 ]]; then
  "$ROOT/tools/validators/install.sh"
fi

log "done in $((SECONDS - t0)) s"
