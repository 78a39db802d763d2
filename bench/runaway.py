"""A runaway prediction costs at most the timeout.

Scores, against ``SELECT count(*) FROM <big table>``, predictions that never finish in practice: an aggregate
over a triple cross join of the largest table of the Spider databases (flight_4.routes, 67,240 rows, so
3 x 10^14 row combinations) and the same cross join returning rows. The official evaluator would run the
first for days; here the first is stopped inside SQLite at the timeout and the second is cut short at one
row past the gold's row count. Printed: the wall time of each and of a normal query, per timeout.

    PYTHONPATH=src python bench/runaway.py [--spider ../shared/data/spider] [--timeouts 1 2 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sqldistill.eval import evaluate
from sqldistill.eval.loaders import GoldExample

CASES = {
    "count over triple cross join": "SELECT count(*) FROM routes AS a, routes AS b, routes AS c",
    "rows of triple cross join": "SELECT a.rid FROM routes AS a, routes AS b, routes AS c",
    "correct query": "SELECT count(*) FROM routes",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/spider")
    parser.add_argument("--timeouts", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    args = parser.parse_args()
    gold = GoldExample("SELECT count(*) FROM routes", "flight_4")
    print(f"{'prediction':32} {'timeout s':>9} {'wall s':>7} {'exec':>4}  error")
    for timeout in args.timeouts:
        for label, pred in CASES.items():
            started = time.perf_counter()
            report = evaluate([gold], [pred], args.spider / "database", etype="exec", workers=1, timeout_s=timeout,
                              cache_dir=False)
            wall = time.perf_counter() - started
            ex = report.examples[0]
            print(f"{label:32} {timeout:>9.1f} {wall:>7.2f} {ex.exec:>4}  {ex.error or ''}")


if __name__ == "__main__":
    main()
