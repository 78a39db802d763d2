"""The model in a process of its own, fed over a pipe: decoding that does not queue behind the web server.

Every torch call releases Python's GIL and must take it back before the next one; a decoding step of a small
model is dozens of such calls. In the server's process the event loop (HTTP parsing, JSON, the database) holds
the GIL in between, and each hand-back can wait up to the interpreter's switch interval: measured here, a
step that takes 2.2 ms alone took 11.6 ms under HTTP load, and 766 ms next to a thread that never sleeps. A
separate process has its own GIL, so its steps run at full speed on the other core.

``ModelWorker(model_dir, ...)`` starts the process (``spawn``), which loads the predictor and runs a
``Batcher`` with continuous batching (``Predictor.stream``) when the model has the fast decoder, per-call
batching otherwise. ``submit(question, **options)`` returns a ``Future`` like ``Batcher.submit``; ``close()``
stops the process; ``on_batch(size, seconds)``, settable after start, hears of every model call. Messages are
small tuples; a reader thread resolves the futures. If the process dies, every
pending and later request fails with a ``ModelError`` that says so.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqldistill.errors import ModelError

START_TIMEOUT_S = 300.0


def _serve_pipe(model_dir: str, device: str | None, threads: int | None, max_batch: int, continuous: bool,
                fast_decoder: bool | None, speculative: bool, conn: Any) -> None:
    """The worker process: load the model, then answer jobs from ``conn`` until told to stop."""
    from sqldistill.infer.predictor import Predictor
    from sqldistill.serve.batcher import Batcher

    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(msg)

    try:
        predictor = Predictor.load(model_dir, device=device, num_threads=threads, fast=fast_decoder)
        predictor.generate(["How many rows are there?"], max_new_tokens=8)  # warm-up
    except BaseException as err:  # the parent shows this line and exits
        send(("failed", f"{type(err).__name__}: {err}"))
        return

    def generate(questions: list[str], options: dict[str, Any]) -> list[list[str]]:
        return predictor.generate(questions, **options)

    stream = predictor.stream(max_batch, speculative) if continuous else None
    batcher = Batcher(generate, max_batch=max_batch, stream=stream,
                      on_batch=lambda size, secs: send(("batch", size, secs)),
                      on_draft=lambda drafted, accepted: send(("draft", drafted, accepted)))
    try:  # the first question through the whole path pays for lazy set-up (cache allocation), not a user's
        batcher.submit("How many rows are there?", num_candidates=1, mode="greedy", max_new_tokens=8).result(300)
    except BaseException as err:
        send(("failed", f"{type(err).__name__}: {err}"))
        batcher.close()
        return
    send(("ready", "continuous" if stream is not None else "per-call"))

    def reply(tag: int, fut: Future[list[str]]) -> None:
        err = fut.exception()
        send(("done", tag, fut.result()) if err is None else ("error", tag, f"{type(err).__name__}: {err}"))

    try:
        while True:
            msg = conn.recv()
            if msg[0] == "stop":
                break
            _, tag, question, options = msg
            batcher.submit(question, **options).add_done_callback(functools.partial(reply, tag))
    except (EOFError, OSError, KeyboardInterrupt):  # the server went away
        pass
    finally:
        batcher.close()


class ModelWorker:
    """See the module docstring."""

    def __init__(self, model_dir: str | Path, *, device: str | None = None, threads: int | None = None,
                 max_batch: int = 16, continuous: bool = True, fast_decoder: bool | None = None,
                 speculative: bool = True, on_batch: Callable[[int, float], None] | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_pipe, name="sqldistill-model",
                                 args=(str(model_dir), device, threads, max_batch, continuous, fast_decoder,
                                       speculative, child), daemon=True)
        self._proc.start()
        child.close()
        self.on_batch = on_batch
        self.on_draft: Callable[[int, int], None] | None = None
        self._futures: dict[int, Future[list[str]]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._dead: str | None = None
        self.mode = self._wait_ready()
        self._reader = threading.Thread(target=self._read, name="sqldistill-model-reader", daemon=True)
        self._reader.start()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._conn.poll(0.2):
                try:
                    msg = self._conn.recv()
                except (EOFError, OSError):
                    break
                kind, detail = msg[0], msg[1]
                if kind in ("batch", "draft"):  # the warm-up question's steps
                    continue
                if kind == "ready":
                    return str(detail)
                self.close()
                raise ModelError(f"the model process could not load the model ({detail})",
                                 hint="Check the model directory, or serve with --no-model-process")
            if not self._proc.is_alive():
                break
        self.close()
        raise ModelError("the model process did not start", hint="Serve with --no-model-process to see why")

    def _read(self) -> None:
        try:
            while True:
                msg = self._conn.recv()
                if msg[0] == "batch":
                    if self.on_batch is not None:
                        self.on_batch(int(msg[1]), float(msg[2]))
                    continue
                if msg[0] == "draft":
                    if self.on_draft is not None:
                        self.on_draft(int(msg[1]), int(msg[2]))
                    continue
                with self._lock:
                    fut = self._futures.pop(msg[1], None)
                if fut is None:
                    continue
                if msg[0] == "done":
                    fut.set_result(msg[2])
                else:
                    fut.set_exception(ModelError(f"decoding failed: {msg[2]}"))
        except (EOFError, OSError):
            pass
        self._fail_all("the model process stopped")

    def _fail_all(self, why: str) -> None:
        with self._lock:
            self._dead = self._dead or why
            pending, self._futures = list(self._futures.values()), {}
        for fut in pending:
            if not fut.done():
                fut.set_exception(ModelError(why, hint="Restart the server"))

    def submit(self, question: str, **options: Any) -> Future[list[str]]:
        fut: Future[list[str]] = Future()
        fut.set_running_or_notify_cancel()
        with self._lock:
            if self._dead is not None:
                fut.set_exception(ModelError(self._dead, hint="Restart the server"))
                return fut
            tag = next(self._ids)
            self._futures[tag] = fut
            try:
                self._conn.send(("job", tag, question, options))
            except (OSError, ValueError):
                self._futures.pop(tag, None)
                fut.set_exception(ModelError("the model process stopped", hint="Restart the server"))
        return fut

    @property
    def alive(self) -> bool:
        return self._proc.is_alive() and self._dead is None

    def close(self) -> None:
        try:
            with self._lock:
                self._dead = self._dead or "the server is shutting down"
                self._conn.send(("stop",))
        except (OSError, ValueError):
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._conn.close()
        self._fail_all("the server is shutting down")
        if threading.current_thread() is not getattr(self, "_reader", None) and hasattr(self, "_reader"):
            self._reader.join(timeout=5)


__all__ = ["ModelWorker"]
