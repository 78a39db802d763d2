"""A model directory loaded for answering questions, shared by evaluation, serving and training's rounds.

Contract (stable):

- ``Predictor.load(model_dir, device=None, num_threads=None, fast=None) -> Predictor`` reads a model directory
  (see ``models.modeldir``) into its ``SqlGenerator`` (``backend``: a causal LM, ``causal.CausalLMGenerator``,
  or the pointer student, ``seq2seq.PointerGenerator``, when ``sqldistill.json`` says ``"family": "pointer"``)
  and its retrieval memory; ``predictor.schema``, ``.fingerprint``,
  ``.prompt_format``, ``.num_parameters``, ``.total_parameters``, ``.device``, ``.meta``, ``.generator``.
- ``predictor.generate(questions, num_candidates=1, mode="greedy"|"beam"|"sample", max_new_tokens=None)``
  returns, per question, up to ``num_candidates`` distinct SQL strings, best first.
- ``predictor.predict(question, db=None, execution_guided=False, num_candidates=4, mode="beam")`` returns a
  ``Prediction``. With ``execution_guided`` and a ``db``, the greedy and the ``mode`` candidates, plus the
  retrieval memory's ``memory_k`` nearest training queries (values filled in from the question; none when
  ``memory_k`` is 0), are weighed (``select.vote_weights``: the model's scores, the memory's similarity,
  literals and database values found in the question; the values are the model's own, else the memory's),
  candidates that fail the critics (parse, read-only, execute) are dropped, and the SQL whose result carries
  the most weight wins (``select.select_by_execution``); when every candidate fails,
  the first one is returned with ``result=None``. None of this depends on the kind of model or on the
  language of the question.
- ``predictor.stream(slots=16, speculative=True) -> ContinuousDecoder | None``: continuous greedy decoding for
  the server, when the model offers it; ``speculative`` lets it guess tokens from the memory's SQL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import render_prompt
from sqldistill.infer.backend import DEFAULT_MAX_NEW_TOKENS, ContinuousDecoder, SqlGenerator, check_decoding
from sqldistill.infer.select import select_by_execution, vote_weights
from sqldistill.models.modeldir import meta_prompt_format, meta_schema, read_model_meta
from sqldistill.records import ExecResult, Schema

if TYPE_CHECKING:
    from sqldistill.db import Database
    from sqldistill.infer.retrieval import RetrievalIndex

# Training pairs of the memory that teach a speculative decoder which tokens usually follow which.
DRAFTER_PAIRS = 20_000


@dataclass
class Prediction:
    sql: str
    candidates: list[str]
    latency_ms: float
    result: ExecResult | None = None  # the chosen SQL's result, when execution-guided selection ran it
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (sql, why) for candidates that failed critics


class Predictor:
    """A model (any ``SqlGenerator``) with its schema, prompt format and retrieval memory."""

    def __init__(self, generator: SqlGenerator, meta: dict[str, Any], model_dir: Path,
                 memory: RetrievalIndex | None = None) -> None:
        self.generator = generator
        self.memory = memory
        self.meta = meta
        self.model_dir = model_dir
        self.schema: Schema = meta_schema(meta)
        self.prompt_format = meta_prompt_format(meta)
        self.fingerprint: str = meta["schema_fingerprint"]
        self.num_parameters: int = generator.num_parameters
        # the trained network's parameters plus the frozen encoders that answering needs: the generator's own
        # question encoder (the pointer student's) and the retrieval memory's, when there is one
        frozen = getattr(getattr(generator, "encoder", None), "num_parameters", 0)
        self.total_parameters: int = self.num_parameters + int(frozen) + (memory.num_parameters if memory else 0)
        self._memory_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None, num_threads: int | None = None,
             fast: bool | None = None) -> Predictor:
        from sqldistill.infer.causal import CausalLMGenerator
        from sqldistill.infer.retrieval import RetrievalIndex
        from sqldistill.models.seq2seq import is_pointer_meta

        meta = read_model_meta(model_dir)
        generator: SqlGenerator
        if is_pointer_meta(meta):
            from sqldistill.infer.seq2seq import PointerGenerator

            generator = PointerGenerator.load(model_dir, meta, device=device, num_threads=num_threads)
        else:
            generator = CausalLMGenerator.load(model_dir, meta, device=device, num_threads=num_threads, fast=fast)
        return cls(generator, meta, Path(model_dir), RetrievalIndex.load(model_dir))

    @property
    def device(self) -> str:
        return self.generator.device

    def prompt(self, question: str) -> str:
        """The training prompt of ``question`` (the text a pseudo-labelled pair is trained on)."""
        return render_prompt(question, self.schema, self.prompt_format)

    def count_tokens(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def generate(
        self,
        questions: list[str],
        num_candidates: int = 1,
        mode: str = "greedy",
        max_new_tokens: int | None = None,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int | None = None,
    ) -> list[list[str]]:
        """Distinct candidate SQL per question, best first (greedy returns one)."""
        check_decoding(mode, num_candidates)
        out = self.generator.generate(questions, num_candidates, mode, temperature=temperature, top_p=top_p,
                                      max_new_tokens=max_new_tokens or DEFAULT_MAX_NEW_TOKENS, seed=seed)
        return [[c.sql for c in cands] for cands in out]

    def stream(self, slots: int = 16, speculative: bool = True) -> ContinuousDecoder | None:
        known = [p["sql"] for p in self.memory.pairs[:DRAFTER_PAIRS]] if self.memory and speculative else []
        return self.generator.stream(slots, speculative, known)

    def predict(
        self,
        question: str,
        db: Database | None = None,
        execution_guided: bool = False,
        num_candidates: int = 4,
        mode: str = "beam",
        max_new_tokens: int | None = None,
        timeout_s: float = 5.0,
        max_rows: int = 1000,
        memory_k: int = 20,
        steady: bool = False,
    ) -> Prediction:
        """The SQL for one question; with ``execution_guided`` and ``db``, chosen by execution (see module doc).
        ``steady``: candidates' timeouts count the engine's work, not wall time (``Database.execute``), so the
        choice does not depend on how busy the machine is (training's pseudo-labels)."""
        started = time.perf_counter()
        if not execution_guided or db is None:
            cands = self.generate([question], 1, "greedy", max_new_tokens)[0]
            return Prediction(cands[0], cands, (time.perf_counter() - started) * 1000)
        tokens = max_new_tokens or DEFAULT_MAX_NEW_TOKENS
        check_decoding(mode, num_candidates)
        if num_candidates > 1:
            decoded = self.generator.generate([question], num_candidates, mode, max_new_tokens=tokens,
                                              with_scores=True, with_greedy=True)[0]
        else:
            decoded = self.generator.generate([question], 1, "greedy", max_new_tokens=tokens, with_scores=True)[0]
        scored: dict[str, float | None] = {}
        for c in decoded:  # greedy first, then beam/sample order; a query found twice keeps its best score
            if c.sql:
                prev = scored.get(c.sql)
                scored[c.sql] = c.score if prev is None else prev if c.score is None else max(prev, c.score)
        retrieved: list[tuple[str, float]] = []
        if self.memory is not None and memory_k > 0:
            with self._memory_lock:
                retrieved = self.memory.candidates(question, memory_k)
        # the database's text values: those the model keeps (the pointer student's), else the memory's
        values = getattr(self.generator, "values", None) or (self.memory.values if self.memory else None)
        voted = vote_weights(list(scored), retrieved, question, scores=list(scored.values()), schema=self.schema,
                             values=values)
        cands, weights = [c for c, _ in voted], [w for _, w in voted]
        # nothing decoded (every path ran out of tokens): the empty query is run, and dropped, in its place
        run, run_weights = (cands, weights) if cands else ([""], None)
        sql, res, dropped = select_by_execution(run, db, timeout_s, max_rows, run_weights, steady)
        return Prediction(sql, cands, (time.perf_counter() - started) * 1000, res, dropped)


__all__ = ["Prediction", "Predictor"]
