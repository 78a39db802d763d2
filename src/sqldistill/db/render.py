"""Render a Schema as prompt text. One renderer, shared by synthesis, training, evaluation and serving."""

from __future__ import annotations

import json
from typing import Any

from sqldistill.records import Column, Schema, Table

STYLES = ("create", "compact", "none")


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _create_table(table: Table, samples: int) -> str:
    lines: list[tuple[str, Column]] = []
    for col in table.columns:
        decl = f"  {col.name} {col.type}".rstrip()
        if col.primary_key and len(table.primary_key) == 1:
            decl += " PRIMARY KEY"
        elif not col.nullable:
            decl += " NOT NULL"
        lines.append((decl, col))
    extras = []
    if len(table.primary_key) > 1:
        extras.append(f"  PRIMARY KEY ({', '.join(table.primary_key)})")
    for fk in table.foreign_keys:
        extras.append(
            f"  FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.ref_table}({', '.join(fk.ref_columns)})"
        )
    body: list[str] = []
    n = len(lines) + len(extras)
    for i, (decl, col) in enumerate(lines):
        sep = "," if i < n - 1 else ""
        comment = ""
        if samples and col.samples:
            comment = "  -- e.g. " + ", ".join(_literal(v) for v in col.samples[:samples])
        body.append(f"{decl}{sep}{comment}")
    for j, extra in enumerate(extras):
        body.append(extra + ("," if len(lines) + j < n - 1 else ""))
    head = f"CREATE TABLE {table.name} ("
    tail = f");  -- {table.row_count} rows" if samples else ");"
    return "\n".join([head, *body, tail])


def _compact_table(table: Table, samples: int) -> str:
    cols = []
    for col in table.columns:
        text = col.name + ("*" if col.primary_key else "")
        if samples and col.samples:
            text += " [" + ", ".join(_literal(v) for v in col.samples[:samples]) + "]"
        cols.append(text)
    line = f"{table.name}({', '.join(cols)})"
    for fk in table.foreign_keys:
        for src, dst in zip(fk.columns, fk.ref_columns):
            line += f"\n  {table.name}.{src} -> {fk.ref_table}.{dst}"
    return line


def render_schema(schema: Schema, style: str = "create", samples: int = 3) -> str:
    """``create``: CREATE TABLE statements with sample values as comments; ``compact``: one line per table."""
    if style == "none":
        return ""
    if style == "create":
        return "\n\n".join(_create_table(t, samples) for t in schema.tables)
    if style == "compact":
        return "\n".join(_compact_table(t, samples) for t in schema.tables)
    raise ValueError(f"unknown schema style {style!r}; choose one of {', '.join(STYLES)}")
