#!/usr/bin/env bash
# Installs the Python packages that tests and benchmarks use as independent peers (never as product
# code) into one virtual environment, idempotently: sacrebleu for metric parity.
# Environment: REST_TOOLS_DIR (default ~/.cache/rest-tools) holds venv/.
set -euo pipefail
TOOLS_DIR="${REST_TOOLS_DIR:-$HOME/.cache/rest-tools}"
VENV="$TOOLS_DIR/venv"
SACREBLEU_VERSION="${SACREBLEU_VERSION:-2.6.0}"
t0=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import sacrebleu, sys; sys.exit(sacrebleu.__version__ != '$SACREBLEU_VERSION')" 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check "sacrebleu==$SACREBLEU_VERSION"
fi
echo "python peers ready in $((SECONDS - t0))s: $("$VENV/bin/python" -c 'import sacrebleu; print("sacrebleu", sacrebleu.__version__)')"
