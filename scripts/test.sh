#!/usr/bin/env bash
# Installs everything (scripts/setup.sh), then runs the lint, the layer contracts and the whole test
# suite, GUI tests included, on a virtual screen (Xvfb with Mesa). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "test: ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "test: import contracts"
.venv/bin/lint-imports --no-cache
echo "test: pytest"
export QT_API=pyside6 MEDVIEW_TESTING=1
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest "$@"
