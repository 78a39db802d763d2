"""Atomic JSON and JSONL writes: the one way a file that another stage reads is written.

The data goes to a temporary file beside the target, is flushed to disk, and replaces the target in one
rename, so a reader (or a rerun after a crash) sees the old file or the new one, never half of one. The
temporary name is unique per call, so threads and processes writing the same file do not trip over each
other; the last rename wins.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_text_file(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A text file to write that replaces ``path`` when the block ends without an error (and is removed when
    it raises); the parent folder is created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], data: Any, indent: int | None = 2) -> None:
    """``data`` as one JSON document (a value JSON cannot hold is written as its ``str``)."""
    with atomic_text_file(path) as fh:
        json.dump(data, fh, indent=indent, default=str)


def write_jsonl_atomic(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    """``rows`` as JSON Lines: one object per line, non-ASCII text kept as it is."""
    with atomic_text_file(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str))
            fh.write("\n")


__all__ = ["atomic_text_file", "write_json_atomic", "write_jsonl_atomic"]
