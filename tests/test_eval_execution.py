"""The official preprocessing before execution, the executor's timeouts and row caps, and the gold cache."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from sqldistill.eval.gold_cache import GoldCache
from sqldistill.spider.execution import (
    Denotation,
    Executor,
    prepare_for_execution,
    remove_distinct,
    replace_current_year,
)


@pytest.fixture()
def db(tmp_path: Path) -> str:
    path = tmp_path / "t.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT, name TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, i % 3, f"n{i % 5}") for i in range(2000)])
    conn.commit()
    conn.close()
    return str(path)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT DISTINCT name FROM t", "SELECT  name FROM t"),
        ("select count(distinct name) from t", "select count( name) from t"),  # inside aggregates too
        ("SELECT Distinct a FROM t", "SELECT  a FROM t"),
        ("SELECT distinct_count FROM t", "SELECT distinct_count FROM t"),  # a name, not the keyword
        ("SELECT 'distinct' FROM t", "SELECT 'distinct' FROM t"),
        ("SELECT 1; SELECT 2", "SELECT 1; "),  # only the first statement survives
    ],
)
def test_remove_distinct_follows_the_official_token_rule(sql: str, expected: str) -> None:
    assert remove_distinct(sql) == expected


def test_remove_distinct_refuses_nothing_to_parse() -> None:
    with pytest.raises(ValueError):
        remove_distinct("")


def test_spaced_operators_are_joined_and_distinct_can_be_kept() -> None:
    assert prepare_for_execution("SELECT DISTINCT a FROM t WHERE b > = 1 AND c ! = 2", keep_distinct=True) == \
        "SELECT DISTINCT a FROM t WHERE b >= 1 AND c != 2"
    assert prepare_for_execution("SELECT a FROM t WHERE b < = 1", keep_distinct=False) == "SELECT a FROM t WHERE b <= 1"


def test_current_year_becomes_2020() -> None:
    assert replace_current_year("SELECT year(curdate( )) - 1") == "SELECT 2020- 1"


def test_executor_stops_a_runaway_query_at_the_timeout(db: str) -> None:
    executor = Executor(timeout_s=0.5)
    started = time.perf_counter()
    res = executor.run(db, "SELECT count(*) FROM t AS a, t AS b, t AS c")
    assert time.perf_counter() - started < 3.0
    assert res.kind == "timeout" and res.rows is None
    assert executor.run(db, "SELECT count(*) FROM t").rows == [(2000,)]  # the connection still works


def test_executor_row_cap_marks_longer_results(db: str) -> None:
    executor = Executor(timeout_s=5)
    started = time.perf_counter()
    res = executor.run(db, "SELECT a.id FROM t AS a, t AS b, t AS c", max_rows=3)
    assert res.kind == "too_many_rows" and time.perf_counter() - started < 2.0
    assert executor.run(db, "SELECT v FROM t WHERE id < 3", max_rows=3).rows == [(0,), (1,), (2,)]


def test_executor_never_writes(db: str) -> None:
    executor = Executor(timeout_s=5)
    res = executor.run(db, "DELETE FROM t")
    assert not res.ok
    assert executor.run(db, "SELECT count(*) FROM t").rows == [(2000,)]


def test_gold_cache_round_trip_keeps_types(db: str, tmp_path: Path) -> None:
    cache = GoldCache(tmp_path / "cache")
    den = Denotation([(1, 1.0, "a", None, b"\x00")])
    cache.put(db, "q", den)
    cache.put(db, "slow", Denotation(None, "stopped", "timeout"))
    cache.save()
    again = GoldCache(tmp_path / "cache")
    got = again.get(db, "q")
    assert got is not None and got.rows == den.rows
    assert [type(v) for v in got.rows[0]] == [int, float, str, type(None), bytes]
    assert again.get(db, "slow") is None  # timeouts depend on the machine: never cached
    assert (again.hits, again.misses) == (1, 1)


def test_gold_cache_is_keyed_by_database_content(db: str, tmp_path: Path) -> None:
    cache = GoldCache(tmp_path / "cache")
    cache.put(db, "q", Denotation([(1,)]))
    cache.save()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO t VALUES (5000, 1, 'x')")
    conn.commit()
    conn.close()
    assert GoldCache(tmp_path / "cache").get(db, "q") is None


def test_disabled_cache_stores_nothing(db: str) -> None:
    cache = GoldCache(None)
    cache.put(db, "q", Denotation([(1,)]))
    cache.save()
    assert cache.get(db, "q") is None


def test_fast_distinct_removal_equals_the_grouped_parse() -> None:
    # The official rule re-joins the leaf tokens of sqlparse.parse(sql)[0]; we skip sqlparse's grouping.
    import random

    import sqlparse

    base = ["SELECT DISTINCT T1.a FROM t AS T1 JOIN u ON T1.x = u.y WHERE b = \"q;r\" ORDER BY c LIMIT 1",
            "select count( distinct name), max(x) from t group by y having count(*) > 1; select 2",
            "/* note */ SELECT distinct(a) FROM t -- trailing\n", "SELECT 'it''s', `odd name` FROM [t]"]
    rng = random.Random(0)
    samples = list(base)
    for _ in range(300):
        text = rng.choice(base)
        cut = rng.randrange(len(text) + 1)
        samples.append(text[:cut] + rng.choice([";", "'", '"', "(", " DISTINCT ", "--", "\n", ")"]) + text[cut:])
    for sql in samples:
        expected = "".join(t.value for t in sqlparse.parse(sql)[0].flatten() if t.value.lower() != "distinct")
        assert remove_distinct(sql) == expected, sql
