"""Does constrained decoding gain from the grammar's fits: values held by the column, no repeated items?

For each run directory of ``bench/open_dev.py`` (``OUT/<db_id>`` with ``questions.json`` and
``run/<model>/model``), the trained pointer model answers every human question with the current code, greedy
and execution-guided as ``eval`` does, three times (``language.Grammar.next``'s misfits, cumulative):
``none`` (any database value may be compared with any column, a SELECT list may name one thing twice),
``values`` (a value found in the database, compared by ``=`` or ``!=`` with a column whose values were looked
up, must be one that column holds), ``+repeats`` (also no item named twice in a SELECT list or GROUP BY) and
``+joins`` (also no table in FROM without a foreign key to the tables before it: the default). Prints EX (official semantics) and p50 latency per database and overall (question-weighted; the
latencies are the median of the databases' p50). The models are not retrained, so this isolates decoding. Run
it on tune databases only.

    python bench/decoding_fit.py RUN_DIR [RUN_DIR ...] [--model student]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def answer(predictor: Any, db: Any, questions: list[dict[str, Any]], guided: bool) -> tuple[list[str], float]:
    preds, latencies = [], []
    for q in questions:
        started = time.perf_counter()
        preds.append(predictor.predict(q["question"], db=db, execution_guided=guided, num_candidates=4,
                                       memory_k=0).sql)
        latencies.append((time.perf_counter() - started) * 1000)
    return preds, statistics.median(latencies)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="OUT/<db_id> folders written by bench/open_dev.py")
    ap.add_argument("--model", default="student", choices=["student", "teacher"])
    args = ap.parse_args()

    from sqldistill.db import connect
    from sqldistill.eval.model_eval import read_questions, score_predictions
    from sqldistill.infer.predictor import Predictor
    from sqldistill.infer.seq2seq import PointerGenerator

    modes = [("greedy", False), ("guided", True)]
    variants = ("none", "values", "+repeats", "+joins")
    fmt = "{:<26} {:>4}" + " {:>15}" * (len(modes) * len(variants))
    print(fmt.format("database", "n", *(f"{m} {v}" for m, _ in modes for v in variants)))
    totals: dict[str, float] = {}
    lat: dict[str, list[float]] = {}
    count = 0
    for run in args.runs:
        model_dir = run / "run" / args.model / "model"
        if not model_dir.is_dir():
            print(f"skip {run}: no {model_dir}", file=sys.stderr)
            continue
        predictor = Predictor.load(model_dir)
        if not isinstance(predictor.generator, PointerGenerator):
            print(f"skip {run}: not a pointer model", file=sys.stderr)
            continue
        database = yaml.safe_load((run / "sqldistill.yaml").read_text())["database"]
        db_id = Path(str(database)).stem
        questions = read_questions(run / "questions.json", db_id)
        gen = predictor.generator
        valued = gen.valued
        cells = []
        with connect(str(database)) as db, tempfile.TemporaryDirectory() as tmp:
            for mode, guided in modes:
                for variant in variants:
                    gen.valued = frozenset() if variant == "none" else valued
                    gen.repeats = variant not in ("+repeats", "+joins")
                    gen.cross = variant != "+joins"
                    preds, p50 = answer(predictor, db, questions, guided)
                    scores = score_predictions(db, questions, preds, Path(tmp) / f"{mode}.{variant}.jsonl")
                    ex = scores["ex"]["all"] or 0.0
                    key = f"{mode} {variant}"
                    totals[key] = totals.get(key, 0.0) + ex * len(questions)
                    lat.setdefault(key, []).append(p50)
                    cells.append(f"{100 * ex:.1f}% {p50:.0f}ms")
        count += len(questions)
        print(fmt.format(db_id, len(questions), *cells), flush=True)
    if count:
        print(fmt.format("overall", count, *(f"{100 * totals[k] / count:.1f}% {statistics.median(lat[k]):.0f}ms"
                                             for k in totals)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
