#!/usr/bin/env bash
# The whole test suite (make test). The model was trained (or reused) by make before this runs.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# chromium + a CJK font for the browser tests (installed only when missing)
bash scripts/setup_browser.sh
"$VENV_BIN/python" -m pytest -p no:cacheprovider "$@"
