"""`sqldistill init` and `sqldistill distill`: configs, the whole run, resume after kill -9, and bad situations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sqldistill.cli import cli
from sqldistill.config import config_from_dict, load_config
from sqldistill.pipeline_commands import PRESETS, preset_text
from tests.conftest import REPO, sha256_of

EXAMPLE_DB = REPO / "examples" / "employee_hire_evaluation.sqlite"
EXAMPLE_QUESTIONS = REPO / "examples" / "employee_hire_evaluation.questions.json"


def tiny_config(tmp_path: Path, **overrides: object) -> Path:
    """The default preset made tiny: a few hundred pairs and a few training steps."""
    data = yaml.safe_load(preset_text("default", str(EXAMPLE_DB), str(tmp_path / "run"), str(EXAMPLE_QUESTIONS)))
    data["synth"]["n"] = 120
    data["teacher_model"].update(model="1m", epochs=1, max_steps=6, batch_size=16, memory="auto")
    data["student"].update(model="1m", epochs=1, max_steps=6, batch_size=16, memory="auto", rounds=1)
    data["eval"].update(execution_guided=False, num_candidates=1)
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if name:
            data[section][name] = value
        else:
            data[section] = value
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("preset", PRESETS)
def test_every_shipped_config_validates(preset: str, tmp_path: Path) -> None:
    text = preset_text(preset, "db.sqlite", "runs/x", "q.json")
    assert "#" in text  # commented
    cfg = config_from_dict(yaml.safe_load(text), source=preset)
    if preset == "default":  # the pointer student's method bench/train_methods.py measured best
        assert (cfg.student.method, cfg.student.model) == ("rounds", "pointer-base")
    else:
        assert cfg.student.method in ("sft", "kd", "kid")
        assert cfg.student.lora or cfg.student.bf16


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "c.yaml"
    res = runner.invoke(cli, ["init", str(EXAMPLE_DB), "--out", str(out), "--questions", str(EXAMPLE_QUESTIONS)])
    assert res.exit_code == 0, res.output
    cfg = load_config(out)
    assert Path(cfg.database).resolve() == EXAMPLE_DB.resolve()
    assert cfg.eval.questions and cfg.eval.questions.resolve() == EXAMPLE_QUESTIONS.resolve()
    again = runner.invoke(cli, ["init", str(EXAMPLE_DB), "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    missing = runner.invoke(cli, ["init", str(tmp_path / "nope.sqlite"), "--out", str(tmp_path / "d.yaml")])
    assert missing.exit_code == 2 and "No database file" in missing.output


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["student"].update(epochz=3), "student.epochz: unknown key"),
        (lambda d: d["synth"].update(n="many"), "synth.n"),
        (lambda d: d.update(database=None), "database"),
        (lambda d: d["student"].update(method="kd") or d.pop("teacher_model"), "needs a teacher"),
        (lambda d: d["student"].update(model="no/such/model"), "No model directory"),
        (lambda d: d.update(database="/no/such.sqlite"), "No database file"),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path: Path, mutate, needle: str) -> None:
    path = tiny_config(tmp_path)
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data))
    res = CliRunner().invoke(cli, ["distill", str(path)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip() and not ln.strip()[0].isdigit()]
    assert len(lines) == 1 and needle in lines[0], res.output
    assert not (tmp_path / "run" / "synth").exists()


def _distill(cfg: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "sqldistill", "distill", str(cfg)], capture_output=True, text=True,
                          env=env, **kw)  # type: ignore[call-overload]


def _datasets(run: Path) -> dict[str, str]:
    return {name: sha256_of(run / "synth" / name) for name in ("train.jsonl", "valid.jsonl", "rejects.jsonl")}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # four distills and four kills: a guard against a hang, not a speed target
def test_distill_runs_end_to_end_and_resumes_after_kill_9(tmp_path: Path) -> None:
    db_before = sha256_of(EXAMPLE_DB)
    ref_dir, killed_dir = tmp_path / "ref", tmp_path / "killed"
    ref_dir.mkdir()
    killed_dir.mkdir()
    ref = _distill(tiny_config(ref_dir), timeout=900)
    assert ref.returncode == 0, ref.stderr[-2000:]
    assert "EX (human)" in ref.stdout and "report.html" in ref.stdout
    run = ref_dir / "run"
    metrics = json.loads((run / "report" / "metrics.json").read_text())
    assert metrics["data"]["train"] > 50 and set(metrics["eval"]) == {"teacher", "student"}
    assert metrics["eval"]["student"]["count"]["all"] == 38
    # the student indexes the same pairs with the same encoder as the teacher: its memory is copied, not rebuilt
    assert "copying the teacher's retrieval memory" in ref.stderr
    assert "building the retrieval memory" in ref.stderr  # once, for the teacher
    memory = run / "teacher" / "model" / "retrieval"
    assert sha256_of(run / "student" / "model" / "retrieval" / "embeddings.npy") == sha256_of(memory / "embeddings.npy")
    # the model answers with the decoding its EX was measured with, and the table says which one that is
    assert json.loads((run / "student" / "model" / "decoding.json").read_text())["execution_guided"] is False
    assert metrics["eval"]["student"]["decoding"]["execution_guided"] is False
    assert "greedy" in ref.stdout and "p50 latency" in ref.stdout
    assert "<img" in (run / "report" / "report.html").read_text()

    # kill -9 while each stage is in flight, then rerun: same datasets, no leftovers, nothing done twice
    cfg = tiny_config(killed_dir)
    for stage in ("synth", "teacher", "student", "evaluate"):
        proc = subprocess.Popen([sys.executable, "-m", "sqldistill", "distill", str(cfg)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        partial = killed_dir / "run" / f"{stage}.partial"
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None and not partial.exists():
            time.sleep(0.02)
        if proc.poll() is None:
            time.sleep(0.3)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    final = _distill(cfg, timeout=900)
    assert final.returncode == 0, final.stderr[-2000:]
    run2 = killed_dir / "run"
    assert _datasets(run2) == _datasets(run)
    assert not list(run2.glob("*.partial"))
    stages = sorted(p.name for p in run2.iterdir() if (p / "manifest.json").is_file())
    assert stages == ["evaluate", "profile", "report", "student", "synth", "teacher"]
    again = _distill(cfg, timeout=300)
    assert again.returncode == 0
    assert again.stderr.count("already done, skipped") == 6
    assert sha256_of(EXAMPLE_DB) == db_before


@pytest.mark.slow
def test_interrupted_teacher_endpoint_then_clean_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.teacher_server import TeacherServer, build_tiny_teacher

    model = build_tiny_teacher(tmp_path / "tiny-teacher")
    monkeypatch.setenv("TINY_KEY", "secret")
    with TeacherServer(model, api_key="secret") as server:
        cfg = tiny_config(tmp_path, **{"synth.teacher": {"base_url": server.url, "model": "tiny-teacher",
                                                         "api_key_env": "TINY_KEY", "new_pairs": 3,
                                                         "max_retries": 1, "timeout_s": 20}},
                          teacher_model=None, **{"student.method": "sft"})
        server.fail_next = 10_000  # the endpoint goes down
        res = CliRunner().invoke(cli, ["distill", str(cfg)])
        assert res.exit_code == 2, res.output
        assert "error:" in res.output and "Traceback" not in res.output
        run = tmp_path / "run"
        assert (run / "profile" / "manifest.json").is_file()
        assert not (run / "synth").exists() and not list(run.glob("*.partial"))
        server.fail_next = 0  # back up
        res = CliRunner().invoke(cli, ["distill", str(cfg)])
        assert res.exit_code == 0, res.output
        sent = server.requests
        assert sent > 0 and (run / "synth" / "manifest.json").is_file()


def test_full_disk_in_the_run_directory_is_a_clear_error(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)],
                                            capture_output=True).returncode != 0:
        pytest.skip("needs permission to mount a small tmpfs")
    try:
        cfg = tiny_config(tmp_path, run_dir=str(mnt / "run"))
        res = CliRunner().invoke(cli, ["distill", str(cfg)])
        assert res.exit_code == 2, res.output
        errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "No space left" in errors[0]
        assert (mnt / "run" / "profile" / "manifest.json").is_file()  # what finished is kept
        assert not list((mnt / "run").glob("*.partial"))
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.slow
def test_student_stage_trains_in_two_processes_through_accelerate(tmp_path: Path) -> None:
    from sqldistill.errors import ConfigError
    from sqldistill.infer.predictor import Predictor
    from sqldistill.models.modeldir import read_model_meta
    from sqldistill.pipeline import distill

    cfg = load_config(tiny_config(tmp_path, teacher_model=None, **{"student.method": "sft", "student.processes": 2,
                                                                   "student.memory": "none"}))
    state = distill(cfg, progress=lambda _msg: None, only="student")
    metrics = state.results["student"].metrics
    assert metrics["processes"] == 2 and metrics["steps"] == 6 and len(metrics["loss"]) >= 1
    model = state.results["student"].path / "model"
    assert read_model_meta(model)["training"]["processes"] == 2
    assert Predictor.load(model).generate(["How many employees are there?"])[0][0]
    bad = cfg.model_copy(update={"student": cfg.student.model_copy(update={"method": "dpo"})})
    with pytest.raises(ConfigError, match="processes > 1 works with sft, kd and kid"):
        distill(bad, progress=lambda _msg: None)


@pytest.mark.slow
def test_default_config_distills_the_pointer_family_and_serves_with_its_evaluated_decoding(tmp_path: Path) -> None:
    from sqldistill.models.modeldir import read_decoding, read_model_meta
    from sqldistill.models.seq2seq import is_pointer_meta
    from sqldistill.pipeline import distill
    from sqldistill.serve.service import SqlService

    db_before = sha256_of(EXAMPLE_DB)
    data = yaml.safe_load(preset_text("default", str(EXAMPLE_DB), str(tmp_path / "run"), str(EXAMPLE_QUESTIONS)))
    assert data["teacher_model"]["model"] == "pointer-large" and data["student"]["model"] == "pointer-base"
    data["synth"]["n"] = 150
    data["teacher_model"]["epochs"] = data["student"]["epochs"] = 0.5
    data["eval"].update(num_candidates=2)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    state = distill(load_config(path), progress=lambda _msg: None)
    run = tmp_path / "run"
    student = run / "student" / "model"
    assert is_pointer_meta(read_model_meta(student)) and is_pointer_meta(read_model_meta(run / "teacher" / "model"))
    assert state.results["student"].metrics["params"] < state.results["teacher"].metrics["params"]
    evaluated = state.results["evaluate"].metrics["student"]
    assert evaluated["total_params"] > evaluated["params"] + 20_000_000  # the frozen MiniLM counts in the total
    assert not (student / "retrieval").exists()  # the default decoding reads no memory, so none is built
    ev = json.loads((run / "report" / "metrics.json").read_text())["eval"]["student"]
    assert ev["decoding"]["execution_guided"] is True and ev["count"]["all"] == 38
    assert ev["greedy"]["latency_ms_p50"] > 0 and 0.0 <= ev["greedy"]["ex"]["all"] <= 1.0
    assert read_decoding(student) == {"execution_guided": True, "num_candidates": 2, "memory_k": 0}
    service = SqlService.load(student, str(EXAMPLE_DB), warmup=False)
    try:
        assert service.guided and service.health()["decoding"] == "guided"
        answer = service.answer_sync("How many employees are there?")
        assert answer.result is not None and answer.result.ok, answer.sql
        assert len(answer.candidates) > 1  # beam, memory and vote, not one greedy string
    finally:
        service.close()
    assert sha256_of(EXAMPLE_DB) == db_before


def test_only_ends_the_run_at_its_stage_when_that_stage_is_already_done(tmp_path: Path) -> None:
    from sqldistill.pipeline import distill

    cfg = load_config(tiny_config(tmp_path, teacher_model=None, **{"student.method": "sft"}))
    first = distill(cfg, progress=lambda _msg: None, only="synth")
    assert list(first.results) == ["profile", "synth"]
    again = distill(cfg, progress=lambda _msg: None, only="synth")
    assert list(again.results) == ["profile", "synth"] and all(r.skipped for r in again.results.values())
    assert not (tmp_path / "run" / "student").exists() and not (tmp_path / "run" / "student.partial").exists()
