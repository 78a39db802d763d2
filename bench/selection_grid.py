"""Which decoding should a trained student answer with? A grid over execution-guided selection's settings.

For each run directory of ``bench/open_dev.py`` (``OUT/<db_id>`` with ``questions.json`` and
``run/<model>/model``), the model decodes every question once (greedy, and a beam of ``--beam`` with the
model's scores) and the retrieval memory returns its ``max(--memory-k)`` nearest queries; every candidate is
run once on the database. Each setting of the grid then chooses among those cached candidates exactly as
``Predictor.predict`` does (``select.vote_weights`` then ``select.select_by_execution``) and is scored with
the official EX. Prints EX per setting, per database and overall (question-weighted), best first, with the
median per-question time of decoding and retrieval that a setting needs. Run it on tune databases only.

    python bench/selection_grid.py RUN_DIR [RUN_DIR ...] [--model student] [--beam 4] [--memory-k 0 5 20]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class CachedDatabase:
    """A database whose ``execute`` answers each (SQL) once: every setting sees the same results."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.dialect = db.dialect
        self.cache: dict[str, Any] = {}

    def execute(self, sql: str, timeout_s: float = 5.0, max_rows: int = 1000) -> Any:
        if sql not in self.cache:
            self.cache[sql] = self.db.execute(sql, timeout_s=timeout_s, max_rows=max_rows)
        return self.cache[sql]


def decode_all(run: Path, model: str, beam: int, memory_k: int) -> dict[str, Any]:
    import yaml

    from sqldistill.db import connect
    from sqldistill.eval.model_eval import read_questions
    from sqldistill.infer.predictor import Predictor

    cfg = yaml.safe_load((run / "sqldistill.yaml").read_text())
    predictor = Predictor.load(run / "run" / model / "model")
    db = connect(cfg["database"])
    examples = read_questions(run / "questions.json", db.db_id)
    items = []
    times: dict[str, list[float]] = {"greedy": [], "beam": [], "memory": []}
    for ex in examples:
        q = ex["question"]
        t0 = time.perf_counter()
        greedy = predictor.generator.generate([q], 1, "greedy", max_new_tokens=256, with_scores=True)[0]
        t1 = time.perf_counter()
        beams = predictor.generator.generate([q], beam, "beam", max_new_tokens=256, with_scores=True)[0]
        t2 = time.perf_counter()
        retrieved = predictor.memory.candidates(q, memory_k) if predictor.memory and memory_k else []
        t3 = time.perf_counter()
        times["greedy"].append(t1 - t0)
        times["beam"].append(t2 - t1)
        times["memory"].append(t3 - t2)
        items.append({"question": q, "greedy": [(c.sql, c.score) for c in greedy],
                      "beam": [(c.sql, c.score) for c in beams], "retrieved": retrieved})
    return {"db_id": db.db_id, "db": CachedDatabase(db), "raw": db, "examples": examples, "items": items,
            "schema": predictor.schema,
            "values": getattr(predictor.generator, "values", None) or (predictor.memory.values if predictor.memory
                                                                      else None),
            "ms": {k: 1000 * statistics.median(v) for k, v in times.items()}}


def choose(item: dict[str, Any], setting: dict[str, Any], data: dict[str, Any]) -> str:
    from sqldistill.infer.select import select_by_execution, vote_weights

    if setting["mode"] == "greedy":
        return str(item["greedy"][0][0]) if item["greedy"] else ""
    scored: dict[str, float | None] = {}
    for sql, score in item["greedy"] + item["beam"]:
        if sql:
            prev = scored.get(sql)
            scored[sql] = score if prev is None else prev if score is None else max(prev, score)
    cands = list(scored)
    retrieved = item["retrieved"][:setting["memory_k"]]
    voted = vote_weights(cands, retrieved, item["question"], scores=list(scored.values()), schema=data["schema"],
                         values=data["values"], tau=setting["tau"], student_weight=setting["student_weight"],
                         value_weight=setting["value_weight"])
    sql, _, _ = select_by_execution([c for c, _ in voted] or [""], data["db"], 5.0, 1000, [w for _, w in voted])
    return sql


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--model", default="student", choices=("student", "teacher"))
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--memory-k", type=int, nargs="+", default=[0, 5, 20])
    ap.add_argument("--student-weight", type=float, nargs="+", default=[0.5, 2.0, 8.0])
    ap.add_argument("--tau", type=float, nargs="+", default=[0.1])
    ap.add_argument("--value-weight", type=float, nargs="+", default=[0.0, 2.0])
    args = ap.parse_args()
    missing = [str(r) for r in args.runs if not (r / "run" / args.model / "model").is_dir()]
    if missing:
        print(f"error: no trained {args.model} under {', '.join(missing)}", file=sys.stderr)
        return 2
    from sqldistill.eval.model_eval import score_predictions

    data = [decode_all(r, args.model, args.beam, max(args.memory_k)) for r in args.runs]
    settings: list[dict[str, Any]] = [{"mode": "greedy", "memory_k": 0, "student_weight": 0.0, "tau": 0.0,
                                       "value_weight": 0.0}]
    for k, sw, tau, vw in itertools.product(args.memory_k, args.student_weight, args.tau, args.value_weight):
        if k == 0 and (sw != args.student_weight[0] or tau != args.tau[0]):
            continue  # without the memory only the model's candidates vote: weights do not matter
        settings.append({"mode": "guided", "memory_k": k, "student_weight": sw, "tau": tau, "value_weight": vw})
    rows = []
    for s in settings:
        per_db = {}
        for d in data:
            preds = [choose(it, s, d) for it in d["items"]]
            with tempfile.TemporaryDirectory() as tmp:
                scores = score_predictions(d["raw"], d["examples"], preds, Path(tmp) / "ex.jsonl", workers=1)
            per_db[d["db_id"]] = scores["ex"]["all"]
        total = sum(len(d["examples"]) for d in data)
        overall = sum(per_db[d["db_id"]] * len(d["examples"]) for d in data) / max(total, 1)
        rows.append((overall, s, per_db))
    rows.sort(key=lambda r: -r[0])
    names = [d["db_id"] for d in data]
    print(f"{'setting':<52} {'overall':>8} " + " ".join(f"{n[:14]:>14}" for n in names))
    for overall, s, per_db in rows:
        label = "greedy" if s["mode"] == "greedy" else (
            f"guided beam {args.beam} mem {s['memory_k']} sw {s['student_weight']} tau {s['tau']} "
            f"vw {s['value_weight']}")
        print(f"{label:<52} {100 * overall:>7.1f}% " + " ".join(f"{100 * per_db[n]:>13.1f}%" for n in names))
    ms = {k: statistics.median([d["ms"][k] for d in data]) for k in ("greedy", "beam", "memory")}
    print(f"{sum(len(d['examples']) for d in data)} questions; median per-question ms over databases: greedy "
          f"{ms['greedy']:.1f}, beam {ms['beam']:.1f}, memory {ms['memory']:.1f} (guided = greedy + beam "
          f"[+ memory when mem > 0] + running the candidates)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
