"""``sqldistill ask``, ``sqldistill serve`` and ``sqldistill check``.

Thin click commands: heavy imports (torch, transformers, fastapi, uvicorn) happen inside the bodies so that
``sqldistill --help`` stays instant. Library errors propagate to the CLI group, which prints one line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click


def _warn_drift(drift: Any) -> None:
    if drift.drifted:
        click.secho(f"warning: {drift.summary()}. The model may write SQL for tables or columns that changed; "
                    "retrain it on the current schema.", err=True, fg="yellow")


@click.command("ask")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("question")
@click.option("--db", "target", help="The database (SQLite path or SQLAlchemy URL) to run the SQL on.")
@click.option("--execute", is_flag=True, help="Run the SQL on --db and print the rows.")
@click.option("--guided/--greedy", default=None,
              help="Execution-guided decoding on --db (beam + retrieval memory, result vote) or greedy decoding "
                   "[default: the decoding the model was evaluated with, guided only when --db is given].")
@click.option("--max-rows", default=100, show_default=True, type=click.IntRange(min=0), help="Rows to print at most.")
@click.option("--timeout", "timeout_s", default=10.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds before the query is stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ask_cmd(model_dir: Path, question: str, target: str | None, execute: bool, guided: bool | None, max_rows: int,
            timeout_s: float, as_json: bool) -> None:
    """Ask the model in MODEL_DIR a QUESTION and print the SQL (and, with --execute, the rows)."""
    from sqldistill.errors import ConfigError, DataError

    if (execute or guided) and not target:
        raise ConfigError(f"--{'execute' if execute else 'guided'} needs a database", hint="Add --db PATH_OR_URL")
    if not question.strip():
        raise DataError("the question is empty", hint="Pass the question as the second argument, in quotes")

    from sqldistill._extras import MODEL_RUNTIME, require_extra

    require_extra("serve", "sqldistill ask", MODEL_RUNTIME)
    from sqldistill.db import connect
    from sqldistill.models.modeldir import read_decoding, read_model_meta
    from sqldistill.serve.guard import Guardrails, jsonable_rows, run_guarded
    from sqldistill.serve.service import model_schema_drift

    read_model_meta(model_dir)  # a clear error for a wrong directory before torch loads
    decoding = read_decoding(model_dir)
    if guided is None:
        guided = bool(decoding["execution_guided"]) and target is not None
    db = None
    if target:
        drift = model_schema_drift(model_dir, target)
        _warn_drift(drift)
        db = connect(target)
    try:
        from rich.console import Console

        from sqldistill.infer.predictor import Predictor

        with Console(stderr=True).status(f"loading {model_dir}"):
            predictor = Predictor.load(model_dir)
        prediction = predictor.predict(question, db=db, execution_guided=guided,
                                       num_candidates=int(decoding["num_candidates"]),
                                       memory_k=int(decoding["memory_k"]))
        out: dict[str, Any] = {"question": question, "sql": prediction.sql, "candidates": list(prediction.candidates),
                               "decoding": "guided" if guided else "greedy",
                               "latency_ms": round(float(prediction.latency_ms), 3)}
        res = None
        if execute and db is not None:
            res = run_guarded(db, prediction.sql, Guardrails(max_rows_limit=max_rows, timeout_s=timeout_s,
                                                             default_rows=max_rows), max_rows)
            out.update(columns=res.columns, rows=jsonable_rows(res.rows), truncated=res.truncated,
                       error=res.error, error_kind=res.error_kind)
    finally:
        if db is not None:
            db.close()

    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, default=str))
    else:
        click.echo(prediction.sql)
        if res is not None and res.ok:
            _print_rows(res.columns, res.rows, res.truncated, res.elapsed_s)
    if res is not None and not res.ok:
        if not as_json:
            click.secho(f"error: the SQL could not run: {res.error}", err=True, fg="red")
        sys.exit(1)


def _print_rows(columns: list[str], rows: list[tuple[Any, ...]], truncated: bool, elapsed_s: float) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    grid = RichTable(*columns)
    for row in rows:
        grid.add_row(*["NULL" if v is None else str(v) for v in row])
    console = Console()
    console.print(grid)
    more = " (truncated; raise --max-rows)" if truncated else ""
    console.print(f"{len(rows)} rows in {elapsed_s * 1000:.1f} ms{more}")


@click.command("serve")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--db", "target", required=True, help="The database (SQLite path or SQLAlchemy URL) to answer from.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--api-key-env", metavar="VAR", help="Require 'Authorization: Bearer <key>', the key read from env VAR.")
@click.option("--run-dir", type=click.Path(path_type=Path),
              help="Where requests.jsonl and feedback.jsonl go [default: the run holding MODEL_DIR].")
@click.option("--max-rows", default=1000, show_default=True, type=click.IntRange(min=1),
              help="The most rows any request can get back.")
@click.option("--timeout", "timeout_s", default=5.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Seconds before a query is stopped.")
@click.option("--max-batch", default=16, show_default=True, type=click.IntRange(min=1),
              help="Questions decoded together at most.")
@click.option("--batching", type=click.Choice(["continuous", "per-call"]), default="continuous", show_default=True,
              help="continuous: questions join and leave the running batch at every decoding step (models with "
                   "the fast decoder); per-call: the questions waiting when the model is free are decoded together.")
@click.option("--model-process/--no-model-process", default=None,
              help="Decode in a separate process, so the web server's work never stalls the model [default: for "
                   "small models on the CPU, unless --guided].")
@click.option("--fast-decoder/--no-fast-decoder", default=None,
              help="Greedy decoding on the fused fast path (Llama/Qwen2 float32 models); off: the transformers "
                   "forward (and per-call batching) [default: on for models under 30M parameters].")
@click.option("--speculative/--no-speculative", default=True, show_default=True,
              help="Continuous batching: each step also checks tokens guessed from earlier answers and keeps those "
                   "the model agrees with (the same SQL in fewer steps).")
@click.option("--batch-wait-ms", default=0.0, show_default=True, type=click.FloatRange(min=0, max=1000),
              help="Per-call batching under load: wait this long for a fuller batch.")
@click.option("--device", default=None, help="torch device for the model [default: auto].")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="torch CPU threads [default: torch's].")
@click.option("--guided/--greedy", default=None,
              help="Execution-guided decoding (beam + retrieval memory, result vote) or greedy decoding "
                   "[default: the decoding the model was evaluated with, see decoding.json in MODEL_DIR].")
def serve_cmd(model_dir: Path, target: str, host: str, port: int, api_key_env: str | None, run_dir: Path | None,
              max_rows: int, timeout_s: float, max_batch: int, batching: str, batch_wait_ms: float,
              device: str | None, threads: int | None, guided: bool | None, model_process: bool | None,
              fast_decoder: bool | None, speculative: bool) -> None:
    """Serve the model in MODEL_DIR over HTTP: JSON API, OpenAI-compatible API and a web page."""
    from sqldistill._extras import require_extra
    from sqldistill.errors import ConfigError

    require_extra("serve", "sqldistill serve")
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env, "")
        if not api_key.strip():
            raise ConfigError(f"the environment variable {api_key_env} is not set or empty",
                              hint=f"export {api_key_env}=<a long random key> and rerun")
        api_key = api_key.strip()

    from sqldistill.models.modeldir import read_decoding, read_model_meta
    from sqldistill.serve.app import create_app
    from sqldistill.serve.guard import Guardrails
    from sqldistill.serve.service import SqlService, default_run_dir

    read_model_meta(model_dir)
    decoding = read_decoding(model_dir)
    if guided is None:
        guided = bool(decoding["execution_guided"])
    _check_port(host, port)  # fail in one line now, not after the model has loaded
    run = run_dir or default_run_dir(model_dir)
    from rich.console import Console

    with Console(stderr=True).status(f"loading {model_dir} and opening the database"):
        service = SqlService.load(model_dir, target, device=device, threads=threads, run_dir=run, max_batch=max_batch,
                                  batch_wait_s=batch_wait_ms / 1000, guided=guided,
                                  continuous=batching == "continuous", model_process=model_process,
                                  fast_decoder=fast_decoder, speculative=speculative,
                                  guard=Guardrails(max_rows_limit=max_rows, timeout_s=timeout_s,
                                                   default_rows=min(100, max_rows)))
    try:
        drift, error = service.check_drift(force=True)
        if drift is not None:
            _warn_drift(drift)
        else:
            click.secho(f"warning: could not check the schema for drift: {error}", err=True, fg="yellow")
        import uvicorn

        app = create_app(service, api_key=api_key)
        click.echo(f"serving {service.info.name} ({service.info.db_id}, {service.info.num_parameters:,} parameters) "
                   f"on http://{host}:{port}/  ·  logs in {run}/requests.jsonl, corrections in "
                   f"{run}/feedback.jsonl{'  ·  API key required' if api_key else ''}", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        service.close()


def _check_port(host: str, port: int) -> None:
    import socket

    from sqldistill.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ConfigError(f"cannot listen on host {host!r}: {err.strerror or err}",
                          hint="Use --host 127.0.0.1, 0.0.0.0 or this machine's address") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}",
                              hint="Pick another --port, or stop what is using it") from None


@click.command("check")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.option("--db", "target", required=True, help="The database (SQLite path or SQLAlchemy URL) to compare.")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def check_cmd(model_dir: Path, target: str, as_json: bool) -> None:
    """Say what changed between MODEL_DIR's schema and the database. Exit 0: no drift, 1: drifted, 2: error."""
    from sqldistill.serve.service import model_schema_drift

    drift = model_schema_drift(model_dir, target)
    if as_json:
        click.echo(json.dumps(drift.to_dict(), indent=2))
    elif not drift.drifted:
        click.echo(f"no drift: the database matches the model's schema (fingerprint {drift.actual_fingerprint})")
    else:
        click.echo(f"schema drifted: model {drift.expected_fingerprint}, database {drift.actual_fingerprint}")
        for line in drift.lines():
            click.echo(f"  - {line}")
    if drift.drifted:
        sys.exit(1)


__all__ = ["ask_cmd", "check_cmd", "serve_cmd"]
