"""Small repairs of a candidate query toward what its question names: the columns it returns, the sort direction.

The retrieval memory often holds a query of the right form over the right tables that returns other columns
than the question asks for ("the first and second line of all addresses" finds ``SELECT line_1 FROM
Addresses``), or sorts the other way. ``repairs`` rewrites such a candidate: its SELECT list becomes the
columns of its own tables that the question names, in the order the question names them, and its sort follows
an explicit "ascending"/"descending". The variants join execution-guided selection as extra candidates;
``projection_agreement`` scores how well a query's returned columns match the columns the question names.

Contract (stable): ``named_columns(question, sql, schema) -> list[(alias or table, column)]``,
``repairs(question, sql, schema, values=None) -> list[str]`` (new SQL strings, none equal to ``sql``),
``mentioned_values(question, columns, values)``,
``projection_agreement(question, sql, schema) -> int``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqldistill.synth.names import column_phrases, pluralize

if TYPE_CHECKING:
    from sqldistill.records import Schema

MAX_COLUMNS = 4
_DESC = re.compile(r"\b(descending|decreasing|reverse|reversed|from (the )?(highest|largest|most|latest|newest) to)\b",
                   re.I)
_ASC = re.compile(r"\b(ascending|increasing|from (the )?(lowest|smallest|least|earliest|oldest) to)\b", re.I)


def _mentions(question: str, phrase: str) -> int | None:
    """Where ``phrase`` (or its plural) first occurs in ``question`` as whole words, else None."""
    low = question.lower()
    best: int | None = None
    for form in {phrase.lower(), pluralize(phrase).lower()}:
        m = re.search(r"(?<![\w])" + re.escape(form) + r"(?![\w])", low)
        if m and (best is None or m.start() < best):
            best = m.start()
    return best


def _glot(schema: Schema) -> str:
    """The sqlglot dialect of the schema's database: repairs are read and written in it."""
    from sqldistill.sql.safety import SQLGLOT_DIALECT

    return SQLGLOT_DIALECT.get(schema.dialect, schema.dialect)


@lru_cache(maxsize=4096)
def _parse(sql: str, dialect: str = "sqlite") -> Any:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        return sqlglot.parse_one(sql, read=dialect)
    except (ParseError, TokenError, ValueError):
        return None


def _tables(select: Any, schema: Schema) -> dict[str, str]:
    """alias (or name), lower-cased -> schema table name, for the tables of one SELECT."""
    from sqlglot import exp

    names = {t.name.lower(): t.name for t in schema.tables}
    out: dict[str, str] = {}
    for t in select.find_all(exp.Table):
        real = names.get(t.name.lower())
        if real is not None:
            out[(t.alias or t.name).lower()] = real
    return out


def _column_table(col: Any, tables: dict[str, str], schema: Schema) -> str | None:
    if col.table:
        return tables.get(col.table.lower())
    owners = [name for name in dict.fromkeys(tables.values())
              if (tbl := _table(schema, name)) is not None and tbl.column(col.name) is not None]
    return owners[0] if len(owners) == 1 else None


def _table(schema: Schema, name: str) -> Any:
    return next((t for t in schema.tables if t.name == name), None)


def named_columns(question: str, sql: str, schema: Schema) -> list[tuple[str, str]]:
    """Columns of the query's own tables that the question names, in the order it names them, as (the alias or
    table the query uses, column name). A column the query only filters, groups or sorts on is left out unless
    it also returns it; of several columns named by the same words the longest phrase wins."""
    from sqlglot import exp

    tree = _parse(sql, _glot(schema))
    if not isinstance(tree, exp.Select):
        return []
    tables = _tables(tree, schema)
    if not tables:
        return []
    returned = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    conditions = set()
    for key in ("where", "having", "group", "order"):
        part = tree.args.get(key)
        if part is not None:
            conditions |= {c.name.lower() for c in part.find_all(exp.Column)}
    spelled = {(t.alias or t.name).lower(): (t.alias or t.name) for t in tree.find_all(exp.Table)}
    all_tables = tuple(t.name.lower() for t in schema.tables)
    found: list[tuple[int, int, str, str]] = []  # (position, -phrase length, alias, column)
    for alias, name in tables.items():
        table = _table(schema, name)
        if table is None or (alias == name.lower() and any(a != alias and n == name for a, n in tables.items())):
            continue
        for col in table.columns:
            low = col.name.lower()
            if low in conditions and low not in returned:
                continue
            for phrase in [*column_phrases(col.name, table.name, all_tables), col.name]:
                pos = _mentions(question, phrase)
                if pos is not None:
                    found.append((pos, -len(phrase), spelled.get(alias, alias), col.name))
                    break
    found.sort()
    out: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for pos, neg_len, alias, col in found:
        span = (pos, pos - neg_len)
        if any(a < span[1] and span[0] < b for a, b in taken):
            continue  # words already claimed by a longer (earlier-sorted) phrase at the same place
        if any(c.lower() == col.lower() for _, c in out):
            continue
        taken.append(span)
        out.append((alias, col))
    return out


_STOP_VALUES = frozenset({"the", "and", "for", "all", "any", "yes", "none", "other", "with", "from", "what", "which",
                          "name", "names", "number", "list", "show", "find", "give", "each", "true", "false", "null"})


def mentioned_values(question: str, columns: list[tuple[str, str]],
                     values: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(alias, column, value) for each text value of the given (alias, table.column) pairs that the question names
    as whole words; of overlapping values the longest."""
    low = question.lower()
    found: list[tuple[int, int, str, str, str]] = []
    for alias, key in columns:
        for value in values.get(key, []):
            v = str(value).strip()
            vl = v.lower()
            if len(v) < 3 or vl in _STOP_VALUES or vl.replace(".", "").isdigit() or vl not in low:
                continue
            m = re.search(r"(?<![\w])" + re.escape(vl) + r"(?![\w])", low)
            if m:
                found.append((m.start(), -len(v), alias, key.split(".", 1)[1], v))
    found.sort()
    out: list[tuple[str, str, str]] = []
    taken: list[tuple[int, int]] = []
    for pos, neg_len, alias, col, v in found:
        if any(a < pos - neg_len and pos < b for a, b in taken):
            continue
        taken.append((pos, pos - neg_len))
        out.append((alias, col, v))
    return out


def _condition_repairs(question: str, tree: Any, schema: Schema, values: dict[str, list[str]]) -> list[str]:
    """The query plus ``column = 'value'`` for a value the question names that the query never mentions."""
    from sqlglot import exp

    tables = _tables(tree, schema)
    spelled = {(t.alias or t.name).lower(): (t.alias or t.name) for t in tree.find_all(exp.Table)}
    qualified = len(tables) > 1 or any(c.table for c in tree.find_all(exp.Column))
    columns = [(spelled.get(alias, alias), f"{name.lower()}.{col.name.lower()}")
               for alias, name in tables.items() if (table := _table(schema, name)) is not None
               for col in table.columns]
    text = tree.sql(dialect=_glot(schema)).lower()
    where = tree.args.get("where")
    filtered = {c.name.lower() for c in where.find_all(exp.Column)} if where is not None else set()
    missing = [(a, c, v) for a, c, v in mentioned_values(question, columns, values)
               if v.lower() not in text and c.lower() not in filtered]  # a filtered column has its value filled
    if not missing or len(missing) > 2:
        return []
    edit = tree.copy()
    for alias, col, value in missing:
        cond = exp.EQ(this=exp.column(col, table=alias if qualified else None), expression=exp.Literal.string(value))
        edit = edit.where(cond, copy=False)
    return [edit.sql(dialect=_glot(schema))]


_NUMERIC = re.compile(r"int|real|num|float|double|dec|money", re.I)
_DIFFERENT = re.compile(r"\b(different|distinct|unique)\b", re.I)


def _aggregate_repairs(question: str, tree: Any, schema: Schema) -> list[str]:
    """A query returning one plain column, aggregated the way the question asks when it is not: "how many
    (different) X" -> count(*) / count(DISTINCT x); "average X" -> avg(x); "total X" -> sum(x) (numeric x)."""
    from sqlglot import exp

    from sqldistill.sql.cues import question_cues, sql_constructs

    if len(tree.expressions) != 1 or tree.args.get("group") is not None:
        return []
    col = tree.expressions[0]
    if not isinstance(col, exp.Column):
        return []
    asked = question_cues(question)
    has = sql_constructs(tree.sql(dialect=_glot(schema)))
    table = _column_table(col, _tables(tree, schema), schema)
    column = _table(schema, table).column(col.name) if table else None
    numeric = column is not None and bool(_NUMERIC.search(column.type or ""))
    wrapped: list[Any] = []
    if "count" in asked and "count" not in has:
        if _DIFFERENT.search(question):
            wrapped.append(exp.Count(this=exp.Distinct(expressions=[col.copy()])))
        else:
            wrapped.append(exp.Count(this=exp.Star()))
    if "average" in asked and "average" not in has and numeric:
        wrapped.append(exp.Avg(this=col.copy()))
    if "total" in asked and "total" not in has and numeric:
        wrapped.append(exp.Sum(this=col.copy()))
    out = []
    for agg in wrapped:
        edit = tree.copy()
        edit.set("distinct", None)
        edit.set("order", None)
        edit.set("limit", None)
        edit.set("expressions", [agg])
        out.append(edit.sql(dialect=_glot(schema)))
    return out


_PER = re.compile(r"\b(?:for each|for every|per|of each|in each|by each|each)\s+([a-z][\w ]*)", re.I)


def _negation_repairs(question: str, tree: Any, dialect: str) -> list[str]:
    """``col = 'v'`` -> ``col != 'v'`` when the question negates and the query does not (and 'v' is in the
    question). (Dropping a filter the question never asked for was tried: on the synthesizer's held-out
    questions it chose worse.)"""
    from sqlglot import exp

    from sqldistill.sql.cues import question_cues, sql_constructs
    from sqldistill.sql.grounding import ungrounded_literals

    where = tree.args.get("where")
    if where is None:
        return []
    asked = question_cues(question)
    text = tree.sql(dialect=dialect)
    out = []
    if "negation" in asked and "negation" not in sql_constructs(text):
        equals = [e for e in where.find_all(exp.EQ) if isinstance(e.this, exp.Column)
                  and isinstance(e.expression, exp.Literal)]
        if len(equals) == 1 and not ungrounded_literals(equals[0].expression.sql(dialect=dialect), question):
            edit = tree.copy()
            target = next(e for e in edit.args["where"].find_all(exp.EQ) if e == equals[0])
            target.replace(exp.NEQ(this=target.this.copy(), expression=target.expression.copy()))
            out.append(edit.sql(dialect=dialect))
    return out


def _group_repairs(question: str, tree: Any, schema: Schema) -> list[str]:
    """An aggregate-only query grouped by the column the question counts "for each" / "per"."""
    from sqlglot import exp

    if tree.args.get("group") is not None or not tree.expressions:
        return []
    if not all(isinstance(e, exp.AggFunc) for e in tree.expressions):
        return []
    m = _PER.search(question)
    if m is None:
        return []
    tail = m.group(1)
    spelled = {(t.alias or t.name).lower(): (t.alias or t.name) for t in tree.find_all(exp.Table)}
    tables = _tables(tree, schema)
    all_tables = tuple(t.name.lower() for t in schema.tables)
    best: tuple[int, str, str] | None = None
    for alias, name in tables.items():
        table = _table(schema, name)
        if table is None:
            continue
        for col in table.columns:
            for phrase in column_phrases(col.name, table.name, all_tables):
                if _mentions(tail, phrase) == 0 and (best is None or len(phrase) > best[0]):
                    best = (len(phrase), spelled.get(alias, alias), col.name)
    if best is None:
        return []
    _, alias, col = best
    qualified = len(tables) > 1 or any(c.table for c in tree.find_all(exp.Column))
    key = exp.column(col, table=alias if qualified else None)
    edit = tree.copy()
    edit.set("expressions", [key.copy(), *[e.copy() for e in tree.expressions]])
    edit.set("group", exp.Group(expressions=[key]))
    return [edit.sql(dialect=_glot(schema))]


def repairs(question: str, sql: str, schema: Schema, values: dict[str, list[str]] | None = None) -> list[str]:
    """Variants of ``sql`` that return the columns the question names, or sort the way it says, or (with the
    database's ``values``, ``{"table.column": [text values]}``) filter on a value it names and ``sql`` lacks."""
    from sqlglot import exp

    tree = _parse(sql, _glot(schema))
    if not isinstance(tree, exp.Select):
        return []
    out: list[str] = []
    if values:
        out += _condition_repairs(question, tree, schema, values)
    plain = all(isinstance(e, exp.Column) for e in tree.expressions)
    named = named_columns(question, sql, schema)
    if plain and 0 < len(named) <= MAX_COLUMNS:
        qualified = any(e.table for e in tree.expressions) or len(_tables(tree, schema)) > 1
        current = [e.name.lower() for e in tree.expressions]
        if [c.lower() for _, c in named] != current:
            edit = tree.copy()
            edit.set("expressions", [exp.column(col, table=alias if qualified else None) for alias, col in named])
            out.append(edit.sql(dialect=_glot(schema)))
    out += _aggregate_repairs(question, tree, schema)
    out += _negation_repairs(question, tree, _glot(schema))
    out += _group_repairs(question, tree, schema)
    order = tree.args.get("order")
    if order is not None and len(order.expressions) == 1:
        key = order.expressions[0]
        want_desc = bool(_DESC.search(question)) and not _ASC.search(question)
        want_asc = bool(_ASC.search(question)) and not _DESC.search(question)
        if (want_desc and not key.args.get("desc")) or (want_asc and key.args.get("desc")):
            edit = tree.copy()
            key = edit.args["order"].expressions[0]
            key.set("desc", want_desc)
            key.set("nulls_first", not want_desc)  # SQLite's own default either way: no NULLS clause is written
            out.append(edit.sql(dialect=_glot(schema)))
    return [s for s in dict.fromkeys(out) if s != sql]


def projection_agreement(question: str, sql: str, schema: Schema) -> int:
    """Columns the query returns that the question names, minus plain columns it returns that it does not."""
    from sqlglot import exp

    tree = _parse(sql, _glot(schema))
    if not isinstance(tree, exp.Select):
        return 0
    named = {c.lower() for _, c in named_columns(question, sql, schema)}
    score = 0
    for e in tree.expressions:
        if isinstance(e, exp.Column):
            score += 1 if e.name.lower() in named else -1
    return score


__all__ = ["mentioned_values", "named_columns", "projection_agreement", "repairs"]
