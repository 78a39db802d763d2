"""The pointer student's output language: SQL written FROM first, every name and value a pointer.

A query is written ``FROM t1 t2 SELECT ... [WHERE ...] [GROUP_BY ...] [HAVING ...] [ORDER_BY ...] [LIMIT n]
[INTERSECT|UNION|EXCEPT query]``. Tables are listed, not joined: the join conditions follow the schema's
foreign keys when the SQL is rendered (``render``), so the model never writes them. Columns, tables and
values are pointers (``Items``: the schema's tables and columns, then the value candidates of the question),
so a name is never spelled and a value is copied in the database's own spelling.

One grammar does three jobs. ``Grammar.parse(tokens)`` renders a complete token list as SQL; on a prefix it
raises ``NeedMore`` with the set of tokens that may come next, which is what constrained decoding masks with:
every sequence it lets through renders to SQL that parses and names only the schema's items, columns only of
tables in the query's FROM. ``Grammar.next`` also names the allowed tokens that decoding should not take (its
misfits): a database value compared (``=``, ``!=``) with a column whose values were looked up but that does not
hold it, an item a SELECT list or GROUP BY already names, a table with no foreign key to the tables before it.
``to_tokens`` goes the other way, from SQL (through sqlglot) to tokens, for training; SQL outside the language
raises ``Unsupported``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

    from sqldistill.records import Schema

KEYWORDS: tuple[str, ...] = (
    "<pad>", "<s>", "</s>", "FROM", "SELECT", "DISTINCT", "WHERE", "GROUP_BY", "HAVING", "ORDER_BY", "ASC",
    "DESC", "LIMIT", "INTERSECT", "UNION", "EXCEPT", "AND", "OR", "(", ")", ",", "=", "!=", ">", "<", ">=",
    "<=", "LIKE", "NOT_LIKE", "IN", "NOT_IN", "BETWEEN", "COUNT", "SUM", "AVG", "MIN", "MAX", "+", "-", "*",
    "/", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
)
KW = {k: i for i, k in enumerate(KEYWORDS)}
PAD, BOS, EOS = KW["<pad>"], KW["<s>"], KW["</s>"]
NUM_KEYWORDS = len(KEYWORDS)
AGGS = frozenset(KW[a] for a in ("COUNT", "SUM", "AVG", "MIN", "MAX"))
ARITH = frozenset(KW[a] for a in ("+", "-", "*", "/"))
COMPARE = frozenset(KW[a] for a in ("=", "!=", ">", "<", ">=", "<=", "LIKE", "NOT_LIKE", "IN", "NOT_IN",
                                    "BETWEEN"))
SMALL_NUMBERS = frozenset(KW[str(i)] for i in range(11))
SETOPS = frozenset(KW[a] for a in ("INTERSECT", "UNION", "EXCEPT"))
# clause keyword -> its place in a query
CLAUSES = {KW["WHERE"]: 1, KW["GROUP_BY"]: 2, KW["HAVING"]: 3, KW["ORDER_BY"]: 4, KW["LIMIT"]: 5}
MAX_DEPTH = 3
_CLOSE = frozenset({KW[")"]})
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_OP = {"LIKE": "LIKE", "NOT_LIKE": "NOT LIKE", "IN": "IN", "NOT_IN": "NOT IN", "BETWEEN": "BETWEEN"}


class NeedMore(Exception):
    """The tokens end where more must come; ``allowed`` are the tokens that may come next."""

    def __init__(self, allowed: frozenset[int], misfits: frozenset[int] = frozenset()) -> None:
        super().__init__("prefix")
        self.allowed = allowed
        self.misfits = misfits  # allowed, but not to be taken by decoding (``Grammar.next``)


class Invalid(Exception):
    """A token the grammar does not allow where it stands."""


class Unsupported(Exception):
    """SQL outside the pointer language (a subquery in FROM, a self-join, a value not among the candidates)."""


def quote_name(name: str) -> str:
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Value:
    """A value the question names: ``text`` in the database's spelling (or the number as written), where it
    stands in the question (character span), how it was found (``kind``) and the column holding it."""

    text: str
    kind: str  # "exact" (same case as the database), "nocase", "number", "quoted"
    start: int
    end: int
    column: str = ""  # "table.column" (lower case) for database matches
    held_by: tuple[str, ...] = ()  # every column holding the text ("table.column", lower case), for matches

    @property
    def sql(self) -> str:
        if self.kind == "number":
            return self.text
        return "'" + self.text.replace("'", "''") + "'"


@dataclass
class Items:
    """What pointers point at: ``*``, the tables, the columns (``names``/``kinds``), then ``values``."""

    schema_names: list[tuple[str, str]]  # (table, column) as the schema spells them; column "" for a table
    kinds: list[str]  # "star", "table", "column"
    table_of: list[int]  # a column's table item; -1 otherwise
    joins: dict[tuple[int, int], tuple[str, str]]  # (table item, table item) -> (column, column) to join on
    values: list[Value] = field(default_factory=list)

    @classmethod
    def from_schema(cls, schema: Schema, values: list[Value] | None = None) -> Items:
        names: list[tuple[str, str]] = [("", "*")]
        kinds, table_of = ["star"], [-1]
        index: dict[str, int] = {}
        for t in schema.tables:
            index[t.name.lower()] = len(names)
            names.append((t.name, ""))
            kinds.append("table")
            table_of.append(-1)
        for t in schema.tables:
            for c in t.columns:
                names.append((t.name, c.name))
                kinds.append("column")
                table_of.append(index[t.name.lower()])
        joins: dict[tuple[int, int], tuple[str, str]] = {}
        for t in schema.tables:
            for fk in t.foreign_keys:
                a, b = index.get(t.name.lower()), index.get(fk.ref_table.lower())
                if a is None or b is None or a == b or not fk.columns or not fk.ref_columns:
                    continue
                joins.setdefault((a, b), (fk.columns[0], fk.ref_columns[0]))
                joins.setdefault((b, a), (fk.ref_columns[0], fk.columns[0]))
        return cls(names, kinds, table_of, joins, list(values or []))

    @property
    def num_schema(self) -> int:
        return len(self.kinds)

    def __len__(self) -> int:
        return len(self.kinds) + len(self.values)

    def table_items(self) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == "table"]

    def table_index(self) -> dict[str, int]:
        return {t.lower(): i for i, ((t, c), k) in enumerate(zip(self.schema_names, self.kinds))
                if k == "table"}

    def column_index(self) -> dict[tuple[str, str], int]:
        return {(t.lower(), c.lower()): i for i, ((t, c), k) in enumerate(zip(self.schema_names, self.kinds))
                if k == "column"}


class Grammar:
    """The pointer language over one ``Items`` (see the module docstring). Token ids: keywords first
    (``KEYWORDS``), then ``NUM_KEYWORDS + i`` for item ``i`` (values follow the schema items)."""

    def __init__(self, items: Items, valued: frozenset[str] = frozenset(), repeats: bool = True,
                 cross: bool = True) -> None:
        """``valued``: the columns ("table.column", lower case) whose text values the value candidates were
        looked up in; a database value compared with one of them by ``=`` or ``!=`` must be one it holds.
        ``repeats`` False: a SELECT list does not name the same thing twice, nor a GROUP BY the same column
        (both only as ``next``'s misfits). ``cross`` False: a table joins the FROM only through a foreign key to
        a table already there (when the schema has foreign keys; otherwise a misfit)."""
        self.items = items
        self.valued = valued
        self.repeats = repeats
        self.cross = cross or not items.joins
        self._plain: int | None = None  # the last operand read, when it is a bare column
        self._listed: list[str] | None = None  # the items of the SELECT list being read
        k = NUM_KEYWORDS
        self.tables = frozenset(k + i for i in items.table_items())
        self.star = k
        self.columns_of: dict[int, frozenset[int]] = {}
        for i, owner in enumerate(items.table_of):
            if owner >= 0:
                self.columns_of.setdefault(k + owner, frozenset())
                self.columns_of[k + owner] = self.columns_of[k + owner] | {k + i}
        self.values = frozenset(k + items.num_schema + j for j in range(len(items.values)))
        self.literals = self.values | SMALL_NUMBERS
        self.numbers = SMALL_NUMBERS | {k + items.num_schema + j for j, v in enumerate(items.values)
                                        if v.kind == "number" and "." not in v.text and "-" not in v.text}

    # -- the token stream ------------------------------------------------------------------------------------
    def parse(self, tokens: list[int]) -> str:
        """The SQL of a complete token list (ending with EOS); ``NeedMore`` on a prefix, ``Invalid`` if wrong."""
        self._toks, self._pos = tokens, 0
        self._listed = None
        sql = self._query(0, frozenset({EOS}), consume=False)
        self._take(frozenset({EOS}))
        return sql

    def allowed(self, prefix: list[int]) -> frozenset[int]:
        """Tokens that may follow ``prefix`` (empty when the prefix is already complete or invalid)."""
        return self.next(prefix)[0]

    def next(self, prefix: list[int]) -> tuple[frozenset[int], frozenset[int]]:
        """(tokens that may follow ``prefix``, those of them that decoding should not take). The second set, the
        misfits: database values (found in the database, not numbers or quoted text) that the column they would
        be compared with (``=``, ``!=``) does not hold, when that column is one of ``valued``; unless
        ``repeats``, what the SELECT list or GROUP BY already names; unless ``cross``, tables with no foreign key
        to the tables already in FROM. Such SQL runs but is almost never what is meant (no train.json gold
        query repeats an item or cross-joins); it still parses (``parse``), so gold SQL is never refused."""
        try:
            self.parse(prefix)
        except NeedMore as more:
            return more.allowed, more.misfits
        except Invalid:
            return frozenset(), frozenset()
        return frozenset(), frozenset()

    def _misfits(self, column: int | None) -> frozenset[int]:
        if column is None or not self.valued:
            return frozenset()
        table, name = self.items.schema_names[column - NUM_KEYWORDS]
        key = f"{table.lower()}.{name.lower()}"
        if key not in self.valued:
            return frozenset()
        base = NUM_KEYWORDS + self.items.num_schema
        return frozenset(base + j for j, v in enumerate(self.items.values) if v.held_by and key not in v.held_by)

    def _peek(self, allowed: frozenset[int]) -> int:
        if self._pos >= len(self._toks):
            raise NeedMore(allowed)
        tok = self._toks[self._pos]
        if tok not in allowed:
            raise Invalid(f"token {tok} at {self._pos}")
        return tok

    def _take(self, allowed: frozenset[int]) -> int:
        tok = self._peek(allowed)
        self._pos += 1
        return tok

    def _take_fit_peek(self, allowed: frozenset[int], misfits: Callable[[], frozenset[int]]) -> int:
        """``_peek``, naming ``misfits()`` when the prefix ends here (only then are they worked out: every
        decoding step parses the whole prefix again)."""
        try:
            return self._peek(allowed)
        except NeedMore as more:
            raise NeedMore(more.allowed, misfits() & more.allowed) from None

    def _take_fit(self, allowed: frozenset[int], misfits: Callable[[], frozenset[int]]) -> int:
        """``_take``, naming ``misfits()`` when the prefix ends here."""
        tok = self._take_fit_peek(allowed, misfits)
        self._pos += 1
        return tok

    def _apart(self, tables: tuple[int, ...], others: frozenset[int]) -> frozenset[int]:
        """The ``others`` with no foreign key to any of ``tables`` (none when cross joins are allowed)."""
        if self.cross:
            return frozenset()
        joins = self.items.joins
        return frozenset(t for t in others
                         if not any((p - NUM_KEYWORDS, t - NUM_KEYWORDS) in joins for p in tables))

    def _regrouped(self, columns: frozenset[int], group: tuple[str, ...]) -> frozenset[int]:
        """The ``columns`` a GROUP BY already names (none when repeats are allowed)."""
        return frozenset() if self.repeats else frozenset(c for c in columns if self._name(c) in group)

    def _repeated(self, candidates: frozenset[int], render: str = "{}") -> frozenset[int]:
        """The ``candidates`` whose rendering (a name put into ``render``) the SELECT list already holds."""
        if self.repeats or not self._listed:
            return frozenset()
        return frozenset(c for c in candidates if render.format(self._name(c)) in self._listed)

    # -- rendering -------------------------------------------------------------------------------------------
    def _name(self, tok: int) -> str:
        table, column = self.items.schema_names[tok - NUM_KEYWORDS]
        if column == "*":
            return "*"
        if not column:
            return quote_name(table)
        return f"{quote_name(table)}.{quote_name(column)}"

    def _literal(self, tok: int) -> tuple[str, Value | None]:
        if tok < NUM_KEYWORDS:
            return KEYWORDS[tok], None
        value = self.items.values[tok - NUM_KEYWORDS - self.items.num_schema]
        return value.sql, value

    def _from_clause(self, tables: list[int]) -> str:
        parts = [self._name(tables[0])]
        for i, t in enumerate(tables[1:], start=1):
            on = ""
            for prev in reversed(tables[:i]):
                pair = self.items.joins.get((prev - NUM_KEYWORDS, t - NUM_KEYWORDS))
                if pair:
                    on = (f" ON {self._name(prev)}.{quote_name(pair[0])} = "
                          f"{self._name(t)}.{quote_name(pair[1])}")
                    break
            parts.append(f"JOIN {self._name(t)}{on}")
        return " ".join(parts)

    # -- the grammar -----------------------------------------------------------------------------------------
    def _query(self, depth: int, end: frozenset[int], consume: bool, single: bool = False,
               arity: int = 0) -> str:
        """One query up to ``end`` (taken when ``consume``); a set operation's right side shares its end;
        a ``single`` query (a subquery compared with a value) selects one thing. SQLite refuses ORDER BY and
        LIMIT before a set operation, and after one they would have to name result columns: a query that
        takes part in one (the right side, ``arity`` > 0, or one that continues with one) has neither; the
        right side selects ``arity`` things, as many as the left (which may not select ``*``)."""
        self._take(frozenset({KW["FROM"]}))
        tables = [self._take(self.tables)]
        while True:
            others = self.tables - set(tables)
            tok = self._take_fit_peek(others | {KW["SELECT"]}, partial(self._apart, tuple(tables), others))
            if tok == KW["SELECT"]:
                break
            tables.append(self._take(self.tables))
        self._take(frozenset({KW["SELECT"]}))
        cols = frozenset({self.star}).union(*(self.columns_of.get(t, frozenset()) for t in tables))
        nested = depth < MAX_DEPTH
        setops = SETOPS if nested else frozenset()

        def after(place: int) -> frozenset[int]:
            nxt = {k for k, p in CLAUSES.items() if p > place and (p != 3 or place == 2) and not (arity and p > 3)}
            return frozenset(nxt) | (setops if place < 4 and "*" not in select else frozenset()) | end

        distinct = ""
        first = AGGS | (cols - {self.star} if single or arity else cols)
        if self._peek(first | {KW["DISTINCT"]}) == KW["DISTINCT"]:
            self._take(frozenset({KW["DISTINCT"]}))
            distinct = "DISTINCT "
        select: list[str] = []
        width = 1 if single else arity

        def more() -> frozenset[int]:
            follow = after(0) if not width or len(select) == width else frozenset()
            return follow | ({KW[","]} if not width or len(select) < width else frozenset())

        outer, self._listed = self._listed, select
        select.append(self._val_unit(cols, more() if width != 1 else after(0), bare_star=not width))
        while self._peek(more()) == KW[","]:
            self._take(frozenset({KW[","]}))
            select.append(self._val_unit(cols, more() if width != len(select) + 1 else after(0),
                                         bare_star=not width))
        self._listed = outer
        sql = f"SELECT {distinct}{', '.join(select)} FROM {self._from_clause(tables)}"
        tok = self._peek(after(0))
        if tok == KW["WHERE"]:
            self._take(frozenset({tok}))
            sql += " WHERE " + self._condition(cols, after(1), depth, nested, aggregates=False)
            tok = self._peek(after(1))
        grouped = tok == KW["GROUP_BY"]
        if grouped:
            self._take(frozenset({tok}))
            group = [self._name(self._take(cols - {self.star}))]
            while self._peek(after(2) | {KW[","]}) == KW[","]:
                self._take(frozenset({KW[","]}))
                named = cols - {self.star}
                group.append(self._name(self._take_fit(named, partial(self._regrouped, named, tuple(group)))))
            sql += " GROUP BY " + ", ".join(group)
            tok = self._peek(after(2))
            if tok == KW["HAVING"]:
                self._take(frozenset({tok}))
                sql += " HAVING " + self._condition(cols, after(3), depth, nested, aggregates=True)
                tok = self._peek(after(3))
        if tok == KW["ORDER_BY"]:
            self._take(frozenset({tok}))
            order = []
            follow = after(4) | {KW[","], KW["ASC"], KW["DESC"]}
            while True:  # aggregates order groups; without GROUP BY SQLite refuses them here
                item = self._val_unit(cols, follow, aggregates=grouped)
                tok = self._peek(follow)
                if tok in (KW["ASC"], KW["DESC"]):
                    self._take(frozenset({tok}))
                    item += " " + KEYWORDS[tok]
                    tok = self._peek(after(4) | {KW[","]})
                order.append(item)
                if tok != KW[","]:
                    break
                self._take(frozenset({tok}))
            sql += " ORDER BY " + ", ".join(order)
        if tok == KW["LIMIT"]:
            self._take(frozenset({tok}))
            sql += " LIMIT " + self._literal(self._take(self.numbers))[0]
            tok = self._peek(after(5))
        if tok in SETOPS:
            self._take(frozenset({tok}))
            return sql + f" {KEYWORDS[tok]} " + self._query(depth + 1, end, consume, arity=len(select))
        self._peek(end)
        if consume:
            self._take(end)
        return sql

    def _val_unit(self, cols: frozenset[int], follow: frozenset[int], bare_star: bool = False,
                  aggregates: bool = True) -> str:
        left = self._operand(cols, bare_star, aggregates)
        if left == "*":
            return left
        tok = self._peek(follow | ARITH)
        if tok in ARITH:
            self._take(ARITH)
            listed, self._listed = self._listed, None  # "a, b + a" repeats nothing
            right = self._operand(cols, False, aggregates)
            self._listed, self._plain = listed, None
            return f"{left} {KEYWORDS[tok]} {right}"
        return left

    def _operand(self, cols: frozenset[int], bare_star: bool, aggregates: bool = True) -> str:
        """A column or an aggregate of one; ``*`` stands alone only where ``bare_star`` and in COUNT(*)."""
        named = cols - {self.star}
        first = (AGGS if aggregates else frozenset()) | named | ({self.star} if bare_star else set())
        tok = self._take_fit(first, lambda: self._repeated(first - AGGS))
        self._plain = tok if tok in named else None
        if tok in AGGS:
            self._take(frozenset({KW["("]}))
            distinct = ""
            inner_ok = cols if tok == KW["COUNT"] else named
            agg = KEYWORDS[tok] + "({})"
            if self._take_fit_peek(inner_ok | {KW["DISTINCT"]}, lambda: self._repeated(inner_ok, agg)) == KW["DISTINCT"]:
                self._take(frozenset({KW["DISTINCT"]}))
                distinct = "DISTINCT "
                inner_ok = named
            again = KEYWORDS[tok] + "(" + distinct + "{})"
            inner = self._name(self._take_fit(inner_ok, lambda: self._repeated(inner_ok, again)))
            self._take(frozenset({KW[")"]}))
            return f"{KEYWORDS[tok]}({distinct}{inner})"
        return self._name(tok)

    def _condition(self, cols: frozenset[int], follow: frozenset[int], depth: int, nested: bool,
                   aggregates: bool) -> str:
        parts = [self._predicate(cols, depth, nested, aggregates)]
        while True:
            tok = self._peek(follow | {KW["AND"], KW["OR"]})
            if tok not in (KW["AND"], KW["OR"]):
                return " ".join(parts)
            self._take(frozenset({tok}))
            parts.append(KEYWORDS[tok])
            parts.append(self._predicate(cols, depth, nested, aggregates))

    def _predicate(self, cols: frozenset[int], depth: int, nested: bool, aggregates: bool) -> str:
        ops = COMPARE if nested else COMPARE - {KW["IN"], KW["NOT_IN"]}
        if not self.values:
            ops = ops - {KW["LIKE"], KW["NOT_LIKE"]}
        left = self._val_unit(cols, ops, aggregates=aggregates)
        column = self._plain
        op = self._take(ops)
        name = KEYWORDS[op]
        sub = frozenset({KW["("]}) if nested else frozenset()
        if name in ("IN", "NOT_IN"):
            self._take(frozenset({KW["("]}))
            return f"{left} {_SQL_OP[name]} ({self._query(depth + 1, _CLOSE, consume=True, single=True)})"
        if name == "BETWEEN":
            low = self._literal(self._take(self.literals))[0]
            self._take(frozenset({KW["AND"]}))
            high = self._literal(self._take(self.literals))[0]
            return f"{left} BETWEEN {low} AND {high}"
        if name in ("LIKE", "NOT_LIKE"):
            tok = self._take(self.values)
            value = self._literal(tok)[1]
            text = value.text if value else ""
            pattern = text if "%" in text else f"%{text}%"
            return f"{left} {_SQL_OP[name]} '" + pattern.replace("'", "''") + "'"
        try:
            tok = self._take(self.literals | (cols - {self.star}) | sub)
        except NeedMore as more:
            raise NeedMore(more.allowed, self._misfits(column) if name in ("=", "!=") else frozenset()) from None
        if tok == KW["("]:
            return f"{left} {name} ({self._query(depth + 1, _CLOSE, consume=True, single=True)})"
        if tok in self.literals:
            return f"{left} {name} {self._literal(tok)[0]}"
        return f"{left} {name} {self._name(tok)}"


# -- SQL -> tokens -----------------------------------------------------------------------------------------------
_COMPARE_EXP = {"EQ": "=", "NEQ": "!=", "GT": ">", "LT": "<", "GTE": ">=", "LTE": "<=", "Like": "LIKE",
                "In": "IN", "Between": "BETWEEN"}
_AGG_EXP = {"Count": "COUNT", "Sum": "SUM", "Avg": "AVG", "Min": "MIN", "Max": "MAX"}
_ARITH_EXP = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}
_SETOP_EXP = {"Union": "UNION", "Intersect": "INTERSECT", "Except": "EXCEPT"}


class _Writer:
    def __init__(self, items: Items) -> None:
        self.items = items
        self.tables = items.table_index()
        self.columns = items.column_index()
        self.out: list[int] = []

    def kw(self, word: str) -> None:
        self.out.append(KW[word])

    def ptr(self, item: int) -> None:
        self.out.append(NUM_KEYWORDS + item)

    def query(self, node: exp.Expression) -> None:
        kind = type(node).__name__
        if kind in _SETOP_EXP:
            if kind == "Union" and node.args.get("distinct") is False:
                raise Unsupported("UNION ALL")
            self.query(node.this)
            self.kw(_SETOP_EXP[kind])
            self.query(node.expression)
            return
        if kind == "Subquery":
            self.query(node.this)
            return
        if kind != "Select":
            raise Unsupported(kind)
        self.select(node)

    def select(self, node: exp.Expression) -> None:
        from sqlglot import exp

        source = node.args.get("from") or node.args.get("from_")
        if source is None:
            raise Unsupported("no FROM")
        aliases: dict[str, int] = {}
        order: list[int] = []
        for tab in [source.this] + [j.this for j in node.args.get("joins") or []]:
            if not isinstance(tab, exp.Table):
                raise Unsupported("subquery in FROM")
            item = self.tables.get(tab.name.lower())
            if item is None:
                raise Unsupported(f"unknown table {tab.name}")
            if item in order:
                raise Unsupported("self-join")
            order.append(item)
            aliases[tab.name.lower()] = item
            if tab.alias:
                aliases[tab.alias.lower()] = item
        self.scope = (aliases, order)
        self.kw("FROM")
        for t in order:
            self.ptr(t)
        self.kw("SELECT")
        if node.args.get("distinct"):
            self.kw("DISTINCT")
        for i, e in enumerate(node.expressions):
            if i:
                self.kw(",")
            self.val_unit(e.this if isinstance(e, exp.Alias) else e)
        where = node.args.get("where")
        if where is not None:
            self.kw("WHERE")
            self.condition(where.this)
        group = node.args.get("group")
        if group is not None:
            self.kw("GROUP_BY")
            for i, e in enumerate(group.expressions):
                if i:
                    self.kw(",")
                self.column(e)
        having = node.args.get("having")
        if having is not None:
            self.kw("HAVING")
            self.scope = (aliases, order)
            self.condition(having.this)
        ordering = node.args.get("order")
        if ordering is not None:
            self.scope = (aliases, order)
            self.kw("ORDER_BY")
            for i, e in enumerate(ordering.expressions):
                if i:
                    self.kw(",")
                self.val_unit(e.this)
                if e.args.get("desc"):
                    self.kw("DESC")
                elif e.args.get("desc") is False and "ASC" in e.sql().upper():
                    self.kw("ASC")
        limit = node.args.get("limit")
        if limit is not None:
            self.kw("LIMIT")
            self.literal(limit.expression, like=False)

    def column(self, node: exp.Expression) -> None:
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            self.ptr(0)
            return
        if not isinstance(node, exp.Column):
            raise Unsupported(f"expected a column, got {type(node).__name__}")
        aliases, order = self.scope
        name = node.name.lower()
        if node.table:
            owner = aliases.get(node.table.lower())
            if owner is None:
                raise Unsupported(f"unknown alias {node.table}")
            candidates = [owner]
        else:
            candidates = order
        for t in candidates:
            item = self.columns.get((self.items.schema_names[t][0].lower(), name))
            if item is not None:
                self.ptr(item)
                return
        raise Unsupported(f"unknown column {node.sql()}")

    def operand(self, node: exp.Expression) -> None:
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            node = node.this
        kind = type(node).__name__
        if kind in _AGG_EXP:
            self.kw(_AGG_EXP[kind])
            self.kw("(")
            inner = node.this
            if isinstance(inner, exp.Distinct):
                self.kw("DISTINCT")
                inner = inner.expressions[0]
            self.column(inner)
            self.kw(")")
            return
        self.column(node)

    def val_unit(self, node: exp.Expression) -> None:
        kind = type(node).__name__
        if kind in _ARITH_EXP:
            self.operand(node.this)
            self.kw(_ARITH_EXP[kind])
            self.operand(node.expression)
            return
        self.operand(node)

    def condition(self, node: exp.Expression) -> None:
        from sqlglot import exp

        if isinstance(node, (exp.And, exp.Or)):
            self.condition(node.this)
            self.kw("AND" if isinstance(node, exp.And) else "OR")
            self.condition(node.expression)
            return
        if isinstance(node, exp.Paren):
            self.condition(node.this)
            return
        negated = isinstance(node, exp.Not)
        if negated:
            node = node.this
        kind = type(node).__name__
        if kind not in _COMPARE_EXP:
            raise Unsupported(f"predicate {kind}")
        op = _COMPARE_EXP[kind]
        if negated:
            if op not in ("LIKE", "IN"):
                raise Unsupported(f"NOT {op}")
            op = "NOT_" + op
        self.val_unit(node.this)
        self.kw(op)
        if op in ("IN", "NOT_IN"):
            query = node.args.get("query")
            if query is None:
                raise Unsupported("IN list")
            self.kw("(")
            saved = self.scope
            self.query(query.this if isinstance(query, exp.Subquery) else query)
            self.scope = saved
            self.kw(")")
            return
        if op == "BETWEEN":
            self.literal(node.args["low"], like=False)
            self.kw("AND")
            self.literal(node.args["high"], like=False)
            return
        right = node.expression
        if isinstance(right, exp.Paren) and isinstance(right.this, (exp.Select, exp.Union, exp.Intersect,
                                                                    exp.Except)):
            right = exp.Subquery(this=right.this)
        if isinstance(right, exp.Subquery):
            self.kw("(")
            saved = self.scope
            self.query(right.this)
            self.scope = saved
            self.kw(")")
        elif isinstance(right, (exp.Literal, exp.Neg)):
            self.literal(right, like=op in ("LIKE", "NOT_LIKE"))
        elif isinstance(right, exp.Column) and not right.table and right.this.quoted \
                and not any((self.items.schema_names[t][0].lower(), right.name.lower()) in self.columns
                            for t in self.scope[1]):
            # "text" in double quotes that names no column is a string (SQLite reads it so)
            self.literal(exp.Literal.string(right.name), like=op in ("LIKE", "NOT_LIKE"))
        else:
            self.column(right)

    def literal(self, node: exp.Expression, like: bool) -> None:
        from sqlglot import exp

        text = node.sql() if isinstance(node, exp.Neg) else str(node.this if isinstance(node, exp.Literal)
                                                                  else node.sql())
        is_string = isinstance(node, exp.Literal) and node.is_string
        if like:
            text = text.strip("%")
        if not is_string and text in {str(i) for i in range(11)}:
            self.kw(text)
            return
        low = text.strip().lower()
        for j, v in enumerate(self.items.values):
            if v.text.strip().lower() == low or (not is_string and _same_number(v.text, text)):
                self.ptr(self.items.num_schema + j)
                return
        raise Unsupported(f"value {text!r} is not among the candidates")


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def to_tokens(sql: str, items: Items) -> list[int]:
    """The tokens of ``sql`` (ending with EOS) over ``items``; ``Unsupported`` when it is outside the language."""
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (ParseError, TokenError) as err:
        raise Unsupported(f"does not parse: {err}") from None
    writer = _Writer(items)
    writer.query(tree)  # type: ignore[arg-type]
    writer.out.append(EOS)
    return writer.out
