#!/usr/bin/env bash
# Installs the Temporal CLI (which embeds the dev server) once per version into a per-user cache, so
# fresh clones and CI reuse it. Prints the path of the binary on stdout; everything else goes to stderr.
#
# Order: $TEMPORAL_CLI if set, then `temporal` on PATH, then the cache, then `go install`.
# v1.5.1 is the last CLI release `go install` accepts (later ones carry a replace directive).
set -euo pipefail
version="${TEMPORAL_CLI_VERSION:-v1.5.1}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-orchestrator/temporal-cli/$version"
bin="$cache/bin/temporal"

if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null 2>&1 || { echo "install-temporal: neither 'temporal' nor 'go' is on PATH; install one of them" >&2; exit 1; }
echo "install-temporal: building Temporal CLI $version into $cache (first time only, a few minutes)" >&2
mkdir -p "$cache/bin"
log="$cache/install.log"
# Build with the machine's Go first; if the CLI does not compile with it, pin the toolchain the
# release was built with (fetched through the Go module proxy).
if ! GOBIN="$cache/bin" go install "github.com/temporalio/cli/cmd/temporal@$version" >"$log" 2>&1; then
  echo "install-temporal: build with $(go env GOVERSION) failed, retrying with GOTOOLCHAIN=go1.25.0 (see $log)" >&2
  GOTOOLCHAIN=go1.25.0 GOBIN="$cache/bin" go install "github.com/temporalio/cli/cmd/temporal@$version" >>"$log" 2>&1 || {
    echo "install-temporal: blocked: go install github.com/temporalio/cli/cmd/temporal@$version failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
  }
fi
echo "$bin"
