"""Rebuild the synthesis corpus shipped with the package from the Spider training data.

    python scripts/build_synth_corpus.py [--spider ../shared/data/spider] [--out PATH]
                                         [--exclude-dbs tune_dbs.txt | --exclude-dbs db1,db2]

By default the tuning databases (``tune_dbs.txt`` next to the data) are left out, so that measurements on
them stay honest; ``--exclude-dbs none`` keeps every training database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqldistill.synth.corpus import build_corpus, default_path


def _excluded(value: str, spider: Path) -> list[str]:
    if value == "none":
        return []
    p = Path(value)
    if p.is_file():
        return p.read_text(encoding="utf-8").split()
    if value == "tune":
        return (spider / "tune_dbs.txt").read_text(encoding="utf-8").split()
    return [d.strip() for d in value.split(",") if d.strip()]


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spider", default=str(root.parent / "shared" / "data" / "spider"),
                    help="folder with train.json, train_gold.sql and database/")
    ap.add_argument("--out", default=str(default_path()))
    ap.add_argument("--exclude-dbs", default="tune",
                    help="databases to leave out: a file of names, a comma list, 'tune' or 'none'")
    args = ap.parse_args()
    spider = Path(args.spider)
    train = spider / "train.json"
    if not train.is_file():
        print(f"error: no train.json in {spider}", file=sys.stderr)
        return 2
    exclude = _excluded(args.exclude_dbs, spider)
    log = spider / "train_gold.sql"
    stats = build_corpus(train, spider / "database", args.out, exclude=exclude, log=log if log.is_file() else None)
    size = Path(args.out).stat().st_size
    print(f"{args.out}: {stats.get('shapes', 0)} shapes, {stats.get('phrasings', 0)} phrasings "
          f"from {stats.get('pairs', 0)} queries ({stats.get('phrased', 0)} of {stats.get('questions', 0)} "
          f"questions phrased), {len(exclude)} databases excluded, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
