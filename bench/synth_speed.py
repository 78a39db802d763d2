"""Validated pairs per minute on the template path, on three Spider databases of different sizes.

Every default critic runs (well formed, duplicates, template cap, hardness mix, parses, read-only,
executes within the timeout, non-empty); the teacher vote does not (it is the teacher's speed, not ours).
The time includes reflecting the database and profiling its columns.

    python bench/synth_speed.py [--n 3000] [--seed 0] [--db-dir DIR] [--dbs singer,college_2,formula_1]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from sqldistill.synth import SynthOptions, synthesize

DEFAULT_DBS = "singer,college_2,formula_1"


def _size(path: Path) -> tuple[int, int]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = sum(con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names)
    finally:
        con.close()
    return len(names), rows


def main() -> int:
    spider = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spider"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db-dir", default=str(spider / "database"))
    ap.add_argument("--dbs", default=DEFAULT_DBS)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    print(f"{'database':20} {'tables':>6} {'rows':>9} {'kept':>6} {'candidates':>10} {'seconds':>8} {'pairs/min':>10}")
    for db_id in args.dbs.split(","):
        path = Path(args.db_dir) / db_id / f"{db_id}.sqlite"
        tables, rows = _size(path)
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            stats = synthesize(path, out, SynthOptions(n=args.n, seed=args.seed, progress=False))
            seconds = time.perf_counter() - started
        candidates = sum(s["candidates"] for s in stats["sources"].values())
        print(f"{db_id:20} {tables:6d} {rows:9d} {stats['kept']:6d} {candidates:10d} {seconds:8.1f} "
              f"{stats['kept'] / seconds * 60:10.0f}")
    print("\ntemplate path, all default critics, one process; target >= 2,000 validated pairs per minute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
