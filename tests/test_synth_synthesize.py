"""``synthesize`` and ``sqldistill synth`` end to end on real Spider databases (template path, log, feedback)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sqldistill.cli import cli
from sqldistill.data.dataset import REJECTS_FILE, STATS_FILE, TRAIN_FILE, VALID_FILE
from sqldistill.errors import ConfigError
from sqldistill.sql.skeleton import normalise
from sqldistill.synth import DEFAULT_MIX, SynthOptions, synthesize


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, spider_dir: Path) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("synth")
    db = spider_dir / "database" / "poker_player" / "poker_player.sqlite"
    stats = synthesize(db, out, SynthOptions(n=300, seed=7, progress=False))
    return out, stats


def test_files_and_fields(run: tuple[Path, dict[str, Any]]) -> None:
    out, stats = run
    train, valid = _lines(out / TRAIN_FILE), _lines(out / VALID_FILE)
    assert len(train) + len(valid) == stats["kept"] == 300
    assert len(valid) > 0 and stats["train"] == len(train) and stats["valid"] == len(valid)
    keys = {"question", "sql", "db_id", "hardness", "source", "construct", "prompt", "completion"}
    for row in train + valid:
        assert set(row) == keys
        assert row["db_id"] == "poker_player" and row["source"] in {"template", "corpus"}
        assert row["prompt"].endswith("SQL:") and row["question"] in row["prompt"]
        assert row["completion"] == " " + row["sql"]
        assert row["hardness"] in {"easy", "medium", "hard", "extra"}
    # no SQL on both sides of the split: paraphrases of one query stay together
    assert not {normalise(r["sql"]) for r in train} & {normalise(r["sql"]) for r in valid}


def test_loads_with_datasets(run: tuple[Path, dict[str, Any]]) -> None:
    from datasets import load_dataset

    out, _ = run
    ds = load_dataset("json", data_files={"train": str(out / TRAIN_FILE), "valid": str(out / VALID_FILE)})
    assert ds["train"].num_rows > 0 and {"prompt", "completion"} <= set(ds["train"].column_names)


def test_stats_count_every_critic_source_and_level(run: tuple[Path, dict[str, Any]]) -> None:
    out, stats = run
    assert json.loads((out / STATS_FILE).read_text()) == stats
    critics = list(stats["critics"].items())
    assert [name for name, _ in critics][:4] == ["well_formed", "not_duplicate", "template_cap", "hardness_mix"]
    for (_, row), (_, following) in itertools.pairwise(critics):
        assert following["checked"] == row["checked"] - row["dropped"]  # a funnel: each sees what passed before
    assert critics[-1][1]["checked"] - critics[-1][1]["dropped"] == stats["kept"]
    rejects = _lines(out / REJECTS_FILE)
    assert len(rejects) == sum(row["dropped"] for _, row in critics) == stats["rejects"]
    by_critic: dict[str, int] = {}
    for r in rejects:
        assert r["critic"] and r["reason"]
        by_critic[r["critic"]] = by_critic.get(r["critic"], 0) + 1
    assert by_critic == {name: row["dropped"] for name, row in critics if row["dropped"]}
    assert stats["sources"]["template"]["kept"] + stats["sources"]["corpus"]["kept"] == 300
    assert stats["sources"]["corpus"]["kept"] >= 200  # the default mix gives the learned shapes 80 %
    assert sum(stats["hardness"].values()) == 300
    assert all(stats["hardness"][level] > 0 for level in ("easy", "medium", "hard", "extra"))
    # the mix of a real log of questions: each level holds its share (quotas are ceilings; they sum past n)
    assert not stats["mix_relaxed"]
    for level, share in DEFAULT_MIX.items():
        assert abs(stats["hardness"][level] - 300 * share) <= 3, (level, stats["hardness"])
    assert sum(stats["constructs"].values()) == 300 and stats["distinct_skeletons"] > 50


def test_same_seed_byte_identical(run: tuple[Path, dict[str, Any]], spider_dir: Path, tmp_path: Path) -> None:
    out, _ = run
    db = spider_dir / "database" / "poker_player" / "poker_player.sqlite"
    synthesize(db, tmp_path / "again", SynthOptions(n=300, seed=7, progress=False))
    for name in (TRAIN_FILE, VALID_FILE, REJECTS_FILE):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    synthesize(db, tmp_path / "other", SynthOptions(n=300, seed=8, progress=False))
    assert (tmp_path / "other" / TRAIN_FILE).read_bytes() != (out / TRAIN_FILE).read_bytes()


def test_query_log_and_feedback_sources(spider_dir: Path, tmp_sqlite_copy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_sqlite_copy("allergy_1")
    log = tmp_path / "log.sql"
    lines = [line for line in (spider_dir / "train_gold.sql").read_text().splitlines() if line.endswith("\tallergy_1")]
    log.write_text("\n".join(lines[:30]) + "\nSELECT * FROM nowhere\tallergy_1\n")
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text(json.dumps({"question": "Which students are older than 20?", "db_id": "allergy_1",
                                    "sql": "SELECT Fname FROM Student WHERE Age > 20", "source": "feedback"}) + "\n"
                        + json.dumps({"question": "a question for another database", "db_id": "singer",
                                      "sql": "SELECT 1"}) + "\n")
    stats = synthesize(db, tmp_path / "out",
                       SynthOptions(n=120, seed=1, log=log, feedback=feedback, progress=False))
    assert stats["sources"]["feedback"] == {"candidates": 1, "kept": 1, "hardness": {"easy": 1}}
    assert 0 < stats["sources"]["log"]["kept"] <= 36  # at most 30 % of n from the log
    rows = _lines(tmp_path / "out" / TRAIN_FILE) + _lines(tmp_path / "out" / VALID_FILE)
    assert any(r["source"] == "feedback" and r["sql"] == "SELECT Fname FROM Student WHERE Age > 20" for r in rows)
    assert len(rows) == 120


def test_bad_input_is_one_clear_error(tmp_path: Path, spider_dir: Path) -> None:
    db = spider_dir / "database" / "singer" / "singer.sqlite"
    with pytest.raises(ConfigError, match="need a teacher"):
        synthesize(db, tmp_path, SynthOptions(n=10, vote=3, progress=False))
    with pytest.raises(ConfigError, match="n must be at least 1"):
        synthesize(db, tmp_path, SynthOptions(n=0, progress=False))


def test_cli_runner(spider_dir: Path, tmp_path: Path) -> None:
    db = spider_dir / "database" / "singer" / "singer.sqlite"
    result = CliRunner().invoke(cli, ["synth", str(db), "--out", str(tmp_path / "o"), "--n", "60", "--seed", "2",
                                      "--prompt-schema", "compact"])
    assert result.exit_code == 0, result.output
    assert "60 pairs kept" in result.output and "hardness:" in result.output
    row = _lines(tmp_path / "o" / TRAIN_FILE)[0]
    assert row["prompt"].startswith("singer(") and row["prompt"].endswith("SQL:")
    for args, message in (
        (["synth", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "x")], "No database file"),
        (["synth", str(db), "--out", str(tmp_path / "x"), "--paraphrases", "1"], "need a teacher"),
        (["synth", str(db), "--out", str(tmp_path / "x"), "--critic", "nope"], "Unknown critic 'nope'"),
        (["synth", str(db), "--out", str(tmp_path / "x"), "--teacher", "http://localhost:9/v1"], "needs a model name"),
        (["synth", str(db), "--out", str(tmp_path / "x"), "--log", str(tmp_path / "none.sql")], "No query log"),
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_cli_subprocess(spider_dir: Path, tmp_path: Path) -> None:
    db = spider_dir / "database" / "singer" / "singer.sqlite"
    done = subprocess.run([sys.executable, "-m", "sqldistill", "synth", str(db), "--out", str(tmp_path / "o"),
                           "--n", "40", "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "o" / STATS_FILE).read_text())["kept"] == 40
    bad = subprocess.run([sys.executable, "-m", "sqldistill", "synth", str(tmp_path / "nope.sqlite"), "--out",
                          str(tmp_path / "p")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: No database file")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_identical_across_processes_and_hash_seeds(spider_dir: Path, tmp_path: Path) -> None:
    """Nothing may depend on set or dict order of strings: two interpreters with other hash seeds agree."""
    import os

    db = spider_dir / "database" / "student_transcripts_tracking" / "student_transcripts_tracking.sqlite"
    code = ("import sys; from sqldistill.synth import DEFAULT_MIX, SynthOptions, synthesize; "
            "synthesize(sys.argv[1], sys.argv[2], SynthOptions(n=150, seed=4, progress=False))")
    for name, hash_seed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code, str(db), str(tmp_path / name)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    for name in (TRAIN_FILE, VALID_FILE, REJECTS_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_database_without_rows(tmp_path: Path) -> None:
    import sqlite3

    from sqldistill.errors import EmptyDatabase

    path = tmp_path / "empty.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(EmptyDatabase, match="no rows to ask questions about"):
        synthesize(path, tmp_path / "out", SynthOptions(n=10, progress=False))
    assert not (tmp_path / "out").exists()


def test_duckdb_target_with_inferred_join_keys(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR, city VARCHAR)")
    con.execute("CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, total DOUBLE, status VARCHAR)")
    names = ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"]
    for i, name in enumerate(names):
        con.execute("INSERT INTO customer VALUES (?, ?, ?)", [i + 1, name, ["Oslo", "Rome", "Lima"][i % 3]])
    for j in range(30):
        con.execute("INSERT INTO orders VALUES (?, ?, ?, ?)", [j + 1, j % 5 + 1, 10.0 + j, ["new", "paid"][j % 2]])
    con.close()
    stats = synthesize(path, tmp_path / "out", SynthOptions(n=120, seed=0, progress=False))
    rows = _lines(tmp_path / "out" / TRAIN_FILE) + _lines(tmp_path / "out" / VALID_FILE)
    assert stats["kept"] == 120 and rows[0]["db_id"] == "shop"
    joins = [r["sql"] for r in rows if " JOIN " in r["sql"]]
    assert joins and all("customer_id" in sql and ".id" in sql for sql in joins)  # the key no one declared
