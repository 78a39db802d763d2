"""EX of trained students' greedy and execution-guided answers: how much choosing among candidates adds.

For each run directory of ``bench/open_dev.py`` (``OUT/<db_id>`` holding ``questions.json`` and
``run/student/model``), loads the student, answers every question greedily and execution-guided (the
``evaluate`` stage's defaults: 4 beam candidates, 20 memory candidates), scores both with the official EX and
prints EX and the median per-question latency of each, per database and overall (question-weighted).

    python bench/selection.py RUN_DIR [RUN_DIR ...] [--json out.json]

e.g. ``python bench/selection.py runs/open_dev/allergy_1 runs/open_dev/race_track``. Run it on tune
databases: it reads the questions' gold SQL to score.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def measure(run: Path, num_candidates: int = 4, memory_k: int = 20) -> dict[str, Any]:
    import yaml

    from sqldistill.db import connect
    from sqldistill.eval.model_eval import read_questions, score_predictions
    from sqldistill.infer.predictor import Predictor

    cfg = yaml.safe_load((run / "sqldistill.yaml").read_text())
    model = run / "run" / "student" / "model"
    with connect(cfg["database"]) as db:
        examples = read_questions(run / "questions.json", db.db_id)
        predictor = Predictor.load(model)
        row: dict[str, Any] = {"db_id": db.db_id, "questions": len(examples)}
        for name, guided in (("greedy", False), ("guided", True)):
            preds, latencies = [], []
            for ex in examples:
                started = time.perf_counter()
                p = predictor.predict(ex["question"], db=db, execution_guided=guided,
                                      num_candidates=num_candidates, memory_k=memory_k)
                latencies.append((time.perf_counter() - started) * 1000)
                preds.append(p.sql)
            with tempfile.TemporaryDirectory() as tmp:
                scores = score_predictions(db, examples, preds, Path(tmp) / "examples.jsonl", workers=1)
            row[f"{name}_ex"] = scores["ex"]["all"]
            row[f"{name}_ms_p50"] = statistics.median(latencies)
            row[f"{name}_preds"] = preds
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="bench/open_dev.py folders OUT/<db_id>")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows (with predictions) here")
    args = ap.parse_args()
    missing = [str(r) for r in args.runs if not (r / "run" / "student" / "model").is_dir()]
    if missing:
        print(f"error: no trained student under {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = [measure(r) for r in args.runs]
    fmt = "{:<24} {:>5} {:>9} {:>9} {:>10} {:>10}"
    print(fmt.format("database", "n", "greedyEX", "guidedEX", "greedy ms", "guided ms"))
    for r in rows:
        print(fmt.format(r["db_id"], r["questions"], f"{100 * r['greedy_ex']:.1f}%", f"{100 * r['guided_ex']:.1f}%",
                         f"{r['greedy_ms_p50']:.1f}", f"{r['guided_ms_p50']:.1f}"))
    total = sum(r["questions"] for r in rows)
    print(fmt.format("overall", total,
                     *(f"{100 * sum(r[k] * r['questions'] for r in rows) / max(total, 1):.1f}%"
                       for k in ("greedy_ex", "guided_ex")), "", ""))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
