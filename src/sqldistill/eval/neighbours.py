"""Random neighbour databases: the same tables, keys and foreign keys as the original, new small contents.

Values come from each column's own values in the original (so types, formats and spellings are realistic)
and from the literals the queries compare against (so ``WHERE age > 56`` meets ages of 55, 56 and 57).
Contents are small and deliberately repetitive: duplicated names reveal a wrong GROUP BY column or a
dropped DISTINCT, parents without children reveal a wrong join, NULLs (where the original has some) reveal
``COUNT(col)`` vs ``COUNT(*)``.
Foreign keys hold by construction: a child's key is always copied from a row of its parent.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import string
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqldistill.db.database import Database
from sqldistill.records import Schema, Table

SAMPLE_ROWS = 2000
INSERT_RETRIES = 6


@dataclass
class ColumnPool:
    """What a column's values look like: observed values (with repeats, so frequent ones stay frequent),
    the share of NULLs, and the literals that queries compare it with."""

    values: list[Any] = field(default_factory=list)
    null_share: float = 0.0
    literals: list[Any] = field(default_factory=list)
    spread: bool = False  # ORDER BY column: prefer distinct values so that LIMIT meets no ties


@dataclass
class Blueprint:
    """Everything needed to generate neighbours of one database."""

    schema: Schema
    ddl: list[str]
    pools: dict[tuple[str, str], ColumnPool]


def _storable(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    if isinstance(value, bool):
        return int(value)
    try:
        import decimal

        if isinstance(value, decimal.Decimal):
            return float(value) if value % 1 else int(value)
    except ImportError:  # pragma: no cover
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if "datetime" in type(value).__name__ else value.isoformat()
    return str(value)


def _sqlite_type(declared: str) -> str:
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT", "STRING", "UUID", "JSON", "DATE", "TIME")):
        return "TEXT"
    if any(k in t for k in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return "REAL"
    if "BOOL" in t:
        return "INTEGER"
    return "BLOB" if "BLOB" in t or "BYTEA" in t else "TEXT"


def ddl_for(db: Database, schema: Schema) -> list[str]:
    """CREATE statements for a SQLite copy: verbatim from a SQLite source, else generated from the schema."""
    if db.dialect == "sqlite":
        rows = db.internal_query(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "AND type IN ('table', 'index', 'view') ORDER BY CASE type WHEN 'table' THEN 0 "
            "WHEN 'index' THEN 1 ELSE 2 END, rowid"
        )
        return [r[1] for r in rows]
    out = []
    for table in schema.tables:
        q = '"{}"'.format
        parts = [f"{q(c.name)} {_sqlite_type(c.type)}{'' if c.nullable else ' NOT NULL'}" for c in table.columns]
        if table.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(q(c) for c in table.primary_key)})")
        for fk in table.foreign_keys:
            parts.append(f"FOREIGN KEY ({', '.join(q(c) for c in fk.columns)}) REFERENCES {q(fk.ref_table)} "
                         f"({', '.join(q(c) for c in fk.ref_columns)})")
        out.append(f"CREATE TABLE {q(table.name)} ({', '.join(parts)})")
    return out


def read_pools(db: Database, schema: Schema) -> dict[tuple[str, str], ColumnPool]:
    """Sample each table's rows once and keep every column's values."""
    pools: dict[tuple[str, str], ColumnPool] = {}
    for table in schema.tables:
        cols = ", ".join(db.quote(c.name) for c in table.columns)
        shuffle = "RAND()" if db.dialect == "mysql" else "RANDOM()"
        limit = f" ORDER BY {shuffle} LIMIT {SAMPLE_ROWS}" if table.row_count > SAMPLE_ROWS else ""
        rows = db.internal_query(f"SELECT {cols} FROM {db.quote(table.name)}{limit}", timeout_s=60.0)
        for i, col in enumerate(table.columns):
            values = [_storable(r[i]) for r in rows]
            present = [v for v in values if v is not None]
            pools[(table.name.lower(), col.name.lower())] = ColumnPool(
                values=present, null_share=(len(values) - len(present)) / len(values) if values else 0.0)
    return pools


# ---------------------------------------------------------------- generation


def usable_foreign_keys(schema: Schema, table: Table) -> list[Any]:
    """Declared foreign keys whose parent table and columns exist (some real databases declare others)."""
    out = []
    for fk in table.foreign_keys:
        parent = schema.table(fk.ref_table)
        if parent is None or len(fk.columns) != len(fk.ref_columns):
            continue
        if all(table.column(c) for c in fk.columns) and all(parent.column(c) for c in fk.ref_columns):
            out.append(fk)
    return out


def _fk_order(schema: Schema) -> list[Table]:
    """Parents before children; cycles are broken arbitrarily (their keys are repaired afterwards)."""
    done: list[Table] = []
    seen: set[str] = set()
    names = {t.name.lower() for t in schema.tables}

    def visit(table: Table, stack: set[str]) -> None:
        key = table.name.lower()
        if key in seen or key in stack:
            return
        stack.add(key)
        for fk in usable_foreign_keys(schema, table):
            ref = fk.ref_table.lower()
            if ref != key and ref in names:
                parent = schema.table(ref)
                if parent is not None:
                    visit(parent, stack)
        stack.discard(key)
        seen.add(key)
        done.append(table)

    for t in schema.tables:
        visit(t, set())
    return done


def _like_examples(pattern: str, rng: random.Random) -> list[str]:
    def fill(p: str) -> str:
        out = []
        for ch in p:
            if ch == "%":
                out.append("".join(rng.choices(string.ascii_letters + " ", k=rng.randint(0, 4))))
            elif ch == "_":
                out.append(rng.choice(string.ascii_letters))
            else:
                out.append(ch)
        return "".join(out)

    return [fill(pattern) for _ in range(3)]


class _Generator:
    def __init__(self, blueprint: Blueprint, rng: random.Random, scale: int) -> None:
        self.bp = blueprint
        self.rng = rng
        self.scale = scale
        # Per candidate, each column draws from a few of its values, so duplicates are common.
        self.subpools: dict[tuple[str, str], list[Any]] = {}
        self.literal_rate = rng.choice([0.15, 0.3, 0.5])
        # NULLs only where the original has some (a NULL elsewhere is an artefact that makes sound rewrites,
        # e.g. MAX() for ORDER BY .. LIMIT 1, look wrong), sometimes more often than there.
        self.null_factor = rng.choice([1.0, 1.0, 2.0, 4.0])
        # A nullable foreign key may be NULL ("no parent") even where the original has none: that tells JOIN
        # from LEFT JOIN. Candidates where this breaks a sound rewrite of a query are dropped later.
        self.null_key_rate = rng.choice([0.0, 0.0, 0.1, 0.3])
        # ORDER BY columns mostly get values unused so far in the column: ties there make a correct query
        # that breaks them differently look wrong, so most candidates avoid them.
        self.spread_used: dict[tuple[str, str], set[Any]] = {}
        self.weights: dict[Any, list[float]] = {}
        self.spread_ties = rng.choice([0.0, 0.0, 0.1, 0.3])

    def rows_for(self, table: Table) -> int:
        low, high = max(1, self.scale // 2), self.scale * 2
        return self.rng.randint(low, high)

    def subpool(self, key: tuple[str, str], size_hint: int) -> list[Any]:
        pool = self.subpools.get(key)
        if pool is None:
            values = self.bp.pools.get(key, ColumnPool()).values
            distinct = list(dict.fromkeys(values))
            if self.bp.pools.get(key, ColumnPool()).spread:
                k = len(distinct)
            else:
                k = self.rng.choice([1, 2, 3, max(2, size_hint // 3), max(2, size_hint // 2), size_hint])
            if len(distinct) <= k:
                pool = list(values)
            else:
                pool = self.rng.sample(distinct, k)
            self.subpools[key] = pool
        return pool

    def null_rate(self, key: tuple[str, str]) -> float:
        return min(0.5, self.bp.pools.get(key, ColumnPool()).null_share * self.null_factor)

    def skewed_choice(self, key: Any, items: list[Any]) -> Any:
        """A Zipf-like pick: a few items are frequent, most rare. Uneven counts keep GROUP BY ... ORDER BY
        COUNT(*) LIMIT 1 free of ties and make a wrong grouping visible."""
        weights = self.weights.get(key)
        if weights is None or len(weights) != len(items):
            power = self.rng.choice([0.0, 1.0, 1.5, 2.0])
            ranks = list(range(1, len(items) + 1))
            self.rng.shuffle(ranks)
            weights = self.weights[key] = [1.0 / r**power for r in ranks]
        return self.rng.choices(items, weights)[0]

    def literal_value(self, pool: ColumnPool) -> Any:
        lit = self.rng.choice(pool.literals)
        if isinstance(lit, str) and ("%" in lit or "_" in lit):
            return self.rng.choice([*_like_examples(lit, self.rng), lit.replace("%", "")])
        return lit

    def value(self, table: Table, col_name: str, nullable: bool, n_rows: int) -> Any:
        key = (table.name.lower(), col_name.lower())
        pool = self.bp.pools.get(key, ColumnPool())
        if nullable and self.rng.random() < self.null_rate(key):
            return None
        if pool.literals and self.rng.random() < self.literal_rate:
            return self.literal_value(pool)
        if pool.spread and self.spread_ties < self.rng.random():
            used = self.spread_used.setdefault(key, set())
            value = self.fresh_unique(table, col_name, used)
            used.add(value)
            return value
        sub = self.subpool(key, n_rows)
        if sub:
            return self.skewed_choice(key, sub)
        if pool.literals:
            return self.literal_value(pool)
        column = table.column(col_name)
        if column is not None and "INT" in column.type.upper():
            return self.rng.randint(0, 99)
        return "".join(self.rng.choices(string.ascii_lowercase, k=5))

    def fresh_unique(self, table: Table, col_name: str, used: set[Any]) -> Any:
        """A key value not used yet: an unused original value when there is one, else a new one."""
        key = (table.name.lower(), col_name.lower())
        pool = self.bp.pools.get(key, ColumnPool())
        unused = [v for v in dict.fromkeys(pool.values + pool.literals) if v not in used]
        if unused and self.rng.random() < 0.9:
            return self.rng.choice(unused)
        column = table.column(col_name)
        sample = next((v for v in pool.values if v is not None), None)
        if isinstance(sample, str) and not sample.lstrip("-").isdigit():
            return f"{sample}{self.rng.randint(2, 999)}"
        if column is not None and ("INT" in column.type.upper() or isinstance(sample, int) or sample is None):
            return max((v for v in used if isinstance(v, int)), default=0) + self.rng.randint(1, 3)
        return self.rng.randint(1000, 99999)


def generate(blueprint: Blueprint, rng: random.Random, scale: int) -> sqlite3.Connection:
    """One candidate neighbour, in memory."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.text_factory = lambda b: b.decode(errors="ignore")
    for stmt in blueprint.ddl:
        with contextlib.suppress(sqlite3.Error):  # e.g. a view over something missing; tables are what matter
            conn.execute(stmt)
    gen = _Generator(blueprint, rng, scale)
    schema = blueprint.schema
    inserted: dict[str, list[dict[str, Any]]] = defaultdict(list)
    deferred: list[tuple[Table, Any]] = []
    conn.execute("BEGIN")
    for table in _fk_order(schema):
        n = gen.rows_for(table)
        pk = [c.lower() for c in table.primary_key]
        single_pk = pk[0] if len(pk) == 1 else None
        fks = usable_foreign_keys(schema, table)
        fk_cols = {c.lower() for fk in fks for c in fk.columns}
        used_pk: set[Any] = set()
        cols = [c.name for c in table.columns]
        placeholders = ", ".join("?" for _ in cols)
        insert = (f"INSERT INTO \"{table.name.replace(chr(34), chr(34) * 2)}\" "
                  f"({', '.join(chr(34) + c.replace(chr(34), chr(34) * 2) + chr(34) for c in cols)}) "
                  f"VALUES ({placeholders})")
        # Some parents get no children at all: joins and NOT IN behave differently then.
        parents_live: dict[int, list[dict[str, Any]]] = {}
        for i, fk in enumerate(fks):
            rows = inserted.get(fk.ref_table.lower(), [])
            if rows and rng.random() < 0.7:
                keep = max(1, int(len(rows) * rng.uniform(0.4, 1.0)))
                rows = rng.sample(rows, keep)
            parents_live[i] = rows
        # A column under two foreign keys (to two parents) takes values both parents hold.
        shared = _shared_key_values(fks, parents_live)
        for _ in range(n):
            for _attempt in range(INSERT_RETRIES):
                row: dict[str, Any] = {}
                for c in table.columns:
                    low = c.name.lower()
                    if low == single_pk and low not in fk_cols:
                        row[low] = gen.fresh_unique(table, c.name, used_pk)
                    else:
                        row[low] = gen.value(table, c.name, c.nullable and not c.primary_key, n)
                for col, values in shared.items():
                    row[col] = gen.skewed_choice(("shared", table.name.lower(), col), values)
                for i, fk in enumerate(fks):
                    if len(fk.columns) == 1 and fk.columns[0].lower() in shared:
                        continue
                    parents = parents_live.get(i) or []
                    ref_self = fk.ref_table.lower() == table.name.lower()
                    if ref_self:
                        parents = inserted.get(table.name.lower(), []) or [row]  # the first row: itself
                    nullable_fk = all(c.nullable for c in table.columns
                                      if c.name.lower() in {x.lower() for x in fk.columns})
                    fk_key = (table.name.lower(), fk.columns[0].lower())
                    if parents and nullable_fk and rng.random() < max(gen.null_rate(fk_key), gen.null_key_rate):
                        for col in fk.columns:
                            row[col.lower()] = None  # a NULL key is valid and tells JOIN from LEFT JOIN
                    elif parents:
                        parent = gen.skewed_choice((table.name.lower(), i), parents)
                        for col, ref in zip(fk.columns, fk.ref_columns):
                            row[col.lower()] = parent.get(ref.lower())
                    elif schema.table(fk.ref_table) is not None and not ref_self \
                            and fk.ref_table.lower() not in inserted:
                        deferred.append((table, fk))  # cycle: parent comes later
                    elif nullable_fk:
                        for col in fk.columns:
                            row[col.lower()] = None
                try:
                    conn.execute(insert, [row[c.lower()] for c in cols])
                except (sqlite3.IntegrityError, sqlite3.InterfaceError, OverflowError):
                    continue
                if single_pk:
                    used_pk.add(row[single_pk])
                inserted[table.name.lower()].append(row)
                break
    _repair_deferred(conn, deferred, inserted, rng)
    conn.execute("COMMIT")
    return conn


def _shared_key_values(fks: list[Any], parents: dict[int, list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """For each column that several single-column foreign keys constrain, the values every parent holds
    (none when they hold nothing in common: then the first key wins and the others may be violated)."""
    by_column: dict[str, list[int]] = defaultdict(list)
    for i, fk in enumerate(fks):
        if len(fk.columns) == 1:
            by_column[fk.columns[0].lower()].append(i)
    out: dict[str, list[Any]] = {}
    for col, idxs in by_column.items():
        if len(idxs) < 2:
            continue
        sets = [{r.get(fks[i].ref_columns[0].lower()) for r in parents.get(i, [])} for i in idxs]
        common = set.intersection(*sets) - {None}
        if common:
            out[col] = sorted(common, key=repr)
    return out


def _repair_deferred(conn: sqlite3.Connection, deferred: list[tuple[Table, Any]],
                     inserted: dict[str, list[dict[str, Any]]], rng: random.Random) -> None:
    q = '"{}"'.format
    for table, fk in {(id(t), id(f)): (t, f) for t, f in deferred}.values():
        parents = inserted.get(fk.ref_table.lower(), [])
        try:
            rowids = conn.execute(f"SELECT rowid FROM {q(table.name)}").fetchall()
        except sqlite3.Error:
            continue  # a WITHOUT ROWID table: its keys stay as drawn
        for row in rowids:
            values = [rng.choice(parents).get(r.lower()) for r in fk.ref_columns] if parents else \
                [None] * len(fk.columns)
            sets = ", ".join(f"{q(c)} = ?" for c in fk.columns)
            try:
                conn.execute(f"UPDATE {q(table.name)} SET {sets} WHERE rowid = ?", [*values, row[0]])
            except sqlite3.Error:
                continue


def foreign_key_violations(conn: sqlite3.Connection) -> int:
    """Rows whose foreign key points nowhere (declarations SQLite cannot check are skipped)."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    count = 0
    for name in tables:
        try:
            count += len(conn.execute(f"PRAGMA foreign_key_check(\"{name}\")").fetchall())
        except sqlite3.Error:
            continue  # "foreign key mismatch": the declared parent key is not unique in the original either
    return count


__all__ = ["Blueprint", "ColumnPool", "ddl_for", "foreign_key_violations", "generate", "read_pools",
           "usable_foreign_keys"]
