"""Batching: questions that arrive while the model is busy share its decoding steps.

On a CPU a small student's decoding step costs much less per question for sixteen than for one, so under load
batching multiplies throughput, and with nothing queued a question goes straight to the model (no wait is
added). One worker thread owns the model; request threads only queue work and wait on a future.

Two ways, chosen by what the model offers:

- continuous (a ``ContinuousDecoder``, e.g. ``Predictor.stream()``): every question joins the running batch at the next
  decoding step and leaves, with its answer, at the step it finishes, so a short answer never waits for a long
  one and a new question never waits for a batch to end. Options the stream does not take (beam, sampling) are
  decoded between its steps as a batch of their own.
- per call (``generate`` alone): the questions queued at that moment are decoded in one call.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqldistill.infer.backend import ContinuousDecoder

# (questions, options) -> one list of candidates per question
GenerateFn = Callable[[list[str], dict[str, Any]], list[list[str]]]


@dataclass
class _Job:
    question: str
    options: dict[str, Any]
    future: Future[list[str]] = field(default_factory=Future)

    @property
    def key(self) -> Hashable:
        return tuple(sorted(self.options.items()))


class Batcher:
    """Runs ``generate`` on one thread over batches of at most ``max_batch`` questions that share options."""

    def __init__(self, generate: GenerateFn, max_batch: int = 16,
                 on_batch: Callable[[int, float], None] | None = None, linger_s: float = 0.0,
                 stream: ContinuousDecoder | None = None, on_draft: Callable[[int, int], None] | None = None) -> None:
        self._generate = generate
        self._stream = stream
        self._jobs: dict[int, _Job] = {}  # stream tag -> job
        self.max_batch = max(1, max_batch)
        self.linger_s = linger_s
        self._busy = False  # whether work arrived while the model was busy: the sign of load
        self._on_batch = on_batch
        self._on_draft = on_draft  # (tokens guessed, guesses kept) by each speculative step, when the stream says
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._pending: list[_Job] = []  # taken from the queue but left for a later batch (other options)
        self._closed = False
        work = self._work if stream is None else self._work_stream
        self._thread = threading.Thread(target=work, name="sqldistill-batcher", daemon=True)
        self._thread.start()

    def submit(self, question: str, **options: Any) -> Future[list[str]]:
        if self._closed:
            raise RuntimeError("the batcher is closed")
        job = _Job(question, options)
        self._queue.put(job)
        return job.future

    def _take_batch(self) -> list[_Job] | None:
        if not self._pending:
            first = self._queue.get()
            if first is None:
                return None
            self._pending.append(first)
        # Drain what is queued. Under load (work queued up during the last batch) linger briefly for more, since
        # a fuller batch costs little extra; with no load a question goes to the model at once.
        deadline = time.monotonic() + (self.linger_s if self._busy else 0.0)
        while len(self._pending) < self.max_batch:
            wait = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._closed = True
                break
            self._pending.append(job)
        key = self._pending[0].key
        batch = [j for j in self._pending if j.key == key][: self.max_batch]
        taken = {id(j) for j in batch}
        self._pending = [j for j in self._pending if id(j) not in taken]
        return batch

    def _run(self, batch: list[_Job]) -> None:
        started = time.perf_counter()
        try:
            outputs = self._generate([j.question for j in batch], batch[0].options)
            if len(outputs) != len(batch):
                raise RuntimeError(f"the model returned {len(outputs)} answers for {len(batch)} questions")
        except BaseException as err:
            if len(batch) > 1:  # one bad question must not fail its neighbours: retry them one by one
                for job in batch:
                    self._run([job])
                return
            batch[0].future.set_exception(err)
            return
        if self._on_batch is not None:
            self._on_batch(len(batch), time.perf_counter() - started)
        for job, out in zip(batch, outputs):
            job.future.set_result(out)

    def _work(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                break
            live = [j for j in batch if j.future.set_running_or_notify_cancel()]
            if live:
                self._run(live)
            self._busy = bool(self._pending) or not self._queue.empty()
            if self._closed and not self._pending and self._queue.empty():
                break
        for job in self._pending:
            job.future.cancel()

    # ---------------------------------------------------------------- continuous

    def _work_stream(self) -> None:
        stream = self._stream
        assert stream is not None
        other: list[_Job] = []  # jobs the stream does not take, decoded per call between its steps
        waiting: list[_Job] = []  # stream jobs beyond its free slots
        while True:
            idle = not stream.busy() and not waiting and not other
            if idle and self._closed and self._queue.empty():
                break
            try:  # with nothing running, sleep until work arrives; otherwise take what is there and go on
                first = self._queue.get() if idle else self._queue.get_nowait()
            except queue.Empty:
                first = None
            else:
                if first is None:
                    self._closed = True
            jobs = [first] if first is not None else []
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._closed = True
                else:
                    jobs.append(job)
            for job in jobs:
                if not job.future.set_running_or_notify_cancel():
                    continue
                (waiting if stream.accepts(job.options) else other).append(job)
            while waiting and stream.free > 0:
                job = waiting.pop(0)
                try:
                    stream.add(job.question, job.options, id(job))
                except Exception as err:  # a question the tokenizer or prompt cannot take fails alone
                    job.future.set_exception(err)
                    continue
                self._jobs[id(job)] = job
            if other:
                key = other[0].key
                batch = [j for j in other if j.key == key][: self.max_batch]
                other = [j for j in other if j not in batch]
                self._run(batch)
            if stream.busy():
                self._stream_step(stream)
        for job in waiting + other + list(self._jobs.values()):
            job.future.cancel()

    def _stream_step(self, stream: ContinuousDecoder) -> None:
        started = time.perf_counter()
        drafted, accepted = stream.drafted, stream.accepted
        try:
            finished = stream.step()
        except BaseException as err:  # the running batch is lost: fail its questions, keep serving
            for tag in stream.reset():
                job = self._jobs.pop(tag, None)
                if job is not None:
                    job.future.set_exception(err)
            return
        if self._on_batch is not None:
            self._on_batch(stream.running + len(finished), time.perf_counter() - started)
        if self._on_draft is not None and stream.drafted > drafted:
            self._on_draft(stream.drafted - drafted, stream.accepted - accepted)
        for tag, out in finished:
            job = self._jobs.pop(tag, None)
            if job is not None:
                job.future.set_result(out)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout=30)


__all__ = ["Batcher", "GenerateFn"]
