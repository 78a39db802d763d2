"""PostgreSQL and MariaDB for real: Spider databases loaded into the local servers reflect to the same schema,
answer the same queries with the same results as SQLite, refuse every write, and stop runaway queries."""

from __future__ import annotations

import decimal
import os
import time
from pathlib import Path
from typing import Any

import pytest

from sqldistill.db import connect, gold_order_matters, reflect, same_result

DATABASES = ["singer", "network_1"]
ENGINES = ["postgresql", "mysql"]

PORTABLE_QUERIES = {
    "singer": [
        "SELECT count(*) FROM singer",
        "SELECT Name FROM singer ORDER BY Net_Worth_Millions ASC",
        "SELECT Birth_Year, Citizenship FROM singer",
        "SELECT Name FROM singer WHERE Citizenship != 'France'",
        "SELECT Name FROM singer WHERE Birth_Year = 1948 OR Birth_Year = 1949",
        "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 1",
        "SELECT Citizenship, COUNT(*) FROM singer GROUP BY Citizenship",
        "SELECT Citizenship, max(Net_Worth_Millions) FROM singer GROUP BY Citizenship",
        "SELECT T2.Title, T1.Name FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID",
        "SELECT DISTINCT T1.Name FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID WHERE T2.Sales > 300000",
        "SELECT T1.Name FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID GROUP BY T1.Name "
        "HAVING COUNT(*) > 1",
        "SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM song)",
        "SELECT Citizenship FROM singer WHERE Birth_Year < 1945 INTERSECT SELECT Citizenship FROM singer "
        "WHERE Birth_Year > 1955",
        "SELECT Name FROM singer WHERE Net_Worth_Millions > (SELECT avg(Net_Worth_Millions) FROM singer)",
        "SELECT Name FROM singer WHERE Birth_Year BETWEEN 1940 AND 1950 ORDER BY Name",
    ],
    "network_1": [
        "SELECT count(*) FROM Highschooler",
        "SELECT name, grade FROM Highschooler",
        "SELECT grade FROM Highschooler WHERE name = 'Kyle'",
        "SELECT name FROM Highschooler WHERE grade = 10",
        "SELECT grade, count(*) FROM Highschooler GROUP BY grade",
        "SELECT student_id, count(*) FROM Friend GROUP BY student_id",
        "SELECT T2.name FROM Friend AS T1 JOIN Highschooler AS T2 ON T1.student_id = T2.id WHERE T2.grade > 10",
        "SELECT id FROM Highschooler EXCEPT SELECT student_id FROM Friend",
        "SELECT student_id FROM Friend INTERSECT SELECT liked_id FROM Likes",
        "SELECT name FROM Highschooler WHERE id IN (SELECT student_id FROM Friend INTERSECT SELECT student_id FROM Likes)",
        "SELECT min(grade) FROM Highschooler WHERE id NOT IN (SELECT T1.student_id FROM Friend AS T1)",
        "SELECT T2.name, count(*) FROM Likes AS T1 JOIN Highschooler AS T2 ON T1.student_id = T2.id "
        "GROUP BY T1.student_id, T2.name",
    ],
}

WRITES = [
    "DROP TABLE {t}",
    "DELETE FROM {t}",
    "UPDATE {t} SET {c} = NULL",
    "INSERT INTO {t} ({c}) VALUES (12345)",
    "CREATE TABLE sqldistill_evil (a int)",
    "ALTER TABLE {t} ADD COLUMN evil int",
    "TRUNCATE TABLE {t}",
]


def _servers_required() -> bool:
    return os.environ.get("SQLDISTILL_REQUIRE_SERVERS") == "1"


@pytest.fixture(scope="module")
def loaded(spider_dir: Path) -> dict[tuple[str, str], str]:
    from tests.helpers.servers import load_mysql, load_postgres

    urls: dict[tuple[str, str], str] = {}
    for engine, load in (("postgresql", load_postgres), ("mysql", load_mysql)):
        for db_id in DATABASES:
            try:
                urls[(engine, db_id)] = load(spider_dir / "database" / db_id / f"{db_id}.sqlite",
                                             f"sqldistill_t_{db_id}")
            except Exception as err:  # server down
                if _servers_required():
                    raise
                pytest.skip(f"{engine} server unavailable: {err}")
    return urls


def _norm(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        vals = []
        for v in row:
            if isinstance(v, decimal.Decimal):
                v = float(v)
            if isinstance(v, float):
                v = round(v, 4)
            vals.append(v)
        out.append(tuple(vals))
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("db_id", DATABASES)
def test_reflects_to_the_same_schema(loaded, spider_dir: Path, engine: str, db_id: str) -> None:
    lite = reflect(spider_dir / "database" / db_id / f"{db_id}.sqlite", samples=0)
    server = reflect(loaded[(engine, db_id)], samples=3)
    assert server.dialect == engine

    def shape(schema):
        return {
            t.name.lower(): (
                [c.name.lower() for c in t.columns],
                sorted(c.lower() for c in t.primary_key),
                sorted((tuple(x.lower() for x in fk.columns), fk.ref_table.lower(),
                        tuple(x.lower() for x in fk.ref_columns)) for fk in t.foreign_keys),
                t.row_count,
            )
            for t in schema.tables
        }

    assert shape(server) == shape(lite)
    assert all(c.samples for t in server.tables if t.row_count for c in t.columns)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("db_id", DATABASES)
def test_same_results_as_sqlite(loaded, spider_dir: Path, engine: str, db_id: str) -> None:
    with connect(spider_dir / "database" / db_id / f"{db_id}.sqlite") as lite, connect(loaded[(engine, db_id)]) as db:
        for sql in PORTABLE_QUERIES[db_id]:
            want, got = lite.execute(sql, max_rows=None), db.execute(sql, max_rows=None)
            assert want.ok and got.ok, (sql, want.error, got.error)
            assert want.rows, sql  # a query returning nothing would prove little
            assert same_result(_norm(want.rows), _norm(got.rows), gold_order_matters(sql)), sql


def _fingerprint_data(db) -> list[Any]:
    return [db.execute(f"SELECT count(*) FROM {t}").rows for t in ("Highschooler", "Friend", "Likes")]


@pytest.mark.parametrize("engine", ENGINES)
def test_writes_are_refused_by_the_connection_itself(loaded, engine: str) -> None:
    with connect(loaded[(engine, "network_1")]) as db:
        before = (_fingerprint_data(db), reflect(db).fingerprint)
        for template in WRITES:
            sql = template.format(t="Highschooler", c="grade")
            assert db.execute(sql).error_kind == "refused", sql  # the allowlist
            # and with the allowlist bypassed, the engine refuses on its own:
            raw = db._execute(sql, 5.0, 10, time.perf_counter())
            assert raw.error_kind == "refused", (sql, raw.error)
        assert (_fingerprint_data(db), reflect(db).fingerprint) == before


@pytest.mark.parametrize("engine", ENGINES)
def test_runaway_query_times_out(loaded, engine: str) -> None:
    runaway = ("SELECT count(*) FROM Highschooler a, Highschooler b, Highschooler c, Highschooler d, "
               "Highschooler e, Highschooler f, Highschooler g, Highschooler h")
    with connect(loaded[(engine, "network_1")]) as db:
        started = time.perf_counter()
        res = db.execute(runaway, timeout_s=1.0)
        took = time.perf_counter() - started
        assert res.error_kind == "timeout", res
        assert took < 1.0 + 5.0, took  # stopped: unstopped, this query runs for hours
        assert db.execute("SELECT count(*) FROM Highschooler").rows[0][0] == 16


def test_unreachable_server_is_one_clear_error() -> None:
    from sqldistill.errors import ConnectionFailed

    with pytest.raises(ConnectionFailed, match="Cannot connect"):
        connect("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    with pytest.raises(ConnectionFailed, match="Cannot connect"):
        connect("mysql+pymysql://nobody@127.0.0.1:1/nothing")
