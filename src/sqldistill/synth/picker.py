"""Random choices over the schema graph for the template sampler: tables, columns, values, join paths.

``Picker`` draws with one seeded rng and keeps usage counts, so that tables and columns are used evenly
(of two random candidates, the less used one wins). Join paths follow foreign keys (declared or inferred)
and never fan out child -> parent -> other child. Part counts (how many tables, conditions, projected
items) follow a real log of people's questions over databases (the Spider training log): about 57 % of
queries use one table, 26 % two, 11 % three; 42 % have no WHERE condition, 43 % one, 12 % two; 70 % show
one item, 25 % two.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqldistill.synth.graph import ColumnInfo, SchemaGraph, TableInfo
from sqldistill.synth.ir import STAR, Col, Cond, Item, Query

COUNT = Item(STAR, "count")

# Part counts of the query log (see the module docstring), as relative weights.
TABLES_IN_JOIN = {2: 0.60, 3: 0.27, 4: 0.10, 5: 0.03}
CONDITIONS = {1: 0.74, 2: 0.21, 3: 0.05}
ITEMS = {1: 0.70, 2: 0.25, 3: 0.045, 4: 0.005}


def col(c: ColumnInfo) -> Col:
    return Col(c.table, c.name)


def key_columns(graph: SchemaGraph, joins: Sequence[tuple[Col, Col]]) -> list[tuple[Col, Col]]:
    """The further equalities that ``joins`` along foreign keys over several columns need (``Query.also``)."""
    return [(Col(*x), Col(*y)) for a, b in joins
            for x, y in graph.key_pairs((a.table, a.name), (b.table, b.name))]


@dataclass
class Path:
    """Tables joined in order; ``joins[i]`` links ``tables[i + 1]`` to a table before it."""

    tables: list[TableInfo]
    joins: list[tuple[Col, Col]]
    also: list[tuple[Col, Col]] = field(default_factory=list)  # the other columns of keys over several

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def query(self, select: Sequence[Item], **parts: Any) -> Query:
        return Query(tuple(select), self.names, tuple(self.joins), also=tuple(self.also), **parts)


class Picker:
    """Random choices over one graph, balanced over tables and columns by usage counts."""

    def __init__(self, graph: SchemaGraph, rng: random.Random) -> None:
        self.g = graph
        self.rng = rng
        self.used: Counter[str] = Counter()
        self.tables = [t for t in graph.usable_tables() if any(c.values for c in t.columns)]
        names = {t.name for t in self.tables}
        # table -> [(other, my col, its col, up)]; up: the other table is the one referenced (n:1)
        self.links: dict[str, list[tuple[str, str, str, bool]]] = {}
        self.children: dict[str, list[tuple[str, str, str]]] = {}  # parent -> [(child, child col, parent col)]
        for e in graph.edges:
            if e.table in names and e.ref_table in names:
                self.links.setdefault(e.table, []).append((e.ref_table, e.column, e.ref_column, True))
                self.links.setdefault(e.ref_table, []).append((e.table, e.ref_column, e.column, False))
                self.children.setdefault(e.ref_table, []).append((e.table, e.column, e.ref_column))

    # ------------------------------------------------------------------ basic choices

    def weighted(self, table: dict[int, float]) -> int:
        return self.rng.choices(list(table), weights=list(table.values()))[0]

    def balanced(self, options: Sequence[Any], key: Callable[[Any], str]) -> Any:
        """Two random candidates, keep the less used one: spreads picks without a fixed order."""
        if not options:
            return None
        a = options[self.rng.randrange(len(options))]
        b = options[self.rng.randrange(len(options))]
        best = a if self.used[key(a)] <= self.used[key(b)] else b
        self.used[key(best)] += 1
        return best

    def table(self, pred: Callable[[TableInfo], bool] | None = None) -> TableInfo | None:
        options = [t for t in self.tables if pred is None or pred(t)]
        return self.balanced(options, lambda t: "t:" + t.name)  # type: ignore[no-any-return]

    def column(self, t: TableInfo, roles: Sequence[str], exclude: Sequence[str] = (),
               need_values: bool = True) -> ColumnInfo | None:
        options = [c for c in t.columns if c.role in roles and c.name not in exclude
                   and (c.values or not need_values)]
        return self.balanced(options, lambda c: f"c:{c.table}.{c.name}")  # type: ignore[no-any-return]

    def value(self, c: ColumnInfo) -> Any:
        # frequent values more often: the questions people ask name values that occur
        i = int(len(c.values) * self.rng.random() ** 1.6)
        return c.values[min(i, len(c.values) - 1)]

    def threshold(self, c: ColumnInfo) -> Any:
        kind = type(c.values[0]) if c.values else str
        ordered = sorted(v for v in c.values if type(v) is kind)
        if isinstance(c.values[0], (int, float)):
            ordered = sorted(v for v in c.values if isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ordered:
            return self.value(c)
        lo, hi = len(ordered) // 5, max(len(ordered) // 5 + 1, (4 * len(ordered)) // 5)
        return ordered[self.rng.randrange(lo, hi)]

    # ------------------------------------------------------------------ projections and conditions

    def projection(self, t: TableInfo, k: int, exclude: Sequence[str] = ()) -> list[Col]:
        """k columns people would ask to see: the label first, then descriptive columns, ids rarely."""
        out: list[ColumnInfo] = []
        if t.label is not None and t.label.name not in exclude and self.rng.random() < 0.7:
            out.append(t.label)
        while len(out) < k:
            roles = ("label", "category", "measure", "date", "free") if self.rng.random() < 0.88 else ("key",)
            c = self.column(t, roles, exclude=[*exclude, *[o.name for o in out]], need_values=False)
            if c is None:
                break
            out.append(c)
        return [col(c) for c in out]

    def items_over(self, path: Path, k: int | None = None, subject: int = 0) -> list[Item]:
        """k projected columns, mostly from the subject table, sometimes from the others."""
        k = k or self.weighted(ITEMS)
        subj = path.tables[subject]
        cols = self.projection(subj, k)
        if len(path.tables) > 1 and len(cols) >= 1 and k > 1 and self.rng.random() < 0.5:
            other = self.rng.choice([t for i, t in enumerate(path.tables) if i != subject])
            extra = self.projection(other, 1)
            cols = [*cols[: k - 1], *extra]
        return [Item(c) for c in cols]

    def cond(self, t: TableInfo, exclude: Sequence[str] = (), roles: Sequence[str] | None = None) -> Cond | None:
        rng = self.rng
        if roles is None:
            roles = ("key",) if rng.random() < 0.06 else ("category", "label", "measure", "date")
        c = self.column(t, roles, exclude=exclude)
        if c is None and roles != ("key",):
            c = self.column(t, ("key",), exclude=exclude)
        if c is None:
            return None
        it = Item(col(c))
        if c.kind in ("number", "date"):
            r = rng.random()
            if c.kind == "number" and (r < 0.2 or c.distinct <= 3):
                return Cond(it, "=", self.value(c))
            if r < 0.85:
                return Cond(it, rng.choice([">", "<", ">", "<", ">=", "<=", "!="]), self.threshold(c))
            a, b = self.threshold(c), self.threshold(c)
            if a == b:
                return Cond(it, ">", a)
            return Cond(it, "between", min(a, b), max(a, b))
        if c.kind == "key":
            return Cond(it, "=", self.value(c))
        r = rng.random()
        if r < 0.1:
            word = self.like_word(c)
            if word:
                return Cond(it, "like", f"%{word}%")
        if r < 0.16 and c.distinct > 1:
            return Cond(it, "!=", self.value(c))
        return Cond(it, "=", self.value(c))

    def like_word(self, c: ColumnInfo) -> str | None:
        words = [w for v in c.values[:10] if isinstance(v, str) for w in v.split() if len(w) >= 3 and w.isalpha()]
        return self.rng.choice(words) if words else None

    def where_over(self, path: Path, n: int | None = None, subject: int = 0,
                   exclude: Sequence[Col] = ()) -> tuple[tuple[Cond, ...], str]:
        """n conditions; on a join mostly on the tables other than the subject, as people filter."""
        n = n or self.weighted(CONDITIONS)
        out: list[Cond] = []
        for _ in range(n):
            if len(path.tables) > 1 and self.rng.random() < 0.75:
                t = self.rng.choice([t for i, t in enumerate(path.tables) if i != subject])
            else:
                t = path.tables[subject]
            used = [c.name for c in exclude if c.table == t.name]
            used += [x.left.col.name for x in out if x.left.col.table == t.name]
            c = self.cond(t, exclude=used)
            if c is not None:
                out.append(c)
        conj = "or" if len(out) == 2 and self.rng.random() < 0.2 else "and"
        return tuple(out), conj

    # ------------------------------------------------------------------ join paths

    def path(self, size: int, start: TableInfo | None = None) -> Path | None:
        """A chain of ``size`` distinct tables along foreign keys, each joined to the one before.

        A table reached from one of its referencing rows (n:1) is not left towards another referencing
        table (1:n): child -> parent -> other child multiplies rows without meaning, and people do not ask it.
        Link tables (parent <- link -> parent) and plain chains are fine.
        """
        first = start or (self.table(lambda t: t.name in self.links) if size > 1 else self.table())
        if first is None:
            return None
        tables, joins = [first], []
        reached_up = {first.name: False}
        while len(tables) < size:
            names = {t.name for t in tables}
            options = [(t, step) for t in reversed(tables) for step in self.links.get(t.name, [])
                       if step[0] not in names and (step[3] or not reached_up[t.name])]
            if not options:
                return None
            last = [o for o in options if o[0] is tables[-1]]
            src, (other, mine, theirs, up) = self.rng.choice(last or options)
            joins.append((Col(src.name, mine), Col(other, theirs)))
            tables.append(self.g.tables[other])
            reached_up[other] = up
        return Path(tables, joins, key_columns(self.g, joins))

    def join_path(self, least: int = 2) -> Path | None:
        size = max(least, self.weighted(TABLES_IN_JOIN))
        for _ in range(3):
            p = self.path(size)
            if p is not None:
                return p
            size = max(least, size - 1)
        return None

    def any_path(self, join_share: float = 0.43) -> Path | None:
        if self.links and self.rng.random() < join_share:
            return self.join_path()
        return self.path(1)

    def parent_child(self) -> tuple[TableInfo, TableInfo, str, str] | None:
        """(parent, child, parent key, child foreign key) along a declared or inferred edge."""
        p = self.table(lambda t: t.name in self.children)
        if p is None:
            return None
        child, fk, pk = self.rng.choice(self.children[p.name])
        return p, self.g.tables[child], pk, fk


__all__ = ["CONDITIONS", "COUNT", "ITEMS", "TABLES_IN_JOIN", "Path", "Picker", "col"]
