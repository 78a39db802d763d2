"""Database values a question names, and whether a query uses them: string matching, in any language.

``named_values`` finds the text cells of the database (``values``: ``{"table.column": [text, ...]}``, as
``infer.retrieval.column_values`` reads them) that occur in the question verbatim, ignoring case, as whole
tokens: a value must not be glued to letters or digits on either side. It skips cells shorter than three
characters, cells made of digits, and cells spelled like a table or column of the schema (a question naming
the column ``city`` names no city); of overlapping matches the longest wins ("New York" over "York").

``value_agreement`` scores a query against them: a point for each named value it uses as a literal, one off
for each it leaves out, and one off for each ``column = 'text'`` whose column does not hold the text while
another column of the query's tables does (``Height = 'Russia'``). Nothing here reads the question's words,
only the database's cells and the query's literals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqldistill.sql.grounding import literals, quoted_string
from sqldistill.sql.parsed import parsed

if TYPE_CHECKING:
    from sqldistill.records import Schema

MIN_VALUE_CHARS = 3
PREPARED_KEPT = 8  # value dicts whose lookups are kept (a served model reads one for its whole life)


@dataclass(frozen=True)
class _Cells:
    """A values dict made ready for lookups: the cells ``named_values`` may find (lower-cased), the longest
    one's length, and each column's cells as a set (lower-cased)."""

    findable: frozenset[str]
    longest: int
    held: dict[str, frozenset[str]]


_prepared_cache: dict[tuple[int, int], tuple[object, object, _Cells]] = {}


def _prepared(values: dict[str, list[str]], schema: Schema | None) -> _Cells:
    """``values`` and ``schema`` made ready once (they must not change in place afterwards): every question
    used to walk every cell of the database again."""
    key = (id(values), id(schema))
    hit = _prepared_cache.get(key)
    if hit is not None and hit[0] is values and hit[1] is schema:
        return hit[2]
    names: set[str] = set()
    if schema is not None:
        for t in schema.tables:
            names.add(t.name.lower())
            names |= {c.name.lower() for c in t.columns}
    findable = set()
    for cells in values.values():
        for cell in cells:
            v = cell.strip().lower()
            if len(v) >= MIN_VALUE_CHARS and v not in names and not v.replace(".", "").isdigit():
                findable.add(v)
    held = {column: frozenset(v.strip().lower() for v in cells) for column, cells in values.items()}
    ready = _Cells(frozenset(findable), max(map(len, findable), default=0), held)
    if len(_prepared_cache) >= PREPARED_KEPT:
        _prepared_cache.pop(next(iter(_prepared_cache)))
    _prepared_cache[key] = (values, schema, ready)
    return ready


def named_values(question: str, values: dict[str, list[str]] | None, schema: Schema | None = None
                 ) -> frozenset[str]:
    """The database's text values (lower-cased) that ``question`` contains as whole tokens (see module doc).
    Every stretch of the question that starts and ends at a token boundary (no letter or digit glued on
    either side) is looked up among the cells, so the cost follows the question's length, not the database's
    size; a cell's first such occurrence is where it is found."""
    if not values:
        return frozenset()
    cells = _prepared(values, schema)
    low = question.lower()
    starts = [i for i in range(len(low)) if i == 0 or not low[i - 1].isalnum()]
    ends = [j for j in range(1, len(low) + 1) if j == len(low) or not low[j].isalnum()]
    first: dict[str, int] = {}
    for i in starts:
        for j in ends:
            if j - i > cells.longest:
                break
            if j - i >= MIN_VALUE_CHARS and (v := low[i:j]) in cells.findable and v not in first:
                first[v] = i
    kept: list[str] = []
    taken: list[tuple[int, int]] = []
    for v, pos in sorted(first.items(), key=lambda f: (f[1], -len(f[0]))):
        if not any(a < pos + len(v) and pos < b for a, b in taken):
            taken.append((pos, pos + len(v)))
            kept.append(v)
    return frozenset(kept)


def _misfits(sql: str, schema: Schema, values: dict[str, list[str]]) -> int:
    """Minus one for each ``column = 'text'`` (or ``<>``) whose column does not hold the text while another
    column of the same SELECT's tables does."""
    from sqlglot import exp

    from sqldistill.sql.safety import SQLGLOT_DIALECT

    tree = parsed(sql, SQLGLOT_DIALECT.get(schema.dialect, schema.dialect))
    if tree is None:
        return 0
    columns = {t.name.lower(): [c.name.lower() for c in t.columns] for t in schema.tables}
    held = _prepared(values, schema).held

    def holds(key: str, text: str) -> bool:
        return text in held.get(key, frozenset())

    score = 0
    for select in tree.find_all(exp.Select):
        where = select.args.get("where")
        if where is None:
            continue
        aliases: dict[str, str] = {}
        for t in select.find_all(exp.Table):
            if t.parent_select is select and t.name.lower() in columns:
                aliases[(t.alias or t.name).lower()] = t.name.lower()
        for cmp in where.find_all(exp.EQ, exp.NEQ):
            col, lit = cmp.this, cmp.expression
            if not isinstance(col, exp.Column) or cmp.parent_select is not select:
                continue
            quoted = quoted_string(lit)
            if quoted is None and not (isinstance(lit, exp.Literal) and lit.is_string):
                continue
            text = (quoted if quoted is not None else str(lit.this)).strip().lower()
            name = col.name.lower()
            if col.table:
                owners = [aliases[col.table.lower()]] if col.table.lower() in aliases else []
            else:
                owners = [t for t in set(aliases.values()) if name in columns[t]]
            if len(owners) != 1:
                continue
            own = f"{owners[0]}.{name}"
            if holds(own, text):
                continue
            others = (f"{t}.{c}" for t in set(aliases.values()) for c in columns[t])
            if any(holds(key, text) for key in others if key != own):
                score -= 1
    return score


def value_agreement(sql: str, named: frozenset[str], schema: Schema | None = None,
                    values: dict[str, list[str]] | None = None) -> int:
    """+1 for each ``named`` value (``named_values``) ``sql`` uses in a text literal, -1 for each it does not;
    with ``schema`` and ``values``, -1 for each text literal compared with a column that does not hold it
    while another column of the query's tables does."""
    score = _misfits(sql, schema, values) if schema is not None and values else 0
    if not named:
        return score
    texts = [text.strip("%").lower() for text, is_string in literals(sql) if is_string]
    for v in named:
        score += 1 if any(v in t or (len(t) >= MIN_VALUE_CHARS and t in v) for t in texts) else -1
    return score


__all__ = ["named_values", "value_agreement"]
