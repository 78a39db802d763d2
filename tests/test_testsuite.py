"""Test-suite building: neighbours keep the schema and foreign keys, tell near misses apart, never fail the gold,
and TS accuracy never exceeds EX."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sqldistill.db import reflect
from sqldistill.eval import build_testsuite, evaluate
from sqldistill.eval.loaders import GoldExample
from sqldistill.eval.perturb import perturb
from sqldistill.eval.suite_queries import sound_rewrites


def ddl(path: Path | str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    finally:
        conn.close()


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    """Prices never sit on 10, names never repeat, every category has items: EX cannot see those mistakes."""
    path = tmp_path / "dbs" / "shop" / "shop.sqlite"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE category (cat_id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        CREATE TABLE item (item_id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL,
                           cat_id INTEGER NOT NULL REFERENCES category (cat_id));
        INSERT INTO category VALUES (1, 'food'), (2, 'tools'), (3, 'toys');
        """
    )
    conn.executemany("INSERT INTO item VALUES (?, ?, ?, ?)",
                     [(i, f"item{i}", [3.5, 7.0, 12.0, 15.5][i % 4], 1 + i % 3) for i in range(1, 13)])
    conn.commit()
    conn.close()
    return path


QUERIES = [
    "SELECT name FROM item WHERE price > 10",
    "SELECT count(*) FROM item GROUP BY name",
    "SELECT T1.label, count(*) FROM category AS T1 JOIN item AS T2 ON T1.cat_id = T2.cat_id GROUP BY T1.cat_id",
]
NEAR_MISSES = [
    ("SELECT name FROM item WHERE price > 10", "SELECT name FROM item WHERE price >= 10"),
    ("SELECT count(*) FROM item GROUP BY name", "SELECT count(*) FROM item GROUP BY item_id"),
]


def test_built_suite_catches_what_ex_cannot(shop: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    report = build_testsuite(str(shop), suite, n=4, queries=QUERIES, candidates=60, seed=1)
    assert len(report.neighbours) == 4 and report.foreign_key_violations == 0
    assert (suite / "shop" / "testsuite.json").is_file()
    for path in report.neighbours:
        assert ddl(path) == ddl(shop)  # the same tables, keys and foreign keys, verbatim
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.close()
    gold = [GoldExample(g, "shop") for g, _ in NEAR_MISSES]
    res = evaluate(gold, [p for _, p in NEAR_MISSES], shop.parent.parent, testsuite=suite, etype="exec",
                   workers=1, cache_dir=False)
    assert [(e.exec, e.ts) for e in res.examples] == [(1, 0), (1, 0)]
    selfcheck = evaluate([GoldExample(q, "shop") for q in QUERIES], QUERIES, shop.parent.parent, testsuite=suite,
                         etype="exec", workers=1, cache_dir=False)
    assert all(e.ts == 1 for e in selfcheck.examples)


def test_values_come_from_the_column_or_the_queries(shop: Path, tmp_path: Path) -> None:
    report = build_testsuite(str(shop), tmp_path / "suite", n=3, queries=["SELECT name FROM item WHERE price > 10"],
                             candidates=30)
    allowed = {3.5, 7.0, 12.0, 15.5, 10, 9, 11, None}  # the column's values, the literal and its neighbours
    for path in report.neighbours:
        conn = sqlite3.connect(path)
        prices = {r[0] for r in conn.execute("SELECT price FROM item")}
        labels = {r[0] for r in conn.execute("SELECT label FROM category")}
        conn.close()
        assert prices <= allowed and labels <= {"food", "tools", "toys"}


def test_schema_only_suite_and_the_cli(shop: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sqldistill.cli import cli

    out = tmp_path / "suite"
    res = CliRunner().invoke(cli, ["testsuite", "build", str(shop), "--out", str(out), "-n", "2",
                                   "--candidates", "20", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["queries"] > 5 and len(doc["neighbours"]) == 2 and doc["foreign_key_violations"] == 0
    assert sorted(p.name for p in (out / "shop").iterdir()) == ["shop_ts01.sqlite", "shop_ts02.sqlite",
                                                                 "testsuite.json"]
    gold, pred, per_example = tmp_path / "gold.sql", tmp_path / "pred.sql", tmp_path / "out.jsonl"
    gold.write_text("SELECT name FROM item WHERE price > 10\tshop\n")
    pred.write_text("SELECT name FROM item WHERE price > 10\n")
    scored = CliRunner().invoke(cli, ["eval", "--gold", str(gold), "--pred", str(pred), "--db-dir",
                                      str(shop.parent.parent), "--testsuite", str(out), "--etype", "exec",
                                      "--out", str(per_example), "--no-cache"])
    assert scored.exit_code == 0, scored.output
    assert next(line for line in scored.output.splitlines() if line.startswith("test suite")).split()[-1] == "1.000"
    assert json.loads(per_example.read_text())["ts"] == 1
    bad = CliRunner().invoke(cli, ["testsuite", "build", str(tmp_path / "nope.sqlite"), "--out", str(out)])
    assert bad.exit_code == 2 and "No database file" in bad.output


def test_ts_never_exceeds_ex_on_spider(spider_dir: Path, tmp_sqlite_copy: Callable[[str], Path],
                                       tmp_path: Path) -> None:
    db_id = "employee_hire_evaluation"
    original = tmp_sqlite_copy(db_id)
    before = original.read_bytes()
    data = [x for x in json.loads((spider_dir / "dev_open.json").read_text()) if x["db_id"] == db_id]
    golds = list(dict.fromkeys(x["query"] for x in data))
    suite = tmp_path / "suite"
    report = build_testsuite(str(original), suite, n=5, queries=golds, candidates=60)
    assert original.read_bytes() == before
    assert report.caught_by_suite > 0 and report.foreign_key_violations == 0
    schema = reflect(str(original), samples=0)
    rng = random.Random(3)
    gold = [GoldExample(x["query"], db_id) for x in data] * 3
    preds = [perturb(g.sql, schema, rng, golds) for g in gold]
    res = evaluate(gold, preds, original.parent.parent, testsuite=suite, etype="exec", workers=2, cache_dir=False)
    assert all(e.ts is not None and e.ts <= (e.exec or 0) for e in res.examples)
    assert any(e.exec == 1 and e.ts == 0 for e in res.examples)
    assert res.scores["all"]["ts"] <= res.scores["all"]["exec"]
    selfcheck = evaluate([GoldExample(g, db_id) for g in golds], golds, original.parent.parent, testsuite=suite,
                         etype="exec", workers=1, cache_dir=False)
    assert all(e.ts == 1 for e in selfcheck.examples)
    # Correct rewrites (MAX() for ORDER BY .. DESC LIMIT 1, ...) that EX accepts are not rejected by the suite.
    pairs = [(g, r) for g in golds for r in sound_rewrites(g, schema)]
    assert len(pairs) >= 4
    rewritten = evaluate([GoldExample(g, db_id) for g, _ in pairs], [r for _, r in pairs], original.parent.parent,
                         testsuite=suite, etype="exec", workers=1, cache_dir=False)
    assert all(e.ts == 1 for e in rewritten.examples if e.exec == 1)
    assert sum(e.exec == 1 for e in rewritten.examples) >= 4


@pytest.mark.postgres
def test_suite_for_a_postgresql_database(spider_dir: Path, tmp_path: Path) -> None:
    from tests.helpers.servers import load_postgres

    try:
        url = load_postgres(spider_dir / "database" / "singer" / "singer.sqlite", "sqldistill_t_ts_singer")
    except Exception as err:  # server down
        pytest.skip(f"postgresql unavailable: {err}")
    queries = ["SELECT name FROM singer WHERE net_worth_millions > 10", "SELECT citizenship, COUNT(*) FROM singer "
               "GROUP BY citizenship", "SELECT s.name FROM singer AS s JOIN song AS t ON s.singer_id = t.singer_id"]
    report = build_testsuite(url, tmp_path / "suite", n=2, queries=queries, candidates=20)
    assert report.queries == 3 and len(report.neighbours) == 2 and report.foreign_key_violations == 0
    for path in report.neighbours:
        neighbour = reflect(path, samples=0)
        assert {t.name for t in neighbour.tables} == {"singer", "song"}
        assert neighbour.table("song") is not None and neighbour.table("song").row_count > 0  # type: ignore[union-attr]
    assert report.caught_by_suite + report.caught_by_original > 0
