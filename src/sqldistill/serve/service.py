"""The served model, wired to the live database: question in, guarded SQL and rows out.

One ``SqlService`` per server process: the predictor is loaded once, decoding goes through the micro-batcher,
statements run behind the guardrails, every answer is logged and counted, and drift is watched. The HTTP app
and the ``ask`` command are thin layers over it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import extract_sql, normalise_question
from sqldistill.db import Database, connect
from sqldistill.errors import ModelError
from sqldistill.models.modeldir import GREEDY
from sqldistill.records import ExecResult, Schema
from sqldistill.serve.batcher import Batcher
from sqldistill.serve.drift import DriftMonitor, SchemaDrift, diff_schemas
from sqldistill.serve.feedback import FeedbackStore
from sqldistill.serve.guard import Guardrails, jsonable_rows, run_guarded
from sqldistill.serve.requestlog import RequestLog, hardness_function

if TYPE_CHECKING:
    from sqldistill.serve.metrics import Metrics
    from sqldistill.serve.worker import ModelWorker

REQUEST_LOG_FILE = "requests.jsonl"
DEFAULT_MAX_NEW_TOKENS = 128


@dataclass
class ModelInfo:
    name: str
    path: str
    db_id: str
    fingerprint: str
    method: str
    base_model: str
    created: str
    num_parameters: int
    schema: Schema = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "path": self.path, "db_id": self.db_id, "schema_fingerprint": self.fingerprint,
            "method": self.method, "base_model": self.base_model, "created": self.created,
            "num_parameters": self.num_parameters,
        }


@dataclass
class Answer:
    request_id: str
    question: str
    sql: str
    candidates: list[str]
    executed: bool = False
    result: ExecResult | None = None
    latency_ms: float = 0.0

    @property
    def error_kind(self) -> str | None:
        if not self.sql:
            return "generation"
        return self.result.error_kind if self.result is not None and not self.result.ok else None

    @property
    def error(self) -> str | None:
        if not self.sql:
            return "the model wrote no SQL for this question"
        return self.result.error if self.result is not None else None

    def to_dict(self) -> dict[str, Any]:
        res = self.result if self.result is not None and self.result.ok else ExecResult()
        rows = jsonable_rows(res.rows)
        return {
            "request_id": self.request_id,
            "question": self.question,
            "sql": self.sql,
            "executed": self.executed,
            "columns": list(res.columns),
            "rows": rows,
            "row_count": len(rows),
            "truncated": res.truncated,
            "error": None if self.error is None else {"kind": self.error_kind, "message": self.error},
            "latency_ms": round(self.latency_ms, 3),
        }


def default_run_dir(model_dir: str | Path) -> Path:
    """Where logs and feedback go when ``--run-dir`` is not given: the run that holds ``model/<stage>/``.

    A pipeline run lays models out as ``<run>/model/<stage>``; for a model kept anywhere else, the directory
    that holds it.
    """
    path = Path(model_dir).resolve()
    if path.parent.name == "model":
        return path.parent.parent
    return path.parent


class SqlService:
    """A loaded predictor plus a read-only database; safe to share between request threads."""

    def __init__(self, predictor: Any, db: Database, info: ModelInfo, *, guard: Guardrails | None = None,
                 run_dir: str | Path | None = None, max_batch: int = 16,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, drift_ttl_s: float = 30.0,
                 batch_wait_s: float = 0.0, guided: bool = False, continuous: bool = True,
                 speculative: bool = True, worker: ModelWorker | None = None,
                 decoding: dict[str, Any] | None = None) -> None:
        self.predictor = predictor
        self.guided = guided
        # candidates and memory hits of execution-guided decoding: those the model was evaluated with
        self.decoding = {**GREEDY, **(decoding or {})}
        self.db = db
        self.info = info
        self.guard = guard or Guardrails()
        self.max_new_tokens = max_new_tokens
        from sqldistill.serve.metrics import server_metrics  # the serving extra; `check` works without it

        self.metrics: Metrics = server_metrics()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.request_log = RequestLog(self.run_dir / REQUEST_LOG_FILE if self.run_dir else None, info.schema)
        self.feedback = FeedbackStore(self.run_dir, hardness_function(info.schema)) if self.run_dir else None
        self.drift = DriftMonitor(db, info.schema, info.fingerprint, ttl_s=drift_ttl_s)
        self.batcher: Batcher | ModelWorker
        if worker is not None:  # decoding happens in the model's own process
            worker.on_batch = self._on_batch
            worker.on_draft = self._on_draft
            self.batcher = worker
        else:
            stream = predictor.stream(max_batch, speculative) if continuous else None
            self.batcher = Batcher(self._generate_batch, max_batch=max_batch, on_batch=self._on_batch,
                                   linger_s=batch_wait_s, stream=stream, on_draft=self._on_draft)
        self.started = time.time()
        self.metrics.set("model_info", 1.0, model=info.name, db_id=info.db_id, fingerprint=info.fingerprint,
                         method=info.method)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, model_dir: str | Path, db_target: str | Database, *, device: str | None = None,
             threads: int | None = None, warmup: bool = True, model_process: bool | None = False,
             fast_decoder: bool | None = None, **kwargs: Any) -> SqlService:
        """Load the model once and open the database read-only; ``threads`` sets torch's CPU threads. Answers
        are decoded as the model was evaluated (``decoding.json``; greedy when it was not) unless ``guided`` says.

        ``model_process``: decode in a separate process (``worker``); None = when that helps, i.e. a small
        model on the CPU with the fast decoder and plain (not execution-guided) decoding."""
        from sqldistill.models.modeldir import meta_schema, read_decoding, read_model_meta

        meta = read_model_meta(model_dir)
        kwargs.setdefault("decoding", read_decoding(model_dir))
        kwargs.setdefault("guided", bool(kwargs["decoding"]["execution_guided"]))  # as the model was evaluated
        try:
            from sqldistill.infer.causal import SMALL_MODEL
            from sqldistill.infer.predictor import Predictor
        except ImportError as err:
            raise ModelError(f"the predictor is unavailable ({err})", hint="Reinstall sqldistill") from None
        db = db_target if isinstance(db_target, Database) else connect(db_target)
        try:
            predictor = Predictor.load(model_dir, device=device, num_threads=threads, fast=fast_decoder)
        except BaseException:
            if not isinstance(db_target, Database):
                db.close()
            raise
        info = ModelInfo(
            name=Path(model_dir).resolve().name,
            path=str(Path(model_dir).resolve()),
            db_id=str(meta["db_id"]),
            fingerprint=str(meta["schema_fingerprint"]),
            method=str(meta["method"]),
            base_model=str(meta["base_model"]),
            created=str(meta["created"]),
            num_parameters=int(getattr(predictor, "num_parameters", meta.get("num_parameters", 0)) or 0),
            schema=meta_schema(meta),
        )
        if model_process is None:
            model_process = (predictor.generator.streaming and predictor.device == "cpu"
                             and info.num_parameters < SMALL_MODEL and not kwargs.get("guided"))
        worker = None
        if model_process:
            from sqldistill.serve.worker import ModelWorker

            try:
                worker = ModelWorker(model_dir, device=device, threads=threads, fast_decoder=fast_decoder,
                                     max_batch=int(kwargs.get("max_batch", 16)),
                                     continuous=bool(kwargs.get("continuous", True)),
                                     speculative=bool(kwargs.get("speculative", True)))
            except BaseException:
                if not isinstance(db_target, Database):
                    db.close()
                raise
        service = cls(predictor, db, info, worker=worker, **kwargs)
        if warmup:
            service.warmup()
        return service

    def warmup(self) -> None:
        """Decode once alone and once in a batch, so the first real request does not pay for lazy set-up (a
        model process warms itself up before it reports ready)."""
        if not isinstance(self.batcher, Batcher):
            return
        probe = "How many rows are there?"
        self.predictor.generate([probe], max_new_tokens=8)
        self.predictor.generate([probe, probe + " "], max_new_tokens=8)
        self.batcher.submit(probe, **self.options(max_new_tokens=8)).result(timeout=300)

    # ------------------------------------------------------------------ decoding

    def _generate_batch(self, questions: list[str], options: dict[str, Any]) -> list[list[str]]:
        out = self.predictor.generate(questions, **options)
        return [[extract_sql(c) for c in cands] for cands in out]

    def _on_batch(self, size: int, seconds: float) -> None:
        self.metrics.observe("batch_size", float(size))
        self.metrics.observe("generation_latency_seconds", seconds)

    def _on_draft(self, drafted: int, accepted: int) -> None:
        self.metrics.inc("draft_tokens_total", float(drafted))
        self.metrics.inc("draft_accepted_total", float(accepted))

    def options(self, num_candidates: int = 1, mode: str = "greedy", max_new_tokens: int | None = None) -> dict[str, Any]:
        return {"num_candidates": num_candidates, "mode": mode,
                "max_new_tokens": min(max_new_tokens or self.max_new_tokens, self.max_new_tokens)}

    async def generate(self, question: str, **options: Any) -> list[str]:
        """Candidates for one question, decoded in a batch with whatever else is waiting."""
        return await asyncio.wrap_future(self.batcher.submit(normalise_question(question), **self.options(**options)))

    def generate_sync(self, question: str, **options: Any) -> list[str]:
        return self.batcher.submit(normalise_question(question), **self.options(**options)).result()

    def _guided(self, question: str) -> tuple[str, list[str]]:
        """Execution-guided decoding on the read-only database: (chosen SQL, every candidate)."""
        pred = self.predictor.predict(normalise_question(question), db=self.db, execution_guided=True,
                                      num_candidates=int(self.decoding["num_candidates"]),
                                      memory_k=int(self.decoding["memory_k"]),
                                      max_new_tokens=self.max_new_tokens, timeout_s=self.guard.timeout_s,
                                      max_rows=self.guard.max_rows_limit)
        return pred.sql, list(pred.candidates)

    # ------------------------------------------------------------------ answering

    def run_sql(self, sql: str, max_rows: int | None = None) -> ExecResult:
        return run_guarded(self.db, sql, self.guard, max_rows)

    async def answer(self, question: str, execute: bool = True, max_rows: int | None = None,
                     endpoint: str = "/v1/sql") -> Answer:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        if self.guided:
            loop = asyncio.get_running_loop()
            sql, candidates = await loop.run_in_executor(None, self._guided, question)
        else:
            candidates = await self.generate(question)
            sql = candidates[0] if candidates else ""
        answer = Answer(request_id, normalise_question(question), sql, candidates)
        if execute and answer.sql:
            loop = asyncio.get_running_loop()
            answer.result = await loop.run_in_executor(None, self.run_sql, answer.sql, max_rows)
            answer.executed = True
        answer.latency_ms = (time.perf_counter() - started) * 1000
        self.record(answer, endpoint)
        return answer

    def answer_sync(self, question: str, execute: bool = True, max_rows: int | None = None) -> Answer:
        started = time.perf_counter()
        if self.guided:
            sql, candidates = self._guided(question)
        else:
            candidates = self.generate_sync(question)
            sql = candidates[0] if candidates else ""
        answer = Answer(uuid.uuid4().hex, normalise_question(question), sql, candidates)
        if execute and answer.sql:
            answer.result = self.run_sql(answer.sql, max_rows)
            answer.executed = True
        answer.latency_ms = (time.perf_counter() - started) * 1000
        self.record(answer, "ask")
        return answer

    def record(self, answer: Answer, endpoint: str) -> None:
        res = answer.result
        if answer.error_kind:
            self.metrics.inc("errors_total", endpoint=endpoint, kind=answer.error_kind)
        self.request_log.record(
            endpoint=endpoint, request_id=answer.request_id, question=answer.question, sql=answer.sql,
            ok=answer.error_kind is None, error=answer.error, error_kind=answer.error_kind,
            executed=answer.executed, rows=len(res.rows) if res is not None else None,
            truncated=res.truncated if res is not None else None, latency_ms=round(answer.latency_ms, 3),
        )

    # ------------------------------------------------------------------ health

    def check_drift(self, force: bool = False) -> tuple[SchemaDrift | None, str | None]:
        drift, error = self.drift.check(force=force)
        self.metrics.set("schema_drift", 1.0 if (drift is None or drift.drifted) else 0.0)
        return drift, error

    def health(self) -> dict[str, Any]:
        drift, error = self.check_drift()
        status = "ok" if drift is not None and not drift.drifted else ("drifted" if drift is not None else "degraded")
        return {
            "status": status,
            "model": self.info.to_dict(),
            "database": {"db_id": self.db.db_id, "dialect": self.db.dialect,
                         "schema_fingerprint": drift.actual_fingerprint if drift else None},
            "drift": drift.to_dict() if drift is not None else None,
            "drift_error": error,
            "decoding": "guided" if self.guided else "greedy",
            "uptime_s": round(time.time() - self.started, 3),
        }

    def close(self) -> None:
        self.batcher.close()
        self.request_log.close()
        self.db.close()


def model_schema_drift(model_dir: str | Path, db_target: str) -> SchemaDrift:
    """Compare a model directory's schema with a live database, without loading the model."""
    from sqldistill.db import reflect
    from sqldistill.models.modeldir import meta_schema, read_model_meta

    meta = read_model_meta(model_dir)
    live = reflect(db_target, samples=0, allow_empty=True)
    return diff_schemas(meta_schema(meta), live, str(meta["schema_fingerprint"]))


__all__ = ["Answer", "ModelInfo", "SqlService", "default_run_dir", "model_schema_drift"]
