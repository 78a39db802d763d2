"""User feedback as training candidates: corrections people made to a served model's SQL.

The serving side appends validated corrections to ``feedback.jsonl`` (one ``Example`` record per line,
see ``sqldistill.serve.feedback``). They are the most trusted source there is (a person wrote the question
and checked the SQL), so synthesis offers them first; they still pass the critics, since the database may
have changed since.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from sqldistill.data.dataset import read_examples
from sqldistill.records import Example


def feedback_examples(path: str | os.PathLike[str], db_id: str | None = None) -> Iterator[Example]:
    """Feedback records for ``db_id`` (records without a db_id are taken as this database's)."""
    for ex in read_examples(path):
        if db_id is not None and ex.db_id and ex.db_id != db_id:
            continue
        yield Example(question=ex.question, sql=ex.sql, db_id=db_id or ex.db_id, source="feedback",
                      hardness="", meta={"construct": "feedback"})


__all__ = ["feedback_examples"]
