"""`sqldistill eval`: the official-style table, JSON, per-example JSONL, one-line errors, a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqldistill.cli import cli


@pytest.fixture()
def files(spider_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    data = [x for x in json.loads((spider_dir / "dev_open.json").read_text()) if x["db_id"] == "singer"]
    gold = tmp_path / "gold.sql"
    gold.write_text("".join(f"{x['query']}\t{x['db_id']}\n" for x in data))
    preds = [x["query"] for x in data]
    preds[0] = ""  # no prediction for the first example
    preds[1] = "SELECT count(*) FROM singer WHERE Age > 1"  # wrong
    pred = tmp_path / "pred.sql"
    pred.write_text("\n".join(preds) + "\n")
    return gold, pred


def test_table_and_per_example_output(files: tuple[Path, Path], spider_dir: Path, tmp_path: Path) -> None:
    gold, pred = files
    out = tmp_path / "per_example.jsonl"
    res = CliRunner().invoke(cli, ["eval", "--gold", str(gold), "--pred", str(pred), "--db-dir",
                                   str(spider_dir / "database"), "--out", str(out), "--workers", "1",
                                   "--no-cache"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["easy", "medium", "hard", "extra", "all"]
    assert "EXECUTION ACCURACY" in res.output and "PARTIAL MATCHING F1" in res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 30 and rows[0]["error"] == "empty prediction" and rows[0]["exec"] == 0
    assert rows[1]["exec"] == 0 and rows[1]["exact"] == 0 and rows[2]["exec"] == 1
    n = len(rows)
    execution = next(line for line in lines if line.startswith("execution")).split()
    assert float(execution[-1]) == pytest.approx(round((n - 2) / n, 3))


def test_json_output(files: tuple[Path, Path], spider_dir: Path) -> None:
    gold, pred = files
    res = CliRunner().invoke(cli, ["eval", "--gold", str(gold), "--pred", str(pred), "--db-dir",
                                   str(spider_dir / "database"), "--etype", "exec", "--json", "--no-cache"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["count"] == 30 and doc["scores"]["all"]["exec"] == pytest.approx(28 / 30)
    assert "exact" not in doc["scores"]["all"] and "partial" not in doc["scores"]["all"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pred", "{tmp}/short.sql"], "has 1 predictions but the gold has 30 examples"),
        (["--db-dir", "{tmp}/nowhere"], "does not exist"),
        (["--gold", "{tmp}/bad_gold.sql"], "is not 'SQL<TAB>db_id'"),
        (["--workers", "0"], "--workers must be 1 or more"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files: tuple[Path, Path], spider_dir: Path, tmp_path: Path,
                                          args: list[str], message: str) -> None:
    gold, pred = files
    (tmp_path / "short.sql").write_text("SELECT 1\n")
    (tmp_path / "bad_gold.sql").write_text("SELECT 1\n")
    base = {"--gold": str(gold), "--pred": str(pred), "--db-dir": str(spider_dir / "database")}
    given = dict(zip(args[::2], [a.format(tmp=tmp_path) for a in args[1::2]]))
    argv = ["eval"] + [x for k, v in {**base, **given}.items() for x in (k, v)]
    res = CliRunner().invoke(cli, argv)
    assert res.exit_code == 2
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_as_a_real_process(files: tuple[Path, Path], spider_dir: Path, tmp_path: Path) -> None:
    gold, pred = files
    proc = subprocess.run([sys.executable, "-m", "sqldistill", "eval", "--gold", str(gold), "--pred", str(pred),
                           "--db-dir", str(spider_dir / "database"), "--json", "--cache-dir", str(tmp_path / "c")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["scores"]["all"]["exec"] == pytest.approx(28 / 30) and doc["cache"]["misses"] > 0
    missing = subprocess.run([sys.executable, "-m", "sqldistill", "eval", "--gold", str(gold), "--pred", str(pred),
                              "--db-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and missing.stderr.startswith("error: No database for db_id 'singer'")
