#!/usr/bin/env bash
# The main job: create/reuse .venv, install the project, then distill a student for the sample database in
# examples/ (profile -> synthesize -> critics -> teacher -> student -> evaluate -> report) on the CPU.
# Rerunning resumes: finished stages are skipped. Extra arguments go to `sqldistill distill`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$here/scripts/_venv.sh" main
cd "$here"
cfg="runs/sqldistill.yaml"
if [[ ! -f "$cfg" ]]; then
  sqldistill init examples/employee_hire_evaluation.sqlite --questions examples/employee_hire_evaluation.questions.json --out "$cfg"
fi
sqldistill distill "$cfg" "$@"
