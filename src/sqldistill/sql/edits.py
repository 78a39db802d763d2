"""Small repairs of a candidate query toward what its question names, and scores of how well a query fits it.

The retrieval memory often holds a query of the right form over the right tables that returns other columns
than the question asks for ("the first and second line of all addresses" finds ``SELECT line_1 FROM
Addresses``), sorts the other way, or misses a value, an aggregate or a grouping the question states.
``repairs`` rewrites such a candidate: its SELECT list becomes the columns of its own tables that the question
names, in the order the question names them; its sort follows an explicit "ascending"/"descending", and a
top-1 the question's superlative ("the fewest") says; a value the question names becomes a filter, "a or b"
an OR of both values, "<column> greater than N" a condition; a plain
listing gets the count/average/total asked for; a negated question flips the query's one equality; "contains"
turns an equality into LIKE; a comparison that goes against the question's ("below", "at least") turns
around, and one against a number the question bounds ("at least 2", "under age 30") takes that bound; an
aggregate-only query is grouped by the column counted "for each"; "the most common X" becomes X grouped and
counted; a bound on a noun ("shared by at least 2 teachers") counts the returned column in that noun's table;
``c = 'A' AND c = 'B'`` (no row has both) becomes an INTERSECT; the ORDER BY column becomes the one the
question sorts by ("in descending order of earnings"), and a measured superlative ("the youngest") takes its
own direction. The variants join execution-guided selection as extra candidates. Scores for the vote:
``projection_agreement`` (returned columns the question names, a column named with another table counting
against: "the names of the shops" is not ``employee.Name``), ``value_agreement`` (values the question names
that the query uses), ``table_agreement`` (tables the question names that the query reads),
``order_agreement`` (the column it sorts by or measures a superlative with) and ``role_agreement`` (which
end of a relation stored twice over one table the query reads). Repairs are read and written in the schema's
SQL dialect.

Contract (stable): ``named_columns(question, sql, schema) -> list[(alias or table, column)]``,
``repairs(question, sql, schema, values=None) -> list[str]`` (new SQL strings, none equal to ``sql``),
``mentioned_values(question, columns, values)``,
``projection_agreement(question, sql, schema) -> int``,
``question_values(question, schema, values=None) -> (strings, numbers)``, ``value_agreement(sql, named) -> int``,
``without_names(question, schema) -> str``, ``table_agreement(bare_question, sql, schema) -> int``,
``order_agreement(question, sql, schema) -> int``, ``role_agreement(question, sql, schema) -> int``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqldistill.sql.cues import (
    ASCENDING,
    bound_spans,
    bounds,
    comparison_agreement,
    direction_agreement,
    question_cues,
    sql_constructs,
)
from sqldistill.sql.grounding import FREE_NUMBERS, ungrounded_literals
from sqldistill.sql.names import column_phrases, pluralize, table_phrase
from sqldistill.sql.parsed import parsed

if TYPE_CHECKING:
    from sqldistill.records import Schema, Table

MAX_COLUMNS = 4
_DESC = re.compile(r"\b(descending|decreasing|reverse|reversed|from (the )?(highest|largest|most|latest|newest) to)\b",
                   re.I)
_ASC = ASCENDING


def _word_at(low: str, phrase: str) -> int | None:
    """Where lower-case ``phrase`` first occurs in lower-case ``low`` as whole words, else None."""
    if phrase not in low:
        return None
    m = re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", low)
    return m.start() if m else None


@lru_cache(maxsize=65536)
def _mentions(question: str, phrase: str) -> int | None:
    """Where ``phrase`` (or its plural) first occurs in ``question`` as whole words, else None."""
    low = question.lower()
    found = [p for form in {phrase.lower(), pluralize(phrase).lower()} if (p := _word_at(low, form)) is not None]
    return min(found) if found else None


def _longest_apart(found: list[tuple[int, int, Any]]) -> list[Any]:
    """The items of (position, length, item) whose spans do not overlap, earliest first, the longer winning
    where two start together."""
    kept: list[Any] = []
    taken: list[tuple[int, int]] = []
    for pos, length, item in sorted(found, key=lambda f: (f[0], -f[1])):
        if not any(a < pos + length and pos < b for a, b in taken):
            taken.append((pos, pos + length))
            kept.append(item)
    return kept


@lru_cache(maxsize=16384)
def _phrases(column: str, table: str, all_tables: tuple[str, ...]) -> tuple[str, ...]:
    """Ways a question may name a column: its spoken forms, then its own name."""
    return (*column_phrases(column, table, all_tables), column)


@lru_cache(maxsize=16384)
def _named_by(column: str, table: str, all_tables: tuple[str, ...]) -> tuple[str, ...]:
    """``_phrases`` and, for a two-word phrase, its "of" forms: "document id" is also "the id of the document"
    and "ids of documents"."""
    phrases = _phrases(column, table, all_tables)
    inverted = []
    for p in phrases:
        words = p.split()
        if len(words) == 2:
            head, noun = words
            inverted += [f"{noun} of the {head}", f"{noun} of {head}", f"{pluralize(noun)} of the {pluralize(head)}",
                         f"{pluralize(noun)} of {pluralize(head)}"]
    return (*inverted, *phrases)


@lru_cache(maxsize=16384)
def _qualified(column: str, table: str, all_tables: tuple[str, ...]) -> tuple[str, ...]:
    """Phrases that name a column together with its table: "shop name", "the name of the shop", "names of
    shops", "shop's name"."""
    t = table_phrase(table).lower()
    ts = pluralize(t).lower()
    out = []
    for p in column_phrases(column, table, all_tables):
        p = p.lower()
        if t in p:
            continue
        ps = pluralize(p).lower()
        out += [f"{t} {p}", f"{t}'s {p}", *(f"{a} of {b}{c}" for a in (p, ps) for b in ("the ", "") for c in (t, ts))]
    return tuple(out)


def _column_at_start(text: str, tables: Any, all_tables: tuple[str, ...], spoken: Any = None) -> tuple[Any, str] | None:
    """(key, column name) of the column of ``tables`` (pairs of key and Table) that ``text`` starts by naming,
    the longest phrase winning; ``spoken(column, table, all_tables)`` gives the phrases (``_phrases``)."""
    best: tuple[int, Any, str] | None = None
    for key, table in tables:
        for col in table.columns:
            for phrase in (spoken or _phrases)(col.name, table.name, all_tables):
                if _mentions(text, phrase) == 0 and (best is None or len(phrase) > best[0]):
                    best = (len(phrase), key, col.name)
    return None if best is None else (best[1], best[2])


def _tables_named(text: str, schema: Schema, at_start: bool = False) -> list[Table]:
    """The tables ``text`` names (by their spoken name or their own), or only those it starts with."""
    def named(phrase: str) -> bool:
        pos = _mentions(text, phrase)
        return pos == 0 if at_start else pos is not None

    return [t for t in schema.tables if named(table_phrase(t.name)) or named(t.name)]


def _glot(schema: Schema) -> str:
    """The sqlglot dialect of the schema's database: repairs are read and written in it."""
    from sqldistill.sql.safety import SQLGLOT_DIALECT

    return SQLGLOT_DIALECT.get(schema.dialect, schema.dialect)


class _Scope:
    """The schema tables one SELECT reads: ``tables`` maps each alias (or name) as the query spells it to its
    table; ``qualified`` says whether new column references should carry that alias."""

    def __init__(self, select: Any, schema: Schema) -> None:
        from sqlglot import exp

        self.tables: dict[str, Table] = {}
        for t in select.find_all(exp.Table):
            table = schema.table(t.name)
            if table is not None:
                self.tables.setdefault(t.alias or t.name, table)
        self.qualified = len(self.tables) > 1 or any(c.table for c in select.find_all(exp.Column))
        self.all_tables = tuple(t.name.lower() for t in schema.tables)

    def column(self, alias: str, name: str) -> Any:
        from sqlglot import exp

        return exp.column(name, table=alias if self.qualified else None)

    def owner(self, col: Any) -> Table | None:
        """The table a column reference belongs to, when that is unambiguous."""
        if col.table:
            return next((t for a, t in self.tables.items() if a.lower() == col.table.lower()), None)
        owners = {t.name: t for t in self.tables.values() if t.column(col.name) is not None}
        return next(iter(owners.values())) if len(owners) == 1 else None


# a column named in the question but used only in these clauses is not asked for back ("the zip code of the
# address in Port Chelsea" does not want the city); one it groups by is ("the name and id of the department
# with the most degrees", grouped by the id)
CONDITION_CLAUSES = ("where", "having", "order")


def named_columns(question: str, sql: str, schema: Schema) -> list[tuple[str, str]]:
    """Columns of the query's own tables that the question names, in the order it names them, as (the alias or
    table the query uses, column name). A column the query only filters or sorts on is left out unless it also
    returns it; of several columns named by the same words the longest phrase wins."""
    from sqlglot import exp

    tree = parsed(sql, _glot(schema))
    if not isinstance(tree, exp.Select):
        return []
    scope = _Scope(tree, schema)
    returned = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    conditions = set()
    for key in CONDITION_CLAUSES:
        part = tree.args.get(key)
        if part is not None:
            conditions |= {c.name.lower() for c in part.find_all(exp.Column)}
    found: list[tuple[int, int, tuple[str, str, bool]]] = []
    for alias, table in scope.tables.items():
        if alias.lower() == table.name.lower() and any(t is table and a != alias for a, t in scope.tables.items()):
            continue  # a table read under an alias too: the alias speaks for it
        for col in table.columns:
            low = col.name.lower()
            only_filtered = low in conditions and low not in returned
            for phrase in _named_by(col.name, table.name, scope.all_tables):
                pos = _mentions(question, phrase)
                if pos is not None:  # a column only filtered on still owns its words ("id of the document")
                    found.append((pos, len(phrase), (alias, col.name, only_filtered)))
                    break
    out: list[tuple[str, str]] = []
    for alias, col, only_filtered in _longest_apart(found):
        if not only_filtered and all(c.lower() != col.lower() for _, c in out):
            out.append((alias, col))
    return out


_STOP_VALUES = frozenset({"the", "and", "for", "all", "any", "yes", "none", "other", "with", "from", "what", "which",
                          "name", "names", "number", "list", "show", "find", "give", "each", "true", "false", "null"})


def mentioned_values(question: str, columns: list[tuple[str, str]],
                     values: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(alias, column, value) for each text value of the given (alias, table.column) pairs that the question names
    as whole words; of overlapping values the longest."""
    low = question.lower()
    found: list[tuple[int, int, tuple[str, str, str]]] = []
    for alias, key in columns:
        for value in values.get(key, []):
            v = str(value).strip()
            vl = v.lower()
            if len(v) < 3 or vl in _STOP_VALUES or vl.replace(".", "").isdigit():
                continue
            pos = _word_at(low, vl)
            if pos is not None:
                found.append((pos, len(v), (alias, key.split(".", 1)[1], v)))
    return _longest_apart(found)


def _condition_repairs(question: str, sql: str, tree: Any, scope: _Scope, values: dict[str, list[str]],
                       dialect: str) -> list[str]:
    """The query plus ``column = 'value'`` for a value the question names that the query never mentions."""
    from sqlglot import exp

    columns = [(alias, f"{table.name.lower()}.{col.name.lower()}")
               for alias, table in scope.tables.items() for col in table.columns]
    where = tree.args.get("where")
    filtered = {c.name.lower() for c in where.find_all(exp.Column)} if where is not None else set()
    text = sql.lower()
    missing = [(a, c, v) for a, c, v in mentioned_values(question, columns, values)
               if v.lower() not in text and c.lower() not in filtered]  # a filtered column has its value filled
    if not missing or len(missing) > 2:
        return []
    edit = tree.copy()
    for alias, col, value in missing:
        edit = edit.where(exp.EQ(this=scope.column(alias, col), expression=exp.Literal.string(value)), copy=False)
    return [edit.sql(dialect=dialect)]


_NUMERIC = re.compile(r"int|real|num|float|double|dec|money", re.I)
_DIFFERENT = re.compile(r"\b(different|distinct|unique)\b", re.I)


def _aggregate_repairs(question: str, sql: str, tree: Any, scope: _Scope, dialect: str) -> list[str]:
    """A query returning one plain column, aggregated the way the question asks when it is not: "how many
    (different) X" -> count(*) / count(DISTINCT x); "average X" -> avg(x); "total X" -> sum(x) (numeric x)."""
    from sqlglot import exp

    if len(tree.expressions) != 1 or tree.args.get("group") is not None:
        return []
    col = tree.expressions[0]
    if not isinstance(col, exp.Column):
        return []
    asked = question_cues(question)
    has = sql_constructs(sql)
    table = scope.owner(col)
    column = table.column(col.name) if table is not None else None
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
        out.append(edit.sql(dialect=dialect))
    return out


_PER = re.compile(r"\b(?:for each|for every|per|of each|in each|by each|each)\s+([a-z][\w ]*)", re.I)


def _negation_repairs(question: str, sql: str, tree: Any, dialect: str) -> list[str]:
    """``col = 'v'`` -> ``col != 'v'`` when the question negates and the query does not (and 'v' is in the
    question). (Dropping a filter the question never asked for was tried: on the synthesizer's held-out
    questions it chose worse.)"""
    from sqlglot import exp

    where = tree.args.get("where")
    if where is None or "negation" not in question_cues(question) or "negation" in sql_constructs(sql):
        return []
    equals = [e for e in where.find_all(exp.EQ)
              if isinstance(e.this, exp.Column) and isinstance(e.expression, exp.Literal)]
    if len(equals) != 1 or ungrounded_literals(equals[0].expression.sql(dialect=dialect), question):
        return []
    edit = tree.copy()
    target = next(e for e in edit.args["where"].find_all(exp.EQ) if e == equals[0])
    target.replace(exp.NEQ(this=target.this.copy(), expression=target.expression.copy()))
    return [edit.sql(dialect=dialect)]


def _like_repairs(question: str, tree: Any, dialect: str) -> list[str]:
    """``col = 'v'`` -> ``col LIKE '%v%'`` when the question asks for text that contains 'v'."""
    from sqlglot import exp

    where = tree.args.get("where")
    if where is None or "like" not in question_cues(question):
        return []
    equals = [e for e in where.find_all(exp.EQ)
              if isinstance(e.this, exp.Column) and isinstance(e.expression, exp.Literal) and e.expression.is_string]
    if len(equals) != 1:
        return []
    edit = tree.copy()
    target = next(e for e in edit.args["where"].find_all(exp.EQ) if e == equals[0])
    pattern = exp.Literal.string(f"%{target.expression.this}%")
    target.replace(exp.Like(this=target.this.copy(), expression=pattern))
    return [edit.sql(dialect=dialect)]


_OR_AFTER = re.compile(r"""^\s*["'`]*\s*,?\s*or\s+["'`]*""")
_OR_BEFORE = re.compile(r"""["'`]*\s*,?\s*\bor\s*["'`]*\s*$""")
_LEADING_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?!\w)")
_TRAILING_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?$")


def _either_repairs(question: str, tree: Any, scope: _Scope, values: dict[str, list[str]] | None,
                    dialect: str) -> list[str]:
    """``col = 'a'`` -> ``(col = 'a' OR col = 'b')`` when the question says "a or b" ("aged 32 or 33", "code PP
    or PPT"); the other text value must be one the column holds."""
    from sqlglot import exp

    where = tree.args.get("where")
    low = question.lower()
    if where is None or " or " not in low:
        return []
    equals = [e for e in where.find_all(exp.EQ) if isinstance(e.this, exp.Column) and isinstance(e.expression, exp.Literal)]
    if len(equals) != 1:
        return []
    col, lit = equals[0].this, equals[0].expression
    text = str(lit.this).strip().lower()
    at = _word_at(low, text) if text else None
    if at is None:
        return []
    after, before = low[at + len(text):], low[:at]
    m_after, m_before = _OR_AFTER.match(after), _OR_BEFORE.search(before)
    other: Any = None
    if not lit.is_string:
        n = _LEADING_NUMBER.match(after[m_after.end():]) if m_after else None
        n = n or (_TRAILING_NUMBER.search(before[:m_before.start()].rstrip()) if m_before else None)
        if n is not None and n.group(0) != text:
            other = exp.Literal.number(n.group(0))
    else:
        table = scope.owner(col)
        held = values.get(f"{table.name.lower()}.{col.name.lower()}", []) if table is not None and values else []
        best = ""
        tail, head = after[m_after.end():] if m_after else None, before[:m_before.start()] if m_before else None
        for v in held:
            vl = v.strip().lower()
            if vl == text or len(vl) <= len(best):
                continue
            if (tail is not None and _word_at(tail, vl) == 0) or (head is not None and head.endswith(vl)):
                best = v.strip()
        if best:
            other = exp.Literal.string(best)
    if other is None:
        return []
    edit = tree.copy()
    target = next(e for e in edit.args["where"].find_all(exp.EQ) if e == equals[0])
    either = exp.Or(this=target.copy(), expression=exp.EQ(this=target.this.copy(), expression=other))
    target.replace(exp.Paren(this=either))
    return [edit.sql(dialect=dialect)]


_COMPARE_WORDS = (
    (r"(?:greater|more|higher|larger|bigger|later|longer|older) than|above|over|after|exceeding", "GT"),
    (r"(?:less|fewer|lower|smaller|earlier|shorter|younger) than|below|under|before", "LT"),
    (r"at least|no less than|(?:greater|more) than or equal to", "GTE"),
    (r"at most|no more than|(?:less|fewer) than or equal to", "LTE"),
    (r"equal to|equals|of|=", "EQ"),
)
_NUMBER_AFTER = r"\s+(?:is\s+|are\s+|was\s+|were\s+)?(?:{words})\s+(-?\d+(?:\.\d+)?)(?!\w)"


def _number_condition_repairs(question: str, sql: str, tree: Any, scope: _Scope, dialect: str) -> list[str]:
    """The query plus ``col > N`` (or <, >=, <=, =) for "<column> greater than N" in the question when the
    query has no comparison with N: "templates with a version number greater than 5"."""
    from sqlglot import exp

    if any(str(lit.this) for lit in tree.find_all(exp.Literal) if not lit.is_string):
        return []  # the query already compares with a number: value filling and the vote handle it
    low = question.lower()
    found: list[tuple[int, int, tuple[str, str, str, str]]] = []
    for alias, table in scope.tables.items():
        for col in table.columns:
            if not _NUMERIC.search(col.type or ""):
                continue
            for phrase in _phrases(col.name, table.name, scope.all_tables):
                for words, op in _COMPARE_WORDS:
                    m = re.search(r"(?<!\w)" + re.escape(phrase.lower()) + _NUMBER_AFTER.format(words=words), low)
                    if m is not None:
                        found.append((m.start(), len(phrase), (alias, col.name, op, m.group(1))))
                        break
    picked = _longest_apart(found)
    if len(picked) != 1:
        return []
    alias, col, op, number = picked[0]
    edit = tree.copy()
    cond = getattr(exp, op)(this=scope.column(alias, col), expression=exp.Literal.number(number))
    edit = edit.where(cond, copy=False)
    return [edit.sql(dialect=dialect)]


_FLIP = {"GT": "LT", "GTE": "LTE", "LT": "GT", "LTE": "GTE"}


def _comparison_repairs(question: str, sql: str, tree: Any, dialect: str) -> list[str]:
    """The query's one comparison turned around when it goes the other way from the question's ("more than",
    "below", ...)."""
    from sqlglot import exp

    if comparison_agreement(question, sql) >= 0:
        return []
    found = list(tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE))
    if len(found) != 1:
        return []
    edit = tree.copy()
    target = next(iter(edit.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE)))
    kind = getattr(exp, _FLIP[type(target).__name__])
    target.replace(kind(this=target.this.copy(), expression=target.expression.copy()))
    return [edit.sql(dialect=dialect)]


_COMMON = re.compile(r"\b(most|least)\s+(?:comm+on(?:ly)?|frequent(?:ly)?|popular)\b", re.I)


def _common_repairs(question: str, tree: Any, scope: _Scope, dialect: str) -> list[str]:
    """"The most common X" (or most frequent / popular, least ...): the value of column X held by the most rows
    of its table, ``SELECT x FROM t GROUP BY x ORDER BY count(*) DESC LIMIT 1``, when the question names
    exactly one column of the query's tables."""
    from sqlglot import exp

    m = _COMMON.search(question)
    if m is None:
        return []
    found: list[tuple[int, int, tuple[str, str]]] = []
    for table in scope.tables.values():
        for col in table.columns:
            for phrase in _phrases(col.name, table.name, scope.all_tables):
                pos = _mentions(question, phrase)
                if pos is not None:
                    found.append((pos, len(phrase), (table.name, col.name)))
                    break
    named = {c for c in _longest_apart(found)}
    if len(named) != 1:
        return []
    table, column = next(iter(named))
    key = exp.column(column)
    query = exp.select(key).from_(table).group_by(key.copy())
    desc = m.group(1).lower() == "most"
    query = query.order_by(exp.Ordered(this=exp.Count(this=exp.Star()), desc=desc, nulls_first=not desc))
    return [query.limit(1).sql(dialect=dialect)]


def _group_count_repairs(question: str, tree: Any, scope: _Scope, schema: Schema, dialect: str) -> list[str]:
    """"The X shared by at least 2 teachers", "document ids with 2 or more paragraphs": the query's one returned
    column counted in the table the bound's noun names, ``SELECT x FROM t GROUP BY x HAVING count(*) >= 2``
    (keeping the query's filter when it reads that table alone)."""
    from sqlglot import exp

    if len(tree.expressions) != 1 or not isinstance(tree.expressions[0], exp.Column):
        return []
    counted = []  # (operator, number, the table its noun names) for each bound followed by a table's name
    for op, n, end in bound_spans(question):
        after = " ".join(question[end:].split()[:4])
        nouns = _tables_named(after, schema)
        if len(nouns) == 1:
            counted.append((op, n, nouns[0]))
    if len(counted) != 1:
        return []
    op, n, table = counted[0]
    name = tree.expressions[0].name
    column = table.column(name)
    if column is None or [c.lower() for c in table.primary_key] == [name.lower()]:
        return []
    key = exp.column(column.name)
    edit = exp.select(key).from_(table.name)
    where = tree.args.get("where")
    if where is not None and list(scope.tables.values()) == [table]:
        edit.set("where", where.copy())
    count = exp.Count(this=exp.Star())
    having = getattr(exp, _OPS[op])(this=count, expression=exp.Literal.number(int(n) if n == int(n) else n))
    edit = edit.group_by(key.copy()).having(having)
    return _bound_repairs(question, edit, dialect) or [edit.sql(dialect=dialect)]  # the kept filter as bounded


def _both_repairs(question: str, tree: Any, dialect: str) -> list[str]:
    """``c = 'A' AND c = 'B'`` holds for no row; the question asked for the rows of both: the query with
    ``c = 'A'`` INTERSECT the query with ``c = 'B'`` ("documents with paragraph text 'Brazil' and 'Ireland'"),
    or ``c BETWEEN 'A' AND 'B'`` when it says "between"."""
    from sqlglot import exp

    where = tree.args.get("where")
    if where is None or tree.args.get("order") is not None or tree.args.get("limit") is not None:
        return []
    parts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    seen: dict[tuple[str, str], int] = {}
    for i, part in enumerate(parts):
        if isinstance(part, exp.EQ) and isinstance(part.this, exp.Column) and isinstance(part.expression, exp.Literal):
            key = (part.this.table.lower(), part.this.name.lower())
            if key in seen and parts[seen[key]].expression.this != part.expression.this:
                first, second = seen[key], i
                break
            seen.setdefault(key, i)
    else:
        return []

    if re.search(r"\bbetween\b", question, re.I):
        edit = tree.copy()
        rest = [p.copy() for j, p in enumerate(parts) if j != second]
        low, high = parts[first], parts[second]
        rest[first] = exp.Between(this=low.this.copy(), low=low.expression.copy(), high=high.expression.copy())
        edit.set("where", exp.Where(this=exp.and_(*rest)))
        return [edit.sql(dialect=dialect)]

    def keeping(drop: int) -> Any:
        edit = tree.copy()
        rest = [p.copy() for j, p in enumerate(parts) if j != drop]
        edit.set("where", exp.Where(this=exp.and_(*rest)))
        return edit

    return [exp.intersect(keeping(second), keeping(first), distinct=True).sql(dialect=dialect)]


_SHARED = re.compile(r"\b(both|shared|in common|as well as)\b", re.I)
_ANY_OF = re.compile(r"\b(or|either)\b", re.I)


def _shared_repairs(question: str, tree: Any, dialect: str) -> list[str]:
    """"The citizenships shared by singers born before 1945 and after 1955": what both conditions return, the
    query with its first condition INTERSECT the query with its second, for a WHERE of two conditions joined
    by OR or AND when the question says "both" / "shared" / "in common" and not "or"."""
    from sqlglot import exp

    where = tree.args.get("where")
    if where is None or not _SHARED.search(question) or _ANY_OF.search(question):
        return []
    cond = where.this.unnest() if isinstance(where.this, exp.Paren) else where.this
    if not isinstance(cond, (exp.Or, exp.And)) or tree.args.get("order") is not None:
        return []
    halves = []
    for part in (cond.this, cond.expression):
        edit = tree.copy()
        edit.set("where", exp.Where(this=part.copy()))
        halves.append(edit)
    return [exp.intersect(*halves, distinct=True).sql(dialect=dialect)]


_OPS = {">": "GT", ">=": "GTE", "<": "LT", "<=": "LTE"}


def _bound_repairs(question: str, tree: Any, dialect: str) -> list[str]:
    """The query with each comparison against a number the question bounds turned to that bound
    (``sql.cues.bounds``): ``COUNT(*) > 2`` becomes ``>= 2`` for "at least 2", ``age > 30`` becomes ``< 30``
    for "under age 30"."""
    from sqlglot import exp

    said = bounds(question)
    if not said:
        return []
    edit = tree.copy()
    changed = False
    for op, n in said:
        right = getattr(exp, _OPS[op])
        for c in list(edit.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE)):
            if (not isinstance(c, right) and isinstance(c.expression, exp.Literal) and not c.expression.is_string
                    and _is_number(c.expression.this) and float(c.expression.this) == n):
                c.replace(right(this=c.this.copy(), expression=c.expression.copy()))
                changed = True
    return [edit.sql(dialect=dialect)] if changed else []


def _group_repairs(question: str, tree: Any, scope: _Scope, dialect: str) -> list[str]:
    """An aggregate-only query grouped by the column the question counts "for each" / "per"."""
    from sqlglot import exp

    if tree.args.get("group") is not None or not tree.expressions:
        return []
    if not all(isinstance(e, exp.AggFunc) for e in tree.expressions):
        return []
    m = _PER.search(question)
    if m is None:
        return []
    found = _column_at_start(m.group(1), scope.tables.items(), scope.all_tables)
    if found is None:
        return []
    key = scope.column(*found)
    edit = tree.copy()
    edit.set("expressions", [key.copy(), *[e.copy() for e in tree.expressions]])
    edit.set("group", exp.Group(expressions=[key]))
    return [edit.sql(dialect=dialect)]


_FIRST_LAST = re.compile(r"\b(?:(first|earliest)|(last|latest|most recent|newest))\b", re.I)
_WORD = re.compile(r"[a-z]+")


def _first_last_repairs(question: str, tree: Any, scope: _Scope, dialect: str) -> list[str]:
    """"The first student to register", "the last transcript released": a plain listing turned into the top of
    its table's date column, ``ORDER BY date_first_registered ASC LIMIT 1`` (DESC for last/latest); of several
    date columns the one whose name shares a word with the question."""
    from sqlglot import exp

    m = _FIRST_LAST.search(question)
    if m is None or any(tree.args.get(k) is not None for k in ("order", "limit", "group")):
        return []
    if any(isinstance(e, exp.AggFunc) for e in tree.expressions):
        return []
    words = {w[:5] for w in _WORD.findall(question.lower()) if len(w) > 3 and w not in ("first", "last", "date")}
    dated = [(a, c) for a, t in scope.tables.items() for c in t.columns
             if re.search(r"date|time", f"{c.name} {c.type or ''}", re.I)]
    if len(dated) > 1:
        dated = [(a, c) for a, c in dated
                 if words & {w[:5] for w in _WORD.findall(c.name.lower()) if len(w) > 3 and w != "date"}]
    if len(dated) != 1:
        return []
    alias, col = dated[0]
    desc = m.group(2) is not None
    edit = tree.copy()
    edit = edit.order_by(exp.Ordered(this=scope.column(alias, col.name), desc=desc, nulls_first=not desc))
    return [edit.limit(1).sql(dialect=dialect)]


_COUNTED = re.compile(r"\b(?:number of|how many|count of|count the)\s+(?:the\s+|different\s+|distinct\s+)?", re.I)


def _count_per_repairs(question: str, tree: Any, schema: Schema, dialect: str) -> list[str]:
    """"The number of teachers from each hometown": the rows of the counted noun's table grouped by the column
    named "for each" of that table, ``SELECT hometown, count(*) FROM teacher GROUP BY hometown``, for a
    counting query grouped some other way or over other tables."""
    from sqlglot import exp

    if not any(isinstance(e, exp.Count) for e in tree.expressions):
        return []
    per, counted = _PER.search(question), _COUNTED.search(question)
    if per is None or counted is None:
        return []
    after = question[counted.end():]
    tables = _tables_named(after, schema, at_start=True)
    if len(tables) != 1:
        return []
    table = tables[0]
    found = _column_at_start(per.group(1), [(table.name, table)], tuple(t.name.lower() for t in schema.tables))
    if found is None or [c.lower() for c in table.primary_key] == [found[1].lower()]:
        return []
    key = exp.column(found[1])
    edit = exp.select(key, exp.Count(this=exp.Star())).from_(table.name).group_by(key.copy())
    return [edit.sql(dialect=dialect)]


def repairs(question: str, sql: str, schema: Schema, values: dict[str, list[str]] | None = None) -> list[str]:
    """Variants of ``sql`` that return the columns the question names, sort the way it says, (with the database's
    ``values``, ``{"table.column": [text values]}``) filter on a value it names and ``sql`` lacks, aggregate,
    negate or group the way it asks (see the module docstring)."""
    from sqlglot import exp

    dialect = _glot(schema)
    tree = parsed(sql, dialect)
    if not isinstance(tree, exp.Select):
        return []
    scope = _Scope(tree, schema)
    out: list[str] = []
    if values:
        out += _condition_repairs(question, sql, tree, scope, values, dialect)
    out += _projection_repairs(question, sql, tree, scope, schema, dialect)
    out += _aggregate_repairs(question, sql, tree, scope, dialect)
    out += _common_repairs(question, tree, scope, dialect)
    out += _group_count_repairs(question, tree, scope, schema, dialect)
    out += _both_repairs(question, tree, dialect)
    out += _shared_repairs(question, tree, dialect)
    out += _order_repairs(question, tree, scope, schema, dialect)
    out += _negation_repairs(question, sql, tree, dialect)
    out += _group_repairs(question, tree, scope, dialect)
    out += _count_per_repairs(question, tree, schema, dialect)
    out += _first_last_repairs(question, tree, scope, dialect)
    out += _like_repairs(question, tree, dialect)
    out += _either_repairs(question, tree, scope, values, dialect)
    out += _number_condition_repairs(question, sql, tree, scope, dialect)
    out += _comparison_repairs(question, sql, tree, dialect)
    out += _bound_repairs(question, tree, dialect)
    order = tree.args.get("order")
    if order is not None and len(order.expressions) == 1:
        key = order.expressions[0]
        want_desc = bool(_DESC.search(question))  # "reverse alphabetical" is descending
        want_asc = bool(_ASC.search(question)) and not want_desc
        if tree.args.get("limit") is not None and not want_desc and not want_asc:
            turn = direction_agreement(question, sql) < 0  # a top-1 taken from the wrong end
            want_desc, want_asc = turn and not key.args.get("desc"), turn and bool(key.args.get("desc"))
        if (want_desc and not key.args.get("desc")) or (want_asc and key.args.get("desc")):
            edit = tree.copy()
            key = edit.args["order"].expressions[0]
            key.set("desc", want_desc)
            key.set("nulls_first", not want_desc)  # SQLite's own default either way: no NULLS clause is written
            out.append(edit.sql(dialect=dialect))
    return [s for s in dict.fromkeys(out) if s != sql]


def _projection_repairs(question: str, sql: str, tree: Any, scope: _Scope, schema: Schema, dialect: str) -> list[str]:
    """The query returning the columns of its tables the question names, in the order it names them, when it
    returns plain columns and not those."""
    from sqlglot import exp

    named = named_columns(question, sql, schema)
    plain = all(isinstance(e, exp.Column) for e in tree.expressions)
    if not plain or not 0 < len(named) <= MAX_COLUMNS or [c.lower() for _, c in named] == [
            e.name.lower() for e in tree.expressions]:
        return []
    edit = tree.copy()
    edit.set("expressions", [scope.column(alias, col) for alias, col in named])
    return [edit.sql(dialect=dialect)]


def projection_agreement(question: str, sql: str, schema: Schema) -> int:
    """Columns the query returns that the question names, minus plain columns it returns that it does not, minus
    columns of its tables that the question names and it leaves out."""
    from sqlglot import exp

    tree = parsed(sql, _glot(schema))
    if not isinstance(tree, exp.Select):
        return 0
    named = {c.lower() for _, c in named_columns(question, sql, schema)}
    where = tree.args.get("where")
    # a column pinned to one value by the query's own filter tells nothing: "the zip code of the address in
    # Port Chelsea" does not want the city back
    pinned = {e.this.name.lower() for e in where.find_all(exp.EQ)
              if isinstance(e.this, exp.Column) and isinstance(e.expression, exp.Literal)} if where is not None else set()
    score = 0
    returned = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    scope = _Scope(tree, schema)
    for e in tree.expressions:
        if isinstance(e, exp.Column):
            score += 1 if e.name.lower() in named and e.name.lower() not in pinned else -1
            score -= _elsewhere(question, e, scope, schema)
    # and one off for every column of its tables the question names that it neither returns nor filters on
    return score - len(named - returned)


def _elsewhere(question: str, col: Any, scope: _Scope, schema: Schema) -> int:
    """1 when the question names a column of this name with another table ("the names of the shops") and never
    with the table the query takes it from (``employee.Name``), else 0."""
    owner = scope.owner(col)
    if owner is None:
        return 0
    tables = scope.all_tables
    if any(_mentions(question, p) is not None for p in _qualified(col.name, owner.name, tables)):
        return 0
    others = [t for t in schema.tables if t is not owner and t.column(col.name) is not None]
    return int(any(_mentions(question, p) is not None for t in others for p in _qualified(col.name, t.name, tables)))


# Where a question says what a listing is sorted by, or what a superlative measures: the words after these
_ORDER_BY = re.compile(r"\b(?:(?:order(?:ed)?|sort(?:ed)?|rank(?:ed)?|arranged|listed)\s+(?:\w+\s+){0,3}?by|"
                       r"(?:order|terms) of|(?:highest|lowest|largest|smallest|greatest|biggest|least|fewest|"
                       r"most|maximum|minimum|top|max|min)|(?:from the )?(?:highest|lowest|most|least)|by)\s+"
                       r"(?:the\s+|their\s+|its\s+|his\s+|her\s+|number of\s+)?", re.I)
# a sort that names no column: "in descending order", "ordered descending by value"
_BARE_ORDER = re.compile(r"\b(?:in|by) (?:ascending|descending|increasing|decreasing|alphabetical|reverse)\s+order\b"
                         r"\s*[.?!]?\s*$|\b(?:order(?:ed)?|sort(?:ed)?) (?:ascending|descending)(?: by value)?\b", re.I)
# superlatives that name their measure themselves
_MEASURED = {"tallest": ("height", True), "shortest": ("height", False), "oldest": ("age", True),
             "youngest": ("age", False), "heaviest": ("weight", True), "lightest": ("weight", False),
             "cheapest": ("price", False), "richest": ("earnings", True), "longest": ("length", True)}
_MEASURED_WORDS = re.compile(r"\b(" + "|".join(_MEASURED) + r")\b", re.I)


def _order_wanted(question: str, schema: Schema) -> set[str]:
    """Names of the columns (any table) the question sorts or takes a superlative by."""
    all_tables = tuple(t.name.lower() for t in schema.tables)
    low = question.lower()
    found: set[str] = set()
    for m in _ORDER_BY.finditer(low):
        named = _column_at_start(low[m.end():m.end() + 60], [(t.name, t) for t in schema.tables], all_tables,
                                 _named_by)
        if named is not None:
            found.add(named[1].lower())
    for m in _MEASURED_WORDS.finditer(low):
        head = _MEASURED[m.group(1).lower()][0]
        found |= {c.name.lower() for t in schema.tables for c in t.columns if head in c.name.lower()}
    return found


def order_agreement(question: str, sql: str, schema: Schema) -> int:
    """For a question that names what it sorts by or measures a superlative with ("in descending order of
    earnings", "the highest earnings", "the tallest"): a point when the query orders by (or takes max/min of)
    that column, one off when it orders by something else."""
    from sqlglot import exp

    wanted = _order_wanted(question, schema)
    bare = not wanted and _BARE_ORDER.search(question) is not None
    if not wanted and not bare:
        return 0
    tree = parsed(sql, _glot(schema))
    if not isinstance(tree, exp.Select):
        return 0
    if bare:  # "list the earnings in descending order": sorted by what it lists
        wanted = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
        if len(wanted) != 1 or tree.args.get("order") is None:
            return 0
    keys: set[str] = set()
    order = tree.args.get("order")
    if order is not None:
        keys |= {c.name.lower() for o in order.expressions for c in o.find_all(exp.Column)}
        if not keys:
            return 0  # ORDER BY count(*): counted rows, not a column
    for agg in tree.find_all(exp.Max, exp.Min):
        keys |= {c.name.lower() for c in agg.find_all(exp.Column)}
    if not keys:
        return 0
    if not keys & wanted:
        return -1
    return -1 if _measured_backwards(question, tree) else 1


def _measured_backwards(question: str, tree: Any) -> bool:
    """Whether a top-1 by a measured column goes the other way from the superlative that measures it ("the
    youngest" by ``age DESC``)."""
    from sqlglot import exp

    order, limit = tree.args.get("order"), tree.args.get("limit")
    if order is None or limit is None or len(order.expressions) != 1:
        return False
    key = order.expressions[0]
    column = key.this.name.lower() if isinstance(key.this, exp.Column) else ""
    for m in _MEASURED_WORDS.finditer(question):
        head, desc = _MEASURED[m.group(1).lower()]
        if head in column and bool(key.args.get("desc")) != desc:
            return True
    return False


def _order_repairs(question: str, tree: Any, scope: _Scope, schema: Schema, dialect: str) -> list[str]:
    """The query's one ORDER BY column replaced by the column the question sorts by, when one of its tables has
    it ("names of poker players in descending order of earnings")."""
    from sqlglot import exp

    order = tree.args.get("order")
    if order is None or len(order.expressions) != 1 or not isinstance(order.expressions[0].this, exp.Column):
        return []
    wanted = _order_wanted(question, schema)
    if not wanted and _BARE_ORDER.search(question):
        wanted = {c.name.lower() for e in tree.expressions for c in e.find_all(exp.Column)}
    key = order.expressions[0].this
    if _measured_backwards(question, tree):  # "the youngest" taken from the top of age: turned around
        edit = tree.copy()
        turned = edit.args["order"].expressions[0]
        desc = not turned.args.get("desc")
        turned.set("desc", desc)
        turned.set("nulls_first", not desc)
        return [edit.sql(dialect=dialect)]
    if len(wanted) != 1 or key.name.lower() in wanted:
        return []
    name = next(iter(wanted))
    homes = [(a, t) for a, t in scope.tables.items() if t.column(name) is not None]
    if len(homes) != 1:
        return []
    alias, table = homes[0]
    column = table.column(name)
    assert column is not None  # homes hold the column
    edit = tree.copy()
    edit.args["order"].expressions[0].set("this", scope.column(alias, column.name))
    return [edit.sql(dialect=dialect)]


def _stem(word: str) -> str:
    return re.sub(r"_?id$", "", word.lower()).strip("_")


def _roles(schema: Schema) -> dict[str, dict[str, bool]]:
    """For each table with two or more single-column foreign keys to the same table (``Friend(student_id,
    friend_id)``): its role columns, each marked True when it echoes the table's own name (``friend_id`` in
    Friend, ``liked_id`` in Likes: the other end of the relation) and False when it does not (the owner)."""
    out: dict[str, dict[str, bool]] = {}
    for t in schema.tables:
        by_ref: dict[str, list[str]] = {}
        for fk in t.foreign_keys:
            if len(fk.columns) == 1:
                by_ref.setdefault(fk.ref_table.lower(), []).append(fk.columns[0])
        for cols in by_ref.values():
            if len(cols) >= 2:
                name = t.name.lower()
                marks = {c.lower(): len(_stem(c)) >= 4 and name.startswith(_stem(c)[:4]) for c in cols}
                if any(marks.values()) and not all(marks.values()):
                    out.setdefault(name, {}).update(marks)
    return out


_OTHER_END = re.compile(r"\bby\b|'s\s+(\w+)|\b(\w+) of\b", re.I)


def role_agreement(question: str, sql: str, schema: Schema) -> int:
    """Of a relation stored twice over one table (friends, likes: ``student_id`` and ``friend_id`` both point
    at students), a question about the students who have friends means the owner column: a point when the
    query uses only owner columns of such tables, one off when it uses only the other end; no opinion when
    the question speaks of the other end ("liked by", "Kyle's friends", "friends of")."""
    from sqlglot import exp

    roles = _roles(schema)
    if not roles:
        return 0
    for m in _OTHER_END.finditer(question):
        word = (m.group(1) or m.group(2) or "").lower()
        if m.group(0).lower() == "by" or any(len(word) >= 4 and t.startswith(word[:4]) for t in roles):
            return 0
    tree = parsed(sql, _glot(schema))
    if tree is None:
        return 0
    tables = {(t.alias or t.name).lower(): t.name.lower() for t in tree.find_all(exp.Table)}
    if not set(tables.values()) & set(roles):
        return 0
    marks = set()
    for c in tree.find_all(exp.Column):
        name = c.name.lower()
        if c.table:
            owners = [tables.get(c.table.lower(), "")]
        else:  # unqualified: the tables of the query that have such a column
            owners = [t for t in set(tables.values()) if (tab := schema.table(t)) is not None and tab.column(name)]
        if len(owners) == 1 and name in roles.get(owners[0], {}):
            marks.add(roles[owners[0]][name])
    return 0 if len(marks) != 1 else (-1 if marks.pop() else 1)


_QUOTED = re.compile(r"""(?:^|[\s(])["'\u2018\u201c`]+\s*([^"'\u2019\u201d`]+?)\s*["'\u2019\u201d`]+(?=[\s?.,;:)!]|$)""")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?!\w)")


def _schema_words(schema: Schema) -> frozenset[str]:
    names = set()
    for t in schema.tables:
        names |= {t.name.lower(), table_phrase(t.name).lower(), pluralize(table_phrase(t.name)).lower()}
        names |= {c.name.lower() for c in t.columns}
    return frozenset(names)


def without_names(question: str, schema: Schema) -> str:
    """The lower-cased question with every phrase that names a column blanked out (so "line 1" is not a
    number, "template id" does not name the table of templates, and the "number of products" a column holds
    asks for no count)."""
    low = question.lower()
    all_tables = tuple(t.name.lower() for t in schema.tables)
    phrases = {form.lower() for t in schema.tables for c in t.columns for p in _phrases(c.name, t.name, all_tables)
               if len(p.split()) > 1 or any(ch.isdigit() for ch in p)
               for form in (p, pluralize(p), re.sub(r"^(number|count|average|total) ", r"\1 of ", p))}
    for phrase in sorted(phrases, key=len, reverse=True):
        if phrase in low:
            low = re.sub(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", " ", low)
    return low


def question_values(question: str, schema: Schema, values: dict[str, list[str]] | None = None
                    ) -> tuple[frozenset[str], frozenset[float]]:
    """(strings, numbers) the question names as values: quoted text, text values of the database (``values``,
    as ``retrieval.column_values`` gives them) it names as whole words (two letters only when both are capitals
    there and in the question, like a code "AD"), of overlapping ones the longest, and
    numbers written in digits outside the phrases that name columns."""
    strings = {m.group(1).strip().lower() for m in _QUOTED.finditer(question) if m.group(1).strip()}
    words = _schema_words(schema)
    low = question.lower()
    found: list[tuple[int, int, str]] = []
    for vs in (values or {}).values():
        for value in vs:
            v = value.strip().lower()
            code = len(v) == 2 and value.strip().isupper() and _word_at(question, value.strip()) is not None
            if (len(v) < 3 and not code) or v in _STOP_VALUES or v in words or v.replace(".", "").isdigit():
                continue
            pos = _word_at(low, v)
            if pos is not None:
                found.append((pos, len(v), v))
    for v in _longest_apart(found):
        if not any(v in s or s in v for s in strings):
            strings.add(v)
    numbers = {float(n.replace(",", "")) for n in _NUMBER.findall(without_names(_QUOTED.sub(" ", question), schema))
               if not any(n in s for s in strings)}
    return frozenset(strings), frozenset(numbers)


_NEGATION_BEFORE = re.compile(r"\b(not|no|isn't|aren't|wasn't|weren't|other than|except|excluding|different from)\b"
                              r"[^.?!,;]{0,30}$", re.I)


def _plainly_equal(sql: str, negated: frozenset[str]) -> bool:
    """Whether the query compares a negated value with ``=`` outside any NOT, in a query with no EXCEPT."""
    from sqlglot import exp

    tree = parsed(sql)
    if tree is None or tree.find(exp.Except) is not None:
        return False
    for eq in tree.find_all(exp.EQ):
        lit = eq.expression
        if isinstance(lit, exp.Literal) and lit.is_string and eq.find_ancestor(exp.Not) is None \
                and any(v in str(lit.this).lower() for v in negated):
            return True
    return False


def negated_values(question: str, strings: frozenset[str]) -> frozenset[str]:
    """The named text values (``question_values``' strings) that a negation shortly before them applies to:
    "singers whose citizenship is not France"."""
    low = question.lower()
    out = set()
    for v in strings:
        at = low.find(v)
        if at >= 0 and _NEGATION_BEFORE.search(low[:at].rstrip(" '\"`")):
            out.add(v)
    return frozenset(out)


def value_agreement(sql: str, named: tuple[frozenset[str], frozenset[float]], schema: Schema | None = None,
                    values: dict[str, list[str]] | None = None, negated: frozenset[str] = frozenset()) -> int:
    """A point for every value the question names (``question_values``) that the query uses as a literal, one
    off for every one it does not: "the paragraphs of the document 'Summer Show'" wants that document. With the
    ``schema`` and the database's text ``values``, also one off for every text literal compared with a column
    that does not hold it while another column of the query's tables does (``Height = 'Russia'``), and for
    every ``column = 0/1`` the question does not say; one off when it uses a ``negated`` value (``negated_values``)
    with ``=`` outside any NOT."""
    from sqldistill.sql.grounding import literals

    strings, numbers = named
    score = _literal_misfits(sql, schema, values or {}, numbers) if schema is not None else 0
    if not strings and not numbers - FREE_NUMBERS:
        return score
    texts, nums = [], set()
    for text, is_string in literals(sql):
        if is_string:
            texts.append(text.strip("%").lower())
        else:
            try:
                nums.add(float(text))
            except ValueError:
                continue
    for v in strings:
        score += 1 if any(v in t or (len(t) >= 3 and t in v) for t in texts) else -1
    if negated and _plainly_equal(sql, negated):
        score -= 1  # "not from Russia" answered with "= 'Russia'"
    for n in numbers - FREE_NUMBERS:  # "at least one" needs no literal 1
        score += 1 if n in nums or any(t == f"{n:g}" for t in texts) else -1
    return score


def _literal_misfits(sql: str, schema: Schema, values: dict[str, list[str]], numbers: frozenset[float]) -> int:
    """Minus one for each ``column = 'text'`` (or ``<>``) whose column does not hold the text while another column
    of the query's tables does, and for each ``column = 0`` or ``1`` the question does not say."""
    from sqlglot import exp

    tree = parsed(sql, _glot(schema))
    if tree is None:
        return 0
    score = 0
    for select in tree.find_all(exp.Select):
        where = select.args.get("where")
        if where is None:
            continue
        scope = _Scope(select, schema)
        for cmp in where.find_all(exp.EQ, exp.NEQ):
            col, lit = cmp.this, cmp.expression
            if not isinstance(col, exp.Column) or not isinstance(lit, exp.Literal) or cmp.parent_select is not select:
                continue
            if not lit.is_string:
                if _is_number(str(lit.this)) and float(lit.this) in FREE_NUMBERS and float(lit.this) not in numbers:
                    score -= 1
                continue
            table = scope.owner(col)
            if table is None:
                continue
            own = f"{table.name.lower()}.{col.name.lower()}"
            text = str(lit.this).strip().lower()
            if any(text == v.lower() for v in values.get(own, [])):
                continue
            others = (f"{t.name.lower()}.{c.name.lower()}" for t in scope.tables.values() for c in t.columns)
            if any(text == v.lower() for key in others if key != own for v in values.get(key, [])):
                score -= 1
    return score


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def table_agreement(bare: str, sql: str, schema: Schema) -> int:
    """Minus one for every table the question names that the query does not read: "which shop has the most
    employees" is not answered from employees alone. ``bare``: the question as ``without_names`` leaves it."""
    from sqlglot import exp

    tree = parsed(sql, _glot(schema))
    if tree is None:
        return 0
    used = {t.name.lower() for t in tree.find_all(exp.Table)}
    score = 0
    for t in schema.tables:
        if t.name.lower() in used:
            continue
        phrase = table_phrase(t.name).lower()
        if any(_word_at(bare, form) is not None for form in {phrase, pluralize(phrase).lower(), t.name.lower()}):
            score -= 1
    return score


__all__ = ["mentioned_values", "named_columns", "negated_values", "projection_agreement", "question_values", "repairs",
           "table_agreement", "value_agreement", "without_names"]
