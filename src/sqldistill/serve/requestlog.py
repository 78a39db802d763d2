"""The JSONL request log: one line per answered question, for monitoring accuracy by query type.

``requests.jsonl`` in the run directory; each line is one JSON object::

    {"time": "2025-01-01T12:00:00.123+00:00", "endpoint": "/v1/sql", "request_id": "9f2c...",
     "question": "How many singers are there?", "sql": "SELECT count(*) FROM singer",
     "ok": true, "error": null, "error_kind": null, "executed": true, "rows": 1, "truncated": false,
     "latency_ms": 12.3, "hardness": "easy"}

``error_kind`` is one of null, "refused", "timeout", "error" (execution) or "generation". ``hardness`` is the
Spider hardness of the generated SQL (easy/medium/hard/extra), or null when the Spider parser cannot read it.

Lines are written by one background thread, so a request never waits for the disk or for the hardness parser.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqldistill.records import Schema


def hardness_function(schema: Schema | None) -> Any:
    """A ``sql -> hardness`` callable over the model's schema, or None when the Spider parser is unavailable."""
    if schema is None:
        return None
    try:
        from sqldistill.spider.hardness import hardness
        from sqldistill.spider.parser import SpiderSchema
    except ImportError:
        return None
    spider = SpiderSchema.with_name_ids(
        {t.name.lower(): tuple(c.name.lower() for c in t.columns) for t in schema.tables}
    )

    @functools.lru_cache(maxsize=4096)  # a served model repeats itself; parsing the same SQL twice is waste
    def of(sql: str) -> str | None:
        try:
            return str(hardness(sql, spider))
        except Exception:  # an unparseable prediction has no hardness; the log line still matters
            return None

    return of


class RequestLog:
    """Append-only JSONL log fed through a queue. ``flush()`` waits until every queued line is on disk."""

    def __init__(self, path: str | Path | None, schema: Schema | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._hardness = hardness_function(schema)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=10_000)
        self._thread: threading.Thread | None = None
        self.dropped = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._thread = threading.Thread(target=self._writer, name="sqldistill-request-log", daemon=True)
            self._thread.start()

    def record(self, **fields: Any) -> None:
        if self._thread is None:
            return
        fields.setdefault("time", datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
        try:
            self._queue.put_nowait(fields)
        except queue.Full:  # monitoring must never slow down or fail a request
            self.dropped += 1

    def _writer(self) -> None:
        assert self.path is not None
        with self.path.open("a", encoding="utf-8") as fh:
            while True:
                item = self._queue.get()
                try:
                    if item is None:
                        return
                    if self._hardness is not None and "hardness" not in item:
                        sql = item.get("sql")
                        item["hardness"] = self._hardness(sql) if sql else None
                    try:
                        fh.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
                    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8; escape it instead
                        fh.write(json.dumps(item, default=str) + "\n")
                    if self._queue.empty():
                        fh.flush()
                finally:
                    self._queue.task_done()

    def flush(self) -> None:
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        self._thread = None


def read_request_log(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["RequestLog", "hardness_function", "read_request_log"]
