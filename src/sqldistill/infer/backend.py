"""The one interface between a model and everything that answers questions with it.

A model that writes SQL is an ``SqlGenerator``: it encodes a question (with whatever schema context it was
trained on), decodes ``n`` candidates greedily, by beam search or by sampling, best first, each with its
score when asked, and says how many parameters it has, where it runs and whether it can decode continuously
(questions joining and leaving one running batch, for the server). Nothing else is assumed: a causal LM that
continues a prompt (``causal.CausalLMGenerator``) is one implementation, and an encoder-decoder that encodes
the question once and decodes from that is another shape the same interface takes.

Above it, and the same for every model: prompt-free choice among candidates (``select``: the retrieval vote,
execution-guided selection), the ``Predictor`` that a model directory loads into, evaluation and serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqldistill.errors import ConfigError

MODES = ("greedy", "beam", "sample")
DEFAULT_MAX_NEW_TOKENS = 160


@dataclass(frozen=True)
class Candidate:
    """One decoded SQL query. ``score``: the model's log-probability of the tokens it decoded for it, given
    the question (higher is likelier), when the caller asked for scores; None otherwise."""

    sql: str
    score: float | None = None


def check_decoding(mode: str, n: int) -> None:
    """One clear error for decoding options no generator takes."""
    if mode not in MODES:
        raise ConfigError(f"unknown decoding mode '{mode}'", hint=f"Use one of {', '.join(MODES)}")
    if n < 1:
        raise ConfigError("num_candidates must be at least 1")


class ContinuousDecoder(Protocol):
    """Greedy decoding of a running batch that questions join and leave between steps. ``add`` queues a
    question with its options and a tag; ``step`` advances every question by one step (one token, or several
    when guesses are checked) and returns ``(tag, candidates)`` for those that finished, the candidates being
    what ``generate`` gives that question in greedy mode. One thread drives it."""

    @property
    def free(self) -> int: ...

    @property
    def running(self) -> int: ...

    @property
    def drafted(self) -> int:
        """Tokens guessed ahead so far (0 for a decoder that does not guess)."""
        ...

    @property
    def accepted(self) -> int:
        """Guessed tokens kept so far."""
        ...

    def accepts(self, options: dict[str, Any]) -> bool: ...

    def busy(self) -> bool: ...

    def add(self, question: str, options: dict[str, Any], tag: Any) -> None: ...

    def step(self) -> list[tuple[Any, list[str]]]: ...

    def reset(self) -> list[Any]:
        """Drop every question in flight (after an error); returns their tags."""
        ...


@runtime_checkable
class SqlGenerator(Protocol):
    """A model that turns questions into SQL; safe to call from several threads.

    - ``encode(question)``: the model's input for one question (token ids), schema context included;
    - ``generate(questions, n, mode, ...)``: per question, up to ``n`` distinct candidates, best first (greedy
      gives one; ``check_decoding`` has validated ``mode`` and ``n``); a question the model writes nothing
      for gets one empty candidate; ``with_scores`` fills ``Candidate.score``; ``with_greedy`` puts the
      greedy candidate first, before the ``n`` of ``mode`` (execution-guided answering reads both; a generator
      may find them in one pass);
    - ``num_parameters``, ``device``; ``count_tokens(text)``: its length in the model's tokens (for usage);
    - ``streaming``: whether ``stream`` returns a ``ContinuousDecoder`` (else it returns None);
      ``known_sql``: answers seen before, which a decoder may use to guess tokens ahead (the result is the
      same, only faster).
    """

    num_parameters: int
    device: str

    @property
    def streaming(self) -> bool: ...

    def encode(self, question: str) -> list[int]: ...

    def count_tokens(self, text: str) -> int: ...

    def generate(self, questions: Sequence[str], n: int = 1, mode: str = "greedy", *,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, temperature: float = 0.8, top_p: float = 0.95,
                 seed: int | None = None, with_scores: bool = False,
                 with_greedy: bool = False) -> list[list[Candidate]]: ...

    def stream(self, slots: int = 16, speculative: bool = True,
               known_sql: Sequence[str] = ()) -> ContinuousDecoder | None: ...


__all__ = ["DEFAULT_MAX_NEW_TOKENS", "MODES", "Candidate", "ContinuousDecoder", "SqlGenerator",
           "check_decoding"]
