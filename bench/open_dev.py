"""Distill a student for every database of a Spider-format questions file, from the database alone, and
measure it on those human questions.

For each ``db_id`` in QUESTIONS, the database ``DB_FOLDER/<db_id>/<db_id>.sqlite`` goes through the whole
``distill`` pipeline with the embedded default config (``sqldistill init``), so what is measured is exactly
what a user gets. The questions are only read by the evaluate stage; nothing built from them reaches
synthesis or training. Prints EX per database and overall (question-weighted), with the student's size and
per-question latency (one greedy question, and execution-guided as scored), and writes ``OUT/open_dev.json``.
"student" is the decoder's parameter count, "+encoder" adds the retrieval memory's sentence encoder.

    python bench/open_dev.py QUESTIONS DB_FOLDER [--out runs/open_dev] [--set synth.n=3000 ...]

e.g. ``python bench/open_dev.py ../shared/data/spider/dev_open.json ../shared/data/spider/database``.
Runs resume like ``distill`` does: rerunning the same command skips every finished database stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from sqldistill.config import Config, load_config
from sqldistill.errors import SqlDistillError
from sqldistill.pipeline import distill
from sqldistill.pipeline_commands import preset_text


def _set(data: dict[str, Any], dotted: str) -> None:
    key, _, raw = dotted.partition("=")
    if not _:
        raise SystemExit(f"error: --set {dotted!r} must look like section.key=value")
    *path, last = key.split(".")
    node = data
    for part in path:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = yaml.safe_load(raw)


def config_for(db_id: str, db_path: Path, questions: list[dict[str, Any]], out: Path, sets: list[str]) -> Config:
    work = out / db_id
    work.mkdir(parents=True, exist_ok=True)
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(questions, indent=1))
    text = preset_text("default", database=str(db_path.resolve()), run_dir=str((work / "run").resolve()),
                       questions=str(qfile.resolve()))
    data = yaml.safe_load(text)
    for s in sets:
        _set(data, s)
    cfg_path = work / "sqldistill.yaml"
    cfg_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(cfg_path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", type=Path, help="Spider dev.json-format questions (question, query, db_id)")
    ap.add_argument("db_folder", type=Path, help="folder holding <db_id>/<db_id>.sqlite")
    ap.add_argument("--out", type=Path, default=Path("runs/open_dev"))
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="override a config key, e.g. --set synth.n=3000 --set student.method=sft")
    ap.add_argument("--only", nargs="*", default=None, help="just these db_ids")
    args = ap.parse_args()

    if not args.questions.is_file():
        print(f"error: no questions file at {args.questions}", file=sys.stderr)
        return 2
    items = json.loads(args.questions.read_text(encoding="utf-8"))
    by_db: dict[str, list[dict[str, Any]]] = {}
    for it in items:
        by_db.setdefault(it["db_id"], []).append(it)
    if args.only:
        by_db = {k: v for k, v in by_db.items() if k in args.only}
    missing = [d for d in by_db if not (args.db_folder / d / f"{d}.sqlite").is_file()]
    if missing:
        print(f"error: no database for {', '.join(missing)} under {args.db_folder}", file=sys.stderr)
        return 2

    rows = []
    started = time.perf_counter()
    for db_id in sorted(by_db):
        t0 = time.perf_counter()
        try:
            cfg = config_for(db_id, args.db_folder / db_id / f"{db_id}.sqlite", by_db[db_id], args.out, args.sets)
            state = distill(cfg, progress=lambda msg, d=db_id: print(f"[{d}] {msg}", file=sys.stderr, flush=True))
        except SqlDistillError as err:  # one database that cannot be distilled scores 0 and the run goes on
            print(f"error: {db_id}: {err}", file=sys.stderr, flush=True)
            rows.append({"db_id": db_id, "questions": len(by_db[db_id]), "ex": 0.0, "teacher_ex": None,
                         "params": None, "total_params": None, "latency_ms_p50": None,
                         "guided_latency_ms_p50": None, "seconds": round(time.perf_counter() - t0, 1),
                         "error": str(err)})
            continue
        metrics = json.loads((state.results["report"].path / "metrics.json").read_text())
        ev = state.results["evaluate"].metrics
        student = ev["student"]
        human = student.get("human") or {}
        row = {
            "db_id": db_id,
            "questions": len(by_db[db_id]),
            "ex": (human.get("ex") or {}).get("all"),
            "ex_by_hardness": human.get("ex"),
            "ex_valid": ((student.get("valid") or {}).get("ex") or {}).get("all"),
            "teacher_ex": (((ev.get("teacher") or {}).get("human") or {}).get("ex") or {}).get("all"),
            "params": student.get("params"),
            "total_params": student.get("total_params"),
            "latency_ms_p50": student.get("latency_ms_p50"),  # one greedy question
            "guided_latency_ms_p50": human.get("latency_ms_p50"),  # execution-guided, as scored
            "train_pairs": metrics["data"].get("train"),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    total = sum(r["questions"] for r in rows)
    overall = sum((r["ex"] or 0) * r["questions"] for r in rows) / max(total, 1)
    teacher_rows = [r for r in rows if r["teacher_ex"] is not None]
    teacher_overall = (sum(r["teacher_ex"] * r["questions"] for r in teacher_rows) / max(total, 1)
                       if len(teacher_rows) == len(rows) else None)
    fmt = "{:<30} {:>5} {:>8} {:>9} {:>9} {:>10} {:>9} {:>10} {:>8}"
    print(fmt.format("database", "n", "EX", "teacherEX", "student", "+encoder", "p50 ms", "guided ms", "time s"))
    for r in rows:
        print(fmt.format(r["db_id"], r["questions"], f"{100 * (r['ex'] or 0):.1f}%",
                         "-" if r["teacher_ex"] is None else f"{100 * r['teacher_ex']:.1f}%",
                         f"{(r['params'] or 0) / 1e6:.2f}M", f"{(r['total_params'] or 0) / 1e6:.2f}M",
                         f"{r['latency_ms_p50'] or 0:.1f}", f"{r['guided_latency_ms_p50'] or 0:.1f}",
                         f"{r['seconds']:.0f}"))
    print(fmt.format("overall", total, f"{100 * overall:.1f}%",
                     "-" if teacher_overall is None else f"{100 * teacher_overall:.1f}%", "", "", "", "",
                     f"{time.perf_counter() - started:.0f}"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "open_dev.json").write_text(json.dumps({"overall_ex": overall, "teacher_overall_ex": teacher_overall,
                                                        "questions": total, "sets": args.sets, "databases": rows},
                                                       indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
