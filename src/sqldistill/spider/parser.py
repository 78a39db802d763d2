"""The Spider evaluator's SQL parser, reproduced behaviour for behaviour.

Exact-set match (EM) and hardness are defined on the nested structure that the official ``get_sql`` builds
(taoyds/spider and taoyds/test-suite-sql-eval, ``process_sql.py``). Scores only agree with published ones if
we build the very same structure and fail on the very same inputs, so this module copies the official
*behaviour*, quirks included, with its own code:

- the tokenizer is NLTK's ``word_tokenize`` (Punkt sentence split, then the improved Treebank rules) as of
  NLTK 3.10, re-implemented here so that we need neither NLTK nor its downloaded model;
- the parser is a greedy, clause-by-clause reader over that token list. It accepts a lot of invalid SQL
  (missing commas, trailing garbage) and rejects some valid SQL (``FROM a, b``, subqueries with aliases);
  every such case is kept on purpose.

The structure (tuples and lists exactly as the official parser returns them)::

    col_unit  = (agg_id, col_id, is_distinct)
    val_unit  = (unit_op, col_unit1, col_unit2 | None)
    cond_unit = (not_op, op_id, val_unit, val1, val2)       # val: float | '"string"' | col_unit | sql
    condition = [cond_unit, 'and' | 'or', cond_unit, ...]
    sql = {'from': {'table_units': [('table_unit', table_id) | ('sql', sql)], 'conds': condition},
           'select': (is_distinct, [(agg_id, val_unit), ...]), 'where': condition,
           'groupBy': [col_unit], 'having': condition, 'orderBy': [] | ('asc' | 'desc', [val_unit]),
           'limit': None | int, 'intersect': None | sql, 'union': None | sql, 'except': None | sql}

Ids are ``'__table.column__'``, ``'__all__'`` and ``'__table__'`` for a schema read from SQLite (what the
evaluators use), or the integer positions of tables.json (what the ``sql`` field of Spider's data files holds).
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqldistill.spider.tokenizer import tokenize

__all__ = [
    "AGG_OPS",
    "COND_OPS",
    "ORDER_OPS",
    "SQL_OPS",
    "UNIT_OPS",
    "WHERE_OPS",
    "SpiderParseError",
    "SpiderSchema",
    "load_tables_json",
    "parse_spider_sql",
    "schema_from_sqlite",
    "schema_from_tables_entry",
    "tokenize",
]

# The official index conventions: an operator's id is its position in these tuples.
CLAUSE_KEYWORDS = ("select", "from", "where", "group", "order", "limit", "intersect", "union", "except")
JOIN_KEYWORDS = ("join", "on", "as")
WHERE_OPS = ("not", "between", "=", ">", "<", ">=", "<=", "!=", "in", "like", "is", "exists")
UNIT_OPS = ("none", "-", "+", "*", "/")
AGG_OPS = ("none", "max", "min", "count", "sum", "avg")
COND_OPS = ("and", "or")
SQL_OPS = ("intersect", "union", "except")
ORDER_OPS = ("desc", "asc")

SqlDict = dict[str, Any]


class SpiderParseError(ValueError):
    """The official parser would fail on this query (it raises; the evaluator scores the empty SQL)."""


@dataclass(frozen=True, eq=False)
class SpiderSchema:
    """What the official parser knows of a database.

    ``columns`` maps each lower-cased table name to its lower-cased column names, in database order.
    ``ids`` maps ``'table.column'``, ``'table'`` and ``'*'`` to the id written into the parsed structure.
    """

    columns: Mapping[str, tuple[str, ...]]
    ids: Mapping[str, Hashable]

    @classmethod
    def with_name_ids(cls, columns: Mapping[str, tuple[str, ...]]) -> SpiderSchema:
        """Ids in the evaluators' form: ``__table.column__``, ``__table__`` and ``__all__``."""
        ids: dict[str, Hashable] = {"*": "__all__"}
        for table, cols in columns.items():
            for col in cols:
                ids[f"{table}.{col}"] = f"__{table}.{col}__"
        for table in columns:
            ids[table] = f"__{table}__"
        return cls(columns=dict(columns), ids=ids)


@functools.lru_cache(maxsize=256)
def _sqlite_columns(path: str, _mtime_ns: int, _size: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # mtime and size are part of the key so that a rebuilt file is read again.
    conn = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True)
    try:
        names = [
            str(row[0]).lower() for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table';")
        ]
        # A dict, as in the official code: a later table of the same lower-cased name replaces the first.
        columns: dict[str, tuple[str, ...]] = {}
        for name in names:
            quoted = name.replace('"', '""')
            info = conn.execute(f'PRAGMA table_info("{quoted}")').fetchall()
            columns[name] = tuple(str(row[1]).lower() for row in info)
    finally:
        conn.close()
    return tuple(columns.items())


@functools.lru_cache(maxsize=256)
def _schema_from_columns(items: tuple[tuple[str, tuple[str, ...]], ...]) -> SpiderSchema:
    return SpiderSchema.with_name_ids(dict(items))


def schema_from_sqlite(path: str | os.PathLike[str]) -> SpiderSchema:
    """The schema the evaluators use: every table in ``sqlite_master`` (``sqlite_sequence`` included) with
    its columns, names lower-cased. Cached per file (path, mtime, size)."""
    resolved = str(Path(path).resolve())
    try:
        stat = os.stat(resolved)
    except OSError as exc:
        raise FileNotFoundError(f"no SQLite database at {path}") from exc
    return _schema_from_columns(_sqlite_columns(resolved, stat.st_mtime_ns, stat.st_size))


def schema_from_tables_entry(entry: Mapping[str, Any], *, integer_ids: bool = False) -> SpiderSchema:
    """A schema from one tables.json entry (``table_names_original``/``column_names_original``).

    With ``integer_ids`` the ids are tables.json positions, as in the ``sql`` field of Spider's data files;
    otherwise they are the evaluators' ``__table.column__`` names.
    """
    tables: list[str] = [str(t) for t in entry["table_names_original"]]
    pairs: list[tuple[int, str]] = [(int(t), str(c)) for t, c in entry["column_names_original"]]
    columns = {
        name.lower(): tuple(col.lower() for tab, col in pairs if tab == index)
        for index, name in enumerate(tables)
    }
    if not integer_ids:
        return SpiderSchema.with_name_ids(columns)
    ids: dict[str, Hashable] = {}
    for position, (tab, col) in enumerate(pairs):
        if tab == -1:
            ids = {"*": position}  # the data files' builder starts its map afresh at the '*' entry
        else:
            ids[f"{tables[tab].lower()}.{col.lower()}"] = position
    for position, name in enumerate(tables):
        ids[name.lower()] = position
    return SpiderSchema(columns=columns, ids=ids)


@functools.lru_cache(maxsize=8)
def _tables_json(path: str, _mtime_ns: int) -> dict[str, dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        entries = json.load(handle)
    return {str(entry["db_id"]): entry for entry in entries}


def load_tables_json(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Spider's tables.json as ``{db_id: entry}``; cached per file. Treat the result as read-only."""
    resolved = str(Path(path).resolve())
    return _tables_json(resolved, os.stat(resolved).st_mtime_ns)


def parse_spider_sql(sql: str, schema: SpiderSchema, *, integer_limit: bool = False) -> SqlDict:
    """Parse ``sql`` exactly as the official ``get_sql`` does, or raise :class:`SpiderParseError`.

    ``integer_limit`` picks the taoyds/spider reading of ``LIMIT n`` (``int(n)``, failing on anything
    else); the default is test-suite-sql-eval's, where any token after ``LIMIT`` reads as 1. EM never looks
    at the number, so the two only differ on which predictions fail to parse.
    """
    try:
        toks = tokenize(sql)
        parser = _Parser(toks, _aliases(toks, schema), schema, integer_limit)
        return parser.sql(0)[1]
    # The official evaluator catches every exception here; these are the ones our mirror can raise.
    except (IndexError, KeyError, ValueError, RecursionError) as exc:
        if isinstance(exc, SpiderParseError):
            raise
        raise SpiderParseError(f"{type(exc).__name__}: {exc}") from exc


def _aliases(toks: list[str], schema: SpiderSchema) -> dict[str, str]:
    # Every 'x AS y' anywhere in the query maps y to x, whatever x is (a table, a column, a parenthesis).
    # Python's negative indexing is kept on purpose: a leading 'as' reads the last token, as upstream.
    aliases = {toks[i + 1]: toks[i - 1] for i, tok in enumerate(toks) if tok == "as"}
    for table in schema.columns:
        if table in aliases:
            raise SpiderParseError(f"alias {table} has the same name as a table")
        aliases[table] = table
    return aliases


def _fail(message: str) -> SpiderParseError:
    return SpiderParseError(message)


class _Parser:
    """One query's tokens plus the alias map; each method returns (next index, parsed piece)."""

    def __init__(self, toks: list[str], aliases: dict[str, str], schema: SpiderSchema, integer_limit: bool):
        self.toks = toks
        self.aliases = aliases
        self.schema = schema
        self.integer_limit = integer_limit

    def sql(self, start: int) -> tuple[int, SqlDict]:
        toks = self.toks
        idx = start
        block = toks[idx] == "("
        if block:
            idx += 1
        # FROM is read first (from the first 'from' at or after start) so that SELECT knows the tables.
        from_end, table_units, conds, default_tables = self.from_clause(start)
        result: SqlDict = {"from": {"table_units": table_units, "conds": conds}}
        result["select"] = self.select_clause(idx, default_tables)
        idx = from_end
        idx, result["where"] = self.keyword_condition(idx, "where", default_tables)
        idx, result["groupBy"] = self.group_by(idx, default_tables)
        idx, result["having"] = self.keyword_condition(idx, "having", default_tables)
        idx, result["orderBy"] = self.order_by(idx, default_tables)
        idx, result["limit"] = self.limit(idx)
        idx = self.skip_semicolons(idx)
        if block:
            if toks[idx] != ")":
                raise _fail("unclosed sub-query")
            idx += 1
        idx = self.skip_semicolons(idx)
        for op in SQL_OPS:
            result[op] = None
        if idx < len(toks) and toks[idx] in SQL_OPS:
            op = toks[idx]
            idx, result[op] = self.sql(idx + 1)
        return idx, result

    def skip_semicolons(self, idx: int) -> int:
        while idx < len(self.toks) and self.toks[idx] == ";":
            idx += 1
        return idx

    def column(self, idx: int, default_tables: list[str] | None) -> tuple[int, Hashable]:
        tok = self.toks[idx]
        ids = self.schema.ids
        if tok == "*":
            return idx + 1, ids[tok]
        if "." in tok:
            alias, col = tok.split(".")  # ValueError on two dots, as upstream
            return idx + 1, ids[self.aliases[alias] + "." + col]
        if not default_tables:
            raise _fail("a bare column needs a table in FROM")
        for alias in default_tables:
            table = self.aliases[alias]
            if tok in self.schema.columns[table]:
                return idx + 1, ids[table + "." + tok]
        raise _fail(f"unknown column {tok}")

    def col_unit(
        self, idx: int, default_tables: list[str] | None, toks: list[str] | None = None
    ) -> tuple[int, Any]:
        # ``toks`` lets parse_value read a column from a slice of the tokens, as upstream does.
        if toks is not None:
            return _Parser(toks, self.aliases, self.schema, self.integer_limit).col_unit(idx, default_tables)
        toks = self.toks
        block = toks[idx] == "("
        if block:
            idx += 1
        distinct = False
        if toks[idx] in AGG_OPS:
            agg_id = AGG_OPS.index(toks[idx])
            idx += 1
            if not (idx < len(toks) and toks[idx] == "("):
                raise _fail("aggregate without '('")
            idx += 1
            if toks[idx] == "distinct":
                idx += 1
                distinct = True
            idx, col_id = self.column(idx, default_tables)
            if not (idx < len(toks) and toks[idx] == ")"):
                raise _fail("aggregate without ')'")
            # An opening block parenthesis before the aggregate is left unclosed here, as upstream.
            return idx + 1, (agg_id, col_id, distinct)
        if toks[idx] == "distinct":
            idx += 1
            distinct = True
        idx, col_id = self.column(idx, default_tables)
        if block:
            if toks[idx] != ")":
                raise _fail("expected ')'")
            idx += 1
        return idx, (0, col_id, distinct)

    def val_unit(self, idx: int, default_tables: list[str] | None) -> tuple[int, Any]:
        toks = self.toks
        block = toks[idx] == "("
        if block:
            idx += 1
        idx, unit1 = self.col_unit(idx, default_tables)
        unit_op, unit2 = 0, None
        if idx < len(toks) and toks[idx] in UNIT_OPS:
            unit_op = UNIT_OPS.index(toks[idx])
            idx, unit2 = self.col_unit(idx + 1, default_tables)
        if block:
            if toks[idx] != ")":
                raise _fail("expected ')'")
            idx += 1
        return idx, (unit_op, unit1, unit2)

    def table_unit(self, idx: int) -> tuple[int, Hashable, str]:
        toks = self.toks
        key = self.aliases[toks[idx]]
        # 'AS' skips its alias; anything else after the name is left for the FROM loop to trip over.
        idx += 3 if idx + 1 < len(toks) and toks[idx + 1] == "as" else 1
        return idx, self.schema.ids[key], key

    def value(self, start: int, default_tables: list[str] | None) -> tuple[int, Any]:
        toks = self.toks
        idx = start
        block = toks[idx] == "("
        if block:
            idx += 1
        val: Any
        if toks[idx] == "select":
            idx, val = self.sql(idx)
        elif '"' in toks[idx]:
            val = toks[idx]
            idx += 1
        else:
            try:
                val = float(toks[idx])
                idx += 1
            except ValueError:
                end = idx
                while (
                    end < len(toks)
                    and toks[end] not in (",", ")", "and")
                    and toks[end] not in CLAUSE_KEYWORDS
                    and toks[end] not in JOIN_KEYWORDS
                ):
                    end += 1
                # Upstream slices from ``start`` (an opening parenthesis included) and jumps to ``end``.
                _, val = self.col_unit(0, default_tables, toks=toks[start:end])
                idx = end
        if block:
            if toks[idx] != ")":
                raise _fail("expected ')'")
            idx += 1
        return idx, val

    def condition(self, idx: int, default_tables: list[str] | None) -> tuple[int, list[Any]]:
        toks = self.toks
        conds: list[Any] = []
        while idx < len(toks):
            idx, val_unit = self.val_unit(idx, default_tables)
            not_op = toks[idx] == "not"
            if not_op:
                idx += 1
            if not (idx < len(toks) and toks[idx] in WHERE_OPS):
                raise _fail("expected a comparison operator")
            op_id = WHERE_OPS.index(toks[idx])
            idx, val1 = self.value(idx + 1, default_tables)
            val2 = None
            if op_id == WHERE_OPS.index("between"):
                if toks[idx] != "and":
                    raise _fail("BETWEEN without AND")
                idx, val2 = self.value(idx + 1, default_tables)
            conds.append((not_op, op_id, val_unit, val1, val2))
            if idx < len(toks) and (
                toks[idx] in CLAUSE_KEYWORDS or toks[idx] in (")", ";") or toks[idx] in JOIN_KEYWORDS
            ):
                break
            if idx < len(toks) and toks[idx] in COND_OPS:
                conds.append(toks[idx])
                idx += 1
        return idx, conds

    def select_clause(self, idx: int, default_tables: list[str]) -> tuple[bool, list[Any]]:
        toks = self.toks
        if toks[idx] != "select":
            raise _fail("'select' not found")
        idx += 1
        distinct = idx < len(toks) and toks[idx] == "distinct"
        if distinct:
            idx += 1
        units: list[Any] = []
        while idx < len(toks) and toks[idx] not in CLAUSE_KEYWORDS:
            agg_id = 0
            if toks[idx] in AGG_OPS:
                agg_id = AGG_OPS.index(toks[idx])
                idx += 1
            idx, val_unit = self.val_unit(idx, default_tables)
            units.append((agg_id, val_unit))
            if idx < len(toks) and toks[idx] == ",":
                idx += 1
        return distinct, units

    def from_clause(self, start: int) -> tuple[int, list[Any], list[Any], list[str]]:
        toks = self.toks
        if "from" not in toks[start:]:
            raise _fail("'from' not found")
        idx = toks.index("from", start) + 1
        default_tables: list[str] = []
        table_units: list[Any] = []
        conds: list[Any] = []
        while idx < len(toks):
            block = toks[idx] == "("
            if block:
                idx += 1
            if toks[idx] == "select":
                idx, sub = self.sql(idx)
                table_units.append(("sql", sub))
            else:
                if idx < len(toks) and toks[idx] == "join":
                    idx += 1
                idx, table_id, name = self.table_unit(idx)
                table_units.append(("table_unit", table_id))
                default_tables.append(name)
            if idx < len(toks) and toks[idx] == "on":
                idx, more = self.condition(idx + 1, default_tables)
                if conds:
                    conds.append("and")
                conds.extend(more)
            if block:
                if toks[idx] != ")":
                    raise _fail("expected ')'")
                idx += 1
            if idx < len(toks) and (toks[idx] in CLAUSE_KEYWORDS or toks[idx] in (")", ";")):
                break
        return idx, table_units, conds, default_tables

    def keyword_condition(self, idx: int, keyword: str, default_tables: list[str]) -> tuple[int, list[Any]]:
        if idx >= len(self.toks) or self.toks[idx] != keyword:
            return idx, []
        return self.condition(idx + 1, default_tables)

    def group_by(self, idx: int, default_tables: list[str]) -> tuple[int, list[Any]]:
        toks = self.toks
        units: list[Any] = []
        if idx >= len(toks) or toks[idx] != "group":
            return idx, units
        if toks[idx + 1] != "by":
            raise _fail("GROUP without BY")
        idx += 2
        while idx < len(toks) and not (toks[idx] in CLAUSE_KEYWORDS or toks[idx] in (")", ";")):
            idx, unit = self.col_unit(idx, default_tables)
            units.append(unit)
            if not (idx < len(toks) and toks[idx] == ","):
                break
            idx += 1
        return idx, units

    def order_by(self, idx: int, default_tables: list[str]) -> tuple[int, Any]:
        toks = self.toks
        if idx >= len(toks) or toks[idx] != "order":
            return idx, []
        if toks[idx + 1] != "by":
            raise _fail("ORDER without BY")
        idx += 2
        units: list[Any] = []
        direction = "asc"  # one direction for the whole clause: the last one written wins
        while idx < len(toks) and not (toks[idx] in CLAUSE_KEYWORDS or toks[idx] in (")", ";")):
            idx, unit = self.val_unit(idx, default_tables)
            units.append(unit)
            if idx < len(toks) and toks[idx] in ORDER_OPS:
                direction = toks[idx]
                idx += 1
            if not (idx < len(toks) and toks[idx] == ","):
                break
            idx += 1
        return idx, (direction, units)

    def limit(self, idx: int) -> tuple[int, int | None]:
        toks = self.toks
        if not (idx < len(toks) and toks[idx] == "limit"):
            return idx, None
        idx += 2
        value = toks[idx - 1]  # IndexError when LIMIT ends the query, in both upstream versions
        return idx, int(value) if self.integer_limit else 1
