"""The synthesized dataset on disk: train.jsonl, valid.jsonl, rejects.jsonl and stats.json.

Each kept line carries ``question``, ``sql``, ``db_id``, ``hardness``, ``source``, ``construct`` and TRL's
``prompt``/``completion`` (rendered by ``sqldistill.data.prompt``, the one renderer shared with training,
evaluation and serving). Every line has the same flat keys and types, so ``datasets.load_dataset("json")``
reads it without surprises. The split is by the normalised SQL, so paraphrases of one query never sit on
both sides, and it depends only on the seed and the SQL text: the same input gives byte-identical files.
Files are written to a temporary name and renamed, so a killed run never leaves half a file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqldistill.data.prompt import (
    PromptFormat,
    normalise_question,
    normalise_sql,
    render_completion,
    render_prompt,
)
from sqldistill.errors import DataError
from sqldistill.jsonfiles import write_json_atomic, write_jsonl_atomic
from sqldistill.records import Example, Schema, Verdict
from sqldistill.sql.skeleton import normalise

TRAIN_FILE, VALID_FILE, REJECTS_FILE, STATS_FILE = "train.jsonl", "valid.jsonl", "rejects.jsonl", "stats.json"


def in_valid(sql: str, seed: int, fraction: float) -> bool:
    """Deterministic membership of the validation split, by the normalised SQL."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}\x00{normalise(sql)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split(examples: Sequence[Example], seed: int = 0, fraction: float = 0.1) -> tuple[list[Example], list[Example]]:
    train = [ex for ex in examples if not in_valid(ex.sql, seed, fraction)]
    valid = [ex for ex in examples if in_valid(ex.sql, seed, fraction)]
    if examples and not train:  # a tiny set must still train on something
        train, valid = list(valid[1:]), valid[:1]
    return train, valid


def record(ex: Example, schema: Schema | None = None, fmt: PromptFormat | None = None) -> dict[str, Any]:
    question, sql = normalise_question(ex.question), normalise_sql(ex.sql)
    return {
        "question": question,
        "sql": sql,
        "db_id": ex.db_id,
        "hardness": ex.hardness or "",
        "source": ex.source or "",
        "construct": str(ex.meta.get("construct", "")),
        "prompt": render_prompt(question, schema, fmt),
        "completion": render_completion(sql),
    }


def reject_record(ex: Example, verdict: Verdict) -> dict[str, Any]:
    return {
        "question": ex.question,
        "sql": ex.sql,
        "db_id": ex.db_id,
        "source": ex.source,
        "construct": str(ex.meta.get("construct", "")),
        "critic": verdict.critic,
        "reason": verdict.reason,
    }


def write_dataset(
    out_dir: str | os.PathLike[str],
    kept: Sequence[Example],
    rejects: Sequence[tuple[Example, Verdict]] = (),
    stats: dict[str, Any] | None = None,
    schema: Schema | None = None,
    fmt: PromptFormat | None = None,
    seed: int = 0,
    valid_fraction: float = 0.1,
) -> dict[str, Path]:
    """Write the four files; stats.json last, so its presence means the set is complete."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train, valid = split(kept, seed, valid_fraction)
    paths = {name: out / name for name in (TRAIN_FILE, VALID_FILE, REJECTS_FILE, STATS_FILE)}
    write_jsonl_atomic(paths[TRAIN_FILE], (record(ex, schema, fmt) for ex in train))
    write_jsonl_atomic(paths[VALID_FILE], (record(ex, schema, fmt) for ex in valid))
    write_jsonl_atomic(paths[REJECTS_FILE], (reject_record(ex, v) for ex, v in rejects))
    body = stats if stats is not None else {}
    body.update({"train": len(train), "valid": len(valid), "rejects": len(rejects)})  # the caller sees them too
    write_json_atomic(paths[STATS_FILE], body)
    return paths


def read_examples(path: str | os.PathLike[str]) -> list[Example]:
    """Examples from a JSON Lines file (train/valid/feedback); a bad line is a DataError naming the line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"No file at {p}", hint="Check the path")
    out = []
    with p.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                out.append(Example.from_dict(d))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
                raise DataError(f"{p}:{number} is not an example record ({type(err).__name__}: {err})",
                                hint="Each line must be a JSON object with 'question' and 'sql'") from None
    return out


__all__ = [
    "REJECTS_FILE",
    "STATS_FILE",
    "TRAIN_FILE",
    "VALID_FILE",
    "in_valid",
    "read_examples",
    "record",
    "reject_record",
    "split",
    "write_dataset",
]
