"""The pointer student per database: base alone, base specialised on the database's synthetic pairs (sft),
and optionally a deeper teacher with a student distilled from it (kd), measured on human questions.

For each database of QUESTIONS (Spider format; ``--dbs`` picks some), synthetic pairs come from the
product's synthesizer (``RUN/<db_id>/synth/train.jsonl``, made with the pipeline's default settings unless
there already, e.g. copied from an ``open_dev.py`` run's ``run/synth``); nothing built from the questions
reaches training. Prints EX (test-suite-style execution match, ``eval.scoring``) per database, per hardness
and overall, greedy and beam + execution vote (4 candidates, the failing ones dropped, the result majority
chosen), with p50 latency per question, and writes ``RUN/pointer_student.json``.

    python bench/pointer_student.py QUESTIONS DB_FOLDER --run runs/pointer [--dbs a,b] [--kd] [--limit 60]

e.g. tune databases: a questions file of train.json rows whose db_id is in tune_dbs.txt.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

LEVELS = ("easy", "medium", "hard", "extra")


def _ex(rows: list[dict[str, Any]], preds: list[str], db_dir: Path) -> list[tuple[int, str]]:
    from sqldistill.eval.loaders import GoldExample
    from sqldistill.eval.scoring import evaluate

    golds = [GoldExample(sql=r["query"], db_id=r["db_id"], question=r["question"]) for r in rows]
    report = evaluate(golds, preds, db_dir, etype="exec", workers=1, cache_dir=False)
    return [(int(e.exec or 0), e.hardness or "unknown") for e in report.examples]


def _measure(name: str, answer: Any, rows: list[dict[str, Any]], db_dir: Path) -> dict[str, Any]:
    preds, ms = [], []
    for r in rows:
        started = time.perf_counter()
        preds.append(answer(r["question"]))
        ms.append((time.perf_counter() - started) * 1000)
    scored = _ex(rows, preds, db_dir)
    return {"name": name, "ex": [s for s, _ in scored], "hardness": [h for _, h in scored],
            "p50_ms": statistics.median(ms) if ms else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("db_folder", type=Path)
    parser.add_argument("--run", type=Path, default=Path("runs/pointer"))
    parser.add_argument("--dbs", default="")
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions per database")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--kd", action="store_true", help="also a deeper teacher and a kd student")
    parser.add_argument("--teacher-epochs", type=float, default=6)
    parser.add_argument("--no-base", action="store_true", help="skip the base-alone row")
    parser.add_argument("--base-only", action="store_true", help="only the base, no synthesis or training")
    parser.add_argument("--base", type=Path, default=None, help="a base network to start from (default: the committed one)")
    args = parser.parse_args()

    import torch

    from sqldistill.db import connect, reflect
    from sqldistill.infer.predictor import Predictor
    from sqldistill.infer.seq2seq import PointerGenerator
    from sqldistill.models.seq2seq import BASE_DIR
    from sqldistill.models.seq2seq.features import TextEncoder
    from sqldistill.models.seq2seq.network import PointerSeq2Seq
    from sqldistill.models.seq2seq.values import database_values
    from sqldistill.synth.synthesis import SynthOptions, synthesize
    from sqldistill.train.pointer import specialise

    torch.set_num_threads(1)
    items = json.loads(args.questions.read_text())
    wanted = [d for d in args.dbs.split(",") if d]
    by_db: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in items:
        if not wanted or r["db_id"] in wanted:
            by_db[r["db_id"]].append(r)
    encoder = TextEncoder.load()
    base = PointerSeq2Seq.load(args.base or BASE_DIR)
    results: dict[str, list[dict[str, Any]]] = {}
    for db_id in sorted(by_db):
        rows = by_db[db_id][: args.limit or None]
        db_path = args.db_folder / db_id / f"{db_id}.sqlite"
        work = args.run / db_id
        train = work / "synth" / "train.jsonl"
        t0 = time.perf_counter()
        if not train.is_file() and not args.base_only:
            synthesize(str(db_path), work / "synth", SynthOptions(n=1500, seed=0, valid_fraction=0.05,
                                                                   timeout_s=2.0, template_cap=40, progress=False))
        synth_s = time.perf_counter() - t0

        def log(message: str, name: str = db_id) -> None:
            print(f"  {name}: {message}", flush=True)

        models: list[tuple[str, Path]] = []
        t0 = time.perf_counter()
        if args.base_only:
            pass
        elif not (work / "sft" / "sqldistill.json").is_file():
            specialise(train, str(db_path), work / "sft", base=args.base, epochs=args.epochs, lr=args.lr,
                       encoder=encoder, log=log)
        sft_s = time.perf_counter() - t0
        if not args.base_only:
            models.append(("sft", work / "sft"))
        if args.kd and not args.base_only:
            if not (work / "teacher" / "sqldistill.json").is_file():
                specialise(train, str(db_path), work / "teacher", size="large", epochs=args.teacher_epochs,
                           lr=args.lr, encoder=encoder, log=log)
            if not (work / "kd" / "sqldistill.json").is_file():
                specialise(train, str(db_path), work / "kd", method="kd", teacher=work / "teacher",
                           epochs=args.epochs, lr=args.lr, encoder=encoder, log=log)
            models += [("teacher", work / "teacher"), ("kd", work / "kd")]
        measured = []
        with connect(str(db_path)) as db:
            if not args.no_base:
                schema = reflect(db)
                gen = PointerGenerator(base, encoder, schema, database_values(db, schema))
                measured.append(_measure("base", lambda q, g=gen: g.generate([q])[0][0].sql, rows, args.db_folder))
            for name, model_dir in models:
                pred = Predictor.load(model_dir)
                pred.generator.encoder = encoder  # type: ignore[attr-defined]
                measured.append(_measure(f"{name} greedy", lambda q, p=pred: p.generate([q])[0][0], rows,
                                         args.db_folder))
                measured.append(_measure(
                    f"{name} beam4+vote",
                    lambda q, p=pred: p.predict(q, db=db, execution_guided=True, num_candidates=4, mode="beam",
                                           memory_k=0).sql, rows, args.db_folder))
        for m in measured:
            m.update({"db_id": db_id, "synth_s": round(synth_s, 1), "sft_s": round(sft_s, 1)})
        results[db_id] = measured
        line = "  ".join(f"{m['name']} {100 * sum(m['ex']) / max(1, len(m['ex'])):.1f}%" for m in measured)
        print(f"{db_id} ({len(rows)} q): {line}", flush=True)
    _print(results)
    args.run.mkdir(parents=True, exist_ok=True)
    (args.run / "pointer_student.json").write_text(json.dumps(results, indent=1))
    return 0


def _print(results: dict[str, list[dict[str, Any]]]) -> None:
    names = list(dict.fromkeys(m["name"] for ms in results.values() for m in ms))
    print("\n" + f"{'database':28s} {'n':>4s} " + " ".join(f"{n:>16s}" for n in names))
    totals: dict[str, list[int]] = defaultdict(list)
    levels: dict[tuple[str, str], list[int]] = defaultdict(list)
    latency: dict[str, list[float]] = defaultdict(list)
    for db_id, ms in results.items():
        cells = []
        for n in names:
            m = next((x for x in ms if x["name"] == n), None)
            if m is None:
                cells.append(f"{'-':>16s}")
                continue
            totals[n] += m["ex"]
            latency[n].append(m["p50_ms"])
            for ok, h in zip(m["ex"], m["hardness"]):
                levels[(n, h)].append(ok)
            cells.append(f"{100 * sum(m['ex']) / max(1, len(m['ex'])):15.1f}%")
        print(f"{db_id:28s} {len(ms[0]['ex']):4d} " + " ".join(cells))
    print(f"{'overall':28s} {len(next(iter(totals.values()), [])):4d} "
          + " ".join(f"{100 * sum(totals[n]) / max(1, len(totals[n])):15.1f}%" for n in names))
    for h in LEVELS:
        row = [levels.get((n, h), []) for n in names]
        print(f"{'  ' + h:28s} {len(row[0]):4d} " + " ".join(f"{100 * sum(r) / max(1, len(r)):15.1f}%" for r in row))
    print(f"{'p50 ms (median over dbs)':33s} " + " ".join(f"{statistics.median(latency[n]):16.1f}" for n in names))


if __name__ == "__main__":
    sys.exit(main())
