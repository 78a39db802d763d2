"""Shared fixtures: the Spider data beside the repo, copies of its databases, and the database servers."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _spider_dir() -> Path:
    env = os.environ.get("SQLDISTILL_SPIDER_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "spider"


@pytest.fixture(scope="session")
def spider_dir() -> Path:
    path = _spider_dir()
    if not (path / "database").is_dir():
        pytest.skip(f"Spider data not found at {path}")
    return path


@pytest.fixture()
def tmp_sqlite_copy(spider_dir: Path, tmp_path: Path) -> Callable[[str], Path]:
    def copy(db_id: str) -> Path:
        src = spider_dir / "database" / db_id / f"{db_id}.sqlite"
        dst = tmp_path / db_id / f"{db_id}.sqlite"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return dst

    return copy


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def spider_files_unchanged() -> object:
    """Every Spider database must be byte-identical after the whole test session: the product never writes."""
    root = _spider_dir() / "database"
    files = sorted(root.glob("*/*.sqlite")) if root.is_dir() else []
    files += sorted((REPO / "examples").glob("*.sqlite"))
    before = {p: sha256_of(p) for p in files}
    yield
    changed = [str(p) for p in files if sha256_of(p) != before[p]]
    assert not changed, f"databases changed during the tests: {changed}"
