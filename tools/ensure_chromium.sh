#!/usr/bin/env bash
# The browser tests (tests/e2e/test_ui.py) drive Debian's Chromium at /usr/bin/chromium through
# the pinned playwright package: Playwright's own browser download does not work on machines
# of this kind, so the browser comes from Debian (installed here when missing and root).
exec "$(dirname "$0")/ensure_apt.sh" chromium /usr/bin/chromium "the browser of tests/e2e/test_ui.py"
