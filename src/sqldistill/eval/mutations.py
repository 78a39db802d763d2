"""Near-miss mutations of a SQL query: the plausible mistakes a model makes.

Each mutation changes one thing (a comparison, a condition, DISTINCT, LIMIT, ORDER BY, an aggregate, a join,
a GROUP BY column, a literal, a set operator, a selected column). They serve two purposes: choosing test-suite
databases that tell a query from its near misses, and generating realistic wrong predictions for benchmarks.
Most mutants change the result on some database; a few are equivalent to the original by accident (e.g. a
condition implied by another), which no database can reveal.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqldistill.records import Schema

logging.getLogger("sqlglot").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Mutation:
    sql: str
    kind: str


# (kind, function(node, context) -> replacement node(s) or None); each yields zero or more edited copies.
_FLIPS = {"GT": "GTE", "GTE": "GT", "LT": "LTE", "LTE": "LT", "EQ": "NEQ", "NEQ": "EQ"}
_REVERSE = {"GT": "LT", "LT": "GT", "GTE": "LTE", "LTE": "GTE"}
_AGG_SWAP = {"Max": "Min", "Min": "Max", "Sum": "Avg", "Avg": "Sum"}


def _parse(sql: str):  # type: ignore[no-untyped-def]
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (ParseError, TokenError, ValueError, RecursionError):
        return None
    return tree


def _render(tree) -> str | None:  # type: ignore[no-untyped-def]
    try:
        return str(tree.sql(dialect="sqlite"))
    except Exception:  # sqlglot cannot print every tree it can build
        return None


def _from_tables(select) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """alias (or name) -> table name for the tables of one SELECT's own FROM and JOINs."""
    from sqlglot import exp

    out: dict[str, str] = {}
    sources = [select.args.get("from_") or select.args.get("from"), *list(select.args.get("joins") or [])]
    for src in sources:
        if src is None:
            continue
        table = src.this
        if isinstance(table, exp.Table):
            out[(table.alias_or_name or table.name).lower()] = table.name.lower()
    return out


def resolve_column(column, schema: Schema) -> tuple[str, str] | None:  # type: ignore[no-untyped-def]
    """(table, column) names in ``schema`` that a sqlglot Column node refers to, or None."""
    from sqlglot import exp

    select = column.find_ancestor(exp.Select)
    if select is None:
        return None
    tables = _from_tables(select)
    name = column.name.lower()
    if column.table:
        candidates = [tables.get(column.table.lower(), column.table.lower())]
    else:
        candidates = [t for t in tables.values() if (tb := schema.table(t)) is not None and tb.column(name)]
    if len(candidates) != 1:
        return None
    table = schema.table(candidates[0])
    col = table.column(name) if table is not None else None
    if table is None or col is None:
        return None
    return table.name, col.name


def _sibling_columns(column, schema: Schema | None) -> list[str]:  # type: ignore[no-untyped-def]
    """Other columns of the table a column belongs to (for swaps), empty when it cannot be resolved."""
    if schema is None:
        return []
    found = resolve_column(column, schema)
    if found is None:
        return []
    table = schema.table(found[0])
    assert table is not None
    return [c.name for c in table.columns if c.name.lower() != found[1].lower()]


def _sites(tree, schema: Schema | None) -> Iterator[tuple[str, int, Callable]]:  # type: ignore[no-untyped-def]
    """(kind, node position in walk order, edit) for every place a single mistake could be made."""
    from sqlglot import exp

    for pos, node in enumerate(tree.walk()):
        name = type(node).__name__
        parent = node.parent
        in_condition = node.find_ancestor(exp.Where, exp.Having, exp.Join) is not None
        if name in _FLIPS and in_condition:
            yield "comparison", pos, lambda n, k=_FLIPS[name]: getattr(exp, k)(this=n.this, expression=n.expression)
            if name in _REVERSE:
                yield "comparison", pos, lambda n, k=_REVERSE[name]: getattr(exp, k)(this=n.this,
                                                                                 expression=n.expression)
        if isinstance(node, (exp.And, exp.Or)) and node.find_ancestor(exp.Join) is None:
            yield "and_or", pos, lambda n: (exp.Or if isinstance(n, exp.And) else exp.And)(
                this=n.this, expression=n.expression)
            yield "drop_condition", pos, lambda n: n.this
            yield "drop_condition", pos, lambda n: n.expression
        if isinstance(node, exp.Where):
            yield "drop_condition", pos, lambda n: None
        if isinstance(node, exp.Having):
            yield "drop_condition", pos, lambda n: None
        if isinstance(node, exp.Not) and in_condition:
            yield "negation", pos, lambda n: n.this
        if isinstance(node, exp.In) and not isinstance(parent, exp.Not):
            yield "negation", pos, lambda n: exp.Not(this=n.copy())
        if isinstance(node, exp.Is):
            yield "negation", pos, lambda n: exp.Not(this=n.copy())
        if isinstance(node, exp.Select) and _distinct_matters(node, schema):
            if node.args.get("distinct"):
                yield "distinct", pos, lambda n: _unset(n, "distinct")
            else:
                yield "distinct", pos, lambda n: _with(n, "distinct", exp.Distinct())
        if isinstance(node, exp.Distinct) and isinstance(parent, (exp.Count, exp.Sum, exp.Avg)):
            yield "distinct", pos, lambda n: n.expressions[0] if n.expressions else None
        if isinstance(node, exp.Limit):
            value = node.expression
            if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
                k = int(value.this)
                yield "limit", pos, lambda n, k=k: exp.Limit(expression=exp.Literal.number(k + 1))
                if k > 1:
                    yield "limit", pos, lambda n, k=k: exp.Limit(expression=exp.Literal.number(k - 1))
            yield "limit", pos, lambda n: None
        if isinstance(node, exp.Ordered):
            yield "order", pos, lambda n: _with(n, "desc", not n.args.get("desc"))
        if isinstance(node, exp.Order) and isinstance(parent, exp.Select) and parent.args.get("limit") is None \
                and not _order_follows_group(parent):
            yield "order", pos, lambda n: None
        if name in _AGG_SWAP:
            yield "aggregate", pos, lambda n, k=_AGG_SWAP[name]: getattr(exp, k)(this=n.this)
        if isinstance(node, exp.Count):
            if isinstance(node.this, exp.Star):
                pass
            elif not isinstance(node.this, exp.Distinct):
                yield "aggregate", pos, lambda n: exp.Count(this=exp.Star())
        if isinstance(node, exp.Join):
            kind = (node.args.get("side") or "").upper()
            if not kind and not _filters_on(node) and not _fk_guarantees_match(node, schema):
                yield "join", pos, lambda n: _with(n, "side", "LEFT")
        if isinstance(node, exp.Column) and isinstance(parent, exp.EQ) and node.find_ancestor(exp.Join):
            for other in _sibling_columns(node, schema)[:2]:
                yield "join", pos, lambda n, o=other: exp.column(o, table=n.table or None)
        if isinstance(node, exp.Column) and isinstance(parent, exp.Group):
            for other in _sibling_columns(node, schema)[:2]:
                yield "group_by", pos, lambda n, o=other: exp.column(o, table=n.table or None)
        if isinstance(node, exp.Column) and parent is not None and isinstance(parent, exp.Select) \
                and node.arg_key == "expressions":
            for other in _sibling_columns(node, schema)[:1]:
                yield "select_column", pos, lambda n, o=other: exp.column(o, table=n.table or None)
        if isinstance(node, exp.Literal) and not node.is_string and in_condition \
                and not isinstance(parent, exp.Limit):
            try:
                number = float(node.this)
            except ValueError:
                number = None
            if number is not None:
                step = 1 if number == int(number) else 0.5
                yield "literal", pos, lambda n, v=number + step: exp.Literal.number(_num(v))
                yield "literal", pos, lambda n, v=number - step: exp.Literal.number(_num(v))
        if isinstance(node, exp.Like) and isinstance(node.expression, exp.Literal):
            pattern = node.expression.this
            if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 2:
                yield "literal", pos, lambda n, p=pattern[1:]: exp.Like(this=n.this, expression=exp.Literal.string(p))
                yield "literal", pos, lambda n, p=pattern[:-1]: exp.Like(this=n.this,
                                                                         expression=exp.Literal.string(p))
        if isinstance(node, exp.Union):
            yield "set_op", pos, lambda n: _with(n, "distinct", not n.args.get("distinct"))
            yield "set_op", pos, lambda n: exp.Intersect(this=n.this, expression=n.expression, distinct=True)
        if isinstance(node, exp.Intersect):
            yield "set_op", pos, lambda n: exp.Union(this=n.this, expression=n.expression, distinct=True)
            yield "set_op", pos, lambda n: exp.Except(this=n.this, expression=n.expression, distinct=True)
        if isinstance(node, exp.Except):
            yield "set_op", pos, lambda n: exp.Intersect(this=n.this, expression=n.expression, distinct=True)


def _distinct_matters(select, schema: Schema | None) -> bool:  # type: ignore[no-untyped-def]
    """Whether DISTINCT on this SELECT can change a result; mutants that cannot are no near misses."""
    from sqlglot import exp

    if isinstance(select.parent, (exp.Union, exp.Intersect, exp.Except)) and select.parent.args.get("distinct"):
        return False  # the set operation removes duplicates anyway
    if select.find_ancestor(exp.In, exp.Exists) is not None:
        return False  # membership ignores duplicates
    limit = select.args.get("limit")
    if limit is not None and limit.expression is not None and limit.expression.sql() == "1":
        return False  # one row
    group = select.args.get("group")
    if group is None and any(e.find(exp.AggFunc) for e in select.expressions):
        return False  # one aggregate row
    selected = {e.unalias().sql().lower() for e in select.expressions}
    if group is not None and all(g.sql().lower() in selected for g in group.expressions):
        return False  # one row per selected group
    return schema is None or not _rows_unique(select, schema)


def _alias_of(column, aliases: dict[str, str], schema: Schema) -> str | None:  # type: ignore[no-untyped-def]
    if column.table:
        return column.table.lower() if column.table.lower() in aliases else None
    owners = [a for a, t in aliases.items() if (tb := schema.table(t)) is not None and tb.column(column.name)]
    return owners[0] if len(owners) == 1 else None


def _rows_unique(select, schema: Schema) -> bool:  # type: ignore[no-untyped-def]
    """Whether the selected columns hold the key of a table to which every other table is joined to-one
    (on its own primary key), so that no two result rows can be equal."""
    from sqlglot import exp

    aliases = _from_tables(select)
    if not aliases or len(aliases) != 1 + len(select.args.get("joins") or []):
        return False

    def single_key(alias: str) -> str | None:
        table = schema.table(aliases[alias])
        key = table.primary_key if table is not None else []
        return key[0].lower() if len(key) == 1 else None

    to_one: dict[str, set[str]] = {a: set() for a in aliases}
    for join in select.args.get("joins") or []:
        for eq in (join.args.get("on").find_all(exp.EQ) if join.args.get("on") is not None else []):
            left, right = eq.this, eq.expression
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
                continue
            a, b = _alias_of(left, aliases, schema), _alias_of(right, aliases, schema)
            if a is None or b is None or a == b:
                continue
            if single_key(b) == right.name.lower():
                to_one[a].add(b)
            if single_key(a) == left.name.lower():
                to_one[b].add(a)
    chosen: dict[str, set[str]] = {a: set() for a in aliases}
    for e in select.expressions:
        if isinstance(e, exp.Star):
            for a in aliases:
                table = schema.table(aliases[a])
                chosen[a] |= {c.name.lower() for c in table.columns} if table is not None else set()
        elif isinstance(e, exp.Column) and (a := _alias_of(e, aliases, schema)) is not None:
            chosen[a].add(e.name.lower())
    for alias in aliases:
        table = schema.table(aliases[alias])
        if table is None or not table.primary_key or not {k.lower() for k in table.primary_key} <= chosen[alias]:
            continue
        reached, frontier = {alias}, [alias]
        while frontier:
            for nxt in to_one[frontier.pop()] - reached:
                reached.add(nxt)
                frontier.append(nxt)
        if reached == set(aliases):
            return True
    return False


def _filters_on(join) -> bool:  # type: ignore[no-untyped-def]
    """Whether WHERE or a later inner join tests a column of the joined table: either rejects the NULLs of
    unmatched rows, which turns LEFT JOIN back into JOIN."""
    from sqlglot import exp

    select = join.find_ancestor(exp.Select)
    if select is None:
        return True
    table = join.this
    names = {table.alias_or_name.lower(), table.name.lower()} if isinstance(table, exp.Table) else set()
    joins = list(select.args.get("joins") or [])
    later = joins[joins.index(join) + 1:] if join in joins else []
    tests = [select.args.get("where")] + [j.args.get("on") for j in later if not j.args.get("side")]
    return any(not c.table or c.table.lower() in names
               for t in tests if t is not None for c in t.find_all(exp.Column))


def _fk_guarantees_match(join, schema: Schema | None) -> bool:  # type: ignore[no-untyped-def]
    """Whether a declared NOT NULL foreign key from the left side to the joined table makes every left row
    match (foreign keys hold in every database we build), so LEFT JOIN changes nothing."""
    from sqlglot import exp

    on = join.args.get("on")
    if schema is None or not isinstance(on, exp.EQ):
        return False
    ends = [resolve_column(c, schema) if isinstance(c, exp.Column) else None for c in (on.this, on.expression)]
    if None in ends or not isinstance(join.this, exp.Table):
        return False
    right = join.this.name.lower()
    for child_end, parent_end in (ends, ends[::-1]):
        assert child_end is not None and parent_end is not None
        child = schema.table(child_end[0])
        if child is None or parent_end[0].lower() != right or child_end[0].lower() == right:
            continue
        for fk in child.foreign_keys:
            if fk.ref_table.lower() == right and [c.lower() for c in fk.columns] == [child_end[1].lower()] \
                    and [c.lower() for c in fk.ref_columns] == [parent_end[1].lower()]:
                column = child.column(child_end[1])
                return column is not None and not column.nullable
    return False


def _order_follows_group(select) -> bool:  # type: ignore[no-untyped-def]
    """SQLite returns groups sorted by their key, so ORDER BY the GROUP BY key (ascending) is redundant."""
    group, order = select.args.get("group"), select.args.get("order")
    if group is None or order is None:
        return False
    keys = [o.this.sql().lower() for o in order.expressions if not o.args.get("desc")]
    return len(keys) == len(order.expressions) and keys == [g.sql().lower() for g in group.expressions]


def _num(v: float) -> str:
    return str(int(v)) if v == int(v) else str(v)


def _with(node, key: str, value):  # type: ignore[no-untyped-def]
    copy = node.copy()
    copy.set(key, value)
    return copy


def _unset(node, key: str):  # type: ignore[no-untyped-def]
    copy = node.copy()
    copy.set(key, None)
    return copy


def canonical_sql(sql: str) -> str:
    """``sql`` as sqlglot prints it (the form mutants are printed in), or ``sql`` when it cannot be read."""
    tree = _parse(sql)
    text = _render(tree) if tree is not None else None
    return text or sql


def mutate(sql: str, schema: Schema | None = None, limit: int | None = None, seed: int = 0,
           kinds: set[str] | None = None) -> list[Mutation]:
    """Distinct single-edit mutants of ``sql`` (never ``sql`` itself), in a seeded random order.

    ``schema`` enables column swaps (GROUP BY and SELECT); ``kinds`` keeps only some mutation kinds;
    ``limit`` caps how many are returned. SQL that sqlglot cannot read has no mutants.
    """
    tree = _parse(sql)
    if tree is None:
        return []
    original = _render(tree)
    seen = {original, sql}
    out: list[Mutation] = []
    for kind, pos, edit in _sites(tree, schema):
        if kinds is not None and kind not in kinds:
            continue
        copy = tree.copy()
        nodes = list(copy.walk())
        if pos >= len(nodes):
            continue
        target = nodes[pos]
        try:
            replacement = edit(target)
            if replacement is None:
                target.pop()
            elif target is copy:
                copy = replacement
            else:
                target.replace(replacement)
        except Exception:  # an edit that does not apply to this tree shape: no mutant
            continue
        text = _render(copy)
        if text and text not in seen:
            seen.add(text)
            out.append(Mutation(text, kind))
    random.Random(seed).shuffle(out)
    return out[:limit] if limit is not None else out





__all__ = ["Mutation", "canonical_sql", "mutate", "resolve_column"]
