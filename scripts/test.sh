#!/usr/bin/env bash
# The test command: create/reuse .venv, install the project with its dev tools, then lint, type-check and test.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k reflect`).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$here/scripts/_venv.sh" dev
bash "$here/scripts/_system_deps.sh"
cd "$here"
echo "== ruff"; ruff check src tests bench
echo "== mypy"; mypy
echo "== pytest"; python -m pytest "$@"
