"""Load test of ``sqldistill serve``: 1,000 questions at concurrency 16 over real HTTP on loopback.

Starts the real server as a separate process (``python -m sqldistill serve``) on a free port, warms it up, then
fires the questions from an asyncio httpx client and prints a table: errors, throughput and latency
percentiles as the client saw them, plus the server's mean decoding batch from ``/metrics``. A sequential
pass (concurrency 1) is measured too, as the single-question latency.

An error is any non-200 answer, any answer whose SQL could not run, and any transport failure. Target: zero
errors at concurrency 16. The p50 is printed, not judged: at concurrency 16 it is mostly queueing behind one
model worker, and the sequential pass gives the single-question latency.

    python bench/serve_load.py                       # builds the tiny singer student in a temp dir
    python bench/serve_load.py --model runs/x/model/sft --db path/to.sqlite --questions questions.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def start_server(model: Path, db: Path, run_dir: Path, threads: int | None, max_batch: int,
                 batch_wait_ms: float, batching: str = "continuous", model_process: str = "auto",
                 fast_decoder: bool = True, speculative: bool = True) -> tuple[Any, str]:
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "sqldistill", "serve", str(model), "--db", str(db), "--port", str(port),
           "--run-dir", str(run_dir), "--max-batch", str(max_batch), "--batch-wait-ms", str(batch_wait_ms),
           "--batching", batching]
    if not fast_decoder:
        cmd.append("--no-fast-decoder")
    if not speculative:
        cmd.append("--no-speculative")
    if model_process != "auto":
        cmd.append("--model-process" if model_process == "on" else "--no-model-process")
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.communicate()[1]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not start within 120 s")


async def fire(url: str, questions: list[str], n: int, concurrency: int, execute: bool,
               client: str = "raw") -> dict[str, Any]:
    """``n`` requests from ``concurrency`` connections; ``client`` "raw" (a minimal HTTP/1.1 keep-alive client,
    like wrk: the load generator shares the 2 CPUs with the server, so it should cost little) or "httpx"."""
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(questions[i % len(questions)])

    def check(question: str, status: int, body: bytes) -> None:
        if status != 200:
            errors.append(f"HTTP {status}: {body[:120]!r}")
            return
        err = json.loads(body)["error"]
        if err is not None:
            errors.append(f"{question!r}: {err['message'][:120]}")

    def payload(question: str) -> bytes:
        return json.dumps({"question": question, "execute": execute, "max_rows": 100}).encode()

    async def raw_worker() -> None:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                try:
                    question = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = payload(question)
                started = time.perf_counter()
                try:
                    writer.write(b"POST /v1/sql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body))
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.split(b"\r\n")
                    status = int(lines[0].split()[1])
                    length = next((int(x.split(b":", 1)[1]) for x in lines if x.lower().startswith(b"content-length:")),
                                  None)
                    if length is None:
                        raise ValueError("an answer without Content-Length")
                    data = await reader.readexactly(length)
                    latencies.append(time.perf_counter() - started)
                    check(question, status, data)
                except (OSError, ValueError, asyncio.IncompleteReadError) as err:
                    errors.append(f"{type(err).__name__}: {err}")
                    return
        finally:
            writer.close()

    async def httpx_worker(http: Any) -> None:
        import httpx

        while True:
            try:
                question = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            try:
                resp = await http.post("/v1/sql", content=payload(question),
                                       headers={"Content-Type": "application/json"})
                latencies.append(time.perf_counter() - started)
                check(question, resp.status_code, resp.content)
            except httpx.HTTPError as err:
                errors.append(f"{type(err).__name__}: {err}")

    started = time.perf_counter()
    if client == "raw":
        await asyncio.gather(*(raw_worker() for _ in range(concurrency)))
    else:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            await asyncio.gather(*(httpx_worker(http) for _ in range(concurrency)))
    wall = time.perf_counter() - started
    if len(latencies) + len(errors) < n and not errors:
        errors.append(f"only {len(latencies)} of {n} requests were answered")
    return {"latencies": latencies, "errors": errors, "wall": wall, "n": n, "concurrency": concurrency}


def model_totals(url: str) -> tuple[float, float, float, float, float]:
    """(questions decoded, model calls, seconds in the model, tokens guessed ahead, guesses kept) so far, from the
    server's /metrics."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text

    def value(name: str) -> float:
        found = re.search(rf"^sqldistill_{name} (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    return (value("batch_size_sum"), value("batch_size_count"), value("generation_latency_seconds_sum"),
            value("draft_tokens_total"), value("draft_accepted_total"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model directory [default: build the tiny singer student]")
    parser.add_argument("--db", type=Path, help="database [default: Spider's singer]")
    parser.add_argument("--questions", type=Path, help="one question per line [default: the tiny student's]")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads in the server (1 is fastest for a tiny model on 2 shared cores)")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--batch-wait-ms", type=float, default=0.0, help="the server's --batch-wait-ms")
    parser.add_argument("--no-execute", action="store_true", help="only write SQL, do not run it")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator: raw (minimal HTTP/1.1, little CPU) or httpx (a full client, ~3x the CPU)")
    parser.add_argument("--model-process", choices=("auto", "on", "off"), default="auto",
                        help="the server's --model-process / --no-model-process (auto: the server decides)")
    parser.add_argument("--batching", choices=("continuous", "per-call"), default="continuous",
                        help="the server's --batching")
    parser.add_argument("--baseline", action="store_true",
                        help="first measure the plain server (transformers forward, per-call batching, in-process "
                             "model) on the same machine, for a side-by-side ratio")
    parser.add_argument("--no-speculative", action="store_true", help="serve with --no-speculative")
    parser.add_argument("--compare-speculative", action="store_true",
                        help="also measure the same server with --no-speculative, side by side")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    if args.model is None or args.questions is None:  # the tiny student lives with the tests (needs pytest)
        from tests.test_serve_student import PAIRS, build_tiny_student

    spider = REPO / "tests" / "data" / "spider"  # the bundled excerpt holds the singer database the student knows
    db = args.db or spider / "database" / "singer" / "singer.sqlite"
    questions = ([q for q in args.questions.read_text().splitlines() if q.strip()] if args.questions
                 else [q for q, _ in PAIRS])
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model = args.model
        if model is None:
            with console.status("building the tiny student"):
                started = time.perf_counter()
                model = build_tiny_student(spider, Path(tmp) / "model" / "sft")
            console.print(f"tiny student built in {time.perf_counter() - started:.1f} s")
        setups = [("per-call", "off", False, False, "baseline")] if args.baseline else []
        label = f"{args.batching}, process {args.model_process}"
        if args.compare_speculative:
            setups.append((args.batching, args.model_process, True, False, label + ", no speculation"))
        speculative = not args.no_speculative
        setups.append((args.batching, args.model_process, True, speculative,
                       label + ("" if speculative else ", no speculation")))
        runs = []
        for mode, model_process, fast, spec, label in setups:
            with console.status(f"starting the server ({label})"):
                proc, url = start_server(model, db, Path(tmp) / "run", args.threads, args.max_batch,
                                         args.batch_wait_ms, mode, model_process, fast, spec)
            try:
                asyncio.run(fire(url, questions, 50, args.concurrency, not args.no_execute, args.client))  # warm-up
                for n, concurrency in ((min(200, args.requests), 1), (args.requests, args.concurrency)):
                    before = model_totals(url)
                    run = asyncio.run(fire(url, questions, n, concurrency, not args.no_execute, args.client))
                    after = model_totals(url)
                    calls = after[1] - before[1]
                    run["mode"] = label
                    run["batch"] = (after[0] - before[0]) / calls if calls else float("nan")
                    run["model_ms"] = (after[2] - before[2]) * 1000 / calls if calls else float("nan")
                    run["model_busy"] = (after[2] - before[2]) / run["wall"]
                    drafted = after[3] - before[3]
                    run["kept"] = f"{(after[4] - before[4]) / drafted:.0%}" if drafted else "-"
                    runs.append(run)
            finally:
                proc.terminate()
                proc.wait(timeout=30)

    table = Table(title=f"sqldistill serve · {model.name} · {os.cpu_count()} CPUs · torch threads {args.threads} · "
                        f"execute={not args.no_execute} · client {args.client}")
    for col in ("server", "requests", "concurrency", "errors", "req/s", "wall ms/question", "p50 ms", "p95 ms",
                "p99 ms", "max ms", "mean batch", "ms/model call (step)", "model busy", "guesses kept"):
        table.add_column(col, justify="right")
    for run in runs:
        lat = [x * 1000 for x in run["latencies"]]
        table.add_row(run["mode"], str(run["n"]), str(run["concurrency"]), str(len(run["errors"])),
                      f"{run['n'] / run['wall']:.0f}", f"{run['wall'] * 1000 / run['n']:.1f}",
                      f"{percentile(lat, 0.5):.1f}", f"{percentile(lat, 0.95):.1f}", f"{percentile(lat, 0.99):.1f}",
                      f"{max(lat):.1f}", f"{run['batch']:.1f}", f"{run['model_ms']:.1f}",
                      f"{run['model_busy']:.0%}", run["kept"])
    console.print(table)
    console.print(f"load average when done: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
                  "(the machine is shared; latency scales with it)")
    for run in runs:
        for err in run["errors"][:5]:
            console.print(f"[red]error[/] (concurrency {run['concurrency']}): {err}")
    main_run = runs[-1]
    p50 = percentile([x * 1000 for x in main_run["latencies"]], 0.5)
    verdict = "met" if not main_run["errors"] else "NOT met"
    console.print(f"target (0 errors at concurrency {args.concurrency}): {verdict}; p50 {p50:.1f} ms")
    if any(run["errors"] for run in runs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
