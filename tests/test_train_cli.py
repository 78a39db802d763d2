"""``sqldistill train``: configs and flags, clear one-line errors, and a real run (in-process and as a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sqldistill.cli import cli
from sqldistill.models.modeldir import read_model_meta
from tests.test_train_data import db_path_of, write_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def data(spider_dir: Path, tmp_path: Path) -> Path:
    train, _ = write_dataset(tmp_path / "data", db_path_of(spider_dir))
    return train


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["train", *args])
    return result.exit_code, result.output


def test_config_plus_flags_trains_a_model(data: Path, tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"method": "sft", "train_file": str(data), "model": "1m", "max_steps": 6,
                                      "batch_size": 8, "logging_steps": 2, "num_threads": 1}))
    code, out = _run(str(config), "--out", str(tmp_path / "m"), "--seed", "4", "--set", "warmup=0.1")
    assert code == 0, out
    assert "sft: 6 steps" in out and str(tmp_path / "m") in out
    meta = read_model_meta(tmp_path / "m")
    assert meta["training"]["seed"] == 4 and meta["training"]["max_steps"] == 6
    assert len((tmp_path / "m" / "train_log.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"method": "sft", "out_dir": "x", "train_file": "t", "learning_rate": 1}, "unknown option(s) for sft: learning_rate"),
        ({"method": "sft", "out_dir": "x", "train_file": "t", "epochs": "many"}, "option 'epochs' must be a number"),
        ({"method": "sft", "out_dir": "x", "train_file": "t", "lora": "yes"}, "option 'lora' must be true or false"),
        ({"method": "kd", "out_dir": "x", "train_file": "t"}, "kd needs a teacher"),
        ({"method": "magic", "out_dir": "x"}, "unknown method 'magic'"),
        ({"method": "sft", "train_file": "t"}, "'out_dir' is required"),
        ({"method": "dpo", "out_dir": "x"}, "dpo needs pairs_file"),
        ({"method": "rounds", "out_dir": "x", "train_file": "t"}, "rounds needs unlabelled_file and db"),
        ({"method": "dpo", "out_dir": "x", "pairs_file": "p"}, "dpo needs the model to start from"),
    ],
)
def test_bad_configs_get_one_line(tmp_path: Path, config: dict[str, object], message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    code, out = _run(str(path))
    assert code == 2
    assert message in out and "Traceback" not in out and len(out.strip().splitlines()) == 1


def test_missing_files_and_bad_yaml(tmp_path: Path, data: Path) -> None:
    code, out = _run("--train-file", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "m"))
    assert code == 2 and "does not exist" in out and "Traceback" not in out
    (tmp_path / "bad.yaml").write_text("method: [sft\n")
    code, out = _run(str(tmp_path / "bad.yaml"))
    assert code == 2 and "is not valid YAML" in out
    code, out = _run("--train-file", str(data), "--out", str(tmp_path / "m"), "--set", "novalue")
    assert code == 2 and "--set expects KEY=VALUE" in out
    code, out = _run("--train-file", str(data), "--out", str(tmp_path / "m"), "--model", "7b")
    assert code == 2 and "neither a named size" in out


def test_subprocess_run_and_error(data: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "sqldistill", "train", "--train-file", str(data), "--out",
                         str(tmp_path / "m"), "--model", "1m", "--max-steps", "3", "--batch-size", "8"],
                        capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert "sft: 3 steps" in ok.stdout
    assert json.loads((tmp_path / "m" / "sqldistill.json").read_text())["method"] == "sft"
    bad = subprocess.run([sys.executable, "-m", "sqldistill", "train", "--method", "kid", "--train-file", str(data),
                          "--out", str(tmp_path / "k")], capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert bad.returncode == 2 and "kid needs a teacher" in bad.stderr and "Traceback" not in bad.stderr


def test_dpo_builds_its_pairs_from_a_weak_model(data: Path, tmp_path: Path, spider_dir: Path) -> None:
    code, out = _run("--train-file", str(data), "--out", str(tmp_path / "sft"), "--model", "1m", "--max-steps", "3",
                     "--set", "num_threads=1")
    assert code == 0, out
    code, out = _run("--method", "dpo", "--train-file", str(data), "--out", str(tmp_path / "dpo"), "--model",
                     str(tmp_path / "sft"), "--db", str(db_path_of(spider_dir)), "--max-steps", "2", "--set",
                     f"weak_model={tmp_path / 'sft'}", "--set", "max_new_tokens=16", "--set", "num_candidates=2")
    assert code == 0, out
    assert "preference pairs:" in out and "dpo: 2 steps" in out
    assert (tmp_path / "dpo" / "pairs.jsonl").read_text().count("\n") > 10
    assert read_model_meta(tmp_path / "dpo")["method"] == "dpo"


def test_a_launched_runs_config_reads_back_as_the_same_options(tmp_path: Path) -> None:
    """Training in several processes hands its options to ``sqldistill train`` through a config file."""
    from sqldistill.train.commands import read_config, resolve
    from sqldistill.train.launch import launch_config
    from sqldistill.train.options import KDOptions

    options = KDOptions(model="1m", teacher=tmp_path / "teacher", divergence="jsd", curriculum=True, lr=1e-3,
                        schema=str(tmp_path / "schema.json"), progress=False)
    cfg_file = launch_config("kd", tmp_path / "train.jsonl", tmp_path / "student", options)
    assert cfg_file == tmp_path / "student.train.yaml"
    method, read = resolve(read_config(cfg_file))
    assert method == "kd" and read.pop("train_file") == str(tmp_path / "train.jsonl")
    assert read.pop("out_dir") == str(tmp_path / "student")
    assert KDOptions(**read) == KDOptions(**{**vars(options), "teacher": str(tmp_path / "teacher")})
