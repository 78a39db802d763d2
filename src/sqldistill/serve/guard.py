"""Guardrails around every statement the server runs, whether a model wrote it or a user typed it.

Three independent layers, so that one mistake does not open the database:

1. the read-only allowlist (``sqldistill.sql.safety``) refuses anything but one plain query before it runs;
2. the connection itself is read-only at the engine (``sqldistill.db.connect``);
3. every statement runs with a timeout that interrupts the engine, and a row cap that the server owns: a
   request may ask for fewer rows, never for more than ``max_rows_limit``.

Rows leave as JSON-safe values (blobs, decimals, dates and non-finite floats would otherwise break encoding).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
from dataclasses import dataclass
from typing import Any

from sqldistill.db import Database
from sqldistill.records import ExecResult
from sqldistill.sql.safety import readonly_problem

SERVER_MAX_ROWS = 1000
SERVER_TIMEOUT_S = 5.0
MAX_CELL_CHARS = 10_000


@dataclass(frozen=True)
class Guardrails:
    max_rows_limit: int = SERVER_MAX_ROWS
    timeout_s: float = SERVER_TIMEOUT_S
    default_rows: int = 100

    def rows_for(self, requested: int | None) -> int:
        """The row cap for one request: what it asked for, bounded by the server's limit."""
        if requested is None:
            return min(self.default_rows, self.max_rows_limit)
        return max(0, min(int(requested), self.max_rows_limit))


def jsonable(value: Any) -> Any:
    """A cell as a JSON value: strict JSON has no NaN/Infinity, no bytes, no decimals, no dates."""
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            return value[:MAX_CELL_CHARS] + "…"
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return "base64:" + base64.b64encode(raw[:MAX_CELL_CHARS]).decode()
    return str(value)


def jsonable_rows(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [[jsonable(v) for v in row] for row in rows]


def run_guarded(db: Database, sql: str, guard: Guardrails, max_rows: int | None = None) -> ExecResult:
    """Run ``sql`` behind all three layers. Never raises for query problems: they come back in ``error``."""
    problem = readonly_problem(sql, db.dialect)
    if problem:
        return ExecResult(error=f"refused: {problem}", error_kind="refused")
    return db.execute(sql, timeout_s=guard.timeout_s, max_rows=guard.rows_for(max_rows), check=True)


__all__ = ["SERVER_MAX_ROWS", "SERVER_TIMEOUT_S", "Guardrails", "jsonable", "jsonable_rows", "run_guarded"]
