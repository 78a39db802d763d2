"""Readers for benchmark files: gold examples (Spider, BIRD, JSONL, ``SQL<TAB>db_id``) and predictions.

Alignment is sacred: prediction ``i`` is scored against gold ``i``. The official evaluators read predictions
line by line, strip each line and keep the text before the first TAB; we do the same, except that an empty
line stays an (empty, hence wrong) prediction instead of being dropped or read as a separator, which
would shift every later example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqldistill.errors import DataError

# BIRD's prediction files hold "SQL\t----- bird -----\tdb_id" per example.
_BIRD_SEPARATOR = "\t----- bird -----\t"
_SQL_KEYS = ("query", "SQL", "sql")
_PRED_KEYS = ("sql", "SQL", "query", "predicted_sql", "prediction", "pred")


@dataclass(frozen=True)
class GoldExample:
    """One gold query and where it runs; ``difficulty`` is BIRD's own label when the file has one."""

    sql: str
    db_id: str
    question: str = ""
    evidence: str = ""
    difficulty: str = ""


def _read_text(path: str | Path, what: str) -> str:
    p = Path(path)
    if not p.exists():
        raise DataError(f"The {what} file {p} does not exist", hint="Check the path")
    if p.is_dir():
        raise DataError(f"The {what} path {p} is a directory, not a file", hint="Pass the file inside it")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"The {what} file {p} is not UTF-8 text ({err.reason} at byte {err.start})",
                        hint="Save it as UTF-8") from None


def _lines(text: str) -> list[str]:
    """Lines as Python's text-mode ``readlines`` sees them (``\n``, ``\r\n`` and ``\r`` end a line; form
    feeds and Unicode line separators do not, unlike ``str.splitlines``)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _first_char(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    return stripped[:1]


def _json_records(text: str, path: str | Path, what: str) -> list[Any]:
    """A JSON array, a JSON object keyed by example number (BIRD predictions), or JSON lines."""
    text = text.lstrip("\ufeff")
    if _first_char(text) in "[{":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            if data and all(str(k).strip().lstrip("-").isdigit() for k in data):
                return [data[k] for k in sorted(data, key=lambda k: int(k))]
            if _first_char(text) == "{" and text.strip().count("\n") == 0:
                return [data]  # a one-line JSONL file
    records: list[Any] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            records.append(None)  # keeps line numbers meaningful; handled by the caller
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"The {what} file {path} is not valid JSON/JSONL: line {number}: {err.msg}",
                            hint="Fix that line, or use one of the supported formats") from None
    return records


def _gold_from_record(rec: Any, where: str) -> GoldExample:
    if not isinstance(rec, dict):
        raise DataError(f"{where} is not a JSON object", hint="Each gold example needs db_id and the SQL")
    sql = next((rec[k] for k in _SQL_KEYS if isinstance(rec.get(k), str)), None)
    db_id = rec.get("db_id")
    if sql is None or not isinstance(db_id, str) or not db_id:
        missing = "SQL (a query, SQL or sql field)" if sql is None else "db_id"
        raise DataError(f"{where} has no {missing}", hint="Each gold example needs a db_id and its SQL")
    if not sql.strip():
        raise DataError(f"{where} has an empty gold SQL", hint="Every gold example needs a query")
    return GoldExample(
        sql=sql.strip(),
        db_id=db_id,
        question=str(rec.get("question") or ""),
        evidence=str(rec.get("evidence") or ""),
        difficulty=str(rec.get("difficulty") or ""),
    )


def load_gold(path: str | Path) -> list[GoldExample]:
    """Read gold examples from Spider/BIRD JSON, JSONL, or ``SQL<TAB>db_id`` lines. Raises DataError."""
    text = _read_text(path, "gold")
    if not text.strip():
        raise DataError(f"The gold file {path} is empty", hint="Pass a file with at least one example")
    if _first_char(text) in "[{":
        records = _json_records(text, path, "gold")
        return [_gold_from_record(rec, f"gold example {i} in {path}")
                for i, rec in enumerate(records) if rec is not None]
    examples = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue  # blank lines separate sessions in the official format; single-turn files have none
        fields = line.strip().split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"Line {number} of the gold file {path} is not 'SQL<TAB>db_id'",
                            hint="Use one 'SQL<TAB>db_id' per line, or a Spider/BIRD JSON file")
        examples.append(GoldExample(sql=fields[0], db_id=fields[1].strip()))  # the SQL as the official reads it
    return examples


def _pred_from_record(rec: Any) -> str:
    if rec is None:
        return ""
    if isinstance(rec, str):
        text = rec
    elif isinstance(rec, dict):
        text = next((rec[k] for k in _PRED_KEYS if isinstance(rec.get(k), str)), "")
    else:
        text = ""
    return text.split(_BIRD_SEPARATOR)[0].strip()


def load_predictions(path: str | Path, expected: int | None = None) -> list[str]:
    """Read predicted SQL, one per example, keeping empty ones so that alignment with the gold holds.

    Text files: one prediction per line, stripped, the text before the first TAB (as the official reader).
    JSON/JSONL: strings or objects with a ``sql`` field; BIRD's ``{"0": "SQL\\t----- bird -----\\tdb"}`` too.
    With ``expected`` set, a count mismatch raises DataError (trailing blank lines are forgiven).
    """
    text = _read_text(path, "predictions")
    preds: list[str] | None = None
    if _first_char(text) in "[{":
        try:
            preds = [_pred_from_record(rec) for rec in _json_records(text, path, "predictions")]
        except DataError:
            if Path(path).suffix.lower() in {".json", ".jsonl"}:
                raise
            # a text file whose first prediction happens to start with a bracket
    if preds is None:
        preds = [line.strip().split("\t")[0] for line in _lines(text)]
    if expected is not None:
        while len(preds) > expected and not preds[-1]:
            preds.pop()
        if len(preds) != expected:
            raise DataError(
                f"The predictions file {path} has {len(preds)} predictions but the gold has {expected} examples",
                hint="Write exactly one prediction per gold example, in the same order (an empty line for none)",
            )
    return preds


__all__ = ["GoldExample", "load_gold", "load_predictions"]
