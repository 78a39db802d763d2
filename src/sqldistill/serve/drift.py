"""Schema drift: what changed between the schema a model was trained on and the live database.

A model knows one schema. When a table or column it learned disappears, or a new one appears that it has never
seen, its SQL goes wrong quietly; this module says so out loud, at start-up, on ``/health`` and in
``sqldistill check``. The fingerprint decides *whether* the schema drifted (it is what training stored); the diff
says *what* changed, in words a person can act on.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqldistill.records import Schema, Table


@dataclass(frozen=True)
class ColumnChange:
    table: str
    column: str
    change: str  # added | removed | retyped | nullability | primary key
    before: str = ""
    after: str = ""

    def describe(self) -> str:
        if self.change in ("added", "removed"):
            return f"column {self.table}.{self.column} {self.change}"
        return f"column {self.table}.{self.column} {self.change}: {self.before} -> {self.after}"


@dataclass
class SchemaDrift:
    """The difference between a model's schema (``expected``) and the live one (``actual``)."""

    expected_fingerprint: str
    actual_fingerprint: str
    tables_added: list[str] = field(default_factory=list)
    tables_removed: list[str] = field(default_factory=list)
    columns: list[ColumnChange] = field(default_factory=list)
    foreign_keys: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return self.expected_fingerprint != self.actual_fingerprint

    def lines(self) -> list[str]:
        """One human line per change, tables first."""
        out = [f"table {t} added" for t in self.tables_added]
        out += [f"table {t} removed" for t in self.tables_removed]
        out += [c.describe() for c in self.columns]
        out += self.foreign_keys
        if self.drifted and not out:
            out.append("the schema fingerprint differs (column order or declared details changed)")
        return out

    def summary(self) -> str:
        if not self.drifted:
            return "no drift: the database matches the model's schema"
        changes = self.lines()
        return f"schema drifted ({len(changes)} change{'s' if len(changes) != 1 else ''}): " + "; ".join(changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "expected_fingerprint": self.expected_fingerprint,
            "actual_fingerprint": self.actual_fingerprint,
            "tables_added": self.tables_added,
            "tables_removed": self.tables_removed,
            "columns": [asdict(c) for c in self.columns],
            "foreign_keys": self.foreign_keys,
            "changes": self.lines(),
        }


def _type(declared: str) -> str:
    return " ".join(declared.upper().split()) or "(none)"


def _column_changes(old: Table, new: Table) -> list[ColumnChange]:
    before = {c.name.lower(): c for c in old.columns}
    after = {c.name.lower(): c for c in new.columns}
    changes = [ColumnChange(new.name, after[k].name, "added") for k in after if k not in before]
    changes += [ColumnChange(old.name, before[k].name, "removed") for k in before if k not in after]
    for key in (k for k in before if k in after):
        b, a = before[key], after[key]
        if _type(b.type) != _type(a.type):
            changes.append(ColumnChange(new.name, a.name, "retyped", _type(b.type), _type(a.type)))
        if bool(b.nullable) != bool(a.nullable):
            changes.append(ColumnChange(new.name, a.name, "nullability",
                                        "NULL" if b.nullable else "NOT NULL", "NULL" if a.nullable else "NOT NULL"))
        if bool(b.primary_key) != bool(a.primary_key):
            changes.append(ColumnChange(new.name, a.name, "primary key",
                                        "key" if b.primary_key else "not a key", "key" if a.primary_key else "not a key"))
    return changes


def _fk_set(table: Table) -> set[str]:
    return {
        f"{table.name.lower()}({', '.join(c.lower() for c in fk.columns)}) -> "
        f"{fk.ref_table.lower()}({', '.join(c.lower() for c in fk.ref_columns)})"
        for fk in table.foreign_keys
    }


def diff_schemas(expected: Schema, actual: Schema, expected_fingerprint: str | None = None) -> SchemaDrift:
    """Compare the model's schema with the live one. Names compare case-insensitively, as the fingerprint does."""
    drift = SchemaDrift(expected_fingerprint or expected.fingerprint, actual.fingerprint)
    old = {t.name.lower(): t for t in expected.tables}
    new = {t.name.lower(): t for t in actual.tables}
    drift.tables_added = [new[k].name for k in new if k not in old]
    drift.tables_removed = [old[k].name for k in old if k not in new]
    for key in (k for k in old if k in new):
        drift.columns += _column_changes(old[key], new[key])
        gone, came = _fk_set(old[key]) - _fk_set(new[key]), _fk_set(new[key]) - _fk_set(old[key])
        drift.foreign_keys += [f"foreign key {fk} removed" for fk in sorted(gone)]
        drift.foreign_keys += [f"foreign key {fk} added" for fk in sorted(came)]
    return drift


class DriftMonitor:
    """Re-reflects the live database at most every ``ttl_s`` seconds, so ``/health`` stays cheap under probes.

    Reflection reads the catalogue and counts rows; on a large database that is not free, and a load balancer
    may call ``/health`` every second.
    """

    def __init__(self, db: Any, expected: Schema, expected_fingerprint: str, ttl_s: float = 30.0) -> None:
        self.db = db
        self.expected = expected
        self.expected_fingerprint = expected_fingerprint
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._last: SchemaDrift | None = None
        self._error: str | None = None

    def check(self, force: bool = False) -> tuple[SchemaDrift | None, str | None]:
        """(drift, error): drift is None only when the database could not be reflected; error says why."""
        from sqldistill.db import reflect
        from sqldistill.errors import SqlDistillError

        with self._lock:
            if not force and time.monotonic() - self._checked_at < self.ttl_s:
                return self._last, self._error
            try:
                live = reflect(self.db, samples=0, allow_empty=True)
                self._last, self._error = diff_schemas(self.expected, live, self.expected_fingerprint), None
            except SqlDistillError as err:
                self._last, self._error = None, err.one_line()
            self._checked_at = time.monotonic()
            return self._last, self._error


__all__ = ["ColumnChange", "DriftMonitor", "SchemaDrift", "diff_schemas"]
