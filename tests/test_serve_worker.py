"""The model in its own process: same answers as in-process decoding, clear errors when it cannot load or dies."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sqldistill.errors import ModelError
from sqldistill.serve.worker import ModelWorker
from tests.test_serve_student import PAIRS, tiny_student


@pytest.fixture(scope="module")
def student(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_student(spider_dir, tmp_path_factory)


def test_worker_answers_like_the_predictor_and_reports_its_steps(student: Path) -> None:
    from sqldistill.infer.predictor import Predictor

    predictor = Predictor.load(student)
    alone = {q: predictor.generate([q])[0] for q, _ in PAIRS}
    steps: list[int] = []
    worker = ModelWorker(student, max_batch=8, on_batch=lambda n, _s: steps.append(n))
    drafts: list[tuple[int, int]] = []
    worker.on_draft = lambda d, a: drafts.append((d, a))
    try:
        assert worker.mode == "continuous" and worker.alive
        questions = [q for q, _ in PAIRS] * 2
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(
                lambda q: worker.submit(q, num_candidates=1, mode="greedy", max_new_tokens=160).result(60),
                questions))
        assert answers == [alone[q] for q in questions]
        beam = worker.submit(PAIRS[1][0], num_candidates=2, mode="beam").result(60)
        assert beam == predictor.generate([PAIRS[1][0]], num_candidates=2, mode="beam")[0]
        assert steps and max(steps) <= 8
        # the repeated questions were decoded speculatively in the model's process, and it said so
        assert drafts and sum(a for _, a in drafts) > 0 and all(0 <= a <= d for d, a in drafts)
    finally:
        worker.close()
    with pytest.raises(ModelError, match="shutting down"):
        worker.submit("How many singers are there?").result(5)


def test_a_dead_worker_fails_requests_with_one_clear_error(student: Path) -> None:
    worker = ModelWorker(student)
    try:
        assert worker.submit(PAIRS[0][0]).result(60)
        worker._proc.kill()
        worker._proc.join(10)
        done = threading.Event()
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                worker.submit(PAIRS[0][0]).result(30)
            except BaseException as err:
                errors.append(err)
            done.set()

        threading.Thread(target=ask).start()
        assert done.wait(30)
        assert len(errors) == 1 and isinstance(errors[0], ModelError)
        assert "model process stopped" in str(errors[0])
        assert not worker.alive
    finally:
        worker.close()


def test_a_model_that_cannot_load_is_one_error_line(student: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(student, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="could not load the model"):
        ModelWorker(broken)
