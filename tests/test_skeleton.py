"""Normal form, template and skeleton of SQL, as data: (sql, expected) rows checked one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqldistill.sql.skeleton import NORMALISATION, normalise, skeleton, template

SKELETONS = [
    ("SELECT count(*) FROM head WHERE age  >  56", "select count(*) from t where c > v"),
    ("select Name from singer where Citizenship = \"France\";", "select c from t where c = v"),
    ("SELECT T1.name FROM singer AS T1 JOIN song AS T2 ON T1.singer_id = T2.singer_id WHERE T2.sales > 10",
     "select c from t join t on c = c where c > v"),
    ("SELECT t1.name FROM singer t1 INNER JOIN song t2 ON t1.id = t2.sid", "select c from t join t on c = c"),
    ("SELECT name FROM people WHERE id NOT IN (SELECT people_id FROM poker_player)",
     "select c from t where c not in (select c from t)"),
    ("SELECT a FROM t WHERE b <> 'x' AND c LIKE '%y%' OR d BETWEEN 1 AND -2",
     "select c from t where c != v and c like v or c between v and v"),
    ("SELECT a FROM t WHERE b IN (\"x\", \"y\")", "select c from t where c in (v, v)"),
    ("SELECT name FROM t ORDER BY age ASC LIMIT 3", "select c from t order by c limit v"),
    ("SELECT name FROM t ORDER BY age DESC LIMIT 1", "select c from t order by c desc limit v"),
    ("SELECT city FROM e GROUP BY city HAVING count(*) >= 2", "select c from t group by c having count(*) >= v"),
    ("SELECT a FROM t WHERE x = 1 INTERSECT SELECT a FROM t WHERE y = 2",
     "select c from t where c = v intersect select c from t where c = v"),
    ("SELECT name FROM t WHERE age > (SELECT avg(age) FROM t)", "select c from t where c > (select avg(c) from t)"),
    ("SELECT DISTINCT (name) FROM t", "select distinct c from t"),
    ("SELECT count(DISTINCT T2.x), T1.* FROM a AS T1 JOIN b AS T2 ON T1.k = T2.k",
     "select count(distinct c), * from t join t on c = c"),
    # words that are keywords elsewhere (date, match, year) are names here
    ("SELECT date, year FROM match WHERE time = 1", "select c, c from t where c = v"),
]


@pytest.mark.parametrize(("sql", "expected"), SKELETONS)
def test_skeleton(sql: str, expected: str) -> None:
    assert skeleton(sql) == expected


def test_template_keeps_names_and_resolves_aliases() -> None:
    sql = "SELECT T1.Name FROM singer AS T1 JOIN song AS T2 ON T1.id = T2.sid WHERE T2.Sales > 10"
    assert template(sql) == "select singer.name from singer join song on singer.id = song.sid where song.sales > v"
    assert template(sql.replace("10", "99")) == template(sql)
    assert template(sql.replace("Sales", "Rank")) != template(sql)


def test_normalise_is_the_duplicate_key() -> None:
    a = "SELECT name FROM singer WHERE country = \"France\""
    b = "select  NAME\nfrom Singer where Country = 'France';"
    assert normalise(a) == normalise(b) == "select name from singer where country = 'France'"
    assert normalise(a) != normalise(a.replace("France", "Spain"))
    assert normalise("SELECT a FROM t WHERE b = 'it''s'") == "select a from t where b = 'it''s'"


def test_total_on_any_text() -> None:
    for text in ("", "not sql at all", "SELECT 'unterminated", "SELECT (((", "DROP TABLE x"):
        assert isinstance(skeleton(text), str)


def test_whole_query_log_has_clean_skeletons(spider_dir: Path) -> None:
    """Every query of the real log gets a skeleton made of keywords, operators, t, c and v only."""
    allowed = set(["select", "from", "where", "join", "on", "group", "by", "having", "order", "limit", "desc", "distinct", "and", "or", "not", "in", "like", "between", "intersect", "union", "except", "count", "sum", "avg", "min", "max", "t", "c", "v", "=", "!=", "<", ">", "<=", ">=", "(", ")", ",", "*", "-", "+", "/", "is", "null", "left", "cross", "natural", "outer", "right"])
    for line in (spider_dir / "train_gold.sql").read_text(encoding="utf-8").splitlines():
        sql = line.rsplit("\t", 1)[0]
        words = skeleton(sql).replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()
        assert set(words) <= allowed, (sql, set(words) - allowed)
    assert "t" in NORMALISATION and "v" in NORMALISATION
