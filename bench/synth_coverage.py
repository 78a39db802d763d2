"""Coverage of real questions by synthesis from the database alone.

For each database of a Spider-format questions file (default: the 9 open-dev databases of dev_open.json),
synthesize ``--n`` pairs from the database alone (default source mix, every default critic), then report the
fraction of the human gold SQL whose skeleton appears among the synthesized skeletons, per database,
overall and per hardness, and how many validated pairs per minute synthesis kept. The questions and gold
SQL are only read to measure; nothing built from them goes into synthesis.

Skeleton normalisation (``sqldistill.sql.skeleton.NORMALISATION``) is printed with the table.

    python bench/synth_coverage.py [--dbs open-dev|tune|N] [--n 2000] [--seed 0]
                                   [--sources corpus=0.8,templates=0.2] [--corpus PATH] [--misses K]

``--dbs tune`` measures on the 20 tuning databases with their train.json questions as gold; the shipped
corpus is built without them (``--corpus`` names another one, e.g. built with other databases held out).
``--sources templates=1,corpus=0`` measures the hand-written templates alone. ``--log-gold FILE`` measures
instead against a query log (``SQL<TAB>db_id`` lines). ``--misses K`` lists, per hardness, the K most
frequent gold skeletons synthesis missed (on the tune databases only: it shows gold SQL).
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
from sqldistill.synth.corpus import load_corpus
from sqldistill.synth.sampler import hardness_for
from sqldistill.synth.synthesis import parse_sources

LEVELS = ("easy", "medium", "hard", "extra")


def _default_spider() -> Path:
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spider"


def _gold(args: argparse.Namespace, spider: Path) -> dict[str, list[str]]:
    gold: dict[str, list[str]] = defaultdict(list)
    wanted: set[str] | None = None
    questions = args.questions
    if args.dbs == "tune" or "," in args.dbs:
        names = args.dbs.split(",") if "," in args.dbs else []
        wanted = set(names or (spider / "tune_dbs.txt").read_text(encoding="utf-8").split())
        questions = questions or str(spider / "train.json")
    if args.log_gold:
        for line in Path(args.log_gold).read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                sql, db_id = line.rsplit("\t", 1)
                gold[db_id.strip()].append(sql)
    else:
        for item in json.loads(Path(questions or spider / "dev_open.json").read_text(encoding="utf-8")):
            if wanted is None or item["db_id"] in wanted:
                gold[item["db_id"]].append(item["query"])
    dbs = sorted(d for d in gold if (Path(args.db_dir) / d / f"{d}.sqlite").is_file())
    if args.dbs.isdigit() and int(args.dbs):
        dbs = dbs[: int(args.dbs)]
    return {d: gold[d] for d in dbs}


def main() -> int:
    spider = _default_spider()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", default=None, help="a Spider-format questions file [default: dev_open.json]")
    ap.add_argument("--db-dir", default=str(spider / "database"))
    ap.add_argument("--log-gold", default=None, help="measure against a SQL<TAB>db_id log instead")
    ap.add_argument("--dbs", default="open-dev", help="open-dev, tune (train.json questions of tune_dbs.txt), "
                                                      "a comma list of training databases, or N: only the first N (sorted by name)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--misses", type=int, default=0,
                    help="print up to N uncovered gold skeletons per hardness")
    ap.add_argument("--sources", default="", help="source mix, e.g. templates=1,corpus=0 [default mix]")
    ap.add_argument("--corpus", default=None, help="a corpus file instead of the shipped one")
    args = ap.parse_args()
    reporting = args.dbs != "tune" and "," not in args.dbs and not args.questions and not args.log_gold
    if args.misses and reporting:
        ap.error("--misses prints gold SQL: use it with --dbs tune (the reporting set is only counted)")
    sources = parse_sources(args.sources)
    if args.corpus:
        corpus = load_corpus(args.corpus)
    elif sources["corpus"] > 0:
        corpus = load_corpus()
    if sources["corpus"] > 0:
        print(f"corpus: {corpus.path} ({len(corpus.entries)} shapes, {len(corpus.excluded)} databases held out)")

    gold = _gold(args, spider)
    kept_total = 0.0
    seconds_total = 0.0
    total: Counter[str] = Counter()
    hit: Counter[str] = Counter()
    misses: dict[str, Counter[str]] = defaultdict(Counter)
    rows = []
    started = time.perf_counter()
    for db_id, queries in gold.items():
        path = Path(args.db_dir) / db_id / f"{db_id}.sqlite"
        made = set()
        stats: dict[str, Any] = {"kept": 0, "elapsed_s": 0.0}
        with tempfile.TemporaryDirectory() as out:
            try:
                stats = synthesize(path, out, SynthOptions(n=args.n, seed=args.seed, progress=False,
                                                                 sources=sources, corpus=args.corpus))
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
                misses[level][skeleton(sql)] += 1
        kept_total += stats["kept"]
        seconds_total += stats["elapsed_s"]
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
    print(f"\n{len(gold)} databases, n={args.n}, seed={args.seed}, sources {args.sources or 'default'}, "
          f"{time.perf_counter() - started:.1f} s; {kept_total / max(seconds_total, 1e-9) * 60:,.0f} "
          "validated pairs per minute of synthesis")
    for level in (*LEVELS, "unknown"):
        if args.misses and misses[level]:
            print(f"\n{level}: {sum(misses[level].values())} gold queries not covered "
                  f"({len(misses[level])} skeletons); the most frequent:")
            for skel, count in misses[level].most_common(args.misses):
                print(f"  miss x{count}: {skel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
