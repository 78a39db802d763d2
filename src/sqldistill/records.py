"""The few record types every stage shares, and their JSON form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

JSONValue = Any  # str | int | float | bool | None; kept loose for rows coming from drivers


@dataclass
class Column:
    name: str
    type: str
    nullable: bool = True
    primary_key: bool = False
    samples: list[JSONValue] = field(default_factory=list)
    distinct_count: int | None = None


@dataclass
class ForeignKey:
    columns: list[str]
    ref_table: str
    ref_columns: list[str]


@dataclass
class Table:
    name: str
    columns: list[Column]
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    row_count: int = 0

    @property
    def primary_key(self) -> list[str]:
        return [c.name for c in self.columns if c.primary_key]

    def column(self, name: str) -> Column | None:
        low = name.lower()
        return next((c for c in self.columns if c.name.lower() == low), None)


def _normalise_type(declared: str) -> str:
    return " ".join(declared.upper().split())


@dataclass
class Schema:
    db_id: str
    dialect: str
    tables: list[Table]

    @property
    def fingerprint(self) -> str:
        """Stable hash of the structure alone: tables, columns, types, nullability, keys.

        Row counts and sample values are left out on purpose: data changes every day, the schema a model
        was trained on does not.
        """
        canon = []
        for t in sorted(self.tables, key=lambda t: t.name.lower()):
            canon.append(
                {
                    "t": t.name.lower(),
                    "c": [
                        [c.name.lower(), _normalise_type(c.type), bool(c.nullable), bool(c.primary_key)]
                        for c in t.columns
                    ],
                    "fk": sorted(
                        [[x.lower() for x in fk.columns], fk.ref_table.lower(), [x.lower() for x in fk.ref_columns]]
                        for fk in t.foreign_keys
                    ),
                }
            )
        blob = json.dumps(canon, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def table(self, name: str) -> Table | None:
        low = name.lower()
        return next((t for t in self.tables if t.name.lower() == low), None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fingerprint"] = self.fingerprint
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        tables = [
            Table(
                name=t["name"],
                columns=[Column(**c) for c in t["columns"]],
                foreign_keys=[ForeignKey(**fk) for fk in t.get("foreign_keys", [])],
                row_count=int(t.get("row_count", 0)),
            )
            for t in d["tables"]
        ]
        return cls(db_id=d["db_id"], dialect=d.get("dialect", "sqlite"), tables=tables)

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_dict(json.loads(text))


@dataclass
class ExecResult:
    """The outcome of one statement. Query-level failures live in ``error``; nothing here raises."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    truncated: bool = False
    elapsed_s: float = 0.0
    error: str | None = None
    # one of: None, "refused", "timeout", "syntax", "runtime"
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": [list(r) for r in self.rows],
            "truncated": self.truncated,
            "elapsed_s": self.elapsed_s,
            "error": self.error,
            "error_kind": self.error_kind,
        }


@dataclass
class Example:
    """One question/SQL pair flowing through synthesis, critics, training and evaluation."""

    question: str
    sql: str
    db_id: str = ""
    source: str = ""
    hardness: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Example:
        known = {"question", "sql", "db_id", "source", "hardness", "meta"}
        meta = dict(d.get("meta") or {})
        meta.update({k: v for k, v in d.items() if k not in known})
        return cls(
            question=d["question"],
            sql=d["sql"],
            db_id=d.get("db_id", ""),
            source=d.get("source", ""),
            hardness=d.get("hardness", ""),
            meta=meta,
        )


@dataclass
class Verdict:
    """What a critic says about one example."""

    keep: bool
    critic: str
    reason: str = ""


__all__ = ["Column", "Example", "ExecResult", "ForeignKey", "Schema", "Table", "Verdict"]
