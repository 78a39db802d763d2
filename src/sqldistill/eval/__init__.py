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

from typing import Any

from sqldistill import lazy_exports

__all__, _load = lazy_exports(__name__, {
    ".scoring": ("evaluate", "EvalReport", "ExampleResult", "find_database"),
    ".loaders": ("GoldExample", "load_gold", "load_predictions"),
    ".testsuite": ("build_testsuite", "SuiteReport"),
    ".mutations": ("mutate", "Mutation"),
})


def __getattr__(name: str) -> Any:
    return _load(name)
