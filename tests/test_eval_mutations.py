"""Near-miss mutations: one plausible mistake each, never the query itself, and none that cannot change a result."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sqldistill.db import reflect
from sqldistill.eval.mutations import canonical_sql, mutate
from sqldistill.records import Schema


@pytest.fixture()
def schema(tmp_path: Path) -> Schema:
    path = tmp_path / "s.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE dept (dept_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE emp (emp_id INTEGER PRIMARY KEY, name TEXT, age INT, dept_id INTEGER NOT NULL
                          REFERENCES dept (dept_id));
        """
    )
    conn.close()
    return reflect(str(path), samples=0)


def kinds(sql: str, schema: Schema) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in mutate(sql, schema):
        out.setdefault(m.kind, []).append(m.sql)
    return out


def test_each_kind_of_mistake(schema: Schema) -> None:
    sql = ("SELECT T1.name, count(*) FROM dept AS T1 JOIN emp AS T2 ON T1.dept_id = T2.dept_id "
           "WHERE T2.age > 30 AND T2.name LIKE '%a%' GROUP BY T1.name ORDER BY count(*) DESC LIMIT 3")
    found = kinds(sql, schema)
    assert {"comparison", "drop_condition", "and_or", "limit", "order", "join", "group_by", "literal"} <= set(found)
    assert any("T2.age >= 30" in m for m in found["comparison"])
    assert any("LIMIT 4" in m for m in found["limit"]) and any("LIMIT 2" in m for m in found["limit"])
    assert any("GROUP BY T1.dept_id" in m for m in found["group_by"])
    everything = [m for ms in found.values() for m in ms]
    assert canonical_sql(sql) not in everything and len(set(everything)) == len(everything)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM emp",  # one aggregate row
        "SELECT emp_id, name FROM emp",  # the key makes rows distinct
        "SELECT name FROM emp ORDER BY age LIMIT 1",  # one row
        "SELECT dept_id, name FROM dept WHERE dept_id IN (SELECT dept_id FROM emp)",  # key; IN ignores duplicates
        "SELECT T2.emp_id FROM dept AS T1 JOIN emp AS T2 ON T1.dept_id = T2.dept_id",  # to-one join keeps keys unique
        "SELECT dept_id, count(*) FROM emp GROUP BY dept_id",  # one row per selected group
    ],
)
def test_no_distinct_mutant_where_distinct_changes_nothing(schema: Schema, sql: str) -> None:
    assert "distinct" not in kinds(sql, schema)


def test_left_join_only_where_it_can_matter(schema: Schema) -> None:
    # emp.dept_id is a NOT NULL foreign key: every employee has its department, LEFT JOIN changes nothing.
    child_to_parent = "SELECT T2.name FROM emp AS T1 JOIN dept AS T2 ON T1.dept_id = T2.dept_id"
    assert not any("LEFT JOIN" in m for m in kinds(child_to_parent, schema).get("join", []))
    parent_to_child = "SELECT T1.name FROM dept AS T1 JOIN emp AS T2 ON T1.dept_id = T2.dept_id"
    assert any("LEFT JOIN" in m for m in kinds(parent_to_child, schema)["join"])
    filtered = parent_to_child + " WHERE T2.age > 3"  # the filter drops the NULL rows again
    assert not any("LEFT JOIN" in m for m in kinds(filtered, schema).get("join", []))


def test_unreadable_sql_has_no_mutants(schema: Schema) -> None:
    assert mutate("SELEC nothing FROM (", schema) == []
    assert len(mutate("SELECT name FROM emp WHERE age > 3", None, limit=2)) == 2
