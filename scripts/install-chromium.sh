#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (dashboard), once. Playwright's own browser download
# is not used: this machine reaches only package registries. Prints the path of the binary.
set -euo pipefail
for b in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$b" ] && [ -x "$b" ]; then echo "$b"; exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: installing Debian's chromium (first time only)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq chromium >&2
  echo /usr/bin/chromium
  exit 0
fi
echo "install-chromium: chromium not found and cannot be installed here (need root and apt-get); browser tests will be skipped" >&2
exit 1
