"""User corrections: validated, then appended to ``feedback.jsonl`` for the next training round.

``sqldistill synth --from-feedback`` reads this file. Format (stable; the synthesis stage relies on it): UTF-8
JSON Lines in the run directory, ``<run_dir>/feedback.jsonl``, one object per accepted correction, shaped like
an ``Example`` record so that ``Example.from_dict(json.loads(line))`` reads it directly::

    {"question": "How many singers are there?",          # as the user asked it, whitespace-normalised
     "sql": "SELECT count(*) FROM singer",               # the corrected SQL, normalise_sql() form
     "db_id": "singer",                                   # the database it was checked against
     "source": "feedback",
     "hardness": "easy",                                  # Spider hardness, "" when the parser cannot read it
     "meta": {"id": "5f0c...",                            # 32 hex chars, unique per line
              "created": "2025-01-01T12:00:00+00:00",     # UTC, ISO-8601
              "model_sql": "SELECT count(*) FROM concert", # what the model had answered, or null
              "schema_fingerprint": "1a2b3c4d5e6f7a8b",   # the live database's, at the time of the check
              "model": "singer-sft",                       # the served model's name
              "rows": 1}}                                  # rows the corrected SQL returned (capped)

Only corrections that pass the synthesis critics (``sqldistill.critics``: well_formed, parses, read_only,
executes) are written: the question has a few words, the SQL is a single read-only query that executes within
the timeout on the live database. An identical (question, sql) pair is stored once.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqldistill.data.prompt import normalise_question, normalise_sql
from sqldistill.db import Database
from sqldistill.records import Example, ExecResult
from sqldistill.serve.guard import Guardrails

FEEDBACK_FILE = "feedback.jsonl"


@dataclass
class Check:
    """The outcome of validating one correction; ``reason`` is empty when it passed."""

    ok: bool
    critic: str
    reason: str = ""
    result: ExecResult = field(default_factory=ExecResult)

    @property
    def error_kind(self) -> str:
        """How the edge reports a failure: invalid (question), syntax, refused, timeout or error."""
        if self.critic == "well_formed":
            return "invalid"
        if self.critic == "parses":
            return "syntax"
        if self.critic == "read_only":
            return "refused"
        return "timeout" if self.result.error_kind == "timeout" else "error"


def feedback_critics() -> tuple[Any, ...]:
    """The synthesis critics a correction must pass, in order: the cheap text checks before the database.

    ``non_empty`` is left out on purpose: a person may rightly correct a question whose answer is no rows.
    """
    from sqldistill.critics import executes, parses, read_only, well_formed

    return (well_formed, parses, read_only, executes)


def validate_correction(question: str, sql: str, db: Database, guard: Guardrails) -> Check:
    """Judge a correction with the critics; never raises for bad SQL. On success ``result`` holds its rows."""
    from sqldistill.critics import judge
    from sqldistill.critics.context import CriticContext

    example = Example(question=normalise_question(question), sql=normalise_sql(sql), db_id=db.db_id,
                      source="feedback")
    ctx = CriticContext(db=db, timeout_s=guard.timeout_s, max_rows=guard.max_rows_limit)
    verdict = judge(example, feedback_critics(), ctx)
    result = ctx.results.get(example.sql) or ExecResult()
    return Check(verdict.keep, verdict.critic, verdict.reason, result)


class FeedbackStore:
    """Appends accepted corrections to ``<run_dir>/feedback.jsonl``; safe to call from many threads."""

    def __init__(self, run_dir: str | Path, hardness: Callable[[str], str | None] | None = None) -> None:
        self.path = Path(run_dir) / FEEDBACK_FILE
        self._hardness = hardness
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str]] = set()
        if self.path.is_file():
            for rec in read_feedback(self.path):
                self._seen.add((rec.get("question", ""), rec.get("sql", "")))

    def add(self, question: str, sql: str, *, db_id: str, fingerprint: str, model: str,
            model_sql: str | None = None, rows: int = 0) -> tuple[dict[str, Any], bool]:
        """Store one correction; returns (record, stored). ``stored`` is False for an exact duplicate."""
        q, s = normalise_question(question), normalise_sql(sql)
        record = {
            "question": q,
            "sql": s,
            "db_id": db_id,
            "source": "feedback",
            "hardness": (self._hardness(s) if self._hardness else None) or "",
            "meta": {
                "id": uuid.uuid4().hex,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "model_sql": normalise_sql(model_sql) if model_sql else None,
                "schema_fingerprint": fingerprint,
                "model": model,
                "rows": rows,
            },
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if (q, s) in self._seen:
                return record, False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())  # a correction is a person's work: make it survive a crash
            self._seen.add((q, s))
        return record, True


def read_feedback(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a feedback file; a torn last line (crash mid-write) is skipped."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


__all__ = ["FEEDBACK_FILE", "Check", "FeedbackStore", "feedback_critics", "read_feedback", "validate_correction"]
