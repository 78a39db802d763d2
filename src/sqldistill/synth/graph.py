"""The schema as a graph the sampler walks: typed, humanised columns with real values, and join edges.

Built once per database from the reflected ``Schema`` plus a few catalogue queries (the most frequent
values of each column). Column kinds (key, number, date, text; a text column whose values are all short
numbers, like a TEXT age holding '32', is a number) and roles (label, category, measure, free
text) decide which constructs a column may take part in and how a question words it. When the database
declares no foreign keys, likely join keys are inferred from names (``singer_in_concert.singer_id`` ->
``singer.singer_id``, ``orders.customer_id`` -> ``customer.id``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqldistill.db.database import Database
from sqldistill.errors import ConnectionFailed
from sqldistill.records import Schema
from sqldistill.sql.names import column_phrases, pluralize, split_words, table_phrase

_DATE_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NUMERIC_TYPES = ("INT", "REAL", "FLOA", "DOUB", "NUM", "DEC", "BIGINT")
_LABEL_WORDS = {"name", "title", "names"}
_TEMPORAL_WORDS = {"year", "date", "day", "month", "time", "semester"}
_MAX_VALUE_CHARS = 60


@dataclass
class ColumnInfo:
    table: str
    name: str
    type: str
    kind: str  # key | number | date | text
    role: str  # key | label | category | measure | date | free
    phrases: tuple[str, ...]
    values: tuple[Any, ...] = ()  # most frequent distinct non-null values first
    counts: tuple[int, ...] = ()  # rows holding each of ``values``
    distinct: int = 0
    is_pk: bool = False
    is_fk: bool = False

    @property
    def phrase(self) -> str:
        return self.phrases[0]

    @property
    def words(self) -> list[str]:
        return self.phrase.split()

    @property
    def numeric(self) -> bool:
        return self.kind == "number"


@dataclass
class TableInfo:
    name: str
    phrase: str
    plural: str
    columns: list[ColumnInfo]
    rows: int
    pk: ColumnInfo | None = None
    label: ColumnInfo | None = None
    links: list[str] = field(default_factory=list)  # for a link table: the tables it joins

    def column(self, name: str) -> ColumnInfo | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)

    def by_role(self, *roles: str) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role in roles]


@dataclass(frozen=True)
class Edge:
    table: str
    column: str
    ref_table: str
    ref_column: str
    declared: bool = True
    key: int = -1  # edges of one foreign key over several columns share a number; -1 for one column


@dataclass
class SchemaGraph:
    db_id: str
    dialect: str
    tables: dict[str, TableInfo]
    edges: list[Edge]

    def table(self, name: str) -> TableInfo:
        return self.tables[name]

    def column(self, table: str, name: str) -> ColumnInfo:
        col = self.tables[table].column(name)
        if col is None:
            raise KeyError(f"{table}.{name}")
        return col

    def neighbours(self, table: str) -> list[tuple[str, str, str]]:
        """(other table, my column, its column) for every edge touching ``table``, in a stable order."""
        out = []
        for e in self.edges:
            if e.table == table and e.ref_table != table:
                out.append((e.ref_table, e.column, e.ref_column))
            elif e.ref_table == table and e.table != table:
                out.append((e.table, e.ref_column, e.column))
        return out

    def key_pairs(self, a: tuple[str, str], b: tuple[str, str]) -> list[tuple[tuple[str, str], ...]]:
        """The other column pairs of the foreign key over several columns that the join ``a = b`` (each a
        (table, column)) belongs to, ``a``'s side first; none for a key of one column. A join on such a key
        equates all its columns."""
        for e in self.edges:
            if e.key < 0:
                continue
            if ((e.table, e.column), (e.ref_table, e.ref_column)) == (a, b):
                flip = False
            elif ((e.ref_table, e.ref_column), (e.table, e.column)) == (a, b):
                flip = True
            else:
                continue
            pairs = [((o.table, o.column), (o.ref_table, o.ref_column)) for o in self.edges
                     if o.key == e.key and o != e]
            return [(y, x) if flip else (x, y) for x, y in pairs]
        return []

    def usable_tables(self) -> list[TableInfo]:
        return [t for t in self.tables.values() if t.rows > 0]


def _looks_numeric(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# a number stored as text ("32" in a TEXT age column); not a code with leading zeros or a phone number
_NUMBER_TEXT = re.compile(r"^-?(0|[1-9]\d{0,5})(\.\d+)?$")


def _as_numbers(values: list[Any]) -> list[Any] | None:
    """``values`` as numbers when every one is a number or a short number written as text, else None."""
    if not values or not any(isinstance(v, str) for v in values):
        return None
    out: list[Any] = []
    for v in values:
        if isinstance(v, str) and _NUMBER_TEXT.match(v.strip()):
            text = v.strip()
            out.append(float(text) if "." in text else int(text))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(v)
        else:
            return None
    return out


def _kind(declared: str, values: list[Any], key: bool) -> str:
    if key:
        return "key"
    upper = declared.upper()
    if "DATE" in upper or "TIME" in upper:
        return "date"
    if values and all(isinstance(v, str) and _DATE_VALUE.match(v) for v in values[:10]):
        return "date"
    if _looks_numeric(values) or (not values and any(t in upper for t in _NUMERIC_TYPES)):
        return "number"
    return "text"


def _role(col_words: list[str], kind: str, values: list[Any], distinct: int, rows: int) -> str:
    if kind == "key":
        return "key"
    if kind == "number":
        return "measure"
    if kind == "date":
        return "date"
    if set(col_words) & _LABEL_WORDS:
        return "label"
    text = [v for v in values if isinstance(v, str)]
    if text and sum(len(v) for v in text) / len(text) > 40:
        return "free"
    if distinct <= 2 or distinct <= 40 or (rows and distinct / rows < 0.5):
        return "category"
    return "label"


def _frequent_values(db: Database, table: str, column: str, limit: int) -> tuple[list[Any], list[int], int]:
    q = db.quote
    sql = (f"SELECT {q(column)}, count(*) FROM {q(table)} WHERE {q(column)} IS NOT NULL "
           f"GROUP BY {q(column)} ORDER BY count(*) DESC, {q(column)} LIMIT {int(limit)}")
    try:
        rows = db.internal_query(sql, timeout_s=10.0)
        distinct = db.internal_query(f"SELECT count(DISTINCT {q(column)}) FROM {q(table)}", timeout_s=10.0)
    except ConnectionFailed:
        return [], [], 0
    values, counts = [], []
    for value, count in rows:
        if isinstance(value, (bytes, bytearray, memoryview)):
            continue
        # Values a question cannot carry verbatim (prompts normalise whitespace) are not asked about.
        if isinstance(value, str) and (not value.strip() or len(value) > _MAX_VALUE_CHARS
                                       or value != " ".join(value.split())):
            continue
        if isinstance(value, float) and value != value:  # NaN
            continue
        values.append(value)
        counts.append(int(count))
    return values, counts, int(distinct[0][0] or 0)


def _infer_edges(tables: dict[str, TableInfo]) -> list[Edge]:
    """Join keys by name when nothing is declared: a column named like another table's single primary key."""
    edges: list[Edge] = []
    pks = {t.name: t.pk for t in tables.values() if t.pk is not None}
    for t in tables.values():
        for col in t.columns:
            low = col.name.lower()
            for other, pk in pks.items():
                if other == t.name or pk is None:
                    continue
                own = table_phrase(other).replace(" ", "_")
                same = low == pk.name.lower() and not (col.is_pk and len([c for c in t.columns if c.is_pk]) == 1)
                named = pk.name.lower() == "id" and low in {f"{own}_id", f"{own}id"}
                if same or named:
                    edges.append(Edge(t.name, col.name, other, pk.name, declared=False))
    return edges


def build_graph(db: Database, schema: Schema, values_per_column: int = 40) -> SchemaGraph:
    """Profile every column of ``schema`` on ``db`` and connect the tables."""
    table_names = tuple(table_phrase(t.name) for t in schema.tables)
    fk_cols = {(t.name.lower(), c.lower()) for t in schema.tables for fk in t.foreign_keys for c in fk.columns}
    fk_cols |= {(fk.ref_table.lower(), c.lower()) for t in schema.tables for fk in t.foreign_keys
                for c in fk.ref_columns}
    tables: dict[str, TableInfo] = {}
    for t in schema.tables:
        infos = []
        for c in t.columns:
            words = split_words(c.name)
            in_fk = (t.name.lower(), c.name.lower()) in fk_cols
            values, counts, distinct = ([], [], 0) if t.row_count == 0 else _frequent_values(
                db, t.name, c.name, values_per_column)
            # Ids are keys. Other key columns are what people ask about (dept_name, building, year, a name
            # as primary key), so they keep the role their values give them; joins still use them.
            idlike = bool(words and words[-1] in ("id", "ids"))
            numeric_key = (c.primary_key or in_fk) and (_looks_numeric(values) or not values) \
                and not set(words) & (_LABEL_WORDS | _TEMPORAL_WORDS)
            key = idlike or numeric_key
            if not key and (numbers := _as_numbers(values)) is not None:
                values = numbers  # numbers kept as text are still asked about as numbers
            kind = _kind(c.type, values, key)
            phrases = tuple(column_phrases(c.name, t.name, table_names))
            role = _role(phrases[0].split(), kind, values, distinct, t.row_count)
            infos.append(ColumnInfo(t.name, c.name, c.type, kind, role, phrases, tuple(values), tuple(counts),
                                    distinct, c.primary_key, in_fk))
        phrase = table_phrase(t.name)
        info = TableInfo(t.name, phrase, pluralize(phrase), infos, t.row_count)
        pks = [c for c in infos if c.is_pk]
        info.pk = pks[0] if len(pks) == 1 else None
        labels = [c for c in infos if c.role == "label"]
        named = [c for c in labels if set(c.words) & _LABEL_WORDS]
        info.label = (named or labels)[0] if (named or labels) else None
        tables[t.name] = info
    lookup = {name.lower(): name for name in tables}
    edges: list[Edge] = []
    groups = 0
    for t in schema.tables:
        for fk in t.foreign_keys:
            ref = lookup.get(fk.ref_table.lower())
            if ref is None:
                continue
            group = groups if len(fk.columns) > 1 else -1
            groups += 1 if len(fk.columns) > 1 else 0
            for src, dst in zip(fk.columns, fk.ref_columns):
                a, b = tables[t.name].column(src), tables[ref].column(dst)
                if a is not None and b is not None and ref != t.name:
                    edge = Edge(t.name, a.name, ref, b.name, key=group)
                    if edge not in edges:
                        edges.append(edge)
    if not edges:
        edges = _infer_edges(tables)
        for e in edges:
            for tname, cname in ((e.table, e.column), (e.ref_table, e.ref_column)):
                col = tables[tname].column(cname)
                if col is not None:
                    col.is_fk = True
                    col.kind = col.role = "key"
    graph = SchemaGraph(schema.db_id, schema.dialect, tables, edges)
    for info in tables.values():
        outgoing = [e.ref_table for e in edges if e.table == info.name]
        non_key = [c for c in info.columns if c.role != "key"]
        if len(set(outgoing)) >= 2 and len(non_key) <= 2:
            info.links = list(dict.fromkeys(outgoing))
    return graph


__all__ = ["ColumnInfo", "Edge", "SchemaGraph", "TableInfo", "build_graph"]
