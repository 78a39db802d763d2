"""The training-method experiment: sft vs kd (forward KL) vs kid vs sft+dpo, distilled from the database alone.

    python bench/train_methods.py --spider ../shared/data/spider \
        --dbs network_1,poker_player,course_teach --seeds 0,1,2 --out /tmp/train_methods

Per database: ``sqldistill.synth.synthesize`` makes the pairs (train.jsonl + held-out valid.jsonl); one larger
from-scratch teacher is trained with sft; then for every seed, a small student is trained with each method from
the same data and teacher:

- ``sft``     fine-tuning on the synthetic pairs;
- ``kd``      token-level KD from the teacher, forward KL (+ CE);
- ``kid``     KD on imperfect sequences (reverse KL + CE);
- ``sft+dpo`` the sft student, then DPO on pairs where that student's execution-wrong SQL is rejected.

Every student is scored with the official-equivalent EX (``sqldistill.eval.evaluate``) on the database's human
questions (dev_open.json: measuring only, never training) and on the held-out synthetic pairs, with greedy
decoding and with execution-guided decoding (beam 4, critics + result majority). The table prints mean and
standard deviation over seeds; ``--json`` keeps every number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

METHODS = ("sft", "kd", "kid", "sft+dpo")


def human_questions(spider: Path, db_id: str) -> list[dict[str, Any]]:
    return [q for q in json.loads((spider / "dev_open.json").read_text()) if q["db_id"] == db_id]


def score(model_dir: Path, items: list[tuple[str, str]], db_path: Path, db_dir: Path, db_id: str,
          guided: bool) -> float:
    """EX of the student in ``model_dir`` on (question, gold SQL) items."""
    from sqldistill.db import connect
    from sqldistill.eval import evaluate
    from sqldistill.eval.loaders import GoldExample
    from sqldistill.infer.predictor import Predictor

    if not items:
        return float("nan")
    predictor = Predictor.load(model_dir)
    with connect(str(db_path)) as db:
        if guided:
            preds = [predictor.predict(q, db=db, execution_guided=True, num_candidates=4, mode="beam").sql
                     for q, _ in items]
        else:
            preds = []
            questions = [q for q, _ in items]
            for i in range(0, len(questions), 32):
                preds += [c[0] for c in predictor.generate(questions[i:i + 32])]
    golds = [GoldExample(sql, db_id, q) for q, sql in items]
    report = evaluate(golds, preds, db_dir, etype="exec", workers=1, cache_dir=False)
    return float(report.scores["all"]["exec"])


def run_db(db_id: str, args: argparse.Namespace, out: Path, log: list[dict[str, Any]]) -> None:
    from sqldistill.synth import SynthOptions, synthesize
    from sqldistill.train import data as tdata
    from sqldistill.train.dpo import build_dpo_pairs, train_dpo
    from sqldistill.train.methods import train_kd, train_kid, train_sft
    from sqldistill.train.options import DPOOptions

    spider = Path(args.spider)
    db_dir = spider / "database"
    db_path = db_dir / db_id / f"{db_id}.sqlite"
    data = out / db_id / "data"
    if not (data / "stats.json").is_file():
        synthesize(db_path, data, SynthOptions(n=args.n, seed=0, progress=False))
    train, valid = data / "train.jsonl", data / "valid.jsonl"
    human = [(q["question"], q["query"]) for q in human_questions(spider, db_id)]
    held_out = [(r["question"], r["sql"]) for r in tdata.read_jsonl(valid)][: args.max_synthetic]
    common = dict(db=str(db_path), batch_size=args.batch_size, progress=False, num_threads=args.threads,
                  logging_steps=50, max_length=args.max_length)
    teacher = out / db_id / "teacher"
    if not (teacher / "sqldistill.json").is_file():
        started = time.perf_counter()
        train_sft(train, teacher, model=args.teacher, epochs=args.teacher_epochs, seed=0, **common)
        log.append({"db": db_id, "method": "teacher", "seed": 0, "train_s": time.perf_counter() - started,
                    **evaluate_all(teacher, human, held_out, db_path, db_dir, db_id, args)})
        print(json.dumps(log[-1]), flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for method in args.methods.split(","):
            model_dir = out / db_id / f"{method}-s{seed}"
            started = time.perf_counter()
            if method == "sft":
                train_sft(train, model_dir, model=args.student, epochs=args.epochs, seed=seed, **common)
            elif method == "kd":
                train_kd(train, model_dir, teacher=teacher, model=args.student, divergence="fkl", epochs=args.epochs,
                         seed=seed, **common)
            elif method == "kid":
                train_kid(train, model_dir, teacher=teacher, model=args.student, epochs=args.epochs, seed=seed,
                          **common)
            elif method == "sft+dpo":
                sft_dir = out / db_id / f"sft-s{seed}"
                if not (sft_dir / "sqldistill.json").is_file():
                    train_sft(train, sft_dir, model=args.student, epochs=args.epochs, seed=seed, **common)
                pairs = out / db_id / f"pairs-s{seed}.jsonl"
                stats = build_dpo_pairs(train, pairs, weak_model=sft_dir, db=str(db_path), num_candidates=4,
                                        mode="sample", seed=seed, max_new_tokens=args.max_new_tokens)
                train_dpo(pairs, model_dir, DPOOptions(model=sft_dir, epochs=args.dpo_epochs, seed=seed,
                                                       batch_size=args.batch_size, progress=False,
                                                       num_threads=args.threads, logging_steps=50))
            else:
                raise SystemExit(f"unknown method {method}")
            row = {"db": db_id, "method": method, "seed": seed, "train_s": round(time.perf_counter() - started, 1),
                   **evaluate_all(model_dir, human, held_out, db_path, db_dir, db_id, args)}
            if method == "sft+dpo":
                row["dpo_pairs"] = stats["pairs"]
            log.append(row)
            print(json.dumps(row), flush=True)


def evaluate_all(model_dir: Path, human: list[tuple[str, str]], held_out: list[tuple[str, str]], db_path: Path,
                 db_dir: Path, db_id: str, args: argparse.Namespace) -> dict[str, float]:
    out = {}
    for name, items in (("human", human), ("synthetic", held_out)):
        out[f"{name}_greedy"] = score(model_dir, items, db_path, db_dir, db_id, guided=False)
        if not args.no_guided:
            out[f"{name}_guided"] = score(model_dir, items, db_path, db_dir, db_id, guided=True)
    return out


def summarise(log: list[dict[str, Any]]) -> None:
    cols = [c for c in ("human_greedy", "human_guided", "synthetic_greedy", "synthetic_guided") if c in log[0]]
    print(f"{'db':<30}{'method':<10}" + "".join(f"{c:>20}" for c in cols) + f"{'train s':>10}")
    keys = dict.fromkeys((r["db"], r["method"]) for r in log)
    for db, method in keys:
        rows = [r for r in log if r["db"] == db and r["method"] == method]
        cells = []
        for c in cols:
            vals = [100 * r[c] for r in rows]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{statistics.mean(vals):>12.1f} ±{sd:>5.1f}")
        secs = statistics.mean(r["train_s"] for r in rows)
        print(f"{db:<30}{method:<10}" + "".join(f"{c:>20}" for c in cells) + f"{secs:>10.0f}")
    print("overall (mean over databases and seeds, students only):")
    for method in dict.fromkeys(r["method"] for r in log if r["method"] != "teacher"):
        rows = [r for r in log if r["method"] == method]
        print(f"  {method:<10}" + "".join(f"{c}={100 * statistics.mean(r[c] for r in rows):5.1f}  " for c in cols))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spider", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "spider"))
    ap.add_argument("--dbs", default="network_1,poker_player,course_teach")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="/tmp/sqldistill_train_methods")
    ap.add_argument("--n", type=int, default=1500, help="synthetic pairs per database")
    ap.add_argument("--student", default="1m")
    ap.add_argument("--teacher", default="5m")
    ap.add_argument("--epochs", type=float, default=8.0)
    ap.add_argument("--teacher-epochs", type=float, default=8.0)
    ap.add_argument("--dpo-epochs", type=float, default=1.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--max-synthetic", type=int, default=150, help="held-out synthetic pairs scored")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-guided", action="store_true", help="skip execution-guided decoding (faster)")
    ap.add_argument("--json", help="write every row here")
    args = ap.parse_args()
    out = Path(args.out)
    log: list[dict[str, Any]] = []
    for db_id in args.dbs.split(","):
        run_db(db_id, args, out, log)
    if args.json:
        Path(args.json).write_text(json.dumps(log, indent=2))
    summarise(log)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
