#!/usr/bin/env bash
# System packages the tests need: Debian's Chromium and ChromeDriver for the real-browser test.
set -uo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    echo "installing Debian's chromium for the browser test" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
      || echo "warning: could not install chromium; the browser test will be skipped" >&2
  fi
fi
exit 0
