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
    from sqldistill.train.predict import Predictor

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
