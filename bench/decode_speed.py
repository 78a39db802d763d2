"""How fast does a trained model answer? Per-question latency of greedy and execution-guided decoding.

Answers every question of QUESTIONS (Spider format) on DATABASE a few times round, greedy and execution-guided
(beam 4, no memory hits: the default decoding), and prints per mode the median over rounds of the p50 wall time
and the p50 CPU time of the process per question (CPU time is steadier on a busy machine; with one torch thread
it is the work done). Every question is answered as a first-seen question, as a user's would be: each mode and
round loads MODEL_DIR afresh (its encoded-question caches start empty) and empties the SQL parse caches, after
one warm-up question that is not in the set. To compare two versions of the code, run it from each checkout in
turn on the same model, e.g. ``PYTHONPATH=OLD/src python bench/decode_speed.py ...`` then ``PYTHONPATH=src ...``.

    python bench/decode_speed.py MODEL_DIR DATABASE QUESTIONS [--rounds 3] [--limit 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

WARM_UP = "How many rows are there?"


def _forget_parses() -> None:
    """Empty the caches that keep parsed SQL between questions (those this checkout has)."""
    from sqldistill.sql import grounding, parsed, safety

    for module, names in ((parsed, ("parsed", "_statements", "_block")), (grounding, ("literals",)),
                          (safety, ("readonly_problem",))):
        for name in names:
            clear = getattr(getattr(module, name, None), "cache_clear", None)
            if clear is not None:
                clear()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("database")
    ap.add_argument("questions", type=Path, help="Spider-format questions (the field 'question' is read)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=100, help="at most this many questions")
    args = ap.parse_args()

    import torch

    from sqldistill.db import connect
    from sqldistill.infer.predictor import Predictor

    torch.set_num_threads(1)
    questions = [q["question"] for q in json.loads(args.questions.read_text(encoding="utf-8"))][:args.limit]
    predictor = Predictor.load(args.model_dir, num_threads=1)
    print(f"{args.model_dir}: {predictor.num_parameters / 1e6:.2f}M parameters, {len(questions)} questions, "
          f"{args.rounds} rounds, every question first-seen")
    print(f"{'decoding':<10} {'wall p50 ms':>12} {'cpu p50 ms':>11}")
    with connect(args.database) as db:
        for name, guided in (("greedy", False), ("guided", True)):
            walls, cpus = [], []
            for _ in range(args.rounds):
                predictor = Predictor.load(args.model_dir, num_threads=1)
                predictor.predict(WARM_UP, db, execution_guided=True, memory_k=0)
                _forget_parses()
                wall, cpu = [], []
                for q in questions:
                    w, c = time.perf_counter(), time.process_time()
                    predictor.predict(q, db, execution_guided=guided, num_candidates=4, memory_k=0)
                    wall.append((time.perf_counter() - w) * 1000)
                    cpu.append((time.process_time() - c) * 1000)
                walls.append(statistics.median(wall))
                cpus.append(statistics.median(cpu))
            print(f"{name:<10} {statistics.median(walls):>12.1f} {statistics.median(cpus):>11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
