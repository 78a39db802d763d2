"""Micro-batching: batched answers equal one-at-a-time answers, and one bad question fails alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sqldistill.serve.batcher import Batcher
from tests.test_serve_student import PAIRS, tiny_student


@pytest.fixture(scope="module")
def predictor(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sqldistill.infer.predictor import Predictor

    return Predictor.load(tiny_student(spider_dir, tmp_path_factory))


def test_concurrent_questions_are_batched_and_answered_as_if_alone(predictor: Any) -> None:
    questions = [q for q, _ in PAIRS] * 3
    alone = {q: predictor.generate([q])[0] for q, _ in PAIRS}
    sizes: list[int] = []
    batcher = Batcher(lambda qs, opts: predictor.generate(qs, **opts), max_batch=16,
                      on_batch=lambda n, _s: sizes.append(n), linger_s=0.005)
    try:
        start = threading.Barrier(len(questions))

        def ask(q: str) -> list[str]:
            start.wait()
            return batcher.submit(q, num_candidates=1, mode="greedy").result(timeout=120)

        with ThreadPoolExecutor(max_workers=len(questions)) as pool:
            answers = list(pool.map(ask, questions))
    finally:
        batcher.close()
    assert answers == [alone[q] for q in questions]
    assert sum(sizes) == len(questions) and max(sizes) > 1 and max(sizes) <= 16


def test_one_failing_question_does_not_fail_its_batch() -> None:
    gate = threading.Event()

    def generate(questions: list[str], options: dict[str, Any]) -> list[list[str]]:
        gate.wait(10)  # hold the first call so the rest queue up into one batch
        if "bad" in questions:
            raise ValueError("cannot answer 'bad'")
        return [[q.upper()] for q in questions]

    batcher = Batcher(generate, max_batch=8)
    try:
        futures = [batcher.submit(q) for q in ("first", "a", "bad", "b")]
        gate.set()
        assert futures[0].result(10) == ["FIRST"]
        assert futures[1].result(10) == ["A"] and futures[3].result(10) == ["B"]
        with pytest.raises(ValueError, match="cannot answer"):
            futures[2].result(10)
    finally:
        batcher.close()


def test_options_are_never_mixed_in_one_batch_and_close_drains_the_queue() -> None:
    seen: list[tuple[tuple[str, ...], int]] = []
    gate = threading.Event()

    def generate(questions: list[str], options: dict[str, Any]) -> list[list[str]]:
        gate.wait(10)
        seen.append((tuple(questions), options["n"]))
        return [[q] * options["n"] for q in questions]

    batcher = Batcher(generate, max_batch=8)
    wanted = {"x": 1, "y": 2, "z": 1, "w": 2}
    futures = [batcher.submit(q, n=n) for q, n in wanted.items()]
    gate.set()
    batcher.close()  # returns only once everything queued is answered
    assert [f.result(0) for f in futures] == [["x"], ["y", "y"], ["z"], ["w", "w"]]
    assert all(wanted[q] == n for questions, n in seen for q in questions)
    assert sorted(q for questions, _ in seen for q in questions) == sorted(wanted)
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("late")


def test_continuous_batching_answers_as_if_alone_and_keeps_other_modes_apart(predictor: Any) -> None:
    stream = predictor.stream(4)
    assert stream is not None  # the tiny student is Llama-shaped: it has the fast decoder
    questions = [q for q, _ in PAIRS] * 2
    alone = {q: predictor.generate([q])[0] for q, _ in PAIRS}
    beam_q = PAIRS[0][0]
    beam_alone = predictor.generate([beam_q], num_candidates=2, mode="beam")[0]
    sizes: list[int] = []
    drafts: list[tuple[int, int]] = []
    batcher = Batcher(lambda qs, opts: predictor.generate(qs, **opts), max_batch=4,
                      on_batch=lambda n, _s: sizes.append(n), stream=stream,
                      on_draft=lambda d, a: drafts.append((d, a)))
    try:
        start = threading.Barrier(len(questions) + 1)

        def ask(q: str) -> list[str]:
            start.wait()
            return batcher.submit(q, num_candidates=1, mode="greedy", max_new_tokens=160).result(timeout=120)

        def ask_beam() -> list[str]:
            start.wait()
            return batcher.submit(beam_q, num_candidates=2, mode="beam").result(timeout=120)

        with ThreadPoolExecutor(max_workers=len(questions) + 1) as pool:
            beam = pool.submit(ask_beam)
            answers = list(pool.map(ask, questions))
    finally:
        batcher.close()
    assert answers == [alone[q] for q in questions]
    assert beam.result() == beam_alone
    assert max(sizes) == 4  # steps ran with the slots full, never beyond
    # a question's steps: at most a few tokens each, so there are more calls than questions
    assert len(sizes) > len(questions)
    # steps were speculative (the default), and guesses learned from the first answers held for the repeats
    assert stream.decoder.accepted > 0
    assert sum(d for d, _ in drafts) == stream.drafted and sum(a for _, a in drafts) == stream.accepted
    assert all(0 <= a <= d for d, a in drafts)
    plain = predictor.stream(4, speculative=False)
    assert plain is not None and plain.decoder.drafter is None


class FlakyStream:
    """A stream that fails its first step: the questions in flight fail, the next ones are answered."""

    drafted = accepted = 0  # it never guesses ahead

    def __init__(self) -> None:
        self.live: dict[Any, str] = {}
        self.steps = 0

    @property
    def free(self) -> int:
        return 8 - len(self.live)

    @property
    def running(self) -> int:
        return len(self.live)

    def accepts(self, options: dict[str, Any]) -> bool:
        return True

    def busy(self) -> bool:
        return bool(self.live)

    def add(self, question: str, options: dict[str, Any], tag: Any) -> None:
        if not question:
            raise ValueError("an empty question")
        self.live[tag] = question

    def step(self) -> list[tuple[Any, list[str]]]:
        self.steps += 1
        if self.steps == 1:
            raise RuntimeError("the step broke")
        done, self.live = list(self.live.items()), {}
        return [(tag, [q.upper()]) for tag, q in done]

    def reset(self) -> list[Any]:
        tags, self.live = list(self.live), {}
        return tags


def test_a_failing_step_fails_only_the_questions_in_flight() -> None:
    stream = FlakyStream()
    batcher = Batcher(lambda qs, opts: [[q] for q in qs], stream=stream)
    try:
        first = batcher.submit("first")
        with pytest.raises(RuntimeError, match="the step broke"):
            first.result(10)
        with pytest.raises(ValueError, match="empty question"):
            batcher.submit("").result(10)
        assert batcher.submit("second").result(10) == ["SECOND"]
    finally:
        batcher.close()
