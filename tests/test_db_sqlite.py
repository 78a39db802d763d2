"""The SQLite side of the database layer: targets, read-only enforcement, execution, timeouts."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from sqldistill.db import connect
from sqldistill.errors import BadURL, DatabaseNotFound, EmptyDatabase, NotADatabase
from tests.conftest import sha256_of

WRITES = [
    "DROP TABLE singer",
    "DELETE FROM singer",
    "UPDATE singer SET Name = 'x'",
    "INSERT INTO singer (Singer_ID) VALUES (99)",
    "REPLACE INTO singer (Singer_ID) VALUES (1)",
    "CREATE TABLE t (a int)",
    "CREATE TEMP TABLE t (a int)",
    "ALTER TABLE singer ADD COLUMN x int",
    "CREATE INDEX i ON singer(Name)",
    "ATTACH DATABASE '{tmp}/other.db' AS other",
    "PRAGMA writable_schema = 1",
    "PRAGMA journal_mode = WAL",
    "VACUUM",
    "VACUUM INTO '{tmp}/copy.db'",
    "SELECT load_extension('x')",
    "SELECT writefile('{tmp}/f', 'x')",
    "SELECT 1; DROP TABLE singer",
    "BEGIN",
    "WITH d AS (SELECT 1) DELETE FROM singer",
]


@pytest.fixture()
def singer(tmp_sqlite_copy):
    return tmp_sqlite_copy("singer")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatabaseNotFound, match="nope.sqlite"):
        connect(tmp_path / "nope.sqlite")


def test_not_a_database(tmp_path: Path) -> None:
    f = tmp_path / "x.sqlite"
    f.write_text("hello, I am text")
    with pytest.raises(NotADatabase):
        connect(str(f))
    with pytest.raises(NotADatabase):
        connect(str(tmp_path))


def test_empty_file_and_database_without_tables(tmp_path: Path) -> None:
    from sqldistill.db import reflect

    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(EmptyDatabase):
        connect(str(empty))
    notables = tmp_path / "notables.sqlite"
    sqlite3.connect(notables).execute("PRAGMA user_version = 3").connection.close()
    with pytest.raises(EmptyDatabase, match="no tables"):
        reflect(str(notables))


@pytest.mark.parametrize("url", ["foo://bar", "sqlite://", "postgresql+psycopg://u@h", ":::"])
def test_bad_urls(url: str) -> None:
    with pytest.raises((BadURL, DatabaseNotFound)):
        connect(url)


def test_sqlite_url_form(singer: Path) -> None:
    with connect(f"sqlite:///{singer}") as db:
        assert db.execute("SELECT count(*) FROM singer").rows == [(8,)]


def test_execute_columns_rows_and_truncation(singer: Path) -> None:
    with connect(singer) as db:
        res = db.execute("SELECT Name, Citizenship FROM singer ORDER BY Singer_ID", max_rows=3)
        assert res.ok and res.columns == ["Name", "Citizenship"]
        assert len(res.rows) == 3 and res.truncated
        full = db.execute("SELECT Name FROM singer", max_rows=None)
        assert len(full.rows) == 8 and not full.truncated
        bad = db.execute("SELECT nope FROM singer")
        assert bad.error_kind == "error" and "nope" in (bad.error or "")


@pytest.mark.parametrize("check", [True, False], ids=["allowlist", "engine-only"])
def test_every_kind_of_write_is_refused(singer: Path, tmp_path: Path, check: bool) -> None:
    before = sha256_of(singer)
    with connect(singer) as db:
        for stmt in WRITES:
            res = db.execute(stmt.format(tmp=tmp_path), check=check)
            assert not res.ok, stmt
            assert res.error_kind in ("refused", "error"), (stmt, res)
        assert db.execute("SELECT count(*) FROM singer").rows == [(8,)]
    assert sha256_of(singer) == before
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()
    assert not (tmp_path / "f").exists()


def test_runaway_query_is_stopped_and_connection_survives(singer: Path) -> None:
    runaway = "SELECT count(*) FROM singer a, singer b, singer c, singer d, singer e, singer f, singer g, singer h, singer i"
    with connect(singer) as db:
        started = time.perf_counter()
        res = db.execute(runaway, timeout_s=0.5)
        took = time.perf_counter() - started
        assert res.error_kind == "timeout", res
        assert took < 0.5 + 5.0  # stopped: unstopped, this query runs for hours
        assert db.execute("SELECT count(*) FROM song").rows == [(8,)]


def test_connections_are_per_thread(singer: Path) -> None:
    results: list[object] = []
    with connect(singer) as db:
        def work() -> None:
            for _ in range(20):
                results.append(db.execute("SELECT count(*) FROM singer").rows[0][0])

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [8] * 80


def test_text_is_decoded_ignoring_bad_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bytes.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a TEXT)")
    conn.execute("INSERT INTO t VALUES (CAST(X'61FF62' AS TEXT))")
    conn.commit()
    conn.close()
    with connect(path) as db:
        assert db.execute("SELECT a FROM t").rows == [("ab",)]


def test_a_steady_timeout_counts_work_not_the_clock(singer: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What synthesis and training build from query results must not depend on how busy the machine is: a
    steady timeout stops a query after a fixed amount of SQLite work, whatever the clock says."""
    from sqldistill.db import database

    counted = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r LIMIT 200000) SELECT count(*) FROM r"
    runaway = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
    with connect(singer) as db:
        assert db.execute(counted, timeout_s=1.0, steady=True).rows == [(200000,)]
        res = db.execute(runaway, timeout_s=0.05, steady=True)
        assert res.error_kind == "timeout" and "more work than the 0.05 s timeout" in (res.error or ""), res
        # a machine five times busier than needed to stop it by the clock (each of the query's 800 progress
        # checks sees 5 ms pass): the steady budget lets it finish, the wall-clock timeout does not
        real = time.monotonic
        ticks = [0.0]

        def busy() -> float:
            ticks[0] += 0.005
            return real() + ticks[0]

        monkeypatch.setattr(database.time, "monotonic", busy)
        assert db.execute(counted, timeout_s=1.0, steady=True).rows == [(200000,)]
        assert db.execute(counted, timeout_s=1.0).error_kind == "timeout"  # the wall clock stops it
        monkeypatch.undo()
        assert db.execute("SELECT count(*) FROM song").rows == [(8,)]
