#!/usr/bin/env bash
# axe-core (npm, MPL-2.0) for the web application's accessibility tests, installed into a git-ignored folder
# (tests/browser/node_modules/). Installs Debian's npm first if it is missing. Nothing here is used at run time.
set -euo pipefail
AXE_VERSION=4.11.0
cd "$(dirname "$0")/.."
axe=tests/browser/node_modules/axe-core
if [ -f "$axe/axe.min.js" ] && grep -q "\"version\": \"${AXE_VERSION}\"" "$axe/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "Installing system packages: npm"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
fi
echo "Installing axe-core ${AXE_VERSION} (accessibility tests) into tests/browser/node_modules"
npm install --no-save --no-audit --no-fund --silent --prefix tests/browser "axe-core@${AXE_VERSION}"
