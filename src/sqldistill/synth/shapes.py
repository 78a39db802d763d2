"""Query shapes learned from a public log of people's questions, instantiated on any schema.

A *shape* is a logged query with its tables and columns replaced by typed slots: table variables ``0, 1,
...``, column slots with the role and kind of the column they replaced (label, category, measure, date,
key; primary key or not), literal values replaced by "a value of this slot's column", and *links*: slot
pairs that were joined or compared across tables (join keys, ``x IN (SELECT y ...)``, set operations of
keys), which must become foreign-key edges of the new schema. ``abstract`` makes a shape from a ``Query``;
``instantiate`` fills one in over a ``SchemaGraph``, choosing tables along edges, columns by role and values
from the database. Failing constraints give None, never a broken query.

``abstract_slots`` and ``instantiate_slots`` also say which column each slot stood for and became, which
lets a question written for the logged query be re-worded for the new one (``corpus``). The shapes of the
public corpus ship with the package (``corpus/``); sampling them gives the long tail of constructs the
hand-written templates miss.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqldistill.synth.graph import ColumnInfo, SchemaGraph, TableInfo
from sqldistill.synth.ir import STAR, Col, Cond, Item, Query
from sqldistill.synth.picker import key_columns

Shape = dict[str, Any]


_KIND = {"label": "text", "category": "text", "free": "text", "measure": "number", "date": "date", "key": "key"}
# Roles that may stand in for one another when a schema lacks the exact one (never a text for a number).
_NEAR = {"label": ("category", "free"), "category": ("label", "free"), "free": ("label", "category"),
         "date": ("measure",), "measure": (), "key": ()}


class _Fail(Exception):
    pass


# ---------------------------------------------------------------------------- abstraction


class _Abstractor:
    def __init__(self, graph: SchemaGraph) -> None:
        self.g = graph
        self.vars: dict[str, int] = {}
        self.slots: dict[tuple[str, str], str] = {}
        self.slot_info: dict[str, dict[str, Any]] = {}
        self.links: list[list[str]] = []

    def var(self, table: str) -> int:
        return self.vars.setdefault(table, len(self.vars))

    def slot(self, col: Col) -> str:
        if col.name == "*":
            return "*"
        key = (col.table, col.name)
        if key not in self.slots:
            name = f"s{len(self.slots)}"
            self.slots[key] = name
            info = self.g.tables[col.table].column(col.name)
            if info is None:
                raise _Fail(col.name)
            self.slot_info[name] = {"t": self.var(col.table), "role": info.role}  # the role implies the kind
            if info.is_pk:
                self.slot_info[name]["pk"] = True
        return self.slots[key]

    def link(self, a: str, b: str) -> None:
        """Record that slots a and b were equated across tables; ">" when a's column references b's."""
        if a == "*" or b == "*" or self.slot_info[a]["t"] == self.slot_info[b]["t"]:
            return
        a, b = sorted([a, b])
        cols = {name: key for key, name in self.slots.items()}
        (ta, ca), (tb, cb) = cols[a], cols[b]
        direction = ""
        for e in self.g.edges:
            if (e.table, e.column, e.ref_table, e.ref_column) == (ta, ca, tb, cb):
                direction = ">"
            elif (e.table, e.column, e.ref_table, e.ref_column) == (tb, cb, ta, ca):
                direction = "<"
        entry = [a, b, direction]
        if entry not in self.links:
            self.links.append(entry)

    def item(self, it: Item) -> list[Any]:
        out: list[Any] = [self.slot(it.col)]
        if it.agg:
            out.append(it.agg)
        if it.distinct:
            out.append(True)
        return out

    def value(self, c: Cond, v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, Query):
            sub = self.query(v)
            if c.op in ("in", "not in") and len(v.select) == 1 and not v.select[0].agg:
                self.link(self.slot(c.left.col), self.slot(v.select[0].col))
            return {"q": sub}
        if isinstance(v, Col):
            other = self.slot(v)
            self.link(self.slot(c.left.col), other)
            return {"col": other}
        if isinstance(v, tuple):
            return {"list": len(v), "slot": self.slot(c.left.col)}
        if c.left.agg == "count" or c.left.col.name == "*":
            return {"lit": v}
        return {"slot": self.slot(c.left.col)}

    def cond(self, c: Cond) -> dict[str, Any]:
        out = {"l": self.item(c.left), "op": c.op, "v": self.value(c, c.value)}
        if c.value2 is not None:
            out["v2"] = self.value(c, c.value2)
        return out

    def query(self, q: Query) -> dict[str, Any]:
        for t in q.tables:
            self.var(t)
        out: dict[str, Any] = {
            "select": [self.item(i) for i in q.select],
            "tables": [self.var(t) for t in q.tables],
            "joins": [[self.slot(a), self.slot(b)] for a, b in q.joins],
            "where": [self.cond(c) for c in q.where],
            "conj": q.conj,
            "group": [self.slot(g) for g in q.group],
            "having": [self.cond(c) for c in q.having],
            "order": [self.item(i) for i in q.order],
            "desc": q.desc,
            "limit": q.limit,
            "distinct": q.distinct,
            "chained": q.chained,
        }
        for a, b in out["joins"]:
            self.link(a, b)
        # defaults are left out: the bank is package data and should stay small
        defaults = {"joins": [], "where": [], "conj": "and", "group": [], "having": [], "order": [], "desc": False,
                    "limit": None, "distinct": False, "chained": False}
        out = {k: v for k, v in out.items() if k not in defaults or v != defaults[k]}
        if q.setop and q.other is not None:
            out["setop"] = q.setop
            out["other"] = self.query(q.other)
            for left, right in zip(out["select"], out["other"]["select"]):
                self.link(left[0], right[0])
        return out


def abstract_slots(q: Query, graph: SchemaGraph) -> tuple[Shape, dict[str, Col], dict[str, int]] | None:
    """The shape of ``q``, which column each slot stands for and which variable each table became."""
    a = _Abstractor(graph)
    try:
        body = a.query(q)
    except _Fail:
        return None
    shape: Shape = {"q": body, "slots": a.slot_info}
    if a.links:
        shape["links"] = a.links
    return shape, {name: Col(t, c) for (t, c), name in a.slots.items()}, dict(a.vars)


def abstract(q: Query, graph: SchemaGraph) -> Shape | None:
    """The shape of ``q`` over ``graph``, or None when a column is unknown."""
    done = abstract_slots(q, graph)
    return done[0] if done is not None else None


# ---------------------------------------------------------------------------- instantiation


def _needs(q: dict[str, Any], out: dict[str, str]) -> None:
    """What each slot's use asks of its column: "number" (sum, avg, ranges) or "text" (LIKE)."""
    items = [*q["select"], *q.get("order", [])]
    for c in (*q.get("where", []), *q.get("having", [])):
        items.append(c["l"])
        if c["op"] in ("<", ">", "<=", ">=", "between") and len(c["l"]) == 1:
            out[c["l"][0]] = "number"
        elif c["op"] in ("like", "not like"):
            out[c["l"][0]] = "text"
        for v in (c.get("v"), c.get("v2")):
            if isinstance(v, dict) and "q" in v:
                _needs(v["q"], out)
    for it in items:
        if len(it) > 1 and it[1] in ("sum", "avg"):
            out[it[0]] = "number"
    if "other" in q:
        _needs(q["other"], out)


class _Filler:
    def __init__(self, shape: Shape, graph: SchemaGraph, rng: random.Random, links: dict[str, list[Any]],
                 strict: bool = True) -> None:
        self.shape = shape
        self.g = graph
        self.rng = rng
        self.edges = links  # table -> [(other, my col, its col, up)]
        self.tables: dict[int, TableInfo] = {}
        self.cols: dict[str, ColumnInfo] = {}
        self.strict = strict
        self.needs: dict[str, str] = {}
        if not strict:
            _needs(shape["q"], self.needs)

    def _assign_links(self) -> None:
        pending = [tuple(link) for link in self.shape.get("links", [])]
        info = self.shape["slots"]
        progress = True
        while pending and progress:
            progress = False
            for pair in list(pending):
                a, b, direction = pair
                ta, tb = info[a]["t"], info[b]["t"]
                if ta not in self.tables and tb in self.tables:
                    a, b, ta, tb = b, a, tb, ta
                    direction = {">": "<", "<": ">"}.get(direction, "")
                if ta not in self.tables:
                    continue
                src = self.tables[ta]
                options: list[tuple[str, str, str]] = []
                for other, mine, theirs, up in self.edges.get(src.name, []):
                    if direction and up != (direction == ">") and self.strict:
                        continue  # keep which side references which: NOT IN (SELECT fk ...) stays that way
                    if a in self.cols and self.cols[a].name != mine:
                        continue
                    if tb in self.tables:
                        if other != self.tables[tb].name or (b in self.cols and self.cols[b].name != theirs):
                            continue
                    elif any(t.name == other for t in self.tables.values()):
                        continue
                    options.append((other, mine, theirs))
                if not options:
                    raise _Fail("no edge for a link")
                other, mine, theirs = self.rng.choice(options)
                self.tables[tb] = self.g.tables[other]
                self.cols[a] = self._column(src, mine)
                self.cols[b] = self._column(self.tables[tb], theirs)
                pending.remove(pair)
                progress = True
        if pending:
            raise _Fail("links between unrelated tables")

    @staticmethod
    def _column(t: TableInfo, name: str) -> ColumnInfo:
        c = t.column(name)
        if c is None:
            raise _Fail(name)
        return c

    def fill(self) -> Query:
        info = self.shape["slots"]
        n_vars = 1 + max([s["t"] for s in info.values()] + [0])
        linked = {info[s]["t"] for link in self.shape.get("links", []) for s in link[:2]}
        first = [t for t in self.g.tables.values() if t.rows and (0 not in linked or t.name in self.edges)]
        if not first:
            raise _Fail("no table")
        for attempt in range(3):  # a first table without the right edges: try another
            self.tables, self.cols = {0: self.rng.choice(first)}, {}
            try:
                self._assign_links()
                break
            except _Fail:
                if attempt == 2:
                    raise
        for v in range(n_vars):
            if v not in self.tables:
                used = {t.name for t in self.tables.values()}
                free = [t for t in self.g.tables.values() if t.rows and t.name not in used]
                if not free:
                    raise _Fail("not enough tables")
                self.tables[v] = self.rng.choice(free)
        for slot, meta in info.items():
            if slot not in self.cols:
                self.cols[slot] = self._pick_column(slot, meta)
        return self._query(self.shape["q"])

    def _pick_column(self, slot: str, meta: dict[str, Any]) -> ColumnInfo:
        t = self.tables[meta["t"]]
        taken = {c.name for s, c in self.cols.items() if self.shape["slots"][s]["t"] == meta["t"]}
        if meta.get("pk") and self.strict and t.pk is not None and t.pk.name not in taken:
            return t.pk  # loosely, any column of the role: a key grouped alone makes groups of one row
        kind = _KIND.get(meta["role"], "text")
        near = _NEAR.get(meta["role"], ())
        tests = [lambda c: c.role == meta["role"], lambda c: c.kind == kind, lambda c: c.role in near]
        if not self.strict:  # any column the slot's use allows (a number for sums and ranges, text for LIKE)
            need = self.needs.get(slot, "")
            tests.append(lambda c: (c.numeric or c.kind == "date") if need == "number" else
                         c.kind == "text" if need == "text" else c.role != "key" or meta["role"] == "key")
        for test in tests:
            options = [c for c in t.columns if test(c) and c.name not in taken and (c.values or meta["role"] == "key")]
            if options:
                return self.rng.choice(options)
        raise _Fail(f"no column for {meta['role']}")

    def _col(self, slot: str) -> Col:
        if slot == "*":
            return STAR
        c = self.cols[slot]
        return Col(c.table, c.name)

    def _item(self, it: list[Any]) -> Item:
        return Item(self._col(it[0]), it[1] if len(it) > 1 else "", len(it) > 2 and bool(it[2]))

    def _value(self, v: Any, op: str, upper: bool = False) -> Any:
        if v is None:
            return None
        if "q" in v:
            return self._query(v["q"])
        if "col" in v:
            return self._col(v["col"])
        if "lit" in v:
            return v["lit"]
        col = self.cols[v["slot"]]
        if not col.values:
            raise _Fail("no values")
        if "list" in v:
            return tuple(self.rng.sample(list(col.values), min(v["list"], len(col.values))))
        if op in ("like", "not like"):
            words = [w for x in col.values[:10] if isinstance(x, str) for w in x.split() if len(w) >= 3 and w.isalpha()]
            if not words:
                raise _Fail("nothing to match")
            return f"%{self.rng.choice(words)}%"
        if op in ("=", "!=", "in", "not in"):
            i = int(len(col.values) * self.rng.random() ** 1.6)
            return col.values[min(i, len(col.values) - 1)]
        ordered = sorted(x for x in col.values if type(x) is type(col.values[0]))
        lo, hi = len(ordered) // 5, max(len(ordered) // 5 + 1, (4 * len(ordered)) // 5)
        return ordered[self.rng.randrange(lo, hi)]

    def _cond(self, c: dict[str, Any]) -> Cond:
        value = self._value(c["v"], c["op"])
        value2 = self._value(c["v2"], c["op"]) if c.get("v2") is not None else None
        if c["op"] == "between" and value2 is not None and not isinstance(value, Query):
            if value == value2:
                raise _Fail("empty range")
            value, value2 = min(value, value2), max(value, value2)
        return Cond(self._item(c["l"]), c["op"], value, value2)

    def _query(self, d: dict[str, Any]) -> Query:
        tables = tuple(self.tables[v].name for v in d["tables"])
        joins = tuple((self._col(a), self._col(b)) for a, b in d.get("joins", []))
        where = tuple(self._cond(c) for c in d.get("where", []))
        if len(set(where)) < len(where):
            raise _Fail("the same condition twice")
        q = Query(
            tuple(self._item(i) for i in d["select"]), tables, joins, where, d.get("conj", "and"),
            tuple(self._col(s) for s in d.get("group", [])), tuple(self._cond(c) for c in d.get("having", [])),
            tuple(self._item(i) for i in d.get("order", [])), d.get("desc", False), d.get("limit"),
            d.get("distinct", False), chained=bool(d.get("chained")) and len(tables) > 2,
            also=tuple(key_columns(self.g, joins)),
        )
        if d.get("setop"):  # a set operation: the other side shares the table variables
            q = q.with_(setop=d["setop"], other=self._query(d["other"]))
        return q


@dataclass(frozen=True)
class Filled:
    """A shape filled in: the query, and the column and table each slot and variable became."""

    query: Query
    columns: dict[str, ColumnInfo]
    tables: dict[int, TableInfo]


def instantiate_slots(shape: Shape, graph: SchemaGraph, rng: random.Random,
                      links: dict[str, list[Any]], strict: bool = True) -> Filled | None:
    """``shape`` filled in over ``graph`` with its slot assignment, or None when it cannot fit.

    ``strict`` keeps each slot's column role and each link's direction; otherwise any column its use
    allows (a number where it is summed or compared by size, text where it is matched) and either direction.
    """
    filler = _Filler(shape, graph, rng, links, strict)
    try:
        q = filler.fill()
    except (_Fail, KeyError, IndexError, TypeError, ValueError):
        return None
    return Filled(q, dict(filler.cols), dict(filler.tables))


def shape_skeleton(shape: Shape) -> str:
    """The skeleton of the SQL every filling-in of ``shape`` gives (``sql.skeleton``), read from the shape
    alone: each table variable and slot rendered under a placeholder name, each value as a placeholder."""
    from sqldistill.sql.skeleton import skeleton
    from sqldistill.synth.ir import to_sql

    slots = shape["slots"]

    def col(s: str) -> Col:
        return STAR if s == "*" else Col(f"t{slots[s]['t']}", s)

    def item(it: list[Any]) -> Item:
        return Item(col(it[0]), it[1] if len(it) > 1 else "", len(it) > 2 and bool(it[2]))

    def value(v: Any) -> Any:
        if v is None:
            return None
        if "q" in v:
            return query(v["q"])
        if "col" in v:
            return col(v["col"])
        if "lit" in v:
            return v["lit"]
        return tuple(range(v["list"])) if "list" in v else 0

    def cond(c: dict[str, Any]) -> Cond:
        return Cond(item(c["l"]), c["op"], value(c["v"]), value(c.get("v2")))

    def query(d: dict[str, Any]) -> Query:
        tables = tuple(f"t{v}" for v in d["tables"])
        joins = tuple((col(a), col(b)) for a, b in d.get("joins", []))
        q = Query(tuple(item(i) for i in d["select"]), tables, joins,
                  tuple(cond(c) for c in d.get("where", [])), d.get("conj", "and"),
                  tuple(col(s) for s in d.get("group", [])), tuple(cond(c) for c in d.get("having", [])),
                  tuple(item(i) for i in d.get("order", [])), d.get("desc", False), d.get("limit"),
                  d.get("distinct", False), chained=bool(d.get("chained")) and len(tables) > 2)
        return q.with_(setop=d["setop"], other=query(d["other"])) if d.get("setop") else q

    return skeleton(to_sql(query(shape["q"])))


def instantiate(shape: Shape, graph: SchemaGraph, rng: random.Random,
                links: dict[str, list[Any]]) -> Query | None:
    """``shape`` filled in over ``graph`` (``links`` as ``Picker.links``), or None when it cannot fit."""
    filled = instantiate_slots(shape, graph, rng, links)
    return filled.query if filled is not None else None


__all__ = ["Filled", "Shape", "abstract", "abstract_slots", "instantiate", "instantiate_slots",
           "shape_skeleton"]
