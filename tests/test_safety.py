"""The read-only allowlist: refuses every kind of write on every dialect, accepts every real query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqldistill.errors import UnsafeSQL
from sqldistill.sql.safety import check_readonly, readonly_problem

DIALECTS = ["sqlite", "postgresql", "mysql", "duckdb"]

REFUSED = [
    "DROP TABLE t",
    "delete from t",
    "UPDATE t SET a = 1",
    "INSERT INTO t VALUES (1)",
    "create table x (a int)",
    "ALTER TABLE t ADD COLUMN b int",
    "TRUNCATE TABLE t",
    "SELECT 1; DROP TABLE t",
    "select a from t;; delete from t",
    "PRAGMA writable_schema = 1",
    "SET default_transaction_read_only = off",
    "COPY t TO '/tmp/x'",
    "SELECT * INTO newt FROM t",
    "SELECT * INTO OUTFILE '/tmp/x' FROM t",
    "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT load_file('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT load_extension('evil')",
    "SELECT writefile('/tmp/x', 'y')",
    "SELECT * FROM t FOR UPDATE",
    "EXPLAIN ANALYZE DELETE FROM t",
    "CALL p()",
    "GRANT ALL ON t TO public",
    "BEGIN",
    "COMMIT",
    "VACUUM",
    "",
    "   ;  ",
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", REFUSED)
def test_refused(sql: str, dialect: str) -> None:
    assert readonly_problem(sql, dialect) is not None
    with pytest.raises(UnsafeSQL, match="Refused"):
        check_readonly(sql, dialect)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_dialect_specific_writes(dialect: str) -> None:
    extra = {
        "sqlite": ["ATTACH DATABASE 'x.db' AS x", "DETACH x", "REPLACE INTO t VALUES (1)"],
        "duckdb": ["ATTACH 'x.db' AS x", "SELECT * FROM '/etc/passwd'", "INSTALL httpfs"],
        "postgresql": ["SELECT set_config('a', 'b', false)", "SELECT nextval('s')"],
        "mysql": ["SELECT sleep(100)", "LOCK TABLES t READ"],
    }[dialect]
    for sql in extra:
        assert readonly_problem(sql, dialect) is not None, sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select a from t;",
        "(SELECT 1)",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
        "SELECT a FROM t UNION SELECT b FROM u",
        "SELECT a FROM t EXCEPT SELECT b FROM u",
        "SELECT name FROM t WHERE note = 'drop table t; --'",
        "SELECT count(DISTINCT a), max(b) FROM t AS T1 JOIN u AS T2 ON T1.x = T2.y GROUP BY c HAVING count(*) > 2",
    ],
)
def test_accepted(sql: str) -> None:
    for dialect in DIALECTS:
        assert readonly_problem(sql, dialect) is None, dialect


def test_every_real_query_is_accepted(spider_dir: Path) -> None:
    """No false refusals on the 8,659 queries of the real query log nor the 375 dev questions."""
    queries = [line.split("\t")[0] for line in (spider_dir / "train_gold.sql").read_text().splitlines() if line.strip()]
    queries += [e["query"] for e in json.loads((spider_dir / "dev_open.json").read_text())]
    refused = [(q, readonly_problem(q, "sqlite")) for q in queries if readonly_problem(q, "sqlite")]
    assert len(queries) > 9000
    assert refused == []


def test_the_allowlist_and_the_other_readers_share_one_parse() -> None:
    """Execution-guided selection asks several questions of each candidate; the allowlist, its literals and
    its values read one cached tree per SQL string (whitespace around it aside) and dialect."""
    from sqldistill.sql.grounding import literals
    from sqldistill.sql.parsed import parsed, statements

    sql = "SELECT name FROM singer WHERE country = 'France' AND age > 40"
    assert readonly_problem(sql) is None
    trees, error = statements(sql)
    assert error is None and len(trees) == 1
    assert parsed(sql) is trees[0] and parsed(f"  {sql}\n") is trees[0]
    assert parsed(sql, "postgres") is not trees[0]
    assert ("France", True) in literals(sql) and ("40", False) in literals(sql)
    # several statements: refused by the allowlist, read as one Block like sqlglot.parse_one does
    multi = "SELECT 1; SELECT 2"
    assert "2 statements" in (readonly_problem(multi) or "")
    assert type(parsed(multi)).__name__ == "Block" and parsed(multi) is parsed(multi)
    # a parse error: the allowlist names it, the readers get None
    broken = "SELECT name FROM WHERE"
    assert statements(broken)[0] == () and statements(broken)[1]
    assert parsed(broken) is None
    assert "could not be parsed" in (readonly_problem(broken) or "")
