"""Evaluation speed: examples/second for EX + EM on dev_open.json, single process vs the pool, cold vs warm.

The predictions are generated here (``mutations.perturb``: gold queries, near misses, broken SQL, the
official preprocessing's special cases), ``--rounds`` sets of them one after another, so the run has
``rounds x 375`` examples. Each configuration runs on its own fresh cache folder ("cold": every gold query is
executed) and then again on the same folder ("warm": gold results come from the cache).

    PYTHONPATH=src python bench/eval_speed.py [--spider ../shared/data/spider] [--rounds 4] [--workers N]
        [--official /path/to/test-suite-sql-eval]   # also time the official evaluator, when you have it

Each configuration runs ``--repeat`` times and the fastest is shown (the machine may be shared). The official
script (not part of this repository) is run as ``python evaluation.py --etype all`` on the
same files with the Python given by ``--official-python``; its time includes its start-up, as ours does not.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

from sqldistill.db import reflect
from sqldistill.eval import evaluate
from sqldistill.eval.loaders import GoldExample
from sqldistill.eval.perturb import perturb
from sqldistill.spider.execution import prepare_for_execution


def predictions(data: list[dict], spider: Path, rounds: int) -> tuple[list[GoldExample], list[str]]:
    schemas = {db: reflect(str(spider / "database" / db / f"{db}.sqlite"), samples=0) for db in {x["db_id"] for x in data}}
    by_db: dict[str, list[str]] = {}
    for x in data:
        by_db.setdefault(x["db_id"], []).append(x["query"])
    gold, preds = [], []
    for r in range(rounds):
        rng = random.Random(r)
        for x in data:
            gold.append(GoldExample(x["query"], x["db_id"]))
            preds.append(" ".join(perturb(x["query"], schemas[x["db_id"]], rng, by_db[x["db_id"]]).split()))
    return gold, preds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/spider")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--official", type=Path, help="folder with the official evaluation.py (optional)")
    parser.add_argument("--official-python", default="python3")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the fastest is shown")
    args = parser.parse_args()
    data = json.loads((args.spider / "dev_open.json").read_text())
    gold, preds = predictions(data, args.spider, args.rounds)
    db_dir, tables = args.spider / "database", args.spider / "tables.json"
    print(f"{len(gold)} examples ({args.rounds} x {len(data)} dev_open), EX + EM, on {os.cpu_count()} CPUs\n")
    print(f"{'evaluator':28} {'workers':>7} {'cache':>6} {'seconds':>8} {'examples/s':>11} {'vs single cold':>15}")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = None
        for workers in (1, args.workers):
            for state in ("cold", "warm"):
                best = float("inf")
                for attempt in range(args.repeat):
                    # cold: a fresh cache folder; warm: the folder a cold run filled. In-process memos are
                    # cleared either way, so "warm" means the disk cache only, as for a new process.
                    cache = Path(tmp) / f"cache{workers}-{attempt if state == 'cold' else 0}"
                    prepare_for_execution.cache_clear()
                    started = time.perf_counter()
                    report = evaluate(gold, preds, db_dir, tables=tables, workers=workers, cache_dir=cache)
                    best = min(best, time.perf_counter() - started)
                baseline = baseline or best
                label = f"sqldistill ({'single process' if workers == 1 else 'pool'})"
                print(f"{label:28} {workers:>7} {state:>6} {best:>8.2f} {len(gold) / best:>11.0f} "
                      f"{baseline / best:>14.2f}x")
        ex, em = report.scores["all"]["exec"], report.scores["all"]["exact"]
        if args.official:
            gold_file, pred_file = Path(tmp) / "gold.txt", Path(tmp) / "pred.txt"
            gold_file.write_text("".join(f"{g.sql}\t{g.db_id}\n" for g in gold))
            pred_file.write_text("".join(p + "\n" for p in preds))
            best = float("inf")
            for _ in range(args.repeat):
                started = time.perf_counter()
                subprocess.run([args.official_python, "evaluation.py", "--gold", str(gold_file), "--pred",
                                str(pred_file), "--db", str(db_dir), "--table", str(tables), "--etype", "all"],
                               cwd=args.official, check=True, capture_output=True)
                best = min(best, time.perf_counter() - started)
            print(f"{'official test-suite-sql-eval':28} {1:>7} {'-':>6} {best:>8.2f} {len(gold) / best:>11.0f} "
                  f"{(baseline or best) / best:>14.2f}x")
    print(f"\nscores of the generated predictions: EX {ex:.3f}, EM {em:.3f}; fastest of {args.repeat} runs each; "
          f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
