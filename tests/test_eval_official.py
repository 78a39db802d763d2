"""Agreement with the official evaluator, example by example, on recorded verdicts (tests/data/eval/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqldistill.eval import evaluate
from sqldistill.eval.loaders import GoldExample

FIXTURE = Path(__file__).parent / "data" / "eval" / "official_verdicts.jsonl"


@pytest.mark.parametrize("keep_distinct", [False, True])
def test_exec_exact_and_hardness_match_the_official_verdicts(spider_dir: Path, keep_distinct: bool,
                                                             tmp_path: Path) -> None:
    data = json.loads((spider_dir / "dev_open.json").read_text())
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    rows = [r for r in rows if r["keep"] == keep_distinct]
    assert len(rows) > 200
    gold = [GoldExample(data[r["i"]]["query"], data[r["i"]]["db_id"]) for r in rows]
    report = evaluate(gold, [r["pred"] for r in rows], spider_dir / "database",
                      tables=spider_dir / "tables.json", keep_distinct=keep_distinct, workers=2,
                      cache_dir=tmp_path / "cache")
    disagreements = [
        (r["pred"], (r["exec"], r["exact"], r["hardness"]), (e.exec, e.exact, e.hardness))
        for r, e in zip(rows, report.examples)
        if (r["exec"], r["exact"], r["hardness"]) != (e.exec, e.exact, e.hardness)
    ]
    assert not disagreements, disagreements[:5]
    # Both verdicts occur: the fixture can catch a scorer that says yes (or no) to everything.
    assert {r["exec"] for r in rows} == {0, 1} and {r["exact"] for r in rows} == {0, 1}


VALUE_CASES = Path(__file__).parent / "data" / "eval" / "value_placeholder.jsonl"


def _singers(folder: Path) -> Path:
    """A small concert database with a column and a table whose names contain ``value``."""
    import sqlite3

    path = folder / "singers" / "singers.sqlite"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INT, item_value REAL);
        CREATE TABLE item_values (id INTEGER PRIMARY KEY, singer_id INT REFERENCES singer(singer_id), amount REAL);
        INSERT INTO singer VALUES (1, 'Joe Sharp', 'Netherlands', 52, 1.5), (2, 'Timbaland', 'United States', 32, 2.0),
            (3, 'Justin Brown', 'France', 29, 0.5), (4, 'Rose White', 'France', 41, 3.0),
            (5, 'Top value', 'United States', 25, 1.0);
        INSERT INTO item_values VALUES (1, 1, 10.0), (2, 2, 20.0);"""
    )
    conn.commit()
    conn.close()
    return folder


def test_value_placeholder_cases_follow_the_official_rewrite(tmp_path: Path) -> None:
    """Each case's rewrite, EX and EM as the official code gives them (read in its source: the prediction's
    every lower-case ``value`` becomes ``1`` before it is executed and parsed; the gold is left alone)."""
    from sqldistill.spider.exact_match import plug_value_placeholder

    cases = [json.loads(line) for line in VALUE_CASES.read_text().splitlines()]
    assert [plug_value_placeholder(c["pred"]) for c in cases] == [c["rewritten"] for c in cases]
    db_dir = _singers(tmp_path)
    report = evaluate([GoldExample(c["gold"], "singers") for c in cases], [c["pred"] for c in cases], db_dir,
                      workers=1, cache_dir=False)
    got = [(c["case"], e.exec, e.exact if c["exact"] is not None else None) for c, e in zip(cases, report.examples)]
    assert got == [(c["case"], c["exec"], c["exact"]) for c in cases]
