"""Query-log mining: SQL people ran, abstracted to a template and re-instantiated with new values and columns.

``parse_query`` reads a SQL string into the sampler's ``Query`` (the subset of SQL that questions need:
projections with aggregates, joins on equalities (all the columns of a foreign key over several), AND/OR
conditions, IN/NOT IN subqueries, GROUP BY/HAVING, ORDER BY/LIMIT, one set operation); anything else is
skipped. ``mine_log`` then yields, for each query of
the log, the query itself and variants: the same template with other values of the same columns, and with
other columns of the same role in the same tables. Questions come from the same realiser as the templates.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqldistill.errors import DataError
from sqldistill.records import Example
from sqldistill.sql.safety import SQLGLOT_DIALECT
from sqldistill.synth.graph import SchemaGraph
from sqldistill.synth.ir import AGGREGATES, STAR, Col, Cond, Item, Query, to_sql
from sqldistill.synth.realise import realise

_CMP = {"EQ": "=", "NEQ": "!=", "GT": ">", "LT": "<", "GTE": ">=", "LTE": "<="}


class _Unsupported(Exception):
    pass


def read_log(path: str | os.PathLike[str], db_id: str | None = None) -> list[str]:
    """SQL lines of a log file; ``SQL<TAB>db_id`` lines are kept only for ``db_id``."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"No query log at {p}", hint="Pass a file with one SQL query per line")
    out = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("--"):
            continue
        if "\t" in line:
            sql, owner = line.rsplit("\t", 1)
            if db_id is not None and owner.strip() != db_id:
                continue
            out.append(sql.strip())
        else:
            out.append(line.strip())
    return out


class _Reader:
    def __init__(self, graph: SchemaGraph) -> None:
        self.g = graph
        self.lower = {name.lower(): name for name in graph.tables}

    def table(self, name: str) -> str:
        real = self.lower.get(name.lower())
        if real is None:
            raise _Unsupported(f"unknown table {name}")
        return real

    def query(self, node: Any) -> Query:
        from sqlglot import exp

        if isinstance(node, exp.Subquery):
            return self.query(node.this)
        if isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
            op = {exp.Union: "union", exp.Intersect: "intersect", exp.Except: "except"}[type(node)]
            left, right = self.query(node.this), self.query(node.expression)
            if left.setop:
                raise _Unsupported("chained set operations")
            return left.with_(setop=op, other=right)
        if not isinstance(node, exp.Select):
            raise _Unsupported(type(node).__name__)
        return self.select(node)

    def select(self, node: Any) -> Query:
        from sqlglot import exp

        src = node.args.get("from_") or node.args.get("from")
        if src is None or not isinstance(src.this, exp.Table):
            raise _Unsupported("FROM is not a table")
        aliases: dict[str, str] = {}
        tables = [self._table(src.this, aliases)]
        joins: list[tuple[Col, Col]] = []
        ons: list[Any] = []  # each JOIN's ON condition, or None
        for j in node.args.get("joins") or []:
            if not isinstance(j.this, exp.Table) or j.args.get("side") or j.args.get("kind") not in (None, "", "INNER"):
                raise _Unsupported("join kind")
            tables.append(self._table(j.this, aliases))
            on = j.args.get("on")
            ons.append(None if on is None or (isinstance(on, exp.Boolean) and on.this is True) else on)
        chained = len(ons) > 1 and all(on is None for on in ons[:-1]) and isinstance(ons[-1], exp.And)
        if chained:  # FROM a JOIN b JOIN c ON x = y AND z = w: one equality per joined table, all at the end
            ons = list(ons[-1].flatten())
            if len(ons) != len(tables) - 1:
                raise _Unsupported("join condition")
        also: list[tuple[Col, Col]] = []
        for on in ons:
            parts = list(on.flatten()) if isinstance(on, exp.And) and not chained else [on]
            if not all(isinstance(p, exp.EQ) for p in parts):
                raise _Unsupported("join condition")
            pairs = [(self.column(p.this, aliases, tables), self.column(p.expression, aliases, tables))
                     for p in parts]
            joins.append(pairs[0])
            if len(pairs) > 1:  # ON a = b AND c = d: only the columns of one foreign key over several columns
                (a, b), extra = pairs[0], pairs[1:]
                key = {frozenset((Col(*x), Col(*y))) for x, y in self.g.key_pairs((a.table, a.name),
                                                                                    (b.table, b.name))}
                if {frozenset(p) for p in extra} != key or len(extra) != len(key):
                    raise _Unsupported("join condition")
                also.extend(extra)
        if len(set(tables)) != len(tables):
            raise _Unsupported("self join")
        select = tuple(self.item(e, aliases, tables) for e in node.expressions)
        where, conj = self.conditions(node.args.get("where"), aliases, tables)
        group = tuple(self.column(e, aliases, tables) for e in (node.args.get("group").expressions
                                                                 if node.args.get("group") else []))
        having, _ = self.conditions(node.args.get("having"), aliases, tables)
        order: tuple[Item, ...] = ()
        desc = False
        if node.args.get("order"):
            ordered = node.args["order"].expressions
            order = tuple(self.item(o.this, aliases, tables) for o in ordered)
            desc = bool(ordered[0].args.get("desc"))
        limit = None
        if node.args.get("limit") is not None:
            lim = node.args["limit"].expression
            if not isinstance(lim, exp.Literal) or lim.is_string:
                raise _Unsupported("limit")
            limit = int(lim.this)
        return Query(select, tuple(tables), tuple(joins), where, conj, group, having, order, desc, limit,
                     bool(node.args.get("distinct")), chained=chained, also=tuple(also))

    def _table(self, node: Any, aliases: dict[str, str]) -> str:
        real = self.table(node.name)
        aliases[(node.alias or node.name).lower()] = real
        aliases[node.name.lower()] = real
        return real

    def column(self, node: Any, aliases: dict[str, str], tables: list[str]) -> Col:
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            return self.column(node.this, aliases, tables)
        if isinstance(node, exp.Star):
            return STAR
        if not isinstance(node, exp.Column):
            raise _Unsupported(f"expression {type(node).__name__}")
        if isinstance(node.this, exp.Star):
            return STAR
        name = node.name
        if node.table:
            owner = aliases.get(node.table.lower())
            if owner is None:
                raise _Unsupported(f"unknown alias {node.table}")
            info = self.g.tables[owner].column(name)
            if info is None:
                raise _Unsupported(f"unknown column {name}")
            return Col(owner, info.name)
        for t in tables:
            info = self.g.tables[t].column(name)
            if info is not None:
                return Col(t, info.name)
        raise _Unsupported(f"unknown column {name}")

    def item(self, node: Any, aliases: dict[str, str], tables: list[str]) -> Item:
        from sqlglot import exp

        if isinstance(node, exp.Alias):
            node = node.this
        name = type(node).__name__.lower()
        if name in AGGREGATES:
            inner = node.this
            distinct = isinstance(inner, exp.Distinct)
            if distinct:
                inner = inner.expressions[0]
            return Item(self.column(inner, aliases, tables), name, distinct)
        return Item(self.column(node, aliases, tables))

    def value(self, node: Any, aliases: dict[str, str], tables: list[str]) -> Any:
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            return self.value(node.this, aliases, tables)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return -self.value(node.this, aliases, tables)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return node.this
            text = node.this
            return int(text) if text.lstrip("-").isdigit() else float(text)
        if isinstance(node, (exp.Select, exp.Subquery, exp.Union, exp.Intersect, exp.Except)):
            return _Reader(self.g).query(node)
        if isinstance(node, exp.Column) and not node.table and isinstance(node.this, exp.Identifier) \
                and node.this.quoted:
            return node.name  # Spider's "double-quoted" string literal
        return self.column(node, aliases, tables)

    def conditions(self, node: Any, aliases: dict[str, str], tables: list[str]) -> tuple[tuple[Cond, ...], str]:
        from sqlglot import exp

        if node is None:
            return (), "and"
        body = node.this if isinstance(node, (exp.Where, exp.Having)) else node
        kinds = set()
        flat: list[Any] = []

        def walk(e: Any) -> None:
            if isinstance(e, (exp.And, exp.Or)):
                kinds.add("and" if isinstance(e, exp.And) else "or")
                walk(e.this)
                walk(e.expression)
            else:
                flat.append(e)

        walk(body)
        if len(kinds) > 1:
            raise _Unsupported("mixed AND/OR")
        return tuple(self.cond(e, aliases, tables) for e in flat), (kinds.pop() if kinds else "and")

    def cond(self, e: Any, aliases: dict[str, str], tables: list[str]) -> Cond:
        from sqlglot import exp

        negated = isinstance(e, exp.Not)
        if negated:
            e = e.this
        if isinstance(e, exp.Paren):
            e = e.this
        kind = type(e).__name__.upper()
        left = self.item(e.this, aliases, tables)
        if kind in _CMP and not negated:
            return Cond(left, _CMP[kind], self.value(e.expression, aliases, tables))
        if isinstance(e, exp.Like):
            return Cond(left, "not like" if negated else "like", self.value(e.expression, aliases, tables))
        if isinstance(e, exp.Between) and not negated:
            return Cond(left, "between", self.value(e.args["low"], aliases, tables),
                        self.value(e.args["high"], aliases, tables))
        if isinstance(e, exp.In):
            op = "not in" if negated else "in"
            if e.args.get("query") is not None:
                return Cond(left, op, self.value(e.args["query"], aliases, tables))
            return Cond(left, op, tuple(self.value(v, aliases, tables) for v in e.expressions))
        raise _Unsupported(f"condition {kind}")


def parse_query(sql: str, graph: SchemaGraph) -> Query | None:
    """The ``Query`` for ``sql`` over ``graph``, or None when it uses SQL outside the supported subset."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        tree = sqlglot.parse_one(sql, read=SQLGLOT_DIALECT.get(graph.dialect, graph.dialect))
        return _Reader(graph).query(tree)
    except (ParseError, TokenError, _Unsupported, ValueError, KeyError, AttributeError, IndexError):
        return None


def _revalue(q: Query, graph: SchemaGraph, rng: random.Random, swap_columns: bool) -> Query:
    """The same template with other values, and (optionally) other projected columns of the same role."""

    def new_value(c: Cond) -> Cond:
        if isinstance(c.value, Query):
            return Cond(c.left, c.op, _revalue(c.value, graph, rng, False), c.value2)
        if c.left.agg or c.left.col.name == "*" or isinstance(c.value, (Col, tuple)):
            return c
        info = graph.tables[c.left.col.table].column(c.left.col.name)
        if info is None or not info.values:
            return c
        if c.op in ("like", "not like"):
            words = [w for v in info.values[:10] if isinstance(v, str) for w in v.split() if len(w) >= 3]
            return Cond(c.left, c.op, f"%{rng.choice(words)}%") if words else c
        if c.op == "between":
            a, b = rng.choice(info.values), rng.choice(info.values)
            if type(a) is not type(b) or a == b:
                return c
            return Cond(c.left, c.op, min(a, b), max(a, b))
        return Cond(c.left, c.op, rng.choice(info.values[: max(3, len(info.values) // 2)]))

    def new_item(it: Item) -> Item:
        if not swap_columns or it.col.name == "*" or rng.random() < 0.5:
            return it
        info = graph.tables[it.col.table].column(it.col.name)
        if info is None or info.role == "key":
            return it
        same = [c for c in graph.tables[it.col.table].columns if c.role == info.role and c.name != info.name]
        return Item(Col(it.col.table, rng.choice(same).name), it.agg, it.distinct) if same else it

    changed = q.with_(select=tuple(new_item(i) for i in q.select), where=tuple(new_value(c) for c in q.where))
    if q.other is not None:
        changed = changed.with_(other=_revalue(q.other, graph, rng, False))
    return changed


def mine_log(path: str | os.PathLike[str], graph: SchemaGraph, seed: int = 0, variants: int = 3) -> Iterator[Example]:
    """For each query of the log that fits the supported subset: itself, then ``variants`` re-instantiations."""
    rng = random.Random(seed)
    parsed = [q for q in (parse_query(sql, graph) for sql in read_log(path, graph.db_id)) if q is not None]
    for q in parsed:
        yield Example(question=realise(q, graph, rng), sql=to_sql(q, graph.dialect), db_id=graph.db_id, source="log",
                      meta={"construct": "log"})
    for _ in range(variants):
        for q in parsed:
            v = _revalue(q, graph, rng, swap_columns=True)
            yield Example(question=realise(v, graph, rng), sql=to_sql(v, graph.dialect), db_id=graph.db_id, source="log",
                          meta={"construct": "log"})


__all__ = ["mine_log", "parse_query", "read_log"]
