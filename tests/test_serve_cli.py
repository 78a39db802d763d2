"""``sqldistill ask``, ``check`` and ``serve`` through the real CLI (runner and subprocess), and drift on /health."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from sqldistill.cli import cli
from sqldistill.models.modeldir import write_decoding
from sqldistill.serve.app import create_app
from sqldistill.serve.service import SqlService, default_run_dir
from tests.test_serve_student import singer_copy, tiny_student

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def student(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_student(spider_dir, tmp_path_factory)


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _drifted_copy(spider_dir: Path, where: Path) -> Path:
    path = singer_copy(spider_dir, where)
    conn = sqlite3.connect(path)
    conn.executescript("ALTER TABLE singer ADD COLUMN Genre TEXT; ALTER TABLE song DROP COLUMN Sales;")
    conn.close()
    return path


def test_ask_prints_sql_then_rows(runner: CliRunner, student: Path, spider_dir: Path) -> None:
    db = str(spider_dir / "database" / "singer" / "singer.sqlite")
    res = runner.invoke(cli, ["ask", str(student), "How many singers are there?"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "SELECT count(*) FROM singer"
    run = runner.invoke(cli, ["ask", str(student), "What are the names of singers from France?", "--db", db, "--execute"])
    assert run.exit_code == 0, run.output
    assert run.output.startswith("SELECT Name FROM singer WHERE Citizenship = 'France'\n")
    assert "Liliane Bettencourt" in run.output and "1 rows" in run.output


def test_ask_json_and_guided(runner: CliRunner, student: Path, spider_dir: Path) -> None:
    db = str(spider_dir / "database" / "singer" / "singer.sqlite")
    res = runner.invoke(cli, ["ask", str(student), "List the names of all singers.", "--db", db, "--execute",
                              "--guided", "--json", "--max-rows", "3"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["sql"] == "SELECT Name FROM singer" and doc["sql"] in doc["candidates"]
    assert len(doc["rows"]) == 3 and doc["truncated"] is True and doc["error"] is None
    assert doc["latency_ms"] > 0


def test_ask_answers_with_the_decoding_the_model_was_evaluated_with(runner: CliRunner, student: Path,
                                                                      spider_dir: Path, tmp_path: Path) -> None:
    db = str(spider_dir / "database" / "singer" / "singer.sqlite")
    model = tmp_path / "model"
    shutil.copytree(student, model)
    question = "List the names of all singers."

    def ask(*extra: str) -> dict[str, object]:
        res = runner.invoke(cli, ["ask", str(model), question, "--json", *extra])
        assert res.exit_code == 0, res.output
        return dict(json.loads(res.output))

    assert ask("--db", db)["decoding"] == "greedy"  # never evaluated: greedy
    write_decoding(model, execution_guided=True, num_candidates=3, memory_k=5)
    guided = ask("--db", db)
    assert guided["decoding"] == "guided" and len(guided["candidates"]) > 1  # type: ignore[arg-type]
    greedy = ask("--db", db, "--greedy")
    assert greedy["decoding"] == "greedy" and len(greedy["candidates"]) == 1  # type: ignore[arg-type]
    assert ask()["decoding"] == "greedy"  # guided decoding needs the database; without it, greedy
    (model / "decoding.json").write_text("{not json")
    res = runner.invoke(cli, ["ask", str(model), question])
    assert res.exit_code == 2 and "decoding.json" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ask", "{model}", "How many singers?", "--execute"], "--execute needs a database"),
        (["ask", "{tmp}", "How many singers?"], "is not a sqldistill model"),
        (["ask", "{tmp}/nope", "How many singers?"], "does not exist"),
        (["ask", "{model}", "  "], "the question is empty"),
        (["ask", "{model}", "How many?", "--db", "{tmp}/missing.sqlite"], "No database file"),
        (["check", "{tmp}", "--db", "{singer}"], "is not a sqldistill model"),
        (["check", "{model}", "--db", "{tmp}/missing.sqlite"], "No database file"),
        (["serve", "{model}", "--db", "{singer}", "--api-key-env", "SQLDISTILL_TEST_UNSET_KEY"], "is not set"),
        (["serve", "{tmp}", "--db", "{singer}"], "is not a sqldistill model"),
        (["serve", "{model}", "--db", "{singer}", "--port", "{busy}"], "cannot listen on 127.0.0.1:"),
        (["serve", "{model}", "--db", "{singer}", "--host", "no-such-host.invalid"], "cannot listen on host"),
    ],
)
def test_mistakes_get_one_line_and_exit_2(
    runner: CliRunner, student: Path, spider_dir: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    singer = str(spider_dir / "database" / "singer" / "singer.sqlite")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        argv = [a.format(model=student, tmp=tmp_path, singer=singer, busy=busy.getsockname()[1]) for a in args]
        res = runner.invoke(cli, argv, env={"SQLDISTILL_TEST_UNSET_KEY": ""})
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_check_exit_codes_and_what_changed(runner: CliRunner, student: Path, spider_dir: Path, tmp_path: Path) -> None:
    same = runner.invoke(cli, ["check", str(student), "--db", str(spider_dir / "database" / "singer" / "singer.sqlite")])
    assert same.exit_code == 0 and same.output.startswith("no drift")
    drifted = _drifted_copy(spider_dir, tmp_path)
    res = runner.invoke(cli, ["check", str(student), "--db", str(drifted)])
    assert res.exit_code == 1
    assert "  - column singer.Genre added" in res.output and "  - column song.Sales removed" in res.output
    as_json = runner.invoke(cli, ["check", str(student), "--db", str(drifted), "--json"])
    assert as_json.exit_code == 1 and json.loads(as_json.output)["changes"] == [
        "column singer.Genre added", "column song.Sales removed"]
    other = runner.invoke(cli, ["check", str(student), "--db",
                                str(spider_dir / "database" / "poker_player" / "poker_player.sqlite")])
    assert other.exit_code == 1 and "table singer removed" in other.output


def test_ask_warns_about_drift_on_stderr(student: Path, spider_dir: Path, tmp_path: Path) -> None:
    drifted = _drifted_copy(spider_dir, tmp_path)
    res = CliRunner().invoke(cli, ["ask", str(student), "How many singers are there?", "--db", str(drifted)])
    assert res.exit_code == 0
    assert res.stdout.strip() == "SELECT count(*) FROM singer"
    assert "warning: schema drifted" in res.stderr and "singer.Genre added" in res.stderr


def test_health_and_metrics_report_drift(student: Path, spider_dir: Path, tmp_path: Path) -> None:
    drifted = _drifted_copy(spider_dir, tmp_path)
    svc = SqlService.load(student, str(drifted), run_dir=tmp_path / "run")
    try:
        with TestClient(create_app(svc)) as client:
            body = client.get("/health").json()
            assert body["status"] == "drifted"
            assert body["drift"]["changes"] == ["column singer.Genre added", "column song.Sales removed"]
            assert body["database"]["schema_fingerprint"] != body["model"]["schema_fingerprint"]
            assert "sqldistill_schema_drift 1" in client.get("/metrics").text
    finally:
        svc.close()


def test_default_run_dir_is_the_run_holding_the_model(tmp_path: Path) -> None:
    assert default_run_dir(tmp_path / "run1" / "model" / "sft") == (tmp_path / "run1").resolve()
    assert default_run_dir(tmp_path / "elsewhere" / "my-model") == (tmp_path / "elsewhere").resolve()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ask_and_serve_as_real_processes(student: Path, spider_dir: Path, tmp_path: Path) -> None:
    db = _drifted_copy(spider_dir, tmp_path / "db")  # drifted, so start-up must warn and keep serving
    env = {**os.environ, "SQLDISTILL_KEY": "k-123"}
    ask = subprocess.run([sys.executable, "-m", "sqldistill", "ask", str(student), "How many songs are there?",
                          "--db", str(db), "--execute", "--json"], capture_output=True, text=True, timeout=120,
                         cwd=REPO, env=env)
    assert ask.returncode == 0, ask.stderr
    assert "warning: schema drifted" in ask.stderr
    assert json.loads(ask.stdout)["rows"] == [[8]]
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sqldistill", "serve", str(student), "--db", str(db),
                             "--port", str(port), "--api-key-env", "SQLDISTILL_KEY", "--run-dir", str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(url + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        auth = {"Authorization": "Bearer k-123"}
        assert httpx.get(url + "/health").status_code == 401
        assert httpx.get(url + "/health", headers=auth).json()["status"] == "drifted"
        body = httpx.post(url + "/v1/sql", json={"question": "How many songs are there?"}, headers=auth).json()
        assert body["sql"] == "SELECT count(*) FROM song" and body["rows"] == [[8]]
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "serving sft (singer" in err and "API key required" in err
    assert "warning: schema drifted (2 changes): column singer.Genre added; column song.Sales removed" in err
    assert (tmp_path / "run" / "requests.jsonl").read_text().count("How many songs are there?") == 1


def test_ask_execute_reports_sql_that_no_longer_runs(student: Path, spider_dir: Path, tmp_path: Path) -> None:
    drifted = _drifted_copy(spider_dir, tmp_path)  # song.Sales is gone
    question = "List the titles of songs with sales above 300000."
    res = CliRunner().invoke(cli, ["ask", str(student), question, "--db", str(drifted), "--execute"])
    assert res.exit_code == 1
    assert res.stdout.strip() == "SELECT Title FROM song WHERE Sales > 300000"
    assert "error: the SQL could not run: no such column: Sales" in res.stderr
    as_json = CliRunner().invoke(cli, ["ask", str(student), question, "--db", str(drifted), "--execute", "--json"])
    assert as_json.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["error_kind"] == "error" and "no such column" in doc["error"] and doc["rows"] == []
