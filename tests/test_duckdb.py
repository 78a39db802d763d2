"""DuckDB files: reflected, queried, read-only at the engine, and interruptible."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sqldistill.db import connect, reflect
from tests.conftest import sha256_of


@pytest.fixture()
def duck(spider_dir: Path, tmp_path: Path) -> Path:
    import duckdb

    from tests.helpers.servers import read_sqlite

    path = tmp_path / "singer.duckdb"
    con = duckdb.connect(str(path))
    types = {"int": "BIGINT", "real": "DOUBLE", "text": "VARCHAR"}
    tables = read_sqlite(spider_dir / "database" / "singer" / "singer.sqlite")
    for t in sorted(tables, key=lambda t: bool(t["fks"])):  # referenced tables first
        cols = [f'"{c["name"]}" {types[c["kind"]]}' for c in t["columns"]]
        pk = [c["name"] for c in t["columns"] if c["pk"]]
        cols.append(f"PRIMARY KEY ({', '.join(pk)})")
        cols += [f'FOREIGN KEY ("{s}") REFERENCES "{r}" ("{d}")' for s, r, d in t["fks"]]
        con.execute(f'CREATE TABLE "{t["name"]}" ({", ".join(cols)})')
        con.executemany(f'INSERT INTO "{t["name"]}" VALUES ({", ".join("?" * len(t["columns"]))})', t["rows"])
    con.close()
    return path


def test_duckdb_reflect_execute_and_refuse(duck: Path, tmp_path: Path) -> None:
    schema = reflect(duck)
    assert schema.dialect == "duckdb"
    song = schema.table("song")
    assert song and song.row_count == 8 and song.primary_key == ["Song_ID"]
    assert [(fk.columns, fk.ref_table) for fk in song.foreign_keys] == [(["Singer_ID"], "singer")]
    before = sha256_of(duck)
    with connect(f"duckdb:///{duck}") as db:
        assert db.execute("SELECT count(*) FROM singer").rows == [(8,)]
        for sql in ["DROP TABLE song", "DELETE FROM song", f"COPY song TO '{tmp_path}/x.csv'",
                    "SELECT * FROM read_csv('/etc/passwd')", f"ATTACH '{tmp_path}/o.duckdb' AS o",
                    "SET enable_external_access = true"]:
            assert not db.execute(sql).ok, sql
            assert db._execute(sql, 5.0, 10, time.perf_counter()).error_kind == "refused", sql
        started = time.perf_counter()
        res = db.execute("SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b", timeout_s=0.5)
        assert res.error_kind == "timeout" and time.perf_counter() - started < 0.8
        assert db.execute("SELECT count(*) FROM song").rows == [(8,)]
    assert sha256_of(duck) == before
    assert not (tmp_path / "x.csv").exists()


def test_official_execution_accuracy_on_duckdb_gives_the_verdicts_evaluate_gives_on_sqlite(
        duck: Path, spider_dir: Path) -> None:
    from sqldistill.eval import evaluate
    from sqldistill.eval.loaders import GoldExample
    from sqldistill.spider.execution import execution_verdicts

    pairs = [
        ("SELECT count(*) FROM singer", "SELECT count(*) FROM singer"),
        ("SELECT DISTINCT Citizenship FROM singer", "SELECT Citizenship FROM singer"),  # DISTINCT goes on both sides
        ("SELECT Name FROM singer WHERE Birth_Year > 1", "SELECT Name FROM singer WHERE Birth_Year > value"),  # -> 1
        ("SELECT Name FROM singer ORDER BY Birth_Year", "SELECT Name FROM singer ORDER BY Birth_Year DESC"),
        ("SELECT Name FROM singer", ""),
        ("SELECT Nothing FROM singer", "SELECT Name FROM singer"),
        ("SELECT Name FROM singer", "SELECT Nme FROM singer"),
    ]
    with connect(str(duck)) as db:
        verdicts = execution_verdicts(db, pairs, timeout_s=10)
    assert [v.exec for v in verdicts] == [1, 1, 1, 0, 0, 0, 0]
    assert verdicts[4].error == "empty prediction" and verdicts[5].gold_error and verdicts[6].error
    report = evaluate([GoldExample(sql=g, db_id="singer") for g, _ in pairs], [p for _, p in pairs],
                      spider_dir / "database", etype="exec", workers=1, cache_dir=False)
    assert [e.exec for e in report.examples] == [v.exec for v in verdicts]
    assert [bool(e.gold_error) for e in report.examples] == [bool(v.gold_error) for v in verdicts]
