#!/usr/bin/env bash
# Installs everything (scripts/setup.sh) and opens medview on its demo CT.
# Without a display (no DISPLAY or WAYLAND_DISPLAY), it runs on a virtual one (Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run-demo: no display found; running on a virtual screen (Xvfb)"
  exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/medview --demo "$@"
fi
exec .venv/bin/medview --demo "$@"
