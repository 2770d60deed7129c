#!/usr/bin/env bash
# Browser tests' set-up: Debian's Chromium, driven by Playwright for Python (the
# `playwright` package of the dev extras). Playwright's own browser download does not
# work on these machines, so it is never used. Idempotent: does nothing when present.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
cd "$(dirname "$0")/../.."
if [ -x .venv/bin/python ] && ! .venv/bin/python -c "import playwright" 2>/dev/null; then
    .venv/bin/pip install -q playwright
fi
