"""evaluate(): EX/EM/hardness per example on real SQLite databases, bad predictions, runaways, pool and cache."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from sqldistill.errors import DatabaseNotFound, DataError
from sqldistill.eval import evaluate
from sqldistill.eval.loaders import GoldExample


@pytest.fixture()
def shop_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dbs"
    (root / "shop").mkdir(parents=True)
    conn = sqlite3.connect(root / "shop" / "shop.sqlite")
    conn.executescript(
        """
        CREATE TABLE category (cat_id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        CREATE TABLE item (item_id INTEGER PRIMARY KEY, name TEXT, price REAL, cat_id INTEGER NOT NULL,
                           FOREIGN KEY (cat_id) REFERENCES category (cat_id));
        INSERT INTO category VALUES (1, 'food'), (2, 'tools');
        """
    )
    conn.executemany("INSERT INTO item VALUES (?, ?, ?, ?)",
                     [(i, f"item{i % 40}", float(i % 17), 1 + i % 2) for i in range(1, 3001)])
    conn.commit()
    conn.close()
    return root


GOLD = [
    GoldExample("SELECT name, price FROM item WHERE item_id < 4", "shop"),
    GoldExample("SELECT DISTINCT name FROM item WHERE item_id < 50", "shop"),
    GoldExample("SELECT count(*) FROM item WHERE price > 10", "shop"),
    GoldExample("SELECT name FROM item ORDER BY price DESC, item_id LIMIT 3", "shop"),
    GoldExample("SELECT count(*) FROM item", "shop"),
    GoldExample("SELECT label FROM category WHERE cat_id = 1", "shop"),
    GoldExample("SELECT count(*) FROM item", "shop"),
    GoldExample("SELECT count(*) FROM item", "shop"),
]
PREDS = [
    "SELECT price, name FROM item WHERE item_id < 4",  # columns permuted: same result
    "SELECT name FROM item WHERE item_id < 50",  # DISTINCT dropped: the official rule removes it from both
    "SELECT count(*) FROM item WHERE price >= 10",  # a near miss the data reveals
    "SELECT name FROM item ORDER BY price ASC, item_id LIMIT 3",  # wrong order
    "",  # empty prediction: wrong, and the next example still lines up
    "SELECT label FROM category WHERE cat_id = value ",  # the placeholder becomes 1 before running
    "DELETE FROM item",  # a write: refused, wrong
    "SELECT count(*) FROM item AS a, item AS b, item AS c",  # a runaway: stopped at the timeout
]


def test_verdicts_per_example(shop_dir: Path) -> None:
    report = evaluate(GOLD, PREDS, shop_dir, workers=1, timeout_s=1.0, cache_dir=False)
    assert [e.exec for e in report.examples] == [1, 1, 0, 0, 0, 1, 0, 0]
    assert [e.exact for e in report.examples] == [1, 1, 0, 0, 0, 1, 0, 1 - 1]
    errors = [e.error for e in report.examples]
    assert errors[4] == "empty prediction"
    assert errors[6] and errors[7] and "timeout" in errors[7]
    assert all(e.hardness in {"easy", "medium", "hard", "extra"} for e in report.examples)
    assert report.scores["all"]["exec"] == pytest.approx(3 / 8)
    assert report.examples[3].hardness == "medium"


def test_the_placeholder_is_rewritten_wherever_it_stands(shop_dir: Path) -> None:
    # The official rewrite is a plain replace of "value" by "1": at the very end of a query it applies too,
    # and the prediction is scored exactly as the one written with 1.
    preds = ["SELECT label FROM category WHERE cat_id = value", "SELECT label FROM category WHERE cat_id = 1",
             "SELECT label FROM category WHERE cat_id = VALUE"]
    report = evaluate(GOLD[5:6] * 3, preds, shop_dir, workers=1, cache_dir=False)
    placeholder, literal, upper = report.examples
    assert (placeholder.exec, placeholder.exact) == (literal.exec, literal.exact)
    assert placeholder.error is None and placeholder.exact == 1
    # Upper case is left alone: "VALUE" is no column, so it neither runs nor parses.
    assert upper.exec == 0 and "no such column" in (upper.error or "") and upper.exact == 0


def test_keep_distinct_makes_distinct_count(shop_dir: Path) -> None:
    report = evaluate(GOLD[1:2], PREDS[1:2], shop_dir, workers=1, keep_distinct=True, cache_dir=False)
    assert report.examples[0].exec == 0


def test_runaway_costs_at_most_the_timeout(shop_dir: Path) -> None:
    started = time.perf_counter()
    report = evaluate(GOLD[-1:] * 2, [PREDS[-1], "SELECT a.name FROM item AS a, item AS b, item AS c"], shop_dir,
                      workers=1, timeout_s=1.0, cache_dir=False, etype="exec")
    assert time.perf_counter() - started < 1.0 + 2.0
    assert [e.exec for e in report.examples] == [0, 0]
    assert "timeout" in (report.examples[0].error or "")
    assert report.examples[1].error is None  # cut at one row past the gold's: wrong at once, no timeout


def test_pool_and_single_process_agree_and_cache_warms(shop_dir: Path, tmp_path: Path) -> None:
    gold, preds = GOLD[:4] * 5, PREDS[:4] * 5
    single = evaluate(gold, preds, shop_dir, workers=1, cache_dir=tmp_path / "c")
    assert single.cache_misses == len(gold) and single.cache_hits == 0
    pooled = evaluate(gold, preds, shop_dir, workers=2, cache_dir=tmp_path / "c")
    assert pooled.workers == 2 and pooled.cache_hits == len(gold)
    strip = [(e.index, e.exec, e.exact, e.hardness, e.error) for e in single.examples]
    assert strip == [(e.index, e.exec, e.exact, e.hardness, e.error) for e in pooled.examples]


def test_gold_that_fails_is_reported(shop_dir: Path) -> None:
    gold = [GoldExample("SELECT nope FROM item", "shop"), GoldExample("SELECT count(*) FROM item", "shop")]
    report = evaluate(gold, ["SELECT nope FROM item", "SELECT count(*) FROM item"], shop_dir, workers=1,
                      cache_dir=False, etype="exec")
    assert report.examples[0].exec == 0 and "no such column" in (report.examples[0].gold_error or "")
    assert report.examples[1].exec == 1
    assert report.gold_errors == 1 and "1 gold queries failed to execute" in report.notes[0]


def test_match_only_needs_no_execution(shop_dir: Path) -> None:
    report = evaluate(GOLD[:2], PREDS[:2], shop_dir, etype="match", workers=1)
    assert [e.exec for e in report.examples] == [None, None]
    assert [e.exact for e in report.examples] == [1, 1]
    assert "execution" not in report.table() and "exact match" in report.table()


def test_inputs_are_checked_before_running(shop_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="2 predictions for 1 gold"):
        evaluate(GOLD[:1], ["SELECT 1", "SELECT 2"], shop_dir)
    with pytest.raises(DatabaseNotFound, match="'elsewhere'"):
        evaluate([GoldExample("SELECT 1", "elsewhere")], ["SELECT 1"], shop_dir)
    with pytest.raises(DataError, match="Unknown evaluation type"):
        evaluate(GOLD[:1], PREDS[:1], shop_dir, etype="fast")


def test_jsonl_lines_carry_the_documented_fields(shop_dir: Path, tmp_path: Path) -> None:
    report = evaluate(GOLD, PREDS, shop_dir, workers=1, timeout_s=1.0, cache_dir=False)
    out = tmp_path / "per_example.jsonl"
    report.write_jsonl(out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(GOLD)
    assert {"index", "db_id", "hardness", "exec", "exact", "error"} <= set(rows[0])
    assert [r["index"] for r in rows] == list(range(len(GOLD)))


def test_gold_against_itself_on_spider_dev(spider_dir: Path) -> None:
    data = json.loads((spider_dir / "dev_open.json").read_text())
    gold = [GoldExample(x["query"], x["db_id"]) for x in data]
    report = evaluate(gold, [x["query"] for x in data], spider_dir / "database", workers=2, cache_dir=False)
    assert report.scores["all"]["exec"] == 1.0 and report.scores["all"]["exact"] == 1.0
    assert report.tables is not None and report.tables.endswith("tables.json")  # found beside the databases
    counts = {lv: report.scores[lv]["count"] for lv in ("easy", "medium", "hard", "extra")}
    assert sum(counts.values()) == len(data) and min(counts.values()) > 0


def test_bird_gold_with_difficulty_and_sql_beyond_the_spider_parser(shop_dir: Path, tmp_path: Path) -> None:
    bird = [
        {"question_id": 0, "db_id": "shop", "question": "q", "evidence": "", "difficulty": "simple",
         "SQL": "SELECT COUNT(*) FROM item WHERE price > 10"},
        {"question_id": 1, "db_id": "shop", "question": "q", "evidence": "price in dollars",
         "difficulty": "challenging", "SQL": "SELECT CAST(SUM(price) AS INTEGER) FROM `item`"},
    ]
    gold = tmp_path / "dev.json"
    gold.write_text(json.dumps(bird))
    pred = tmp_path / "predict_dev.json"
    pred.write_text(json.dumps({"0": "SELECT COUNT(*) FROM item WHERE price > 10\t----- bird -----\tshop",
                                "1": "SELECT CAST(SUM(price) AS INTEGER) FROM item\t----- bird -----\tshop"}))
    report = evaluate(gold, pred, shop_dir, workers=1, cache_dir=False)
    assert [e.exec for e in report.examples] == [1, 1]
    assert report.examples[1].hardness is None and report.examples[1].exact == 0
    assert report.examples[1].gold_unparsed and not report.examples[1].gold_error
    assert report.scores["all"]["count"] == 2 and report.scores["easy"]["count"] == 1
    assert report.by_difficulty is not None and list(report.by_difficulty) == ["simple", "challenging", "all"]
    assert "beyond the Spider parser" in report.notes[0] and "challenging" in report.table()
