"""Schema drift: real databases altered the ways schemas change in practice, diffed against the original."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sqldistill.db import reflect
from sqldistill.records import Schema
from sqldistill.serve.drift import DriftMonitor, diff_schemas

RETYPE_BIRTH_YEAR = """
CREATE TABLE singer_new ("Singer_ID" int, "Name" text, "Birth_Year" text, "Net_Worth_Millions" real,
                         "Citizenship" text, PRIMARY KEY ("Singer_ID"));
INSERT INTO singer_new SELECT * FROM singer;
DROP TABLE singer;
ALTER TABLE singer_new RENAME TO singer;
"""

CHANGES: list[tuple[str, list[str]]] = [
    ("ALTER TABLE singer ADD COLUMN Genre TEXT", ["column singer.Genre added"]),
    ("CREATE TABLE album (Album_ID INTEGER PRIMARY KEY, Title TEXT)", ["table album added"]),
    ("ALTER TABLE song DROP COLUMN Highest_Position", ["column song.Highest_Position removed"]),
    ("DROP TABLE song", ["table song removed"]),
    (RETYPE_BIRTH_YEAR, ["column singer.Birth_Year retyped: REAL -> TEXT"]),
    ("CREATE INDEX song_by_sales ON song (Sales)", []),  # an index is not part of what a model learned
]


def _alter(path: Path, script: str) -> None:
    conn = sqlite3.connect(path)  # test set-up writes to its own copy only
    conn.executescript(script)
    conn.commit()
    conn.close()


@pytest.fixture()
def original(spider_dir: Path) -> Schema:
    return reflect(str(spider_dir / "database" / "singer" / "singer.sqlite"), samples=0)


@pytest.mark.parametrize(("script", "expected"), CHANGES)
def test_each_kind_of_change_is_named(
    original: Schema, tmp_sqlite_copy: Callable[[str], Path], script: str, expected: list[str]
) -> None:
    path = tmp_sqlite_copy("singer")
    _alter(path, script)
    drift = diff_schemas(original, reflect(str(path), samples=0))
    assert drift.lines() == expected
    assert drift.drifted is bool(expected)
    assert drift.to_dict()["changes"] == expected
    if expected:
        assert drift.summary().startswith("schema drifted (1 change)") and expected[0] in drift.summary()


def test_several_changes_at_once_and_their_json(original: Schema, tmp_sqlite_copy: Callable[[str], Path]) -> None:
    path = tmp_sqlite_copy("singer")
    _alter(path, "ALTER TABLE singer ADD COLUMN Genre TEXT; CREATE TABLE album (x INT); "
                 "ALTER TABLE song DROP COLUMN Sales;")
    drift = diff_schemas(original, reflect(str(path), samples=0))
    assert drift.lines() == ["table album added", "column singer.Genre added", "column song.Sales removed"]
    doc = drift.to_dict()
    assert doc["drifted"] is True and doc["tables_added"] == ["album"] and doc["tables_removed"] == []
    assert {"table": "singer", "column": "Genre", "change": "added", "before": "", "after": ""} in doc["columns"]
    assert doc["expected_fingerprint"] == original.fingerprint != doc["actual_fingerprint"]


def test_names_compare_case_insensitively_like_the_fingerprint(original: Schema) -> None:
    upper = Schema.from_dict(original.to_dict())
    for table in upper.tables:
        table.name = table.name.upper()
        for col in table.columns:
            col.name = col.name.upper()
            col.type = col.type.lower()
    drift = diff_schemas(original, upper)
    assert not drift.drifted and drift.lines() == []


def test_foreign_key_and_key_changes_are_reported(original: Schema) -> None:
    changed = Schema.from_dict(original.to_dict())
    song = changed.table("song")
    assert song is not None
    song.foreign_keys = []
    col = song.column("Title")
    assert col is not None
    col.primary_key = True
    drift = diff_schemas(original, changed)
    assert drift.drifted
    assert "column song.Title primary key: not a key -> key" in drift.lines()
    assert "foreign key song(singer_id) -> singer(singer_id) removed" in drift.lines()


def test_monitor_caches_then_sees_a_change(original: Schema, tmp_sqlite_copy: Callable[[str], Path]) -> None:
    from sqldistill.db import connect

    path = tmp_sqlite_copy("singer")
    with connect(str(path)) as db:
        monitor = DriftMonitor(db, original, original.fingerprint, ttl_s=3600)
        first, error = monitor.check()
        assert error is None and first is not None and not first.drifted
        _alter(path, "CREATE TABLE album (x INT)")
        cached, _ = monitor.check()
        assert cached is first  # within the TTL a probe costs nothing
        fresh, _ = monitor.check(force=True)
        assert fresh is not None and fresh.lines() == ["table album added"]
