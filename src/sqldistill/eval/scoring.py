"""``evaluate()``: EX, EM and test-suite accuracy per example and per hardness, over a process pool.

Per example, in this order (the official evaluator's order where it has one):

1. hardness from the gold query parsed against the schema read from its SQLite file;
2. EM: gold and prediction (after the official rewrite of every ``value`` to ``1``) through ``exact_match``;
3. EX: both processed for execution, the gold's rows taken from the disk cache or computed, the
   prediction run with a timeout and a row cap one past the gold's row count, the rows compared;
4. TS (with a test suite): the same on every neighbour database, stopping at the first disagreement.

Work is split into chunks of examples run by worker processes; each worker keeps its own read-only
connections. Gold results come back to the parent, which alone writes the cache.

Where we differ from the official evaluator, on purpose (every other verdict is the same; see
tests/test_eval_official.py): an empty prediction line is a wrong prediction, not a separator; a query
that runs past the timeout is stopped and wrong (the official one waits forever); a write statement is
refused and wrong (the official one runs it on a writable connection); a gold query that fails is reported
per example and counted wrong (the official one stops with an assertion); EX uses ``<db_id>.sqlite`` only,
and the other databases of a folder are a test suite, given with ``testsuite=``.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqldistill.errors import DatabaseNotFound, DataError
from sqldistill.eval.gold_cache import GoldCache, default_cache_dir
from sqldistill.eval.loaders import GoldExample, load_gold, load_predictions
from sqldistill.spider.execution import Denotation, Executor, execution_match

ETYPES = ("all", "exec", "match")
CHUNK = 8


@dataclass
class ExampleResult:
    index: int
    db_id: str
    hardness: str | None
    exec: int | None
    exact: int | None
    ts: int | None
    error: str | None
    gold_error: str | None = None  # the gold query failed to execute: EX/TS cannot be trusted here
    partial: dict[str, Any] | None = None
    difficulty: str = ""
    gold_unparsed: str | None = None  # the Spider parser cannot read the gold: no hardness, EM 0

    def to_json_dict(self, testsuite: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "db_id": self.db_id, "hardness": self.hardness,
                               "exec": self.exec, "exact": self.exact}
        if testsuite:
            out["ts"] = self.ts
        out["error"] = self.error
        if self.gold_error:
            out["gold_error"] = self.gold_error
        if self.gold_unparsed:
            out["gold_unparsed"] = self.gold_unparsed
        if self.difficulty:
            out["difficulty"] = self.difficulty
        return out


@dataclass(frozen=True)
class _Job:
    index: int
    gold: str
    db_id: str
    pred: str
    db_path: str
    suite: tuple[str, ...]
    cached: tuple[tuple[str, Denotation], ...]  # (db path, gold denotation) already known
    difficulty: str


@dataclass(frozen=True)
class _Config:
    etype: str
    keep_distinct: bool
    timeout_s: float | None
    fk_maps: dict[str, dict[str, str]]


# ---------------------------------------------------------------- per example (runs in workers)

_STATE: dict[str, Any] = {}


def _init_worker(config: _Config) -> None:
    _spider_schema.cache_clear()  # a database may have been rebuilt since the last run in this process
    _gold_hardness.cache_clear()
    _STATE.clear()
    _STATE["config"] = config
    _STATE["executor"] = Executor(config.timeout_s)


def gold_cache_key(gold: str, keep_distinct: bool) -> str:
    """What identifies a gold result: the raw gold and the one option that changes its processing."""
    return f"{int(keep_distinct)}|{gold}"


@functools.lru_cache(maxsize=256)
def _spider_schema(path: str) -> Any:
    from sqldistill.spider.parser import schema_from_sqlite

    return schema_from_sqlite(path)


@functools.lru_cache(maxsize=8192)
def _gold_hardness(path: str, gold: str) -> tuple[str | None, str | None]:
    """(hardness, None) or (None, why the Spider parser cannot read the gold)."""
    from sqldistill.spider.hardness import hardness_of
    from sqldistill.spider.parser import SpiderParseError, parse_spider_sql

    try:
        return hardness_of(parse_spider_sql(gold, _spider_schema(path))), None
    except (SpiderParseError, ValueError, TypeError, KeyError, IndexError) as err:
        return None, f"the Spider parser cannot read the gold: {err}"


def _hardness_and_match(job: _Job, pred: str, config: _Config) -> tuple[str | None, int | None, Any, str | None]:
    from sqldistill.spider.exact_match import exact_match

    level, problem = _gold_hardness(job.db_path, job.gold)
    if problem is not None:
        return None, (0 if config.etype != "exec" else None), None, problem
    schema = _spider_schema(job.db_path)
    if config.etype == "exec":
        return level, None, None, None
    exact, partial = exact_match(job.gold, pred, schema, config.fk_maps.get(job.db_id, {}))
    return level, int(bool(exact)), partial, None


def _score(job: _Job) -> tuple[ExampleResult, list[tuple[str, Denotation]]]:
    from sqldistill.spider.exact_match import plug_value_placeholder

    config: _Config = _STATE["config"]
    pred = plug_value_placeholder(job.pred)
    level, exact, partial, parse_problem = _hardness_and_match(job, pred, config)
    fresh: list[tuple[str, Denotation]] = []
    exec_ok, ts, error, gold_error = None, None, None, None
    if config.etype in ("all", "exec"):
        verdict = execution_match(job.gold, pred, (job.db_path, *job.suite), _STATE["executor"],
                                  config.keep_distinct, dict(job.cached), fresh)
        exec_ok, ts, error, gold_error = verdict.exec, verdict.ts, verdict.error, verdict.gold_error
    result = ExampleResult(job.index, job.db_id, level, exec_ok, exact, ts, error, gold_error, partial,
                           job.difficulty, parse_problem)
    return result, fresh


def _score_chunk(jobs: list[_Job]) -> list[tuple[ExampleResult, list[tuple[str, Denotation]]]]:
    return [_score(job) for job in jobs]


# ---------------------------------------------------------------- the run


@dataclass
class EvalReport:
    examples: list[ExampleResult]
    scores: dict[str, dict[str, Any]]
    etype: str
    testsuite: bool
    seconds: float
    workers: int
    cache_hits: int = 0
    cache_misses: int = 0
    tables: str | None = None
    notes: list[str] = field(default_factory=list)
    by_difficulty: dict[str, dict[str, Any]] | None = None  # when every gold example carries a difficulty label

    @property
    def gold_errors(self) -> int:
        return sum(1 for e in self.examples if e.gold_error)

    def table(self) -> str:
        from sqldistill.spider.report_table import format_table

        text = format_table(self.scores, self.etype, self.testsuite)
        if self.by_difficulty and self.etype != "match":
            text += "\nBy the gold file's difficulty labels:\n"
            text += format_table(self.by_difficulty, "exec", self.testsuite, levels=list(self.by_difficulty))
        return text

    def to_dict(self) -> dict[str, Any]:
        def strip(cell: dict[str, Any]) -> dict[str, Any]:
            out = {k: v for k, v in cell.items() if k != "partial"}
            if self.etype in ("all", "match"):
                out["partial"] = {k: {m: v[m] for m in ("acc", "rec", "f1")} for k, v in cell["partial"].items()}
            if self.etype == "match":
                out.pop("exec", None)
            if self.etype == "exec":
                out.pop("exact", None)
            if not self.testsuite:
                out.pop("ts", None)
            return out

        return {"etype": self.etype, "count": len(self.examples), "scores": {k: strip(v) for k, v in self.scores.items()},
                "gold_errors": self.gold_errors, "seconds": round(self.seconds, 3), "workers": self.workers,
                "cache": {"hits": self.cache_hits, "misses": self.cache_misses}, "tables": self.tables,
                "notes": self.notes,
                **({"by_difficulty": {k: strip(v) for k, v in self.by_difficulty.items()}} if self.by_difficulty else {})}

    def write_jsonl(self, path: str | Path) -> None:
        from sqldistill.jsonfiles import write_jsonl_atomic

        write_jsonl_atomic(path, (ex.to_json_dict(self.testsuite) for ex in self.examples))


def find_database(db_dir: str | Path, db_id: str) -> str:
    """``DIR/<db_id>/<db_id>.sqlite`` (Spider and BIRD layout) or ``DIR/<db_id>.sqlite``."""
    root = Path(db_dir)
    for candidate in (root / db_id / f"{db_id}.sqlite", root / f"{db_id}.sqlite"):
        if candidate.is_file():
            return str(candidate)
    raise DatabaseNotFound(f"No database for db_id {db_id!r} under {root} (looked for {root / db_id / (db_id + '.sqlite')})",
                           hint="Pass --db-dir pointing at the folder that holds one sub-folder per database")


def _fk_maps(tables: str | Path | None, db_paths: dict[str, str]) -> tuple[dict[str, dict[str, str]], str]:
    from sqldistill.spider.exact_match import build_foreign_key_map, build_foreign_key_maps

    if tables is not None:
        if not Path(tables).is_file():
            raise DataError(f"The tables file {tables} does not exist", hint="Pass Spider's tables.json")
        try:
            maps = build_foreign_key_maps(tables)
        except (ValueError, KeyError, TypeError, IndexError) as err:
            raise DataError(f"The tables file {tables} is not a Spider tables.json ({err})",
                            hint="Pass Spider's tables.json") from None
        return maps, str(tables)
    maps = {}
    for db_id, path in db_paths.items():
        maps[db_id] = build_foreign_key_map(_tables_entry_from_sqlite(path))
    return maps, "reflected from the databases"


def _tables_entry_from_sqlite(path: str) -> dict[str, Any]:
    """A tables.json-like entry (names and foreign keys) read from a SQLite file, for EM without tables.json."""
    from sqldistill.db import reflect

    schema = reflect(path, samples=0)
    names = [t.name for t in schema.tables]
    columns: list[tuple[int, str]] = [(-1, "*")]
    index: dict[tuple[str, str], int] = {}
    for t_i, table in enumerate(schema.tables):
        for col in table.columns:
            index[(table.name.lower(), col.name.lower())] = len(columns)
            columns.append((t_i, col.name))
    fks = []
    for table in schema.tables:
        for fk in table.foreign_keys:
            for src, dst in zip(fk.columns, fk.ref_columns):
                a, b = index.get((table.name.lower(), src.lower())), index.get((fk.ref_table.lower(), dst.lower()))
                if a is not None and b is not None:
                    fks.append([a, b])
    return {"table_names_original": names, "column_names_original": columns, "foreign_keys": fks}


def evaluate(
    gold: str | Path | Sequence[GoldExample],
    pred: str | Path | Sequence[str],
    db_dir: str | Path,
    tables: str | Path | None = None,
    etype: str = "all",
    workers: int | None = None,
    timeout_s: float | None = 30.0,
    testsuite: str | Path | None = None,
    keep_distinct: bool = False,
    cache_dir: str | Path | bool | None = True,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Score predictions against gold queries. See the module docstring for the per-example steps.

    ``gold``/``pred`` are files (any format ``loaders`` reads) or already loaded lists. ``workers=1`` runs in
    this process; ``None`` uses one process per CPU. ``cache_dir=True`` uses the default cache folder,
    ``False``/``None`` disables the gold cache. ``tables`` (Spider's tables.json) gives EM its foreign keys;
    without it ``DB_DIR/../tables.json`` is used when present, else the databases' own foreign keys.
    """
    started = time.perf_counter()
    if etype not in ETYPES:
        raise DataError(f"Unknown evaluation type {etype!r}", hint="Use exec, match or all")
    golds = load_gold(gold) if isinstance(gold, (str, Path)) else list(gold)
    preds = load_predictions(pred, expected=len(golds)) if isinstance(pred, (str, Path)) else list(pred)
    if len(preds) != len(golds):
        raise DataError(f"{len(preds)} predictions for {len(golds)} gold examples",
                        hint="Give exactly one prediction per gold example, in the same order")
    if not Path(db_dir).is_dir():
        raise DatabaseNotFound(f"The database folder {db_dir} does not exist", hint="Check --db-dir")
    db_paths = {db_id: find_database(db_dir, db_id) for db_id in dict.fromkeys(g.db_id for g in golds)}
    suites: dict[str, tuple[str, ...]] = {}
    if testsuite is not None:
        from sqldistill.eval.testsuite import suite_paths

        for db_id, original in db_paths.items():
            own = os.path.realpath(original)
            suites[db_id] = tuple(p for p in suite_paths(testsuite, db_id) if os.path.realpath(p) != own)
    notes: list[str] = []
    if tables is None and etype != "exec":
        beside = Path(db_dir).resolve().parent / "tables.json"
        tables = beside if beside.is_file() else None
    fk_maps, tables_used = _fk_maps(tables, db_paths) if etype != "exec" else ({}, None)
    config = _Config(etype, keep_distinct, timeout_s, fk_maps)

    root = default_cache_dir() if cache_dir is True else (None if cache_dir in (False, None) else cache_dir)
    cache = GoldCache(root if etype != "match" else None)  # type: ignore[arg-type]
    jobs = []
    for i, (g, p) in enumerate(zip(golds, preds)):
        paths = (db_paths[g.db_id], *suites.get(g.db_id, ()))
        key = gold_cache_key(g.sql, keep_distinct)
        known = tuple((path, den) for path in paths if (den := cache.get(path, key)) is not None)
        jobs.append(_Job(i, g.sql, g.db_id, p, db_paths[g.db_id], suites.get(g.db_id, ()), known, g.difficulty))

    n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) // CHUNK + 1))
    results: list[ExampleResult | None] = [None] * len(jobs)

    def collect(batch: list[tuple[ExampleResult, list[tuple[str, Denotation]]]]) -> None:
        for res, fresh in batch:
            results[res.index] = res
            for path, den in fresh:
                cache.put(path, gold_cache_key(jobs[res.index].gold, keep_distinct), den)

    done = 0
    chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    if n_workers == 1:
        _init_worker(config)
        try:
            for chunk in chunks:
                collect(_score_chunk(chunk))
                done += len(chunk)
                if progress:
                    progress(done, len(jobs))
        finally:
            _STATE["executor"].close()
            _STATE.clear()
    else:
        # Import the scoring modules before forking so that workers inherit them instead of importing each.
        import sqldistill.spider.exact_match
        import sqldistill.spider.hardness  # noqa: F401

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker, initargs=(config,)) as pool:
            futures = {pool.submit(_score_chunk, chunk): len(chunk) for chunk in chunks}
            for fut in as_completed(futures):
                collect(fut.result())
                done += futures[fut]
                if progress:
                    progress(done, len(jobs))
    cache.save()

    from sqldistill.spider.report_table import aggregate

    final = [r for r in results if r is not None]
    scores = aggregate([vars(r) for r in final])
    failed = sum(1 for r in final if r.gold_error)
    if failed:
        notes.append(f"{failed} gold queries failed to execute (see gold_error in the per-example output); "
                     "their examples count as wrong")
    unparsed = sum(1 for r in final if r.gold_unparsed)
    if unparsed:
        notes.append(f"{unparsed} gold queries are beyond the Spider parser (see gold_unparsed): they have no "
                     "hardness (counted under 'all' only)" + ("" if etype == "exec" else " and score 0 on exact match"))
    by_difficulty = None
    if final and all(r.difficulty for r in final):
        levels = (*dict.fromkeys(sorted((r.difficulty for r in final), key=_difficulty_rank)), "all")
        by_difficulty = aggregate([{**vars(r), "hardness": r.difficulty} for r in final], levels)
    return EvalReport(final, scores, etype, testsuite is not None, time.perf_counter() - started, n_workers,
                      cache.hits, cache.misses, tables_used, notes, by_difficulty)


def _difficulty_rank(label: str) -> tuple[int, str]:
    order = ("simple", "moderate", "challenging")  # BIRD's labels, easiest first
    return (order.index(label) if label in order else len(order), label)


__all__ = ["EvalReport", "ExampleResult", "evaluate", "find_database"]
