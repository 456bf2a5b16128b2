#!/usr/bin/env bash
# Installs the sacrebleu peer for libs/text's parity test and bench/reward, idempotently, into the
# shared tools venv (REST_TOOLS_DIR, default ~/.cache/rest-tools, then venv/). The pinned version
# lives in one place, scripts/install-python-peers.sh (SACREBLEU_VERSION); it must equal
# SACREBLEU_VERSION in libs/text/src/metrics/signature.ts, which the parity test checks.
# Prints the venv's python path on its last line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
bash "$ROOT/scripts/install-python-peers.sh" >&2
echo "${REST_TOOLS_DIR:-$HOME/.cache/rest-tools}/venv/bin/python"
