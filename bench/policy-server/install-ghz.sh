#!/usr/bin/env bash
# Installs ghz (the gRPC load tool this benchmark drives the server with), pinned, into
# $REST_TOOLS_DIR/bin (default ~/.cache/rest-tools/bin); skips when that version is there. Not part
# of CI or `npm run setup`: only this benchmark needs it. Needs Go.
set -euo pipefail
GHZ_VERSION=v0.120.0
TOOLS_DIR="${REST_TOOLS_DIR:-$HOME/.cache/rest-tools}"
bin="$TOOLS_DIR/bin/ghz"
# `go install` leaves --version at "dev"; the module version is in the binary's build info.
# Read into a variable, not piped into `grep -q`: under pipefail an early grep exit is a failure.
installed() {
  [ -x "$bin" ] || return 1
  local info
  info="$(go version -m "$bin" 2>/dev/null || true)"
  grep -qE "^\s+mod\s+github.com/bojand/ghz\s+$GHZ_VERSION\b" <<<"$info"
}
if installed; then
  echo "ghz present: $bin"; exit 0
fi
command -v go >/dev/null 2>&1 || { echo "install-ghz: Go is required" >&2; exit 1; }
mkdir -p "$TOOLS_DIR/bin"
module=github.com/bojand/ghz/cmd/ghz
# A plain `go install module@version` first; where the module proxy refuses the version-list request
# (see scripts/install-deps.sh), the same build from a throwaway module that requires the version.
if ! GOBIN="$TOOLS_DIR/bin" go install "$module@$GHZ_VERSION" 2>/dev/null; then
  work="$(mktemp -d)"
  (
    cd "$work"
    go mod init ghz-build >/dev/null 2>&1
    go get "$module@$GHZ_VERSION"
    GOFLAGS=-buildvcs=false GOBIN="$TOOLS_DIR/bin" go install "$module"
  )
  rm -rf "$work"
fi
installed || { echo "install-ghz: $bin is not ghz $GHZ_VERSION after the build" >&2; exit 1; }
echo "installed ghz $GHZ_VERSION at $bin"
