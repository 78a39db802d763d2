"""A transformers causal LM as an ``SqlGenerator``: the question is rendered into the prompt the model was
trained on (``data.prompt``), and the SQL is the continuation up to EOS (``extract_sql``).

Greedy decoding has one path per model: ``fastdecode.FastDecoder`` (the model's own weights in a few fused
tensor calls per layer and a preallocated KV cache) for the Llama- and Qwen2-shaped float32 models it
supports, by default those under 30M parameters (its fused weights are copies, and below that size framework
overhead is most of the time; ``fast=True``/``False`` forces it on or off); transformers' ``generate`` for
every other model, as for beam search and sampling. Both give the same tokens up to float rounding. With the
fast path the generator also decodes continuously (``stream``: ``continuous.SlotDecoder``, optionally
speculative).

Generation is serialised by a lock, so one generator can be shared by threads. ``load`` sets torch's
(process-wide) CPU thread count: ``num_threads`` when given, else 1 for models under 30M parameters on CPU,
else torch's default.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import PromptFormat, extract_sql, render_completion, render_prompt
from sqldistill.infer.backend import DEFAULT_MAX_NEW_TOKENS, Candidate
from sqldistill.models.modeldir import meta_prompt_format, meta_schema
from sqldistill.records import Schema

if TYPE_CHECKING:
    from sqldistill.infer.continuous import NgramDrafter, SlotDecoder
    from sqldistill.infer.fastdecode import FastDecoder

# Below this many parameters a CPU forward is too small to split across threads: with one thread a tiny
# student answered in 7.6 ms, with two (on a busy 2-core machine) in 51 ms.
SMALL_MODEL = 30_000_000


class CausalLMGenerator:
    """See the module docstring."""

    def __init__(self, model: Any, tokenizer: Any, schema: Schema, prompt_format: PromptFormat, device: str,
                 num_parameters: int | None = None, fast: bool | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.schema = schema
        self.prompt_format = prompt_format
        self.device = device
        self.num_parameters: int = int(num_parameters or sum(p.numel() for p in model.parameters()))
        self.eos_id: int = tokenizer.eos_token_id
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self._lock = threading.Lock()
        from sqldistill.infer.fastdecode import FastDecoder

        if fast is None:
            fast = self.num_parameters < SMALL_MODEL
        self.fast: FastDecoder | None = FastDecoder.for_model(model) if fast else None

    @classmethod
    def load(cls, model_dir: str | Path, meta: dict[str, Any], device: str | None = None,
             num_threads: int | None = None, fast: bool | None = None) -> CausalLMGenerator:
        """The model of a model directory whose ``sqldistill.json`` is ``meta`` (see ``models.modeldir``)."""
        import torch

        from sqldistill.models.causal import load_model, load_tokenizer

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
        return cls(model, tokenizer, meta_schema(meta), meta_prompt_format(meta), device,
                   meta.get("num_parameters"), fast)

    @property
    def streaming(self) -> bool:
        return self.fast is not None

    def encode(self, question: str) -> list[int]:
        prompt = render_prompt(question, self.schema, self.prompt_format)
        return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, questions: Sequence[str], n: int = 1, mode: str = "greedy", *,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.8, top_p: float = 0.95,
                 seed: int | None = None, with_scores: bool = False,
                 with_greedy: bool = False) -> list[list[Candidate]]:
        import torch

        if with_greedy:  # two passes: transformers decodes one mode at a time
            first = self.generate(questions, 1, "greedy", max_new_tokens=max_new_tokens, with_scores=with_scores)
            rest = self.generate(questions, n, mode, max_new_tokens=max_new_tokens, temperature=temperature,
                                 top_p=top_p, seed=seed, with_scores=with_scores)
            return [a + b for a, b in zip(first, rest)]
        n = 1 if mode == "greedy" else n
        with self._lock, torch.inference_mode():
            prompts = [self.encode(q) for q in questions]
            if not prompts:
                return []
            if seed is not None:
                torch.manual_seed(seed)
            if mode == "greedy" and self.fast is not None:
                token_lists = [[t] for t in self.fast.greedy(prompts, max_new_tokens, self.eos_id)]
            else:
                token_lists = self._transformers_generate(prompts, n, mode, max_new_tokens, temperature,
                                                          top_p)
            scores = self._scores(prompts, token_lists) if with_scores else None
            return [self.candidates(cands, scores[q] if scores else None) for q, cands in enumerate(token_lists)]

    def _left_padded(self, rows: list[list[int]]) -> tuple[Any, Any]:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
        return ids.to(self.device), mask.to(self.device)

    def _transformers_generate(self, prompts: list[list[int]], n: int, mode: str, max_new_tokens: int,
                               temperature: float, top_p: float) -> list[list[list[int]]]:
        """Decoding through the model's ``generate``. Greedy decoding is plain argmax (a pretrained model's
        own repetition penalty and n-gram rule are switched off: SQL repeats tokens for good reasons); beam
        search and sampling keep the model's generation settings, with ours on top."""
        ids, mask = self._left_padded(prompts)
        kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, num_return_sequences=n,
                                      eos_token_id=self.eos_id, pad_token_id=self.pad_id)
        if mode == "beam":
            kwargs.update(num_beams=max(n, 2), do_sample=False, early_stopping=True)
        elif mode == "sample":
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        else:
            kwargs.update(do_sample=False, num_beams=1, repetition_penalty=1.0, no_repeat_ngram_size=0)
        seqs = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        new = seqs[:, ids.shape[1]:].tolist()
        return [[self._until_eos(r) for r in new[q * n:(q + 1) * n]] for q in range(len(prompts))]

    def _until_eos(self, row: list[int]) -> list[int]:
        if self.eos_id in row:
            row = row[: row.index(self.eos_id)]
        return [t for t in row if t != self.pad_id]

    def _scores(self, prompts: list[list[int]], token_lists: list[list[list[int]]]) -> list[list[float]]:
        """log P(tokens + EOS | prompt) of every decoded candidate, from one teacher-forced forward pass."""
        import torch

        rows = [(p, [*t, self.eos_id]) for p, cands in zip(prompts, token_lists) for t in cands]
        ids, mask = self._left_padded([p + t for p, t in rows])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask, position_ids=positions)
                                 .logits.float(), dim=-1)
        width = ids.shape[1]
        flat = []
        for i, (_, t) in enumerate(rows):
            # the logits at position j predict token j + 1; the candidate's tokens are the row's last len(t)
            at = torch.arange(width - len(t) - 1, width - 1, device=ids.device)
            flat.append(float(logp[i, at, ids[i, width - len(t):]].sum()))
        out, k = [], 0
        for cands in token_lists:
            out.append(flat[k:k + len(cands)])
            k += len(cands)
        return out

    def candidates(self, token_lists: list[list[int]], scores: list[float] | None = None) -> list[Candidate]:
        """Distinct SQL of one question's decoded candidates, in order (one empty candidate when none has any)."""
        seen: dict[str, Candidate] = {}
        for i, tokens in enumerate(token_lists):
            sql = extract_sql(self.tokenizer.decode(tokens, skip_special_tokens=True))
            if sql and sql not in seen:
                seen[sql] = Candidate(sql, scores[i] if scores is not None else None)
        return list(seen.values()) or [Candidate("")]

    def stream(self, slots: int = 16, speculative: bool = True,
               known_sql: Sequence[str] = ()) -> GreedyStream | None:
        """Continuous greedy decoding over ``slots`` concurrent questions, when the model has the fast path;
        ``speculative``: guessed tokens checked by the model (``drafter``), same answers in fewer steps."""
        if self.fast is None:
            return None
        return GreedyStream(self, slots, self.drafter(known_sql) if speculative else None)

    def drafter(self, known_sql: Sequence[str] = ()) -> NgramDrafter:
        """A ``continuous.NgramDrafter`` that knows the completions of ``known_sql``; it goes on learning from
        every answer decoded with it."""
        from sqldistill.infer.continuous import NgramDrafter

        drafter = NgramDrafter()
        completions = [render_completion(sql) for sql in known_sql]
        for ids in (self.tokenizer(completions, add_special_tokens=False)["input_ids"] if completions else []):
            drafter.add([*ids, self.eos_id])
        return drafter


class GreedyStream:
    """A ``ContinuousDecoder`` over ``continuous.SlotDecoder``; each step holds the generator's lock, so
    other callers interleave between steps."""

    def __init__(self, generator: CausalLMGenerator, slots: int, drafter: NgramDrafter | None = None) -> None:
        from sqldistill.infer.continuous import SlotDecoder

        assert generator.fast is not None
        self.generator = generator
        self.slots = slots
        self.decoder: SlotDecoder = SlotDecoder(generator.fast, slots=slots, eos_id=generator.eos_id,
                                                drafter=drafter)

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
        return self.decoder.drafted

    @property
    def accepted(self) -> int:
        return self.decoder.accepted

    def busy(self) -> bool:
        return self.decoder.busy()

    def add(self, question: str, options: dict[str, Any], tag: Any) -> None:
        ids = self.generator.encode(question)
        self.decoder.add(ids, int(options.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS), tag)

    def step(self) -> list[tuple[Any, list[str]]]:
        with self.generator._lock:
            done = self.decoder.step()
        return [(tag, [c.sql for c in self.generator.candidates([tokens])]) for tag, tokens in done]

    def reset(self) -> list[Any]:
        return self.decoder.clear()


__all__ = ["SMALL_MODEL", "CausalLMGenerator", "GreedyStream"]
