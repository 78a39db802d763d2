"""Execution accuracy with the official test-suite evaluator's semantics and timeouts that stop the engine: the
one EX of the product, on SQLite files (``evaluate``, test suites) or on an open ``Database`` of any dialect
(``execution_verdicts``: the pipeline's other databases, the per-round EX of training's rounds).

What the official test-suite evaluator does to the two queries, in order, and the line of its behaviour each
step mirrors (``evaluation.py`` reads the files, ``exec_eval.py`` runs the queries):

1. each line is stripped and cut at its first tab: ``l.strip().split('\t')``; the prediction is the first
   field, the gold the first of two (``exact_match.prediction_from_line``);
2. the prediction (only) has every lower-case ``value`` replaced by ``1``: ``p_str.replace("value", "1")``,
   a plain substring replace, so ``'value'``, ``item_value`` and ``values`` change too and ``VALUE`` does
   not (``exact_match.plug_value_placeholder``, applied by the caller because EM parses the same text);
3. ``> =``, ``< =``, ``! =`` lose their inner space, in both (``postprocess``);
4. unless DISTINCT is kept, every sqlparse token spelled ``distinct`` is dropped and the tokens of the first
   statement are re-joined without separators, in both (``remove_distinct``: so ``COUNT(DISTINCT x)`` loses
   it too, and anything after a first ``;`` is gone);
5. row order matters when the text ``order by`` occurs in the lower-cased, processed gold
   (``order_matters = 'order by' in g_str.lower()``);
6. ``YEAR(CURDATE())`` becomes ``2020`` just before executing, in both (``replace_cur_year``);
7. text in the results is decoded from UTF-8 with undecodable bytes dropped
   (``text_factory = lambda b: b.decode(errors="ignore")``).

The gold is never rewritten otherwise; EM's own readings (lower-casing outside quotes, ``'`` read as ``"``)
are the parser's (:mod:`sqldistill.spider.parser`, :mod:`sqldistill.spider.tokenizer`).

A prediction that cannot be processed or executed is wrong. Unlike the official evaluator (which waits
forever), a query that runs past the timeout is stopped inside the engine and counts as failed.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqldistill.db import connect, gold_order_matters, same_result
from sqldistill.db.database import Database

Row = tuple[Any, ...]

_CUR_YEAR = re.compile(r"YEAR\s*\(\s*CURDATE\s*\(\s*\)\s*\)\s*", re.IGNORECASE)


def fix_spaced_operators(sql: str) -> str:
    return sql.replace("> =", ">=").replace("< =", "<=").replace("! =", "!=")


def remove_distinct(sql: str) -> str:
    """Drop every token spelled DISTINCT from the first statement, as the official ``remove_distinct``.

    The official code re-joins the leaf tokens of ``sqlparse.parse(sql)[0]``. Grouping never changes leaf
    tokens, so we run sqlparse's lexer and statement splitter without it: the same text, three times faster
    (checked equal on some 24,000 real, perturbed and fuzzed queries). Raises ValueError when there is no
    statement or sqlparse refuses the input (the official evaluator would crash; we score it wrong).
    """
    from sqlparse.engine import FilterStack
    from sqlparse.exceptions import SQLParseError

    try:
        first = next(iter(FilterStack().run(sql)), None)
    except (SQLParseError, RecursionError) as err:
        raise ValueError(f"sqlparse cannot read the query: {err}") from None
    if first is None:
        raise ValueError("the query is empty")
    return "".join(tok.value for tok in first.flatten() if tok.value.lower() != "distinct")


@functools.lru_cache(maxsize=8192)
def prepare_for_execution(sql: str, keep_distinct: bool) -> str:
    """Steps 2 and 3 above. Raises ValueError when the query cannot be processed."""
    sql = fix_spaced_operators(sql)
    return sql if keep_distinct else remove_distinct(sql)


def replace_current_year(sql: str) -> str:
    return _CUR_YEAR.sub("2020", sql)


@dataclass(frozen=True)
class Denotation:
    """The rows a query returned on one database, or why it returned none."""

    rows: list[Row] | None
    error: str | None = None
    kind: str | None = None  # None | 'error' | 'refused' | 'timeout' | 'too_many_rows'

    @property
    def ok(self) -> bool:
        return self.rows is not None

    def to_marshal(self) -> tuple[Any, ...]:
        return (self.rows, self.error, self.kind)

    @classmethod
    def from_marshal(cls, data: tuple[Any, ...]) -> Denotation:
        rows, error, kind = data
        return cls(None if rows is None else [tuple(r) for r in rows], error, kind)


@dataclass
class Executor:
    """Runs queries on SQLite files, one read-only connection per file and process, or on a ``Database``
    the caller opened (``lend``: any dialect; the caller keeps it and closes it)."""

    timeout_s: float | None
    _dbs: dict[str, Database] = field(default_factory=dict)
    _lent: dict[str, Database] = field(default_factory=dict)
    _pid: int = field(default_factory=os.getpid)

    def lend(self, name: str, db: Database) -> None:
        """Run the queries for ``name`` on ``db`` instead of opening a file of that name."""
        self._lent[name] = db

    def _db(self, path: str) -> Database:
        lent = self._lent.get(path)
        if lent is not None:
            return lent
        if self._pid != os.getpid():  # forked: connections of the parent must not be reused
            self._dbs, self._pid = {}, os.getpid()
        db = self._dbs.get(path)
        if db is None:
            db = self._dbs[path] = connect(path)
        return db

    def run(self, path: str, sql: str, max_rows: int | None = None) -> Denotation:
        """Execute ``sql`` (already processed) on ``path``; with ``max_rows`` a longer result is cut short.

        Cutting short is exact for scoring: a prediction with more rows than the gold is wrong anyway, and
        stopping early bounds the memory of a runaway cross join.
        """
        res = self._db(path).execute(replace_current_year(sql), timeout_s=self.timeout_s, max_rows=max_rows,
                                     check=False)
        if res.error is not None:
            return Denotation(None, res.error, res.error_kind or "error")
        if res.truncated:
            return Denotation(None, f"returned more than {max_rows} rows", "too_many_rows")
        return Denotation(res.rows)

    def close(self) -> None:
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()


def pred_matches(gold: Denotation, pred: Denotation, order_matters: bool) -> bool:
    return gold.rows is not None and pred.rows is not None and same_result(gold.rows, pred.rows, order_matters)


def order_matters_for(processed_gold: str) -> bool:
    return gold_order_matters(processed_gold)


@dataclass(frozen=True)
class ExecutionVerdict:
    """EX (and TS, with test-suite databases) of one prediction, or why it could not be judged."""

    exec: int
    ts: int | None = None  # None without test-suite databases
    error: str | None = None  # why the prediction failed, when it did
    gold_error: str | None = None  # the gold failed: the example counts as wrong


def execution_match(gold: str, pred: str, databases: Sequence[str], executor: Executor,
                    keep_distinct: bool = False, known: Mapping[str, Denotation] | None = None,
                    fresh: list[tuple[str, Denotation]] | None = None) -> ExecutionVerdict:
    """Steps 3 to 7 above for one example: ``pred`` has had step 2 (``plug_value_placeholder``) already.

    ``databases``: the example's own database first, then its test-suite databases (names ``executor`` runs
    on). As in the official loop, the gold runs first on each database and the prediction only where the gold
    succeeded; the first disagreement ends the example. Gold results come from ``known`` when there, and the
    ones computed are appended to ``fresh`` (for a cache)."""
    known = known or {}
    wrong_ts = 0 if len(databases) > 1 else None
    try:
        gold_sql = prepare_for_execution(gold, keep_distinct)
    except ValueError as err:
        return ExecutionVerdict(0, wrong_ts, None, f"cannot process the gold query: {err}")
    order = order_matters_for(gold_sql)
    pred_sql: str | None = None
    for position, name in enumerate(databases):
        gold_den = known.get(name)
        if gold_den is None:
            gold_den = executor.run(name, gold_sql)
            if fresh is not None:
                fresh.append((name, gold_den))
        if not gold_den.ok:
            where = "" if position == 0 else f" on test-suite database {Path(name).name}"
            return ExecutionVerdict(int(position > 0), wrong_ts, None, f"the gold query fails{where}: {gold_den.error}")
        if pred_sql is None:
            if not pred.strip():
                return ExecutionVerdict(0, wrong_ts, "empty prediction")
            try:
                pred_sql = prepare_for_execution(pred, keep_distinct)
            except ValueError as err:
                return ExecutionVerdict(0, wrong_ts, f"cannot process the prediction: {err}")
        pred_den = executor.run(name, pred_sql, max_rows=len(gold_den.rows or []))
        if not pred_matches(gold_den, pred_den, order):
            if position > 0:
                return ExecutionVerdict(1, 0)
            error = None if pred_den.ok or pred_den.kind == "too_many_rows" else pred_den.error
            return ExecutionVerdict(0, wrong_ts, error)
    return ExecutionVerdict(1, 1 if len(databases) > 1 else None)


def execution_verdicts(db: Database, pairs: Iterable[tuple[str, str]], timeout_s: float | None = 30.0,
                       keep_distinct: bool = False) -> list[ExecutionVerdict]:
    """EX with the official semantics for (gold, prediction) pairs on an open database of any dialect: the
    same processing and comparison as ``evaluate`` on SQLite files, where the official evaluator itself
    cannot open the database."""
    from sqldistill.spider.exact_match import plug_value_placeholder

    executor = Executor(timeout_s)
    executor.lend(db.db_id, db)
    return [execution_match(gold, plug_value_placeholder(pred), (db.db_id,), executor, keep_distinct)
            for gold, pred in pairs]


__all__ = [
    "Denotation",
    "ExecutionVerdict",
    "Executor",
    "execution_match",
    "execution_verdicts",
    "fix_spaced_operators",
    "order_matters_for",
    "pred_matches",
    "prepare_for_execution",
    "remove_distinct",
    "replace_current_year",
]
