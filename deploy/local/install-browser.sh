#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium;
# Playwright's own browser download cannot work on these machines). Idempotent.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium present)"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: chromium fonts-dejavu-core"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core
/usr/bin/chromium --version
