"""Evaluation: execution accuracy, exact-set match and test-suite accuracy that agree with the official Spider
evaluators; benchmark loaders; test-suite building for any database.

- ``evaluate(gold, pred, db_dir, ...) -> EvalReport``: EX, EM (with partial scores) and TS per example and per
  hardness; ``EvalReport.table()`` is the official printout, ``.to_dict()`` its JSON, ``.write_jsonl()`` the
  per-example lines.
- ``load_gold`` / ``load_predictions``: Spider, BIRD, JSONL and ``SQL<TAB>db_id`` files, alignment kept.
- ``build_testsuite(target, out_dir, n=20, queries=None) -> SuiteReport``: neighbour databases of any database.
- ``mutate(sql, schema)``: near-miss mutants of a query.

Heavy parts load on first use, so importing ``sqldistill.eval`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evaluate": "sqldistill.eval.scoring",
    "EvalReport": "sqldistill.eval.scoring",
    "ExampleResult": "sqldistill.eval.scoring",
    "find_database": "sqldistill.eval.scoring",
    "GoldExample": "sqldistill.eval.loaders",
    "load_gold": "sqldistill.eval.loaders",
    "load_predictions": "sqldistill.eval.loaders",
    "build_testsuite": "sqldistill.eval.testsuite",
    "SuiteReport": "sqldistill.eval.testsuite",
    "mutate": "sqldistill.eval.mutations",
    "Mutation": "sqldistill.eval.mutations",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sqldistill.eval' has no attribute {name!r}")
