"""Decoding, shared by evaluation and serving: greedy, beam and sampled SQL, and execution-guided selection.

Contract (stable):

- ``Predictor.load(model_dir, device=None, num_threads=None, fast=None) -> Predictor`` reads a model directory
  (see ``modeldir``); ``predictor.schema``, ``.fingerprint``, ``.prompt_format``, ``.num_parameters``, ``.meta``.
- ``predictor.generate(questions, num_candidates=1, mode="greedy"|"beam"|"sample", max_new_tokens=None)``
  returns, per question, up to ``num_candidates`` distinct SQL strings (via ``data.prompt.extract_sql``), best
  first.
- ``predictor.predict(question, db=None, execution_guided=False, num_candidates=4, mode="beam")`` returns a
  ``Prediction``. With ``execution_guided`` and a ``db``, candidates that fail the critics (parse, read-only,
  execute) are dropped and the SQL whose result most candidates agree on wins (``db.same_result``), ties going
  to the better-ranked candidate; when every candidate fails, the first one is returned with ``result=None``.
  A model directory with a retrieval memory (``retrieval``) adds its ``memory_k`` nearest training queries,
  values filled in from the question, as weighted candidates to that vote, with repairs of every candidate
  toward what the question names (columns, sort direction, a value to filter on, an aggregate, ...) and weights
  for how well each one fits the question's words: its shape, columns, values and tables
  (``retrieval.vote_weights``). Numbers the question spells out ("two") are read as digits first.
- ``predictor.stream(slots=16, speculative=True) -> GreedyStream | None``: continuous greedy decoding
  (questions join and leave a running batch between steps), for models with the fast path; used by the server.
  ``speculative``: each step also checks tokens guessed from earlier answers and from the retrieval memory's
  SQL (``fastdecode.NgramDrafter``) and keeps those the model agrees with: the same answers in fewer steps.

Generation is serialised by a lock, so one Predictor can be shared by threads. Greedy decoding of Llama- and
Qwen2-shaped float32 models runs on ``fastdecode.FastDecoder`` (the model's weights in a few fused tensor calls
per layer and a preallocated KV cache; by default for models under 30M parameters, since its fused weights are
copies; ``fast=True``/``False`` forces it on or off); other models take a hand-written loop over
the transformers forward with its KV cache. Both make a tiny student answer in milliseconds on a CPU. ``load``
sets torch's (process-wide) CPU thread count: ``num_threads`` when given, else 1 for students under 30M
parameters on CPU, else torch's default.
"""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import extract_sql, render_completion, render_prompt
from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.errors import ConfigError
from sqldistill.models.modeldir import meta_prompt_format, meta_schema, read_model_meta
from sqldistill.records import ExecResult, Schema
from sqldistill.sql.grounding import with_digits
from sqldistill.sql.safety import readonly_problem

if TYPE_CHECKING:
    from sqldistill.db import Database
    from sqldistill.train.fastdecode import NgramDrafter
    from sqldistill.train.retrieval import RetrievalIndex

MODES = ("greedy", "beam", "sample")
DEFAULT_MAX_NEW_TOKENS = 160
# Below this many parameters a CPU forward is too small to split across threads: with one thread a tiny
# student answered in 7.6 ms, with two (on a busy 2-core machine) in 51 ms.
SMALL_MODEL = 30_000_000


@dataclass
class Prediction:
    sql: str
    candidates: list[str]
    latency_ms: float
    result: ExecResult | None = None  # the chosen SQL's result, when execution-guided selection ran it
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (sql, why) for candidates that failed critics


def candidate_problem(sql: str, db: Database, timeout_s: float, max_rows: int) -> tuple[str | None, ExecResult | None]:
    """(why it fails, result): the critics a candidate must pass before it may be chosen."""
    problem = readonly_problem(sql, db.dialect)
    if problem:
        kind = "parse" if "could not be parsed" in problem or "empty" in problem else "read-only"
        return f"{kind}: {problem}", None
    res = db.execute(sql, timeout_s=timeout_s, max_rows=max_rows)
    if not res.ok:
        return f"execute: {res.error}", None
    return None, res


def select_by_execution(
    candidates: list[str], db: Database, timeout_s: float = 5.0, max_rows: int = 1000,
    weights: list[float] | None = None,
) -> tuple[str, ExecResult | None, list[tuple[str, str]]]:
    """(chosen SQL, its result, dropped candidates): the execution-result majority among candidates that run.

    With ``weights`` each candidate's vote counts that much and the heaviest member speaks for its cluster;
    without, every vote is 1 and the best-ranked member speaks."""
    dropped: list[tuple[str, str]] = []
    alive: list[tuple[str, ExecResult]] = []
    alive_w: list[float] = []
    for i, sql in enumerate(candidates):
        why, res = candidate_problem(sql, db, timeout_s, max_rows)
        if why is not None or res is None:
            dropped.append((sql, why or "execute"))
        else:
            alive.append((sql, res))
            alive_w.append(1.0 if weights is None else weights[i])
    if not alive:
        return (candidates[0] if candidates else ""), None, dropped
    clusters: list[list[int]] = []
    for i, (sql, res) in enumerate(alive):
        for members in clusters:
            rep_sql, rep_res = alive[members[0]]
            order = gold_order_matters(rep_sql) and gold_order_matters(sql)
            if same_result(rep_res.rows, res.rows, order):
                members.append(i)
                break
        else:
            clusters.append([i])
    best = max(clusters, key=lambda m: (sum(alive_w[i] for i in m), -m[0]))
    speaker = max(best, key=lambda i: (alive_w[i], -i))
    sql, res = alive[speaker]
    return sql, res, dropped


class GreedyStream:
    """Questions join and leave one running greedy batch (``fastdecode.SlotDecoder``): ``add`` queues a question
    with its options and a tag, ``step`` advances everything by one token and returns ``(tag, candidates)`` for
    the questions that finished; ``candidates`` is what ``generate`` returns for that question in greedy mode.
    Driven by one thread; each step holds the predictor's lock, so other callers interleave between steps."""

    def __init__(self, predictor: Predictor, slots: int, speculative: bool = True) -> None:
        from sqldistill.train.fastdecode import SlotDecoder

        assert predictor.fast is not None
        self.predictor = predictor
        self.slots = slots
        drafter = predictor.drafter() if speculative else None
        self.decoder = SlotDecoder(predictor.fast, slots=slots, eos_id=predictor.eos_id, drafter=drafter)

    @staticmethod
    def accepts(options: dict[str, Any]) -> bool:
        return options.get("mode", "greedy") == "greedy"

    @property
    def free(self) -> int:
        return self.decoder.free

    @property
    def running(self) -> int:
        return self.decoder.running

    @property
    def drafted(self) -> int:
        """Tokens guessed ahead so far (speculative steps)."""
        return self.decoder.drafted

    @property
    def accepted(self) -> int:
        """Guessed tokens the model agreed with so far."""
        return self.decoder.accepted

    def busy(self) -> bool:
        return self.decoder.busy()

    def add(self, question: str, options: dict[str, Any], tag: Any) -> None:
        ids = self.predictor._prompt_ids(question)
        self.decoder.add(ids, int(options.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS), tag)

    def step(self) -> list[tuple[Any, list[str]]]:
        with self.predictor._lock:
            done = self.decoder.step()
        return [(tag, self.predictor._candidates([tokens])) for tag, tokens in done]

    def reset(self) -> list[Any]:
        """Drop every question in flight (after an error); returns their tags."""
        return self.decoder.clear()


class Predictor:
    """A loaded student model that turns questions into SQL."""

    def __init__(self, model: Any, tokenizer: Any, meta: dict[str, Any], model_dir: Path, device: str,
                 memory: RetrievalIndex | None = None, fast: bool | None = None) -> None:
        self.model = model
        self.memory = memory
        self.tokenizer = tokenizer
        self.meta = meta
        self.model_dir = model_dir
        self.device = device
        self.schema: Schema = meta_schema(meta)
        self.prompt_format = meta_prompt_format(meta)
        self.fingerprint: str = meta["schema_fingerprint"]
        self.num_parameters: int = int(meta.get("num_parameters") or sum(p.numel() for p in model.parameters()))
        # the decoder's parameters plus those of the retrieval encoder, when the model has a memory
        self.total_parameters: int = self.num_parameters + (memory.num_parameters if memory else 0)
        self.eos_id: int = tokenizer.eos_token_id
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self._lock = threading.Lock()
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        from sqldistill.train.fastdecode import FastDecoder

        # greedy decoding without the framework's per-step overhead, for the shapes it supports
        # (its fused weights are copies: by default only for small models, where framework overhead dominates)
        if fast is None:
            fast = self.num_parameters < SMALL_MODEL
        self.fast: FastDecoder | None = FastDecoder.for_model(model) if fast else None

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None, num_threads: int | None = None,
             fast: bool | None = None) -> Predictor:
        import torch

        from sqldistill.models.causal import load_model, load_tokenizer

        meta = read_model_meta(model_dir)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if num_threads is None and device == "cpu" and int(meta.get("num_parameters") or 0) < SMALL_MODEL:
            num_threads = 1
        if num_threads is not None:
            torch.set_num_threads(max(1, num_threads))
        dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
        model = load_model(model_dir, dtype=dtype, device=device).eval()
        tokenizer = load_tokenizer(model_dir)
        tokenizer.padding_side = "left"
        from sqldistill.train.retrieval import RetrievalIndex

        return cls(model, tokenizer, meta, Path(model_dir), device, RetrievalIndex.load(model_dir), fast=fast)

    def prompt(self, question: str) -> str:
        return render_prompt(question, self.schema, self.prompt_format)

    def _prompt_ids(self, question: str) -> list[int]:
        return list(self.tokenizer(self.prompt(question), add_special_tokens=True)["input_ids"])

    def _greedy_one(self, ids: list[int], max_new_tokens: int) -> list[int]:
        import torch

        cache_kw = self._cache_kw
        x = torch.tensor([ids], device=self.device)
        out = self.model(input_ids=x, use_cache=True, logits_to_keep=1)
        tokens: list[int] = []
        for _ in range(max_new_tokens):
            nxt = int(out.logits[0, -1].argmax())
            if nxt == self.eos_id:
                break
            tokens.append(nxt)
            cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
            out = self.model(input_ids=torch.tensor([[nxt]], device=self.device), use_cache=True,
                             logits_to_keep=1, **{cache_kw: cache})
        return tokens

    def _greedy_batch(self, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
        """Greedy decoding of several prompts at once: left padding, explicit positions, one KV cache."""
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        nxt_pos = positions[:, -1:] + 1
        tokens: list[list[int]] = [[] for _ in prompts]
        done = [False] * len(prompts)
        for _ in range(max_new_tokens):
            nxt = out.logits[:, -1].argmax(-1)
            for i, t in enumerate(nxt.tolist()):
                if not done[i]:
                    if t == self.eos_id:
                        done[i] = True
                    else:
                        tokens[i].append(t)
            if all(done):
                break
            cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            out = self.model(input_ids=nxt.unsqueeze(1), attention_mask=mask, position_ids=nxt_pos, use_cache=True,
                             logits_to_keep=1, **{self._cache_kw: cache})
            nxt_pos = nxt_pos + 1
        return tokens

    def _generate_batch(
        self, prompts: list[list[int]], n: int, mode: str, max_new_tokens: int, temperature: float, top_p: float
    ) -> list[list[list[int]]]:
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, num_return_sequences=n,
                                      eos_token_id=self.eos_id, pad_token_id=self.pad_id)
        if mode == "beam":
            kwargs.update(num_beams=max(n, 2), do_sample=False, early_stopping=True)
        elif mode == "sample":
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        else:
            kwargs.update(do_sample=False)
        seqs = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)
        new = seqs[:, width:].tolist()
        return [[self._until_eos(r) for r in new[q * n:(q + 1) * n]] for q in range(len(prompts))]

    def _until_eos(self, row: list[int]) -> list[int]:
        if self.eos_id in row:
            row = row[: row.index(self.eos_id)]
        return [t for t in row if t != self.pad_id]

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
        import torch

        if mode not in MODES:
            raise ConfigError(f"unknown decoding mode '{mode}'", hint=f"Use one of {', '.join(MODES)}")
        if num_candidates < 1:
            raise ConfigError("num_candidates must be at least 1")
        n = 1 if mode == "greedy" else num_candidates
        limit = max_new_tokens or DEFAULT_MAX_NEW_TOKENS
        with self._lock, torch.inference_mode():
            prompts = [self._prompt_ids(q) for q in questions]
            if not prompts:
                return []
            if seed is not None:
                torch.manual_seed(seed)
            if mode == "greedy" and self.fast is not None:
                token_lists = [[t] for t in self.fast.greedy(prompts, limit, self.eos_id)]
            elif mode == "greedy" and len(prompts) == 1:
                token_lists = [[self._greedy_one(prompts[0], limit)]]
            elif mode == "greedy":
                token_lists = [[t] for t in self._greedy_batch(prompts, limit)]
            else:
                token_lists = self._generate_batch(prompts, n, mode, limit, temperature, top_p)
            return [self._candidates(cands) for cands in token_lists]

    def _candidates(self, token_lists: list[list[int]]) -> list[str]:
        """Distinct SQL of one question's decoded candidates, in order (``[""]`` when none has any)."""
        seen: dict[str, None] = {}
        for tokens in token_lists:
            sql = extract_sql(self.tokenizer.decode(tokens, skip_special_tokens=True))
            if sql:
                seen.setdefault(sql, None)
        return list(seen) or [""]

    def stream(self, slots: int = 16, speculative: bool = True) -> GreedyStream | None:
        """Continuous greedy decoding over ``slots`` concurrent questions, when the model has the fast path;
        ``speculative``: with guessed tokens checked by the model (``drafter``), same answers in fewer steps."""
        return GreedyStream(self, slots, speculative) if self.fast is not None else None

    def drafter(self, max_pairs: int = 20_000) -> NgramDrafter:
        """A ``fastdecode.NgramDrafter`` that knows the SQL of up to ``max_pairs`` training pairs of the
        retrieval memory (when the model has one); it goes on learning from every answer decoded with it."""
        from sqldistill.train.fastdecode import NgramDrafter

        drafter = NgramDrafter()
        sqls = [render_completion(p["sql"]) for p in (self.memory.pairs[:max_pairs] if self.memory else [])]
        for ids in (self.tokenizer(sqls, add_special_tokens=False)["input_ids"] if sqls else []):
            drafter.add([*ids, self.eos_id])
        return drafter

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
    ) -> Prediction:
        """The SQL for one question; with ``execution_guided`` and ``db``, chosen by execution (see module doc)."""
        started = time.perf_counter()
        if not execution_guided or db is None:
            cands = self.generate([question], 1, "greedy", max_new_tokens)[0]
            return Prediction(cands[0], cands, (time.perf_counter() - started) * 1000)
        greedy = self.generate([question], 1, "greedy", max_new_tokens)[0]
        more = self.generate([question], num_candidates, mode, max_new_tokens)[0] if num_candidates > 1 else []
        cands = list(dict.fromkeys([c for c in greedy + more if c]))  # greedy first, then beam/sample order
        weights = None
        if self.memory is not None and memory_k > 0:
            from sqldistill.train.retrieval import vote_weights

            spoken = with_digits(question)
            with self._lock:
                retrieved = self.memory.candidates(spoken, memory_k)
            voted = vote_weights(cands, retrieved, spoken, schema=self.schema, values=self.memory.values)
            cands, weights = [c for c, _ in voted], [w for _, w in voted]
        sql, res, dropped = select_by_execution(cands or [""], db, timeout_s, max_rows, weights)
        return Prediction(sql, cands, (time.perf_counter() - started) * 1000, res, dropped)
