"""A disk cache of gold results for ``evaluate``: a rerun over the same gold file and databases executes
only the predictions."""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqldistill.data.manifest import file_sha256
from sqldistill.spider.execution import Denotation

# Gold results larger than this are recomputed instead of cached: the cache is for speed, not archiving.
MAX_CACHED_ROWS = 200_000


def sql_key(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class GoldCache:
    """Gold denotations on disk, one marshal file per database content hash: ``{sql_key: denotation}``.

    Keys are the database file's SHA-256 (so an edited database never serves stale rows) and the processed
    gold text. Timeouts are not cached (they depend on the machine). marshal keeps Python types exactly
    (``1`` vs ``1.0`` matters to the comparison) and, unlike pickle, cannot run code when read.
    """

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self._by_path: dict[str, str] = {}  # one run never sees a database change under it
        self._tables: dict[str, dict[str, tuple[Any, ...]]] = {}
        self._dirty: set[str] = set()
        self.hits = 0
        self.misses = 0

    def db_sha(self, path: str) -> str:
        known = self._by_path.get(path)
        if known is not None:
            return known
        self._by_path[path] = sha = file_sha256(Path(path))
        return sha

    def _file(self, sha: str) -> Path:
        assert self.root is not None
        return self.root / f"py{sys.version_info[0]}{sys.version_info[1]}" / sha[:2] / f"{sha}.marshal"

    def _table(self, sha: str) -> dict[str, tuple[Any, ...]]:
        table = self._tables.get(sha)
        if table is None:
            table = {}
            if self.root is not None:
                try:
                    loaded = marshal.loads(self._file(sha).read_bytes())
                    if isinstance(loaded, dict):
                        table = loaded
                except (OSError, ValueError, EOFError, TypeError):
                    table = {}  # missing or unreadable: recompute
            self._tables[sha] = table
        return table

    def get(self, path: str, sql: str) -> Denotation | None:
        if self.root is None:
            return None
        found = self._table(self.db_sha(path)).get(sql_key(sql))
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return Denotation.from_marshal(found)

    def put(self, path: str, sql: str, denotation: Denotation) -> None:
        if self.root is None or denotation.kind == "timeout":
            return
        if denotation.rows is not None and len(denotation.rows) > MAX_CACHED_ROWS:
            return
        sha = self.db_sha(path)
        self._table(sha)[sql_key(sql)] = denotation.to_marshal()
        self._dirty.add(sha)

    def save(self) -> None:
        """Write changed tables atomically; a concurrent run's entries are merged, not lost."""
        if self.root is None:
            return
        for sha in sorted(self._dirty):
            target = self._file(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            merged: dict[str, tuple[Any, ...]] = {}
            try:
                on_disk = marshal.loads(target.read_bytes())
                if isinstance(on_disk, dict):
                    merged.update(on_disk)
            except (OSError, ValueError, EOFError, TypeError):
                pass
            merged.update(self._tables[sha])
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(marshal.dumps(merged))
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        self._dirty.clear()


def default_cache_dir() -> Path:
    env = os.environ.get("SQLDISTILL_CACHE_DIR")
    if env:
        return Path(env) / "eval"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sqldistill" / "eval"


__all__ = ["GoldCache", "default_cache_dir"]
