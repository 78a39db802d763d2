"""A small query representation, and its rendering as SQL in the style people write on Spider.

The sampler builds ``Query`` values, the realiser words them as questions, log mining parses SQL into them:
one structure shared by all three keeps question and SQL in step. The shape mirrors Spider's own SQL
grammar (select items with aggregates, a join path, WHERE/HAVING conditions joined by AND or OR, GROUP BY,
ORDER BY with LIMIT, nested subqueries and one set operation), which is what human questions need.

Rendering follows the conventions of human-written Spider SQL, because students are scored by executing
against such gold: ``T1``/``T2`` aliases when tables are joined, ``count(*)``, lower-case functions,
upper-case keywords, single-quoted strings, ``ORDER BY x DESC LIMIT 1`` for superlatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlglot.dialects.sqlite import SQLite
from sqlglot.tokens import TokenType

AGGREGATES = ("count", "sum", "avg", "min", "max")
SET_OPS = ("intersect", "union", "except")


@dataclass(frozen=True)
class Col:
    table: str
    name: str  # a real column name, or "*"


STAR = Col("", "*")


@dataclass(frozen=True)
class Item:
    """A projected, ordered or compared expression: a column with an optional aggregate."""

    col: Col
    agg: str = ""  # "" or one of AGGREGATES
    distinct: bool = False


@dataclass(frozen=True)
class Cond:
    """``left op value``. ``value`` is a literal, a ``Query`` (subquery), or a ``Col``; ``value2`` ends BETWEEN."""

    left: Item
    op: str  # = != < > <= >= like "not like" between in "not in"
    value: Any = None
    value2: Any = None


@dataclass(frozen=True)
class Query:
    select: tuple[Item, ...]
    tables: tuple[str, ...]
    joins: tuple[tuple[Col, Col], ...] = ()  # one ON condition per joined table, in order
    where: tuple[Cond, ...] = ()
    conj: str = "and"  # how WHERE conditions combine
    group: tuple[Col, ...] = ()
    having: tuple[Cond, ...] = ()
    order: tuple[Item, ...] = ()
    desc: bool = False
    limit: int | None = None
    distinct: bool = False
    setop: str = ""  # "" or one of SET_OPS
    other: Query | None = None
    # the ON conditions written together after the last JOIN (``FROM a JOIN b JOIN c ON x = y AND z = w``),
    # one of the ways people write a join path; the same query as one ON per JOIN
    chained: bool = False
    # further equalities of joins over a foreign key of several columns (``ON a = b AND c = d``), each
    # written with the ON of the later of its two tables
    also: tuple[tuple[Col, Col], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_(self, **changes: Any) -> Query:
        return replace(self, **changes)

    @property
    def is_join(self) -> bool:
        return len(self.tables) > 1


# Words SQL engines reserve even when they stand alone (sqlglot reads some as names, e.g. ORDER without BY).
_RESERVED = frozenset((
    "add", "all", "alter", "and", "as", "asc", "between", "by", "case", "check", "collate", "column",
    "constraint", "create", "cross", "current", "default", "delete", "desc", "distinct", "drop", "else",
    "end", "escape", "except", "exists", "foreign", "from", "full", "glob", "group", "having", "in",
    "index", "inner", "insert", "intersect", "into", "is", "join", "key", "left", "like", "limit",
    "natural", "not", "null", "offset", "on", "or", "order", "outer", "primary", "references", "right",
    "select", "set", "table", "then", "to", "transaction", "trigger", "union", "unique", "update",
    "using", "values", "view", "when", "where", "with",
))


@lru_cache(maxsize=4096)
def _needs_quotes(name: str) -> bool:
    if name.lower() in _RESERVED:
        return True
    try:
        tokens = SQLite().tokenizer().tokenize(name)
    except Exception:
        return True
    return not (len(tokens) == 1 and tokens[0].token_type == TokenType.VAR and tokens[0].text == name)


def ident(name: str, dialect: str = "sqlite") -> str:
    """A table or column name as SQL text, quoted only when it must be (the way people write it)."""
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`" if _needs_quotes(name) else name
    # PostgreSQL folds unquoted names to lower case, so a mixed-case name keeps its quotes there
    if _needs_quotes(name) or (dialect == "postgresql" and name != name.lower()):
        return '"' + name.replace('"', '""') + '"'
    return name


def literal(value: Any) -> str:
    """SQL text of a literal; integral floats are written as integers, the way people type them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def spoken_value(value: Any) -> str:
    """How a literal appears in a question: exactly the text inside the SQL literal, so it can be copied."""
    text = literal(value)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text


class _Scope:
    def __init__(self, q: Query, dialect: str) -> None:
        self.alias = {t: f"T{i + 1}" for i, t in enumerate(q.tables)} if q.is_join else {}
        self.dialect = dialect

    def col(self, c: Col) -> str:
        if c.name == "*":
            return "*"
        if self.alias and c.table in self.alias:
            return f"{self.alias[c.table]}.{ident(c.name, self.dialect)}"
        return ident(c.name, self.dialect)

    def item(self, it: Item) -> str:
        inner = self.col(it.col)
        if not it.agg:
            return inner
        return f"{it.agg}({'DISTINCT ' if it.distinct else ''}{inner})"

    def value(self, v: Any) -> str:
        if isinstance(v, Query):
            return "(" + to_sql(v, self.dialect) + ")"
        if isinstance(v, Col):
            return self.col(v)
        return literal(v)

    def cond(self, c: Cond) -> str:
        left = self.item(c.left)
        op = c.op.upper() if c.op[0].isalpha() else c.op
        if c.op == "between":
            return f"{left} BETWEEN {self.value(c.value)} AND {self.value(c.value2)}"
        if c.op in ("in", "not in") and isinstance(c.value, (tuple, list)):
            return f"{left} {op} (" + ", ".join(literal(v) for v in c.value) + ")"
        return f"{left} {op} {self.value(c.value)}"


def to_sql(q: Query, dialect: str = "sqlite") -> str:
    """Spider-style SQL text of ``q`` (names quoted as ``dialect`` needs)."""
    s = _Scope(q, dialect)
    d = dialect
    parts = ["SELECT " + ("DISTINCT " if q.distinct else "") + ", ".join(s.item(i) for i in q.select)]
    if q.is_join:
        src = [f"FROM {ident(q.tables[0], d)} AS T1"]
        later = {pair: max(q.tables.index(pair[0].table), q.tables.index(pair[1].table)) for pair in q.also}
        for k, table in enumerate(q.tables[1:], start=1):
            a, b = q.joins[k - 1]
            src.append(f"JOIN {ident(table, d)} AS T{k + 1}")
            if not q.chained:
                src.append("ON " + " AND ".join(f"{s.col(x)} = {s.col(y)}" for x, y in
                                                ((a, b), *(p for p in q.also if later[p] == k))))
        if q.chained:
            src.append("ON " + " AND ".join(f"{s.col(a)} = {s.col(b)}" for a, b in (*q.joins, *q.also)))
        parts.append(" ".join(src))
    else:
        parts.append(f"FROM {ident(q.tables[0], d)}")
    if q.where:
        parts.append("WHERE " + f" {q.conj.upper()} ".join(s.cond(c) for c in q.where))
    if q.group:
        parts.append("GROUP BY " + ", ".join(s.col(c) for c in q.group))
    if q.having:
        parts.append("HAVING " + " AND ".join(s.cond(c) for c in q.having))
    if q.order:
        parts.append("ORDER BY " + ", ".join(s.item(i) for i in q.order) + (" DESC" if q.desc else ""))
    if q.limit is not None:
        parts.append(f"LIMIT {q.limit}")
    text = " ".join(parts)
    if q.setop and q.other is not None:
        text += f" {q.setop.upper()} " + to_sql(q.other, dialect)
    return text


def walk(q: Query) -> list[Query]:
    """``q`` and every query nested in it (subqueries, the other side of a set operation)."""
    out = [q]
    for c in (*q.where, *q.having):
        for v in (c.value, c.value2):
            if isinstance(v, Query):
                out.extend(walk(v))
    if q.other is not None:
        out.extend(walk(q.other))
    return out


__all__ = [
    "AGGREGATES",
    "SET_OPS",
    "STAR",
    "Col",
    "Cond",
    "Item",
    "Query",
    "ident",
    "literal",
    "spoken_value",
    "to_sql",
    "walk",
]
