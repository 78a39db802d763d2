"""Build a test suite for any database: neighbour databases on which near-miss queries give away their mistake.

Execution accuracy on one database accepts a wrong query whose result happens to coincide with the right
one (``>`` for ``>=`` when no row sits on the boundary, a dropped DISTINCT when names are unique, ...).
A test suite adds databases with the same schema and other contents; a prediction is then correct only if
it agrees with the gold on all of them. We build one by

1. taking a set of queries (the user's, or probes written from the schema when none are given) and their
   near-miss mutants, and keeping the pairs the original database cannot tell apart;
2. generating many random neighbours (``neighbours.generate``) and running every query and mutant on each;
3. keeping the ``n`` neighbours that together tell apart the most pairs (greedy set cover), among those on
   which every query runs and gives a tie-free answer (so the suite never rejects a correct query);
4. writing them as ``OUT/<db_id>/<db_id>_tsNN.sqlite`` beside a ``testsuite.json`` manifest.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqldistill.db import connect, reflect
from sqldistill.errors import DataError
from sqldistill.eval.neighbours import Blueprint, ddl_for, foreign_key_violations, generate, read_pools
from sqldistill.eval.suite_queries import (
    Pair,
    distinguishes,
    pairs_for,
    probe_queries,
    processed_forms,
    query_literals,
    rewrites_broken,
    round_numbers,
    run_on_connection,
    sound_rewrites,
    tie_unstable,
)
from sqldistill.spider.execution import order_matters_for, prepare_for_execution

SCALES = (3, 5, 8, 12, 20)


@dataclass
class SuiteReport:
    db_id: str
    directory: str
    neighbours: list[str]
    queries: int
    queries_skipped: int
    pairs: int  # (query, near miss) pairs that differ after the evaluator's preprocessing
    caught_by_original: int
    caught_by_suite: int  # of the pairs the original cannot tell apart
    candidates: int
    rejected_candidates: int
    tie_prone_candidates: int  # a query's answer there hangs on tie-breaking, or a sound rewrite disagrees
    tie_prone_neighbours: int  # kept although a query's answer there depends on row order (too few others)
    foreign_key_violations: int
    seconds: float
    kinds: dict[str, list[int]] = field(default_factory=dict)  # kind -> [needing suite, caught by suite]
    missed: list[list[str]] = field(default_factory=list)  # a sample of [kind, query, near miss] not caught

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- build


def build_testsuite(
    target: str,
    out_dir: str | Path,
    n: int = 20,
    queries: Sequence[str] | str | Path | None = None,
    candidates: int | None = None,
    seed: int = 0,
    timeout_s: float = 2.0,
    progress: Callable[[int, int], None] | None = None,
) -> SuiteReport:
    """Write ``n`` neighbour databases of ``target`` under ``out_dir/<db_id>/`` and return what they catch."""
    started = time.perf_counter()
    if n < 1:
        raise DataError("A test suite needs at least one neighbour", hint="Pass -n 1 or more")
    rng = random.Random(seed)
    db = connect(target)
    try:
        schema = reflect(db, samples=0)
        ddl = ddl_for(db, schema)
        pools = read_pools(db, schema)
        if isinstance(queries, (str, Path)):
            queries = read_queries(queries, Path(db.target.location).stem if db.dialect == "sqlite" else db.db_id)
        given = list(queries) if queries is not None else probe_queries(schema, pools, rng)
        usable, skipped = [], 0
        for sql in dict.fromkeys(s.strip() for s in given if s.strip()):
            # Queries are checked on the source as the user wrote them (probes are written for SQLite) and
            # used on the SQLite neighbours in SQLite's dialect.
            native = sql if queries is not None else _transpile(sql, "sqlite", db.dialect)
            lite = _transpile(sql, db.dialect, "sqlite") if queries is not None else sql
            res = db.execute(native, timeout_s=max(timeout_s, 10.0), max_rows=1, check=True) if native else None
            if res is not None and res.ok and lite:
                usable.append(lite)
            else:
                skipped += 1
        if not usable:
            raise DataError(f"None of the {len(given)} queries runs on {db.target.display}",
                            hint="Pass queries written for this database")
        if queries is None:
            for pool in pools.values():
                pool.literals.extend(round_numbers(pool.values))
        for sql in usable:
            lits, ordered = query_literals(sql, schema)
            for key, value in lits:
                if key in pools and value not in pools[key].literals:
                    pools[key].literals.append(value)
            for key in ordered:
                if key in pools:
                    pools[key].spread = True
        pairs = pairs_for(usable, schema)
        original_path = db.target.location if db.dialect == "sqlite" else None
    finally:
        db.close()

    # Pairs the original already tells apart need no neighbour.
    if original_path is not None:
        orig = _open_readonly(original_path)
        gold_rows = {g: run_on_connection(orig, g, max(timeout_s, 10.0)) for g in {p.gold for p in pairs}}
        needed = []
        for p in pairs:
            g = gold_rows[p.gold]
            if g.rows is None:
                continue
            cap = len(g.rows)
            if not distinguishes(g, run_on_connection(orig, p.pred, timeout_s, cap), p.order):
                needed.append(p)
        orig.close()
    else:
        needed = pairs
    blueprint = Blueprint(schema=schema, ddl=ddl, pools=pools)
    golds = sorted({p.gold for p in needed} | set(processed_forms(usable)))
    rewrites = _sound_rewrite_pairs(usable if queries is not None else [], schema, original_path, timeout_s)
    inherent: set[str] = set(golds) if queries is None else set()  # probes are nobody's gold: ties are fine
    if original_path is not None and queries is not None:  # ambiguous on the original: the question has ties
        orig = _open_readonly(original_path)
        inherent = tie_unstable(orig, {g: run_on_connection(orig, g, max(timeout_s, 10.0)) for g in golds},
                                 max(timeout_s, 10.0))
        orig.close()

    budget = candidates if candidates is not None else max(10 * n, 100)
    scored: list[tuple[set[int], int, int, sqlite3.Connection]] = []  # (caught, unstable, index, conn)
    rejected = 0
    # Ties make candidates unusable; when too few tie-free ones turn up, keep trying up to three times longer.
    i = 0
    while i < budget or (i < 3 * budget and sum(1 for e in scored if e[1] == 0) < n):
        crng = random.Random(rng.randrange(1 << 30))
        conn = generate(blueprint, crng, crng.choice(SCALES))
        conn.execute("PRAGMA query_only = ON")
        gold_den = {g: run_on_connection(conn, g, timeout_s) for g in golds}
        if any(d.rows is None for d in gold_den.values()):
            rejected += 1  # a query fails here: the neighbour would make a correct prediction look wrong
            conn.close()
        else:
            caught = {j for j, p in enumerate(needed)
                      if distinguishes(gold_den[p.gold],
                                        run_on_connection(conn, p.pred, timeout_s, len(gold_den[p.gold].rows or [])),
                                        p.order)}
            unstable = len((tie_unstable(conn, gold_den, timeout_s) - inherent)
                           | rewrites_broken(conn, rewrites, gold_den, timeout_s))
            scored.append((caught, unstable, i, conn))
        i += 1
        if progress:
            progress(i, max(budget, i))
    chosen = _choose(scored, n)
    kept = {id(e[3]) for e in chosen}
    for entry in scored:
        if id(entry[3]) not in kept:
            entry[3].close()

    db_id = Path(original_path).stem if original_path else schema.db_id
    folder = Path(out_dir) / db_id
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{db_id}_ts*.sqlite"):
        old.unlink()
    written, violations, covered = [], 0, set()
    kinds: dict[str, list[int]] = {}
    for k, (caught, _unstable, _i, conn) in enumerate(chosen, start=1):
        covered |= caught
        violations += foreign_key_violations(conn)
        path = folder / f"{db_id}_ts{k:02d}.sqlite"
        dest = sqlite3.connect(path)
        conn.backup(dest)
        dest.close()
        conn.close()
        written.append(str(path))
    missed: list[list[str]] = []
    for j, p in enumerate(needed):
        counts = kinds.setdefault(p.kind, [0, 0])
        counts[0] += 1
        counts[1] += j in covered
        if j not in covered and len(missed) < 50:
            missed.append([p.kind, p.gold, p.pred])
    report = SuiteReport(
        db_id=db_id, directory=str(folder), neighbours=written, queries=len(usable), queries_skipped=skipped,
        pairs=len(pairs), caught_by_original=len(pairs) - len(needed), caught_by_suite=len(covered),
        candidates=i, rejected_candidates=rejected, foreign_key_violations=violations,
        tie_prone_candidates=sum(1 for e in scored if e[1] > 0),
        tie_prone_neighbours=sum(1 for e in chosen if e[1] > 0),
        seconds=round(time.perf_counter() - started, 2), kinds=kinds, missed=missed,
    )
    (folder / "testsuite.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def _sound_rewrite_pairs(queries: Sequence[str], schema: Any, original_path: str | None,
                         timeout_s: float) -> list[Pair]:
    """(gold, sound rewrite) pairs that agree on the original: neighbours must keep them agreeing."""
    pairs = []
    for sql in queries:
        for keep in (False, True):
            for rewrite in sound_rewrites(sql, schema):
                try:
                    gold, pred = prepare_for_execution(sql, keep), prepare_for_execution(rewrite, keep)
                except ValueError:
                    continue
                pairs.append(Pair(gold, pred, order_matters_for(gold), "rewrite"))
    if original_path is None or not pairs:
        return pairs
    orig = _open_readonly(original_path)
    try:
        kept = []
        for p in pairs:
            g = run_on_connection(orig, p.gold, max(timeout_s, 10.0))
            r = run_on_connection(orig, p.pred, max(timeout_s, 10.0), len(g.rows or []))
            if g.rows is not None and not distinguishes(g, r, p.order):
                kept.append(p)
        return kept
    finally:
        orig.close()


def _open_readonly(path: str) -> sqlite3.Connection:
    """The user's database, opened so that SQLite itself refuses writes (read-only URI)."""
    uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    conn.text_factory = lambda b: b.decode(errors="ignore")
    return conn


def _transpile(sql: str, source: str, target: str) -> str | None:
    """``sql`` in ``target``'s dialect (itself when they are the same), or None when sqlglot cannot."""
    if source == target:
        return sql
    import sqlglot
    from sqlglot.errors import SqlglotError

    from sqldistill.sql.safety import SQLGLOT_DIALECT

    try:
        out = sqlglot.transpile(sql, read=SQLGLOT_DIALECT.get(source, source), write=SQLGLOT_DIALECT.get(target, target))
    except (SqlglotError, ValueError, RecursionError):
        return None
    return out[0] if len(out) == 1 else None


def _choose(scored: list[tuple[set[int], int, int, sqlite3.Connection]],
            n: int) -> list[tuple[set[int], int, int, sqlite3.Connection]]:
    """Greedy max coverage over tie-free candidates; tie-prone ones only when too few are tie-free."""
    pool = sorted(scored, key=lambda e: (e[1] > 0, e[1]))
    stable = [e for e in pool if e[1] == 0]
    ranked = stable if len(stable) >= n else pool[: max(n, len(stable))]
    chosen: list[tuple[set[int], int, int, sqlite3.Connection]] = []
    covered: set[int] = set()
    remaining = list(ranked)
    while remaining and len(chosen) < n:
        best = max(remaining, key=lambda e: (len(e[0] - covered), len(e[0]), -e[2]))
        chosen.append(best)
        covered |= best[0]
        remaining.remove(best)
    return chosen


def read_queries(path: str | Path, db_id: str | None = None) -> list[str]:
    """Queries from a file in any gold format (kept to ``db_id`` when the file names databases) or one SQL
    per line."""
    from sqldistill.eval.loaders import load_gold, load_predictions

    try:
        golds = load_gold(path)
    except DataError:
        return [q for q in load_predictions(path) if q]
    mine = [g.sql for g in golds if db_id is None or g.db_id == db_id]
    return mine or [g.sql for g in golds]


def suite_paths(testsuite_dir: str | Path, db_id: str) -> list[str]:
    """The databases of a test suite for ``db_id``: every ``*.sqlite`` file in ``DIR/<db_id>/``."""
    folder = Path(testsuite_dir) / db_id
    if not folder.is_dir():
        raise DataError(f"No test suite for {db_id} under {testsuite_dir}",
                        hint=f"Build one with: sqldistill testsuite build <{db_id} database> --out {testsuite_dir}")
    return sorted(str(p) for p in folder.iterdir() if ".sqlite" in p.name and p.is_file())


__all__ = ["SuiteReport", "build_testsuite", "read_queries", "suite_paths"]
