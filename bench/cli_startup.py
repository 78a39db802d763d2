"""How long `sqldistill --help` takes as a fresh process (median of N runs), next to a bare `python -c pass`.

    python bench/cli_startup.py [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def time_command(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("sqldistill --help", [sys.executable, "-m", "sqldistill", "--help"]),
        ("sqldistill profile --help", [sys.executable, "-m", "sqldistill", "profile", "--help"]),
    ]
    print(f"{'command':28} {'median s':>9} {'max s':>7}")
    for name, argv in rows:
        t = time_command(argv, args.n)
        print(f"{name:28} {statistics.median(t):9.3f} {max(t):7.3f}")


if __name__ == "__main__":
    main()
