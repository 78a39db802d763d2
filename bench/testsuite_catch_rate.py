"""How well built test suites catch near misses, per open-dev database.

For each database of dev_open.json: build a test suite (``build_testsuite``) once from the database's gold
queries and once from the schema alone (no queries), generate every near-miss mutant of each gold query that
still differs after the evaluator's preprocessing, and score the mutants against their gold through
``evaluate(..., testsuite=...)``. Reported: the mutants EX accepts (same result on the original database) and
the share of those that TS rejects (the catch rate), plus the share of gold queries that stay correct on
every neighbour (a gold scored against itself, and tie-free where its answer depends on tie-breaking).

    PYTHONPATH=src python bench/testsuite_catch_rate.py [--spider ../shared/data/spider] [-n 20] [--db singer]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sqldistill.db import reflect
from sqldistill.eval import build_testsuite, evaluate
from sqldistill.eval.loaders import GoldExample
from sqldistill.eval.suite_queries import near_misses


def catch_rate(db_id: str, golds: list[str], spider: Path, suite_dir: Path, keep_distinct: bool,
               cache: Path) -> tuple[int, int, int, float]:
    """(mutants, EX-accepted, TS-rejected among those, share of golds correct on every neighbour)."""
    db_path = spider / "database" / db_id / f"{db_id}.sqlite"
    schema = reflect(str(db_path), samples=0)
    gold_rows, preds = [], []
    for sql in golds:
        for mutant, _kind in near_misses(sql, schema, keep_distinct, limit=None):
            gold_rows.append(GoldExample(sql, db_id))
            preds.append(mutant)
    report = evaluate(gold_rows, preds, spider / "database", etype="exec", testsuite=suite_dir,
                      keep_distinct=keep_distinct, timeout_s=10.0, cache_dir=cache)
    accepted = [e for e in report.examples if e.exec == 1]
    rejected = sum(1 for e in accepted if e.ts == 0)
    selfcheck = evaluate([GoldExample(g, db_id) for g in golds], golds, spider / "database", etype="exec",
                         testsuite=suite_dir, keep_distinct=keep_distinct, cache_dir=cache)
    gold_ok = sum(1 for e in selfcheck.examples if e.ts == 1) / len(golds)
    return len(preds), len(accepted), rejected, gold_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spider", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/spider")
    parser.add_argument("-n", type=int, default=20, help="neighbours per suite")
    parser.add_argument("--db", action="append", help="only these databases")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    data = json.loads((args.spider / "dev_open.json").read_text())
    by_db: dict[str, list[str]] = {}
    for x in data:
        by_db.setdefault(x["db_id"], []).append(x["query"])
    rows = []
    head = (f"{'database':30} {'golds':>5} | {'suite':8} {'neigh':>5} {'build s':>7} {'tie-free':>8} | "
            f"{'mutants':>7} {'EX ok':>6} {'TS no':>6} {'catch':>6} {'gold ok':>7} | {'keep-distinct catch':>19}")
    print(head)
    print("-" * len(head))
    totals: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for db_id in sorted(by_db):
            if args.db and db_id not in args.db:
                continue
            golds = list(dict.fromkeys(by_db[db_id]))
            db_path = args.spider / "database" / db_id / f"{db_id}.sqlite"
            for label, queries in (("queries", golds), ("schema", None)):
                out = Path(tmp) / label
                started = time.perf_counter()
                built = build_testsuite(str(db_path), out, n=args.n, queries=queries, seed=0)
                build_s = time.perf_counter() - started
                mutants, accepted, rejected, gold_ok = catch_rate(db_id, golds, args.spider, out, False, cache)
                k_mut, k_acc, k_rej, k_gold = catch_rate(db_id, golds, args.spider, out, True, cache)
                tie_free = len(built.neighbours) - built.tie_prone_neighbours
                rate = rejected / accepted if accepted else 1.0
                k_rate = k_rej / k_acc if k_acc else 1.0
                for key, vals in ((label, [accepted, rejected]), (label + "-keep", [k_acc, k_rej])):
                    acc = totals.setdefault(key, [0, 0])
                    acc[0] += vals[0]
                    acc[1] += vals[1]
                print(f"{db_id:30} {len(golds):>5} | {label:8} {len(built.neighbours):>5} {build_s:>7.1f} "
                      f"{tie_free:>8} | {mutants:>7} {accepted:>6} {rejected:>6} {rate:>6.1%} {gold_ok:>7.1%} | "
                      f"{k_rej:>6}/{k_acc:<6} {k_rate:>6.1%}")
                rows.append({"db_id": db_id, "suite": label, "golds": len(golds), "neighbours": len(built.neighbours),
                             "build_s": round(build_s, 2), "tie_free_neighbours": tie_free, "mutants": mutants,
                             "ex_accepted": accepted, "ts_rejected": rejected, "catch_rate": rate,
                             "gold_correct_everywhere": gold_ok, "gold_correct_keep_distinct": k_gold,
                             "keep_distinct": {"mutants": k_mut, "ex_accepted": k_acc, "ts_rejected": k_rej},
                             "fk_violations": built.foreign_key_violations})
    print("-" * len(head))
    for key, (acc, rej) in totals.items():
        print(f"overall {key:14}: TS rejects {rej} of the {acc} near misses EX accepts ({rej / max(acc, 1):.1%})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
