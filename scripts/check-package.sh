#!/usr/bin/env bash
# Packs the project the way it would be published, installs the tarball globally into a scratch prefix,
# and runs the installed `mcp-orch` from a scratch folder: catches files missing from `files`, a bin
# that only works inside a checkout, and dependencies that are only devDependencies.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/mcp-orch-pack.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
cd "$root"
npm pack --silent --pack-destination "$scratch" >/dev/null   # prepack builds dist/
tarball="$(ls "$scratch"/mcp-orchestrator-*.tgz)"
echo "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) files)"
# onnxruntime-node's install script would fetch optional GPU (CUDA) binaries from nuget.org; the CPU
# runtime is in its npm package, so skip the download (this machine has no GPU and no route to nuget).
start=$(date +%s)
ONNXRUNTIME_NODE_INSTALL=skip npm install -g "$tarball" --prefix "$scratch/global" --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
echo "npm install -g took $(( $(date +%s) - start )) s"
mkdir -p "$scratch/work" && cd "$scratch/work"
export PATH="$scratch/global/bin:$PATH"
test "$(command -v mcp-orch)" = "$scratch/global/bin/mcp-orch"
mcp-orch --help | grep -q 'run \[options\] <spec>'
pkg="$scratch/global/lib/node_modules/mcp-orchestrator"
test -f "$pkg/dist/client/cli.js" && test ! -d "$pkg/src"
# Plans a shipped pipeline offline (servers unreachable → a warning, not a failure).
TEMPORAL_DEV_PORT=1 MCP_DATA_ROOT="$scratch/work/.data" mcp-orch plan "$pkg/pipelines/hello.yaml" | grep -q 'pipeline hello: 6 steps'
echo "ok: mcp-orch --help and mcp-orch plan run from a scratch folder with the installed tarball"
