"""Coverage of real questions by synthesis from the database alone.

For each database of a Spider-format questions file (default: the 9 open-dev databases of dev_open.json),
synthesize ``--n`` pairs from the database alone (template path, every default critic), then report the
fraction of the human gold SQL whose skeleton appears among the synthesized skeletons, per database,
overall and per hardness. The questions and gold SQL are only read to measure; nothing built from them
goes into synthesis.

Skeleton normalisation (``sqldistill.sql.skeleton.NORMALISATION``) is printed with the table.

    python bench/synth_coverage.py [--questions dev_open.json] [--db-dir database] [--n 2000] [--seed 0]

``--log-gold FILE`` measures instead against a query log (``SQL<TAB>db_id`` lines), e.g. train_gold.sql
over the training databases: the development measure that never looks at the held-out questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqldistill.errors import EmptyDatabase
from sqldistill.spider.parser import schema_from_sqlite
from sqldistill.sql.skeleton import NORMALISATION, skeleton
from sqldistill.synth import SynthOptions, synthesize
from sqldistill.synth.sampler import hardness_for

LEVELS = ("easy", "medium", "hard", "extra")


def _default_spider() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spider"


def _gold(args: argparse.Namespace) -> dict[str, list[str]]:
    gold: dict[str, list[str]] = defaultdict(list)
    if args.log_gold:
        for line in Path(args.log_gold).read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                sql, db_id = line.rsplit("\t", 1)
                gold[db_id.strip()].append(sql)
    else:
        for item in json.loads(Path(args.questions).read_text(encoding="utf-8")):
            gold[item["db_id"]].append(item["query"])
    dbs = sorted(d for d in gold if (Path(args.db_dir) / d / f"{d}.sqlite").is_file())
    if args.dbs:
        dbs = dbs[: args.dbs]
    return {d: gold[d] for d in dbs}


def main() -> int:
    spider = _default_spider()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=str(spider / "dev_open.json"))
    ap.add_argument("--db-dir", default=str(spider / "database"))
    ap.add_argument("--log-gold", default=None, help="measure against a SQL<TAB>db_id log instead")
    ap.add_argument("--dbs", type=int, default=0, help="only the first N databases (sorted by name)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--misses", type=int, default=0, help="print up to N uncovered gold skeletons")
    ap.add_argument("--bank", default=None,
                    help="use this shape bank instead of the shipped one (e.g. one built without the measured DBs)")
    args = ap.parse_args()
    if args.bank:
        import sqldistill.synth.shapes as shapes_module
        import sqldistill.synth.templates as templates_module

        rows = [json.loads(line) for line in Path(args.bank).read_text(encoding="utf-8").splitlines() if line]
        bank = tuple((int(r["n"]), r["shape"]) for r in rows)
        shapes_module.load_bank = templates_module.load_bank = lambda: bank  # type: ignore[assignment]

    gold = _gold(args)
    total: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    rows = []
    started = time.perf_counter()
    for db_id, queries in gold.items():
        path = Path(args.db_dir) / db_id / f"{db_id}.sqlite"
        made = set()
        stats: dict[str, Any] = {"kept": 0, "elapsed_s": 0.0}
        with tempfile.TemporaryDirectory() as out:
            try:
                stats = synthesize(path, out, SynthOptions(n=args.n, seed=args.seed, progress=False))
            except EmptyDatabase:
                pass  # nothing to ask about: its questions count as not covered
            else:
                for name in ("train.jsonl", "valid.jsonl"):
                    for line in (Path(out) / name).read_text(encoding="utf-8").splitlines():
                        made.add(skeleton(json.loads(line)["sql"]))
        schema = schema_from_sqlite(path)
        covered = 0
        for sql in queries:
            level = hardness_for(sql, schema) or "unknown"
            total[level] += 1
            if skeleton(sql) in made:
                hit[level] += 1
                covered += 1
            else:
                misses[skeleton(sql)] += 1
        rows.append((db_id, len(queries), covered, stats["kept"], len(made), stats["elapsed_s"]))
    print(f"normalisation: {NORMALISATION}\n")
    print(f"{'database':32} {'gold':>5} {'covered':>8} {'share':>7} {'kept':>6} {'skeletons':>9} {'seconds':>8}")
    for db_id, n_gold, covered, kept, made_n, secs in rows:
        print(f"{db_id:32} {n_gold:5d} {covered:8d} {covered / n_gold:7.1%} {kept:6d} {made_n:9d} {secs:8.1f}")
    all_gold, all_hit = sum(total.values()), sum(hit.values())
    print(f"\n{'hardness':10} {'gold':>5} {'covered':>8} {'share':>7}")
    for level in (*LEVELS, "unknown"):
        if total[level]:
            print(f"{level:10} {total[level]:5d} {hit[level]:8d} {hit[level] / total[level]:7.1%}")
    print(f"{'overall':10} {all_gold:5d} {all_hit:8d} {all_hit / max(all_gold, 1):7.1%}")
    print(f"\n{len(gold)} databases, n={args.n}, seed={args.seed}, {time.perf_counter() - started:.1f} s")
    for skel, count in misses.most_common(args.misses):
        print(f"  miss x{count}: {skel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
