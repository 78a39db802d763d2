#!/usr/bin/env bash
# The main job: create/reuse .venv, install the project, then run it on the sample database in examples/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$here/scripts/_venv.sh" main
cd "$here"
sqldistill profile examples/employee_hire_evaluation.sqlite "$@"
