"""The queries a test suite is built around: the literals they compare with, probes written from the schema
when the user gives none, their near misses, and the checks run on every candidate database (execution with
the evaluator's preprocessing, and whether a query's answer there hangs on how ties are broken)."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqldistill.db import same_result
from sqldistill.eval.mutations import canonical_sql, mutate, resolve_column
from sqldistill.eval.neighbours import ColumnPool, usable_foreign_keys
from sqldistill.records import Schema
from sqldistill.spider.execution import (
    Denotation,
    order_matters_for,
    prepare_for_execution,
    replace_current_year,
)

MUTANTS_PER_QUERY = 60


# ---------------------------------------------------------------- literals and probes


def _literal_value(node: Any, schema: Schema) -> tuple[bool, Any]:
    from sqlglot import exp

    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        ok, v = _literal_value(node.this, schema)
        return ok, -v if ok else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return True, node.this
        try:
            f = float(node.this)
        except ValueError:
            return False, None
        return True, int(f) if f == int(f) and "." not in node.this else f
    if isinstance(node, exp.Column) and node.this is not None and getattr(node.this, "quoted", False) \
            and not node.table and resolve_column(node, schema) is None:
        return True, node.name  # "text" in double quotes: a string in SQLite when no column has that name
    return False, None


def query_literals(sql: str, schema: Schema) -> tuple[list[tuple[tuple[str, str], Any]], list[tuple[str, str]]]:
    """(column, value) pairs a query compares against, and the columns it orders by."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (ParseError, TokenError, ValueError, RecursionError):
        return [], []
    found: list[tuple[tuple[str, str], Any]] = []
    for node in tree.walk():
        if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like)):
            sides = [(node.this, node.expression), (node.expression, node.this)]
            for col, other in sides:
                if isinstance(col, exp.Column) and (where := resolve_column(col, schema)):
                    ok, value = _literal_value(other, schema)
                    if ok:
                        found.append(((where[0].lower(), where[1].lower()), value))
                        if isinstance(value, (int, float)) and not isinstance(node, exp.Like):
                            step = 1 if isinstance(value, int) else 0.5
                            found += [((where[0].lower(), where[1].lower()), value + step),
                                      ((where[0].lower(), where[1].lower()), value - step)]
        elif isinstance(node, (exp.In, exp.Between)) and isinstance(node.this, exp.Column):
            where = resolve_column(node.this, schema)
            if where:
                others = node.expressions if isinstance(node, exp.In) else [node.args.get("low"),
                                                                            node.args.get("high")]
                for other in others:
                    ok, value = _literal_value(other, schema)
                    if ok:
                        found.append(((where[0].lower(), where[1].lower()), value))
    ordered = []
    for node in tree.find_all(exp.Ordered):
        for col in node.find_all(exp.Column):
            where = resolve_column(col, schema)
            if where:
                ordered.append((where[0].lower(), where[1].lower()))
    return found, ordered


def round_numbers(values: Sequence[Any], limit: int = 12) -> list[Any]:
    """Round numbers inside a numeric column's range, and their neighbours: what questions tend to ask about
    ("more than 300000") when no queries tell us the real literals."""
    import math

    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) < 2 or min(nums) == max(nums):
        return []
    lo, hi = min(nums), max(nums)
    step = 10.0 ** math.floor(math.log10(hi - lo)) / 2  # halves too: 1945 as well as 1950
    out: list[Any] = []
    k = math.ceil(lo / step)
    while k * step <= hi and len(out) < 3 * limit:
        base = k * step
        exact = int(base) if all(isinstance(v, int) for v in nums) or base == int(base) else base
        out += [exact, exact - 1, exact + 1]
        k += 1
    return out[: 3 * limit]


def probe_queries(schema: Schema, pools: dict[tuple[str, str], ColumnPool], rng: random.Random) -> list[str]:
    """Queries written from the schema alone, for when the user gives none: filters, groups, orders, joins."""
    q = '"{}"'.format
    out: list[str] = []

    def sample(table: str, col: str) -> Any:
        values = pools.get((table.lower(), col.lower()), ColumnPool()).values
        return rng.choice(values) if values else None

    def lit(v: Any) -> str:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return repr(v)
        return "'" + str(v).replace("'", "''") + "'"

    for table in schema.tables:
        t = q(table.name)
        cols = [c for c in table.columns if not c.primary_key][:5]
        numeric = [c for c in cols if any(isinstance(v, (int, float))
                                          for v in pools.get((table.name.lower(), c.name.lower()),
                                                             ColumnPool()).values[:20])]
        for c in cols:
            out.append(f"SELECT {q(c.name)} FROM {t}")
            out.append(f"SELECT {q(c.name)}, COUNT(*) FROM {t} GROUP BY {q(c.name)}")
            v = sample(table.name, c.name)
            if v is not None and not isinstance(v, bytes):
                other = rng.choice(table.columns).name
                out.append(f"SELECT {q(other)} FROM {t} WHERE {q(c.name)} = {lit(v)}")
                out.append(f"SELECT COUNT(*) FROM {t} WHERE {q(c.name)} != {lit(v)}")
        for c in numeric[:3]:
            v = sample(table.name, c.name)
            if isinstance(v, (int, float)):
                out.append(f"SELECT COUNT(*) FROM {t} WHERE {q(c.name)} > {lit(v)}")
                out.append(f"SELECT {q(table.columns[0].name)} FROM {t} ORDER BY {q(c.name)} DESC LIMIT 3")
                out.append(f"SELECT MAX({q(c.name)}), AVG({q(c.name)}) FROM {t}")
        for fk in usable_foreign_keys(schema, table):
            parent = schema.table(fk.ref_table)
            assert parent is not None
            on = " AND ".join(f"T1.{q(r)} = T2.{q(c)}" for c, r in zip(fk.columns, fk.ref_columns))
            show = next((c.name for c in parent.columns if not c.primary_key), parent.columns[0].name)
            join = f"FROM {q(parent.name)} AS T1 JOIN {t} AS T2 ON {on}"
            out.append(f"SELECT T1.{q(show)} {join}")
            out.append(f"SELECT T1.{q(show)}, COUNT(*) {join} GROUP BY T1.{q(fk.ref_columns[0])}")
            out.append(f"SELECT {q(show)} FROM {q(parent.name)} WHERE {q(fk.ref_columns[0])} NOT IN "
                       f"(SELECT {q(fk.columns[0])} FROM {t})")
    return out


# ---------------------------------------------------------------- running on candidates


def run_on_connection(conn: sqlite3.Connection, sql: str, timeout_s: float,
                      max_rows: int | None = None) -> Denotation:
    """The evaluator's execution, on a connection we own (a candidate in memory)."""
    deadline = time.monotonic() + timeout_s
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 4000)
    try:
        cur = conn.execute(replace_current_year(sql))
        rows = cur.fetchall() if max_rows is None else cur.fetchmany(max_rows + 1)
        cur.close()
    except sqlite3.Warning as err:
        return Denotation(None, str(err), "refused")
    except sqlite3.DatabaseError as err:
        kind = "timeout" if "interrupted" in str(err) else "error"
        return Denotation(None, str(err), kind)
    except (ValueError, OverflowError) as err:
        return Denotation(None, str(err), "error")
    finally:
        conn.set_progress_handler(None, 0)
    if max_rows is not None and len(rows) > max_rows:
        return Denotation(None, "too many rows", "too_many_rows")
    return Denotation([tuple(r) for r in rows])


@dataclass(frozen=True)
class Pair:
    gold: str  # processed
    pred: str  # processed
    order: bool
    kind: str


def near_misses(sql: str, schema: Schema | None, keep_distinct: bool, limit: int | None = MUTANTS_PER_QUERY,
                seed: int = 0) -> list[tuple[str, str]]:
    """(mutant SQL, kind) that still differ from ``sql`` after the evaluator's preprocessing.

    A mutant that only adds or drops DISTINCT is identical to the gold once DISTINCT is removed, so it is
    no near miss unless DISTINCT is kept; comparing against the gold as sqlglot prints it ignores layout.
    """
    def forms(text: str) -> set[str]:
        try:
            processed = prepare_for_execution(text, keep_distinct)
        except ValueError:
            return set()
        return {" ".join(processed.split()), canonical_sql(processed)}

    same_as_gold = forms(sql) | forms(canonical_sql(sql))
    out = []
    for m in mutate(sql, schema, limit=None, seed=seed):
        mine = forms(m.sql)
        if mine and not mine & same_as_gold:
            out.append((m.sql, m.kind))
    return out[:limit] if limit is not None else out


def pairs_for(queries: Sequence[str], schema: Schema) -> list[Pair]:
    pairs: dict[tuple[str, str], Pair] = {}
    for sql in queries:
        for keep in (False, True):
            try:
                gold = prepare_for_execution(sql, keep)
            except ValueError:
                continue
            for mutant, kind in near_misses(sql, schema, keep):
                pred = prepare_for_execution(mutant, keep)
                if (gold, pred) not in pairs:
                    pairs[(gold, pred)] = Pair(gold, pred, order_matters_for(gold), kind)
    return list(pairs.values())


def processed_forms(queries: Sequence[str]) -> list[str]:
    out = []
    for sql in queries:
        for keep in (False, True):
            try:
                out.append(prepare_for_execution(sql, keep))
            except ValueError:
                continue
    return out


def distinguishes(gold: Denotation, pred: Denotation, order: bool) -> bool:
    if pred.rows is None or gold.rows is None:
        return True
    return not same_result(gold.rows, pred.rows, order)


def sound_rewrites(sql: str, schema: Schema) -> list[str]:
    """Other ways to write ``sql`` that a careful model writes and that are right on the original database.

    A neighbour on which the gold and such a rewrite disagree would reject a correct prediction, so
    candidates are checked against them (the opposite of near misses, which they must reject). Covered:
    ``ORDER BY k [DESC] LIMIT 1`` as ``WHERE k = (SELECT MAX|MIN(k) FROM <k's table>)``, with the
    extremum taken over the whole table or over the query's own FROM clause.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (ParseError, TokenError, ValueError, RecursionError):
        return []
    if not isinstance(tree, exp.Select) or tree.args.get("group") or tree.args.get("order") is None:
        return []
    limit, order = tree.args.get("limit"), tree.args["order"].expressions
    if limit is None or limit.expression is None or limit.expression.sql() != "1" or len(order) != 1:
        return []
    key = order[0].this
    where_key = resolve_column(key, schema) if isinstance(key, exp.Column) else None
    if where_key is None:
        return []
    agg = "MAX" if order[0].args.get("desc") else "MIN"
    from_clause = tree.args.get("from_") or tree.args.get("from")
    sources = [f"SELECT {agg}({exp.column(where_key[1]).sql()}) FROM {exp.to_identifier(where_key[0]).sql()}"]
    if from_clause is not None:
        joins = " ".join(j.sql(dialect="sqlite") for j in tree.args.get("joins") or [])
        where = tree.args.get("where")
        sources.append(f"SELECT {agg}({key.sql(dialect='sqlite')}) {from_clause.sql(dialect='sqlite')} {joins}"
                       + (f" {where.sql(dialect='sqlite')}" if where is not None else ""))
    out = []
    for sub in sources:
        rewrite = tree.copy()
        rewrite.set("order", None)
        rewrite.set("limit", None)
        try:
            condition = exp.EQ(this=key.copy(), expression=exp.Subquery(this=sqlglot.parse_one(sub, read="sqlite")))
        except (ParseError, TokenError, ValueError):
            continue
        rewrite = rewrite.where(condition, copy=False)
        out.append(rewrite.sql(dialect="sqlite"))
    return out


def rewrites_broken(conn: sqlite3.Connection, pairs: Sequence[Pair], golds: dict[str, Denotation],
                    timeout_s: float) -> set[str]:
    """Golds that disagree here with one of their sound rewrites (see ``sound_rewrites``)."""
    broken = set()
    for pair in pairs:
        gold = golds.get(pair.gold)
        if gold is None or gold.rows is None or pair.gold in broken:
            continue
        if distinguishes(gold, run_on_connection(conn, pair.pred, timeout_s, len(gold.rows)), pair.order):
            broken.add(pair.gold)
    return broken


def tie_probe(sql: str) -> tuple[str, int, int | None] | None:
    """A query that also returns the ORDER BY keys, without the LIMIT: (probe, selected width, limit).

    None when the gold has no top-level ORDER BY or the probe cannot be written (set operations, DISTINCT,
    keys that name output aliases)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (ParseError, TokenError, ValueError, RecursionError):
        return None
    order = tree.args.get("order") if isinstance(tree, exp.Select) else None
    if order is None or tree.args.get("distinct") or any(isinstance(e, exp.Star) for e in tree.expressions):
        return None
    aliases = {e.alias.lower() for e in tree.expressions if isinstance(e, exp.Alias)}
    keys = [o.this for o in order.expressions]
    if any(isinstance(k, exp.Literal) or (isinstance(k, exp.Column) and not k.table and k.name.lower() in aliases)
           for k in keys):
        return None
    limit = None
    if tree.args.get("limit") is not None:
        value = tree.args["limit"].expression
        if not (isinstance(value, exp.Literal) and value.this.isdigit()):
            return None
        limit = int(value.this)
    probe = tree.copy()
    probe.set("limit", None)
    width = len(probe.expressions)
    probe.set("expressions", [*probe.expressions, *[k.copy() for k in keys]])
    return probe.sql(dialect="sqlite"), width, limit


def _ties_matter(rows: list[tuple[Any, ...]], width: int, limit: int | None) -> bool:
    """Whether the ORDER BY keys tie across the LIMIT. Then the answer hangs on tie-breaking, and a correct
    query written another way (``= (SELECT MAX(..))`` for ``ORDER BY .. DESC LIMIT 1``) returns other or
    more rows, although the question had one answer on the original database. Ties without a LIMIT only
    reorder equal-key rows; SQLite's sorter keeps them in scan order, the same for the usual rewrites, so
    those neighbours stay (they hold the duplicate values that expose a wrong GROUP BY or DISTINCT)."""
    if limit is None or limit == 0 or len(rows) <= limit:
        return False
    return rows[limit - 1][width:] == rows[limit][width:]


def tie_unstable(conn: sqlite3.Connection, golds: dict[str, Denotation], timeout_s: float) -> set[str]:
    """Golds whose answer here depends on how ties are broken: by ORDER BY keys that tie across the LIMIT,
    or by the order SQLite happens to scan rows in (bare columns, LIMIT without ORDER BY). A correct query
    written another way may break such ties differently, and the neighbour would wrongly reject it."""
    unstable = set()
    for sql, den in golds.items():
        probe = tie_probe(sql)
        if probe is None or den.rows is None:
            continue
        found = run_on_connection(conn, probe[0], timeout_s)
        if found.rows is not None and _ties_matter(found.rows, probe[1], probe[2]):
            unstable.add(sql)
    conn.execute("PRAGMA reverse_unordered_selects = ON")
    try:
        for sql, den in golds.items():
            if sql in unstable or den.rows is None:
                continue
            again = run_on_connection(conn, sql, timeout_s)
            if again.rows is None or not same_result(den.rows, again.rows, order_matters_for(sql)):
                unstable.add(sql)
    finally:
        conn.execute("PRAGMA reverse_unordered_selects = OFF")
    return unstable


__all__ = [
    "MUTANTS_PER_QUERY",
    "Pair",
    "distinguishes",
    "near_misses",
    "pairs_for",
    "probe_queries",
    "processed_forms",
    "query_literals",
    "rewrites_broken",
    "round_numbers",
    "run_on_connection",
    "sound_rewrites",
    "tie_probe",
    "tie_unstable",
]
