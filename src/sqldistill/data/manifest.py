"""Run directories: one folder per stage, published atomically with its manifest written last.

A stage writes into ``<run>/<stage>.partial/``; when everything is there it writes ``manifest.json`` (file
sizes and hashes, the config hash it was made from, timings, metrics) and renames the folder to
``<run>/<stage>/``. A rename is atomic, so after a crash at any instant a stage is either wholly there or
not there at all; a rerun removes leftover ``.partial`` folders and redoes only unfinished stages. A finished
stage whose config section changed is redone too (and so is everything after it).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqldistill.errors import RunError
from sqldistill.jsonfiles import write_json_atomic

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class StageResult:
    name: str
    path: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.manifest.get("metrics", {}))


class RunDir:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunError(f"Cannot create the run directory {self.root}: {err.strerror}") from None
        for leftover in self.root.glob("*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)

    def stage_dir(self, name: str) -> Path:
        return self.root / name

    def finished(self, name: str, config_hash: str) -> StageResult | None:
        """The stage's result when it finished with this config and its files are intact, else None."""
        path = self.stage_dir(name)
        mpath = path / MANIFEST
        if not mpath.is_file():
            return None
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if manifest.get("config_hash") != config_hash:
            return None
        for rel, meta in manifest.get("files", {}).items():
            f = path / rel
            if not f.is_file() or f.stat().st_size != meta["size"]:
                return None
        return StageResult(name, path, manifest, skipped=True)

    def invalidate_from(self, names: list[str]) -> None:
        for name in names:
            path = self.stage_dir(name)
            if path.exists():
                shutil.rmtree(path)

    @contextmanager
    def stage(self, name: str, config_hash: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Yield (work folder, metrics dict); publish the folder with its manifest when the block succeeds."""
        final = self.stage_dir(name)
        work = self.root / f"{name}.partial"
        shutil.rmtree(work, ignore_errors=True)
        metrics: dict[str, Any] = {}
        started = time.time()
        try:
            work.mkdir(parents=True)
            yield work, metrics
            files = {
                str(p.relative_to(work)): {"size": p.stat().st_size, "sha256": file_sha256(p)}
                for p in sorted(work.rglob("*")) if p.is_file()
            }
            manifest = {
                "stage": name,
                "config_hash": config_hash,
                "started": started,
                "seconds": round(time.time() - started, 3),
                "files": files,
                "metrics": metrics,
            }
            write_json_atomic(work / MANIFEST, manifest)
            if final.exists():
                shutil.rmtree(final)
            os.replace(work, final)
            _fsync_dir(self.root)
        except OSError as err:
            shutil.rmtree(work, ignore_errors=True)
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                raise RunError(
                    f"No space left on the device while writing the '{name}' stage in {self.root}",
                    hint="Free some disk space and rerun the same command; finished stages are kept",
                ) from None
            raise
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
