"""Shared fixtures: the Spider excerpt bundled with the tests, the full Spider data when it is beside the repo,
copies of their databases, and the check that no database is ever written."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLED_SPIDER = Path(__file__).resolve().parent / "data" / "spider"  # see its README.md


def shared_spider_path() -> Path:
    """Where the full Spider data would be: ``$SQLDISTILL_SPIDER_DIR`` or ``../shared/data/spider``."""
    env = os.environ.get("SQLDISTILL_SPIDER_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "spider"


def has_shared_spider() -> bool:
    return (shared_spider_path() / "database").is_dir()


@pytest.fixture(scope="session")
def spider_dir() -> Path:
    """The Spider excerpt in tests/data/spider: the same files wherever the tests run."""
    return BUNDLED_SPIDER


@pytest.fixture(scope="session")
def shared_spider_dir() -> Path:
    """All 153 Spider databases, for the few tests that read every one; they skip (and are counted) without it."""
    path = shared_spider_path()
    if not (path / "database").is_dir():
        pytest.skip(f"needs the full Spider data at {path} (marker shared_data)")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that asks for the full data carries the ``shared_data`` marker (``-m "not shared_data"`` drops them)."""
    for item in items:
        if "shared_spider_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "shared_data" in getattr(r, "keywords", {})]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests need the full Spider data at {shared_spider_path()} "
                                    "(marker shared_data) and were skipped; every other test ran on tests/data/spider")


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
def spider_files_unchanged() -> Iterator[None]:
    """Every database the tests read must be byte-identical after the whole session: the product never writes."""
    files = sorted((BUNDLED_SPIDER / "database").glob("*/*.sqlite"))
    if has_shared_spider():
        files += sorted((shared_spider_path() / "database").glob("*/*.sqlite"))
    files += sorted((REPO / "examples").glob("*.sqlite"))
    before = {p: sha256_of(p) for p in files}
    yield
    changed = [str(p) for p in files if sha256_of(p) != before[p]]
    assert not changed, f"databases changed during the tests: {changed}"


@pytest.fixture(scope="module")
def singer_values(spider_dir: Path) -> tuple[Path, object, dict[str, list[str]]]:
    """Spider's singer database: its path, reflected schema and the values the pointer student copies."""
    from sqldistill.db import connect, reflect
    from sqldistill.models.seq2seq.values import database_values

    path = spider_dir / "database" / "singer" / "singer.sqlite"
    with connect(str(path)) as db:
        schema = reflect(db)
        values = database_values(db, schema)
    return path, schema, values
