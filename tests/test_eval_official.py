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
