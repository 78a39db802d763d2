"""The template sampler: constructs people ask for, instantiated over the schema graph.

``CONSTRUCTS`` is the visible, ordered list of (name, weight, builder). A builder takes a ``Picker`` (the
graph, a seeded rng, and usage counters that keep tables and columns balanced) and returns a ``Query``, or
None when the schema offers nothing suitable. Each construct varies its parts the way people's queries
do (how many tables are joined, how many columns shown, how many conditions; see ``picker``), and the
weights follow how often each kind of question occurs in a real log of people's questions (the Spider
training log).
``sensible`` rejects what nobody asks. Values come from the database so conditions select rows.
"""

from __future__ import annotations

from collections.abc import Callable

from sqldistill.synth.graph import ColumnInfo, SchemaGraph, TableInfo
from sqldistill.synth.ir import STAR, Col, Cond, Item, Query, walk
from sqldistill.synth.picker import COUNT, ITEMS, TABLES_IN_JOIN, Path, Picker, col

Builder = Callable[[Picker], "Query | None"]

# ---------------------------------------------------------------------------- constructs


def _group_col(p: Picker, t: TableInfo) -> ColumnInfo | None:
    options = [c for c in t.columns if c.role in ("category", "label", "measure", "date")
               and 1 < c.distinct < max(t.rows, 2) and c.values]
    cats = [c for c in options if c.role == "category"]
    return p.balanced(cats or options, lambda c: f"c:{c.table}.{c.name}")  # type: ignore[no-any-return]


def _measure(p: Picker, path: Path, prefer: int | None = None) -> ColumnInfo | None:
    tables = [path.tables[prefer]] if prefer is not None else []
    tables += [t for t in path.tables if t not in tables]
    for t in tables:
        m = p.column(t, ("measure",))
        if m is not None:
            return m
    return None


def count_rows(p: Picker) -> Query | None:
    """How many ...: count(*) or count(DISTINCT c), over one table or a join, with or without conditions."""
    path = p.any_path()
    if path is None:
        return None
    rng = p.rng
    where: tuple[Cond, ...] = ()
    conj = "and"
    if len(path.tables) > 1 or rng.random() < 0.75:
        where, conj = p.where_over(path, subject=len(path.tables) - 1 if len(path.tables) > 1 else 0)
    item = COUNT
    if rng.random() < 0.2:
        c = p.column(rng.choice(path.tables), ("category", "label", "measure", "key"))
        if c is not None:
            item = Item(col(c), "count", distinct=True)
    if len(path.tables) > 1 and not where:
        return None
    return path.query((item,), where=where, conj=conj)


def listing(p: Picker) -> Query | None:
    """Show columns of rows, restricted by conditions, from one table or along a join."""
    path = p.any_path(0.45)
    if path is None:
        return None
    rng = p.rng
    items = p.items_over(path)
    if not items:
        return None
    where: tuple[Cond, ...] = ()
    conj = "and"
    if (len(path.tables) > 1 and rng.random() < 0.7) or rng.random() < 0.55:
        where, conj = p.where_over(path, exclude=[i.col for i in items])
    if rng.random() < 0.04 and len(path.tables) == 1:
        items = [Item(STAR)]
    distinct = rng.random() < (0.3 if len(path.tables) > 1 else 0.1)
    if len(items) == 1 and len(path.tables) == 1 and not where:
        info = p.g.column(items[0].col.table, items[0].col.name) if items[0].col.name != "*" else None
        distinct = info is not None and info.role == "category" and rng.random() < 0.6
    return path.query(items, where=where, conj=conj, distinct=distinct)


def ordered(p: Picker) -> Query | None:
    """Rows sorted by a column, ascending or descending."""
    path = p.any_path(0.3)
    if path is None:
        return None
    rng = p.rng
    t = path.tables[0]
    m = p.column(t, ("measure", "date")) or (p.column(t, ("label",)) if rng.random() < 0.3 else None)
    if m is None:
        return None
    items = p.items_over(path, max(1, p.weighted(ITEMS)))
    if rng.random() < 0.06 and len(path.tables) == 1:
        items = [Item(STAR)]
    where: tuple[Cond, ...] = ()
    if len(path.tables) > 1 or rng.random() < 0.25:
        where, _ = p.where_over(path, n=1, exclude=[col(m)])
    if not items:
        return None
    return path.query(items, where=where, order=(Item(col(m)),), desc=rng.random() < 0.5,
                      distinct=rng.random() < 0.1)


def superlative(p: Picker) -> Query | None:
    """The row(s) with the largest or smallest value: ORDER BY ... LIMIT k."""
    path = p.any_path(0.3)
    if path is None:
        return None
    rng = p.rng
    owner = 0 if rng.random() < 0.6 else rng.randrange(len(path.tables))
    m = p.column(path.tables[owner], ("measure", "date"))
    if m is None:
        return None
    items = p.items_over(path, 1 if rng.random() < 0.75 else 2)
    items = [i for i in items if i.col != col(m)] or items
    where: tuple[Cond, ...] = ()
    if rng.random() < 0.2:
        where, _ = p.where_over(path, n=1, exclude=[col(m)])
    limit = 1 if rng.random() < 0.8 else rng.choice([3, 5, 3, 10])
    if not items:
        return None
    return path.query(items, where=where, order=(Item(col(m)),), desc=rng.random() < 0.7, limit=limit)


def aggregate(p: Picker) -> Query | None:
    """Averages, sums, extremes of a numeric column, optionally restricted."""
    path = p.any_path(0.3)
    if path is None:
        return None
    rng = p.rng
    m = _measure(p, path, prefer=len(path.tables) - 1)
    if m is None:
        return None
    aggs = rng.choice([["avg"], ["max"], ["min"], ["sum"], ["avg"], ["max", "min"], ["avg", "max"],
                       ["avg", "min", "max"], ["min", "max"], ["min", "avg", "max"], ["max", "avg"]])
    items = [Item(col(m), a) for a in aggs]
    if rng.random() < 0.15:
        m2 = p.column(p.g.tables[m.table], ("measure",), exclude=[m.name])
        if m2 is not None:
            items.append(Item(col(m2), rng.choice(["avg", "max", "min", "sum"])))
    if rng.random() < 0.1:
        items.insert(0, COUNT)
    where: tuple[Cond, ...] = ()
    conj = "and"
    if len(path.tables) > 1 or rng.random() < 0.4:
        where, conj = p.where_over(path, exclude=[col(m)])
    return path.query(items, where=where, conj=conj)


def _grouping(p: Picker) -> tuple[Path, Col, list[Item]] | None:
    """A path, the column to group by, and the key items to show for each group."""
    rng = p.rng
    if p.children and rng.random() < 0.5:
        parent = p.table(lambda t: t.name in p.children)
        if parent is None:
            return None
        size = max(2, p.weighted(TABLES_IN_JOIN) - 1)
        path = p.path(size, start=parent)
        if path is None:
            return None
        shown = p.projection(parent, p.weighted({1: 0.8, 2: 0.2}))
        if not shown:
            return None
        if parent.pk is not None and (parent.label is None or rng.random() < 0.6):
            key = col(parent.pk)
        else:
            key = shown[0]
        return path, key, [Item(c) for c in shown]
    path = p.path(1)
    if path is None:
        return None
    g = _group_col(p, path.tables[0])
    if g is None:
        return None
    return path, col(g), [Item(col(g))]


def group_count(p: Picker) -> Query | None:
    """For each group: how many rows, or an aggregate of a column."""
    got = _grouping(p)
    if got is None:
        return None
    path, key, shown = got
    rng = p.rng
    agg: list[Item] = [COUNT]
    r = rng.random()
    m = _measure(p, path, prefer=len(path.tables) - 1) if r < 0.4 else None
    if m is not None:
        agg = [Item(col(m), f) for f in rng.choice([["avg"], ["max"], ["min"], ["sum"], ["avg", "max"],
                                                    ["max", "min"]])]
    elif r < 0.5:
        c = p.column(path.tables[-1], ("category", "label"))
        if c is not None and col(c) != key:
            agg = [Item(col(c), "count", distinct=True)]
    sel = [*shown, *agg] if rng.random() < 0.8 else [*agg, *shown]
    where: tuple[Cond, ...] = ()
    if rng.random() < 0.2:
        where, _ = p.where_over(path, n=1, exclude=[key])
    order: tuple[Item, ...] = ()
    if rng.random() < 0.15:
        order = (agg[0],)
    return path.query(sel, where=where, group=(key,), order=order, desc=bool(order) and rng.random() < 0.8)


def group_top(p: Picker) -> Query | None:
    """The group with the most (or fewest) rows, or the largest aggregate."""
    got = _grouping(p)
    if got is None:
        return None
    path, key, shown = got
    rng = p.rng
    order = COUNT
    if rng.random() < 0.2:
        m = _measure(p, path, prefer=len(path.tables) - 1)
        if m is not None:
            order = Item(col(m), rng.choice(["avg", "sum", "max"]))
    sel = shown if rng.random() < 0.85 else [*shown, order]
    where: tuple[Cond, ...] = ()
    if rng.random() < 0.2:
        where, _ = p.where_over(path, n=1, exclude=[key])
    return path.query(sel, where=where, group=(key,), order=(order,), desc=rng.random() < 0.8, limit=1)


def group_having(p: Picker) -> Query | None:
    """Groups with at least / more than / fewer than N rows (or an aggregate above a value)."""
    got = _grouping(p)
    if got is None:
        return None
    path, key, shown = got
    rng = p.rng
    op = rng.choice([">=", ">", ">=", ">", "<", "=", "<="])
    biggest = _largest_group(p, path, key)
    if biggest < 2:
        return None
    n = rng.randint(2, biggest) if op in (">=", "=", "<") else rng.randint(1, biggest - 1)
    having = Cond(COUNT, op, n)
    if rng.random() < 0.15:
        m = _measure(p, path, prefer=len(path.tables) - 1)
        if m is not None:
            having = Cond(Item(col(m), rng.choice(["avg", "sum", "max", "min"])), rng.choice([">", "<", ">="]),
                          p.threshold(m))
    sel = shown if rng.random() < 0.85 else [*shown, COUNT]
    where: tuple[Cond, ...] = ()
    if rng.random() < 0.15:
        where, _ = p.where_over(path, n=1, exclude=[key])
    return path.query(sel, where=where, group=(key,), having=(having,))


def _largest_group(p: Picker, path: Path, key: Col) -> int:
    if len(path.tables) == 1:
        info = p.g.column(key.table, key.name)
        return info.counts[0] if info.counts else 0
    theirs = path.joins[0][1]
    fk = p.g.column(theirs.table, theirs.name)
    return fk.counts[0] if fk.counts else 2


def nested(p: Picker) -> Query | None:
    """Compare with an aggregate of a subquery: above the average, equal to the maximum."""
    t = p.table(lambda t: bool(t.by_role("measure")))
    m = p.column(t, ("measure",)) if t else None
    if t is None or m is None:
        return None
    rng = p.rng
    items = [Item(c) for c in p.projection(t, p.weighted(ITEMS), exclude=[m.name])]
    if rng.random() < 0.15:
        items = [COUNT]
    sub = Query((Item(col(m), "avg"),), (t.name,))
    op = rng.choice([">", "<", ">", ">="])
    if rng.random() < 0.35:
        sub = Query((Item(col(m), rng.choice(["max", "min"])),), (t.name,))
        op = "=" if rng.random() < 0.7 else rng.choice([">", "<"])
    if rng.random() < 0.2:
        c = p.cond(t, exclude=[m.name])
        sub = sub.with_(where=(c,)) if c else sub
    where: tuple[Cond, ...] = (Cond(Item(col(m)), op, sub),)
    if rng.random() < 0.15:
        c = p.cond(t, exclude=[m.name])
        where = (*where, c) if c else where
    return Query(tuple(items), (t.name,), where=where) if items else None


def membership(p: Picker) -> Query | None:
    """Rows with (IN) or without (NOT IN) related rows in another table, possibly restricted."""
    pc = p.parent_child()
    if pc is None:
        return None
    parent, child, pk, fk = pc
    rng = p.rng
    negated = rng.random() < 0.6
    sub = Query((Item(Col(child.name, fk)),), (child.name,))
    if not negated or rng.random() < 0.25:
        joined = p.path(2, start=child) if rng.random() < 0.3 else None
        if joined is not None and joined.tables[1].name != parent.name:
            c = p.cond(joined.tables[1])
            if c is not None:
                sub = joined.query((Item(Col(child.name, fk)),), where=(c,))
        else:
            c = p.cond(child, exclude=[fk])
            if c is not None:
                sub = sub.with_(where=(c,))
    cond = Cond(Item(Col(parent.name, pk)), "not in" if negated else "in", sub)
    if rng.random() < 0.2:
        return Query((COUNT,), (parent.name,), where=(cond,))
    items = [Item(c) for c in p.projection(parent, p.weighted(ITEMS))]
    where: tuple[Cond, ...] = (cond,)
    if rng.random() < 0.15:
        extra = p.cond(parent, exclude=[pk])
        where = (extra, cond) if extra else where
    return Query(tuple(items), (parent.name,), where=where) if items else None


def set_operation(p: Picker) -> Query | None:
    """Two restricted listings combined with INTERSECT, EXCEPT or UNION."""
    rng = p.rng
    op = rng.choice(["intersect", "intersect", "except", "except", "union"])
    if rng.random() < 0.2:
        return _keys_set_operation(p, op)
    path = p.any_path(0.45)
    if path is None:
        return None
    k = 1 if rng.random() < 0.85 else 2
    items = p.items_over(path, k) if len(path.tables) > 1 else [Item(c) for c in p.projection(path.tables[0], k)]
    if not items:
        return None
    a, conj_a = p.where_over(path, exclude=[i.col for i in items])
    b, conj_b = p.where_over(path, exclude=[i.col for i in items])
    if not a or not b or a == b:
        return None
    left = path.query(items, where=a, conj=conj_a)
    right = path.query(items, where=b, conj=conj_b)
    if op == "except" and rng.random() < 0.35:
        # everything except those that have related rows: SELECT x FROM a EXCEPT SELECT T1.x FROM a JOIN b
        base = path.tables[0]
        base_items = [i for i in items if i.col.table == base.name]
        if base_items and len(path.tables) > 1:
            left = Query(tuple(base_items), (base.name,))
            right = path.query(base_items, where=b if rng.random() < 0.5 else (), conj=conj_b)
        elif len(path.tables) == 1:
            left = left.with_(where=())
    return left.with_(setop=op, other=right)


def _keys_set_operation(p: Picker, op: str) -> Query | None:
    """Keys of a table against the foreign keys of a related one: ids with (or without) related rows."""
    pc = p.parent_child()
    if pc is None:
        return None
    parent, child, pk, fk = pc
    left = Query((Item(Col(parent.name, pk)),), (parent.name,))
    right = Query((Item(Col(child.name, fk)),), (child.name,))
    if p.rng.random() < 0.4:
        c = p.cond(child, exclude=[fk])
        right = right.with_(where=(c,)) if c else right
    if op == "union":
        op = "except"
    return left.with_(setop=op, other=right)


def sensible(q: Query, graph: SchemaGraph) -> bool:
    """Reject queries no one would ask: groups of one row each, a column shown twice, a condition twice."""
    for part in walk(q):
        if len(set(part.select)) < len(part.select) or len(set(part.where)) < len(part.where):
            return False
        if part.group and not part.is_join and part.group[0].name != "*":
            info = graph.tables[part.group[0].table].column(part.group[0].name)
            rows = graph.tables[part.group[0].table].rows
            if info is not None and rows > 1 and info.distinct >= rows:
                return False
    return True


CONSTRUCTS: tuple[tuple[str, float, Builder], ...] = (
    ("count_rows", 12.0, count_rows),
    ("listing", 30.0, listing),
    ("ordered", 7.0, ordered),
    ("superlative", 8.0, superlative),
    ("aggregate", 7.0, aggregate),
    ("group_count", 9.0, group_count),
    ("group_top", 6.5, group_top),
    ("group_having", 5.0, group_having),
    ("nested", 4.5, nested),
    ("membership", 5.5, membership),
    ("set_operation", 6.0, set_operation),
)


__all__ = ["CONSTRUCTS", "Builder", "Picker", "sensible"]
