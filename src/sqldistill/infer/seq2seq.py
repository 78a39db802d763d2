"""The pointer student (``models.seq2seq``) as an ``SqlGenerator``.

The question is encoded once (frozen sentence encoder, value candidates found in the database's values,
fusion with the schema's items); the decoder then writes the pointer language one token at a time (each step
runs the new token alone, with the keys and values of the earlier ones kept: ``PointerSeq2Seq.step``), each
step masked by the grammar (``language.Grammar.next``), so every finished candidate renders to SQL that parses
and names only the schema's tables and columns. Greedy decoding takes the best allowed token; beam search
keeps the ``n`` best prefixes by summed log-probability (each step's distribution renormalised over the
allowed tokens; the grammar's misfits among them are then set to minus infinity, not renormalised again).
Scores are those sums. Execution-guided answering reads both (``generate(..., with_greedy=True)``): the greedy
path is decoded as one more row of the beam's steps (``search``), not in a pass of its own.

Constrained decoding uses its own small state machine rather than a grammar library (xgrammar, llguidance,
outlines, transformers-cfg): those compile a grammar against a fixed tokenizer vocabulary, while here the
vocabulary is keywords plus pointers whose number and meaning change with every question, and which columns
may follow depends on the tables already chosen.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.infer.backend import DEFAULT_MAX_NEW_TOKENS, Candidate
from sqldistill.models.modeldir import meta_schema
from sqldistill.models.seq2seq.features import Example, SchemaFeatures, TextEncoder, make_example
from sqldistill.models.seq2seq.language import BOS, EOS, Grammar, Invalid, NeedMore
from sqldistill.models.seq2seq.values import ValueIndex, find_values, value_index

if TYPE_CHECKING:

    from sqldistill.models.seq2seq.network import PointerSeq2Seq
    from sqldistill.records import Schema

VALUES_FILE = "values.json"
EXAMPLE_CACHE = 8  # encoded questions kept


class PointerGenerator:
    """See the module docstring."""

    def __init__(self, model: PointerSeq2Seq, encoder: TextEncoder, schema: Schema,
                 values: dict[str, list[str]], device: str = "cpu", threads: int = 1) -> None:
        self.model = model.eval()
        self.threads = threads  # torch CPU threads while decoding
        self.encoder = encoder
        self.schema = schema
        self.values = values
        self.index: ValueIndex = value_index(values)
        self.valued = frozenset(values)  # the columns whose values the question's values are looked up in
        self.repeats = False  # may a SELECT list name one thing twice (``language.Grammar``)
        self.cross = False  # may a table join the FROM without a foreign key to the tables before it
        self.device = device
        self.num_parameters: int = sum(p.numel() for p in model.parameters())
        self.features = SchemaFeatures.build(schema, encoder)
        self._lock = threading.Lock()
        # the last questions' encoded examples: a question asked again (a retry, a greedy answer after a guided
        # one) is not prepared again, and the sentence encoder is the costliest part of preparing it
        self._examples: dict[str, Example] = {}

    @classmethod
    def load(cls, model_dir: str | Path, meta: dict[str, Any], device: str | None = None,
             num_threads: int | None = None, encoder: TextEncoder | None = None) -> PointerGenerator:

        from sqldistill.models.seq2seq.network import PointerSeq2Seq, read_pointer_config

        device = device or "cpu"
        model = PointerSeq2Seq.load(model_dir, device)
        if encoder is None:
            where = read_pointer_config(model_dir).get("encoder")
            encoder = TextEncoder.load(where if where and Path(where).is_dir() else None)
        path = Path(model_dir) / VALUES_FILE
        values = json.loads(path.read_text()) if path.is_file() else {}
        return cls(model, encoder, meta_schema(meta), values, device, threads=max(1, num_threads or 1))

    @property
    def streaming(self) -> bool:
        return False

    def stream(self, slots: int = 16, speculative: bool = True, known_sql: Sequence[str] = ()) -> None:
        return None

    def encode(self, question: str) -> list[int]:
        return list(self.encoder.tokenizer(question, add_special_tokens=True)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.encoder.tokenizer(text, add_special_tokens=False)["input_ids"])

    def example(self, question: str) -> Example:
        cached = self._examples.get(question)
        if cached is not None:
            return cached
        states, spans = self.encoder.questions([question])[0]
        example = make_example(question, states, spans, self.features, find_values(question, self.index))
        if len(self._examples) >= EXAMPLE_CACHE:
            self._examples.pop(next(iter(self._examples)))
        self._examples[question] = example
        return example

    def generate(self, questions: Sequence[str], n: int = 1, mode: str = "greedy", *,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.8, top_p: float = 0.95,
                 seed: int | None = None, with_scores: bool = False,
                 with_greedy: bool = False) -> list[list[Candidate]]:
        import torch

        width = 1 if mode == "greedy" else max(1, n)
        fused = with_greedy and width > 1  # the greedy path decoded beside the beam (``search``)
        out: list[list[Candidate]] = []
        with self._lock, torch.inference_mode():
            # one question's steps are too small to split between threads: on the CPU they run on one unless
            # told otherwise (two threads took 87 ms per guided question where one took 36 ms)
            threads = torch.get_num_threads()
            if self.device == "cpu":
                torch.set_num_threads(self.threads)
            try:
                for question in questions:
                    found, greedy = search(self.model, self.example(question), width, max_new_tokens, self.device,
                                           valued=self.valued, repeats=self.repeats, cross=self.cross,
                                           greedy=fused)
                    if with_greedy and not fused:
                        greedy = found[:1]
                    cands = [Candidate(sql, score if with_scores else None) for sql, score in found][:max(1, n)]
                    first = [Candidate(sql, score if with_scores else None) for sql, score in greedy]
                    if with_greedy:
                        out.append((first or [Candidate("", None)]) + (cands or [Candidate("", None)]))
                    else:
                        out.append(cands or [Candidate("", None)])
            finally:
                torch.set_num_threads(threads)
        return out


def beam_search(model: PointerSeq2Seq, example: Example, width: int, max_len: int = DEFAULT_MAX_NEW_TOKENS,
                device: str = "cpu", valued: frozenset[str] = frozenset(),
                repeats: bool = False, cross: bool = False) -> list[tuple[str, float]]:
    """Up to ``width`` distinct SQL strings with their summed log-probabilities, best first; ``width`` 1 is
    greedy decoding. Every step is masked by the grammar. Its misfits (``Grammar.next``: a database value
    compared with a column of ``valued`` that does not hold it; unless ``repeats``, an item a SELECT list or
    GROUP BY already names; unless ``cross``, a table with no foreign key to the tables before it) are not
    taken, and the probability the model gave them is not spread over the other tokens."""
    return search(model, example, width, max_len, device, valued, repeats, cross)[0]


def search(model: PointerSeq2Seq, example: Example, width: int, max_len: int = DEFAULT_MAX_NEW_TOKENS,
           device: str = "cpu", valued: frozenset[str] = frozenset(), repeats: bool = False, cross: bool = False,
           greedy: bool = False) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(``beam_search``'s answer, the greedy answer as a list of at most one): with ``greedy``, the greedy path
    is decoded beside the beam, one more row in the same steps, instead of in a second pass over the question
    (execution-guided answering reads both); without, the second list is empty."""
    import torch

    from sqldistill.models.seq2seq.network import Batch

    grammar = Grammar(example.items, valued, repeats, cross)
    batch = Batch([example], device)
    memory, pad, pointers = model.encode(batch)
    state = model.start_steps(memory, pad, pointers, batch.pointer_mask)
    # a prefix, its score and the row of the previous step it grew from (its cached keys and values)
    alive: list[tuple[list[int], float, int]] = [([], 0.0, 0)]
    done: list[tuple[list[int], float]] = []
    path: tuple[list[int], float, int] | None = ([], 0.0, 0) if greedy else None  # the greedy row, decoding
    path_done: list[tuple[list[int], float]] = []
    fits: dict[tuple[int, ...], tuple[Any, Any]] = {}  # the grammar's answer per prefix (rows may share one)
    for _ in range(max_len):
        rows = alive + ([path] if path is not None else [])
        if not rows:
            break
        nexts = []
        for toks, _, _ in rows:
            key = tuple(toks)
            if key not in fits:
                fits[key] = grammar.next(toks)
            nexts.append(fits[key])
        allowed = [ok for ok, _ in nexts]
        logits = model.step([toks[-1] if toks else BOS for toks, _, _ in rows], state,
                            [parent for _, _, parent in rows])
        mask = torch.full_like(logits, float("-inf"))
        for row, ok in enumerate(allowed):
            if ok:
                mask[row, [t for t in ok if t < logits.shape[-1]]] = 0.0
        logp = torch.log_softmax(logits + mask, dim=-1)
        for row, (_, misfits) in enumerate(nexts):
            if misfits:
                logp[row, [t for t in misfits if t < logits.shape[-1]]] = float("-inf")
        grown: list[tuple[list[int], float, int]] = []
        for row, (toks, score, _) in enumerate(rows):
            if not allowed[row]:
                continue
            top = torch.topk(logp[row], min(width if row < len(alive) else 1, len(allowed[row])))
            for lp, tok in zip(top.values.tolist(), top.indices.tolist()):
                if lp > float("-inf"):
                    grown.append(([*toks, tok], score + lp, row))
        if path is not None:
            last = grown[-1] if grown and grown[-1][2] == len(alive) else None
            grown = grown[:-1] if last is not None else grown
            path = None
            if last is not None and last[0][-1] == EOS:
                path_done.append((last[0], last[1]))
            elif last is not None:
                path = last
        grown.sort(key=lambda h: -h[1])
        alive = []
        for toks, score, row in grown:
            if toks[-1] == EOS:
                done.append((toks, score))
            elif len(alive) < width:
                alive.append((toks, score, row))
        done = sorted(done, key=lambda h: -h[1])[:2 * width]
        if len(done) >= width:  # log-probabilities only fall: a prefix below the width-th answer cannot win
            alive = [h for h in alive if h[1] > done[width - 1][1]]
    return _render(grammar, done, width), _render(grammar, path_done, 1)


def _render(grammar: Grammar, done: list[tuple[list[int], float]], width: int) -> list[tuple[str, float]]:
    """The ``width`` best distinct SQL strings of finished token sequences."""
    results: list[tuple[str, float]] = []
    seen: set[str] = set()
    for toks, score in sorted(done, key=lambda h: -h[1]):
        try:
            sql = grammar.parse(toks)
        except (NeedMore, Invalid):
            continue
        if sql not in seen:
            seen.add(sql)
            results.append((sql, score))
    return results[:width]
