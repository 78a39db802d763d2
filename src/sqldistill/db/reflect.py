"""Reflect a database into a ``Schema``: tables, columns, keys, foreign keys, row counts, sample values."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from sqldistill.db.database import Database, connect
from sqldistill.errors import ConnectionFailed, EmptyDatabase
from sqldistill.records import Column, ForeignKey, Schema, Table

MAX_SAMPLE_CHARS = 60
DISTINCT_COUNT_ROW_LIMIT = 200_000


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value) if value % 1 else int(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None  # binary blobs make poor prompt material
    text = str(value)
    return text if len(text) <= MAX_SAMPLE_CHARS else text[: MAX_SAMPLE_CHARS - 1] + "…"


def _sqlite_tables(db: Database) -> list[Table]:
    q = db.quote
    names = [r[0] for r in db.internal_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    )]
    tables = []
    for name in names:
        info = db.internal_query(f"PRAGMA table_info({q(name)})")
        columns = [
            Column(name=r[1], type=r[2] or "", nullable=not r[3] and not r[5], primary_key=bool(r[5]))
            for r in info
        ]
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        fks: dict[int, ForeignKey] = {}
        for r in db.internal_query(f"PRAGMA foreign_key_list({q(name)})"):
            fk_id, ref_table, src, dst = r[0], r[2], r[3], r[4]
            fk = fks.setdefault(fk_id, ForeignKey(columns=[], ref_table=ref_table, ref_columns=[]))
            fk.columns.append(src)
            fk.ref_columns.append(dst or "")
        for fk in fks.values():
            if not all(fk.ref_columns):  # "REFERENCES t" without columns means t's primary key
                ref_pk = [r[1] for r in sorted(db.internal_query(f"PRAGMA table_info({q(fk.ref_table)})"),
                                               key=lambda r: r[5]) if r[5]]
                fk.ref_columns = [c or (ref_pk[i] if i < len(ref_pk) else "") for i, c in enumerate(fk.ref_columns)]
        del pk
        tables.append(Table(name=name, columns=columns, foreign_keys=list(fks.values())))
    return tables


def _sqlalchemy_tables(db: Database) -> list[Table]:
    from sqlalchemy import inspect

    engine = db.engine  # type: ignore[attr-defined]
    insp = inspect(engine)
    tables = []
    for name in insp.get_table_names():
        pk = set(insp.get_pk_constraint(name).get("constrained_columns") or [])
        columns = [
            Column(name=c["name"], type=str(c["type"]), nullable=bool(c.get("nullable", True)),
                   primary_key=c["name"] in pk)
            for c in insp.get_columns(name)
        ]
        fks = [
            ForeignKey(columns=list(f["constrained_columns"]), ref_table=f["referred_table"],
                       ref_columns=list(f["referred_columns"]))
            for f in insp.get_foreign_keys(name)
        ]
        tables.append(Table(name=name, columns=columns, foreign_keys=fks))
    return tables


def _duckdb_tables(db: Database) -> list[Table]:
    rows = db.internal_query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' "
        "ORDER BY table_name"
    )
    tables = []
    for (name,) in rows:
        cols = db.internal_query(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            f"WHERE table_schema = 'main' AND table_name = '{name.replace(chr(39), chr(39) * 2)}' "
            "ORDER BY ordinal_position"
        )
        cons = db.internal_query(
            "SELECT constraint_type, constraint_column_names, referenced_table, referenced_column_names "
            f"FROM duckdb_constraints() WHERE table_name = '{name.replace(chr(39), chr(39) * 2)}'"
        )
        pk = {c for t, cs, _, _ in cons if t == "PRIMARY KEY" for c in cs}
        fks = [ForeignKey(list(cs), rt, list(rc)) for t, cs, rt, rc in cons if t == "FOREIGN KEY"]
        columns = [Column(name=c, type=t, nullable=n == "YES", primary_key=c in pk) for c, t, n in cols]
        tables.append(Table(name=name, columns=columns, foreign_keys=fks))
    return tables


def _fill_counts_and_samples(db: Database, tables: list[Table], samples: int) -> None:
    q = db.quote
    for table in tables:
        try:
            table.row_count = int(db.internal_query(f"SELECT COUNT(*) FROM {q(table.name)}")[0][0])
        except ConnectionFailed:
            table.row_count = 0
        if samples <= 0 or table.row_count == 0:
            continue
        for col in table.columns:
            sql = (f"SELECT DISTINCT {q(col.name)} FROM {q(table.name)} "
                   f"WHERE {q(col.name)} IS NOT NULL LIMIT {samples}")
            try:
                values = [_json_safe(r[0]) for r in db.internal_query(sql, timeout_s=5.0)]
            except ConnectionFailed:
                values = []
            col.samples = [v for v in values if v is not None]
            if table.row_count <= DISTINCT_COUNT_ROW_LIMIT:
                try:
                    n = db.internal_query(f"SELECT COUNT(DISTINCT {q(col.name)}) FROM {q(table.name)}", 5.0)
                    col.distinct_count = int(n[0][0])
                except ConnectionFailed:
                    col.distinct_count = None


def text_values(db: Database, schema: Schema, limit: int, by_type: bool = False) -> dict[str, list[str]]:
    """Distinct text values of 1 to 60 characters, as stored, per column: ``{"table.column": sorted values}``
    (what a question may name). A column counts when its samples hold text, or with ``by_type`` also when its
    declared type is a text type; ``limit`` caps the rows read per column."""
    out: dict[str, list[str]] = {}
    for table in schema.tables:
        for col in table.columns:
            texty = any(isinstance(v, str) for v in col.samples) or (
                by_type and any(k in (col.type or "").upper() for k in ("CHAR", "TEXT")))
            if not texty:
                continue
            res = db.execute(f"SELECT DISTINCT {db.quote(col.name)} FROM {db.quote(table.name)}",
                             timeout_s=5.0, max_rows=limit)
            if not res.ok:
                continue
            vals = sorted({r[0] for r in res.rows if isinstance(r[0], str) and 0 < len(r[0].strip()) <= 60})
            if vals:
                out[f"{table.name.lower()}.{col.name.lower()}"] = vals
    return out


def reflect(target: str | Database, samples: int = 5, allow_empty: bool = False) -> Schema:
    """Reflect ``target`` (path, URL or an open Database). Raises EmptyDatabase when it has no tables."""
    db = target if isinstance(target, Database) else connect(target)
    try:
        if db.dialect == "sqlite":
            tables = _sqlite_tables(db)
        elif db.dialect == "duckdb":
            tables = _duckdb_tables(db)
        else:
            tables = _sqlalchemy_tables(db)
        if not tables and not allow_empty:
            raise EmptyDatabase(f"{db.target.display} has no tables", hint="Point at a database that has tables")
        _fill_counts_and_samples(db, tables, samples)
        return Schema(db_id=db.db_id, dialect=db.dialect, tables=tables)
    finally:
        if not isinstance(target, Database):
            db.close()
