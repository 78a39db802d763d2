"""Hardness against labels the official ``eval_hardness`` gave (tests/data/spider_rules/hardness_labels.json)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sqldistill.spider.hardness import count_component1, count_component2, count_others, hardness, hardness_of
from sqldistill.spider.parser import SpiderParseError, SpiderSchema, parse_spider_sql, schema_from_sqlite

DATA = Path(__file__).parent / "data" / "spider_rules"


@pytest.fixture()
def tiny_db(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE Singer (Singer_ID INTEGER PRIMARY KEY, Name TEXT, Age INTEGER, Country TEXT);"
            "CREATE TABLE Song (Song_ID INTEGER PRIMARY KEY, Singer_ID INTEGER, Title TEXT, Sales REAL);"
        )
    return path


def gold_queries(spider_dir: Path) -> dict[str, list[tuple[str, str]]]:
    dev = json.loads((spider_dir / "dev_open.json").read_text())
    train = [line.split("\t") for line in (spider_dir / "train_gold.sql").read_text().splitlines()]
    return {"dev": [(x["query"], x["db_id"]) for x in dev], "train": [(q, db) for q, db in train]}


def checked_against_labels(spider_dir: Path) -> int:
    """Compare every gold query whose database is in ``spider_dir`` with its official label; return how many."""
    labels = json.loads((DATA / "hardness_labels.json").read_text())
    letter = {name: char for char, name in labels["letters"].items()}
    checked = 0
    for source, queries in gold_queries(spider_dir).items():
        expected = labels[source]
        assert len(expected) == len(queries)
        for (query, db_id), want in zip(queries, expected, strict=True):
            path = spider_dir / "database" / db_id / f"{db_id}.sqlite"
            if want == "-":  # no database here, or a gold query the official parser rejects too
                if path.exists():
                    with pytest.raises(SpiderParseError):
                        hardness(query, path)
                continue
            if not path.exists():  # a database the bundled excerpt leaves out
                continue
            assert letter[hardness(query, path)] == want, query
            checked += 1
    return checked


def test_agrees_with_official_labels_on_the_bundled_gold_queries(spider_dir: Path) -> None:
    # every dev query (its 9 databases are bundled) and the training queries of the 5 bundled training databases
    assert checked_against_labels(spider_dir) > 375 + 100


def test_agrees_with_official_labels_on_every_gold_query(shared_spider_dir: Path) -> None:
    assert checked_against_labels(shared_spider_dir) == 375 + 8562


def test_em_fixture_golds_have_the_official_hardness() -> None:
    rows = [json.loads(line) for line in (DATA / "schemas.jsonl").read_text().splitlines()]
    schemas = {r["db_id"]: SpiderSchema.with_name_ids({t: tuple(c) for t, c in r["columns"].items()}) for r in rows}
    cases = [json.loads(line) for line in (DATA / "em_cases.jsonl").read_text().splitlines()]
    assert {c["hardness"] for c in cases} == {"easy", "medium", "hard", "extra"}
    for case in cases:
        assert hardness(case["gold"], schemas[case["db_id"]]) == case["hardness"], case["gold"]


@pytest.mark.parametrize(
    ("sql", "level", "counts"),
    [
        ("SELECT count(*) FROM singer", "easy", (0, 0, 0)),
        ("SELECT name , age FROM singer", "medium", (0, 0, 1)),
        ("SELECT name FROM singer WHERE age > 20 AND country = 'France'", "medium", (1, 0, 1)),
        ("SELECT name FROM singer WHERE country NOT IN (SELECT country FROM singer WHERE age > 30)", "hard", (1, 1, 0)),
        # Upstream counts "aggregates" by the first field of each element: an AND between HAVING conditions
        # and a NOT condition in WHERE each count as one, which lifts these two from easy to medium.
        ("SELECT count(*) FROM singer GROUP BY country HAVING age > 1 AND age < 5", "medium", (1, 0, 1)),
        ("SELECT count(*) FROM singer WHERE age NOT BETWEEN 1 AND 2", "medium", (1, 0, 1)),
        ("SELECT count(*) FROM singer WHERE age BETWEEN 1 AND 2", "easy", (1, 0, 0)),
        (
            "SELECT country , count(*) FROM singer GROUP BY country HAVING count(*) > 1 AND max(age) > 3 "
            "ORDER BY count(*) DESC LIMIT 1",
            "hard",
            (3, 0, 2),
        ),
        (
            "SELECT T1.name FROM singer AS T1 JOIN song AS T2 ON T1.singer_id = T2.singer_id "
            "WHERE T2.title LIKE '%love%' OR T2.sales > 10",
            "extra",
            (4, 0, 1),
        ),
        ("SELECT name FROM singer WHERE age > 20 INTERSECT SELECT name FROM singer WHERE age < 40", "hard", (1, 1, 0)),
    ],
)
def test_component_counts_and_level(tiny_db: Path, sql: str, level: str, counts: tuple[int, int, int]) -> None:
    parsed = parse_spider_sql(sql, schema_from_sqlite(tiny_db))
    assert (count_component1(parsed), count_component2(parsed), count_others(parsed)) == counts
    assert hardness_of(parsed) == level == hardness(sql, tiny_db)


def test_unparseable_gold_raises(tiny_db: Path) -> None:
    with pytest.raises(SpiderParseError):
        hardness("SELECT name FROM singer WHERE NOT age = 3", tiny_db)
