"""Distill a student for every database of a Spider-format questions file, from the database alone, and
measure it on those human questions (QUESTIONS ``tune``: the 20 tuning databases' training-set questions).

For each ``db_id`` in QUESTIONS, the database ``DB_FOLDER/<db_id>/<db_id>.sqlite`` goes through the whole
``distill`` pipeline with the embedded default config (``sqldistill init``), so what is measured is exactly
what a user gets. The questions are only read by the evaluate stage; nothing built from them reaches
synthesis or training. Prints EX per database for the student and the teacher, with the default decoding (as
``serve`` answers) and greedy; then overall and per hardness (question-weighted) for each model and mode, with
its parameters and the median over databases of its p50 latency per question; writes ``OUT/open_dev.json``.
"params" counts the trained network, "+encoder" adds the frozen sentence encoder it reads questions with.

    python bench/open_dev.py QUESTIONS DB_FOLDER [--out runs/open_dev] [--set synth.n=3000 ...]

e.g. ``python bench/open_dev.py ../shared/data/spider/dev_open.json ../shared/data/spider/database``, or
``python bench/open_dev.py tune ../shared/data/spider/database --out runs/tune``.
Runs resume like ``distill`` does: rerunning the same command skips every finished database stage.
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _weighted(rows: list[dict[str, Any]], model: str, key: str) -> float | None:
    """Question-weighted mean of ``key`` over databases (a database that failed counts 0)."""
    total = sum(r["questions"] for r in rows)
    if not any(r.get(model) for r in rows):
        return None
    return sum(((r.get(model) or {}).get(key) or 0.0) * r["questions"] for r in rows) / max(total, 1)


def _by_hardness(rows: list[dict[str, Any]], model: str, key: str) -> dict[str, float]:
    hits: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in rows:
        m = r.get(model) or {}
        for level, n in (m.get("count_by_hardness") or {}).items():
            if level == "all":
                continue
            hits[level] = hits.get(level, 0.0) + ((m.get(key) or {}).get(level) or 0.0) * n
            counts[level] = counts.get(level, 0) + n
    return {lv: hits[lv] / counts[lv] for lv in ("easy", "medium", "hard", "extra") if counts.get(lv)}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def print_tables(rows: list[dict[str, Any]], seconds: float) -> None:
    """EX per database (student and teacher, default decoding and greedy), then overall and per hardness with
    parameters and the median over databases of each mode's p50 latency."""
    fmt = "{:<28} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>7}"
    print(fmt.format("database", "n", "student", "s.greedy", "teacher", "t.greedy", "s. p50 ms", "s.greedy ms",
                     "time s"))
    for r in rows:
        s, t = r.get("student") or {}, r.get("teacher") or {}
        print(fmt.format(r["db_id"], r["questions"], _pct(s.get("ex") if s else 0.0), _pct(s.get("greedy_ex")),
                         _pct(t.get("ex")), _pct(t.get("greedy_ex")),
                         f"{s.get('latency_ms_p50') or 0:.1f}", f"{s.get('greedy_latency_ms_p50') or 0:.1f}",
                         f"{r['seconds']:.0f}"))
    total = sum(r["questions"] for r in rows)
    print(f"overall: {total} questions in {len(rows)} databases, {seconds:.0f} s")
    head = "{:<8} {:<10} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>12}"
    print(head.format("model", "decoding", "params", "+encoder", "EX", "easy", "medium", "hard", "extra",
                      "p50 ms (med)"))
    for model in ("student", "teacher"):
        present = [r[model] for r in rows if r.get(model)]
        if not present:
            continue
        params = f"{(present[0].get('params') or 0) / 1e6:.2f}M"
        plus = f"{(present[0].get('total_params') or 0) / 1e6:.2f}M"
        label = "guided" if (present[0].get("decoding") or {}).get("execution_guided") else "greedy"
        for mode, key, ex_key, lat_key in (("default", "ex_by_hardness", "ex", "latency_ms_p50"),
                                           ("greedy", "greedy_ex_by_hardness", "greedy_ex", "greedy_latency_ms_p50")):
            hard = _by_hardness(rows, model, key)
            lat = _median([m[lat_key] for m in present if m.get(lat_key) is not None])
            print(head.format(model, label if mode == "default" else "greedy", params, plus,
                              _pct(_weighted(rows, model, ex_key)), _pct(hard.get("easy")),
                              _pct(hard.get("medium")), _pct(hard.get("hard")), _pct(hard.get("extra")),
                              "-" if lat is None else f"{lat:.1f}"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", type=Path, help="Spider dev.json-format questions (question, query, db_id)")
    ap.add_argument("db_folder", type=Path, help="folder holding <db_id>/<db_id>.sqlite")
    ap.add_argument("--out", type=Path, default=Path("runs/open_dev"))
    ap.add_argument("--set", dest="sets", action="append", default=[],
                    help="override a config key, e.g. --set synth.n=3000 --set student.method=sft")
    ap.add_argument("--only", nargs="*", default=None, help="just these db_ids")
    args = ap.parse_args()

    if str(args.questions) == "tune":
        spider = Path(__file__).resolve().parents[2] / "shared" / "data" / "spider"
        if not (spider / "tune_dbs.txt").is_file():
            print(f"error: no tuning databases list at {spider / 'tune_dbs.txt'}", file=sys.stderr)
            return 2
        tune = set((spider / "tune_dbs.txt").read_text().split())
        items = [it for it in json.loads((spider / "train.json").read_text(encoding="utf-8"))
                 if it["db_id"] in tune]
    elif not args.questions.is_file():
        print(f"error: no questions file at {args.questions}", file=sys.stderr)
        return 2
    else:
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
            rows.append({"db_id": db_id, "questions": len(by_db[db_id]), "ex": 0.0, "student": None,
                         "teacher": None, "seconds": round(time.perf_counter() - t0, 1), "error": str(err)})
            continue
        metrics = json.loads((state.results["report"].path / "metrics.json").read_text())
        ev = state.results["evaluate"].metrics
        row = {"db_id": db_id, "questions": len(by_db[db_id]), "train_pairs": metrics["data"].get("train"),
               "seconds": round(time.perf_counter() - t0, 1)}
        for name in ("student", "teacher"):
            res = ev.get(name) or {}
            human = res.get("human") or {}
            greedy = human.get("greedy") or {}
            row[name] = {
                "params": res.get("params"), "total_params": res.get("total_params"),
                "decoding": res.get("decoding"),
                "ex": (human.get("ex") or {}).get("all"), "ex_by_hardness": human.get("ex"),
                "count_by_hardness": human.get("count"), "latency_ms_p50": human.get("latency_ms_p50"),
                # greedy beside the default decoding (the same when the default is greedy)
                "greedy_ex": (greedy.get("ex") or human.get("ex") or {}).get("all"),
                "greedy_ex_by_hardness": greedy.get("ex") or human.get("ex"),
                "greedy_latency_ms_p50": greedy.get("latency_ms_p50", human.get("latency_ms_p50")),
                "ex_valid": ((res.get("valid") or {}).get("ex") or {}).get("all"),
            } if res else None
        row["ex"] = (row["student"] or {}).get("ex")
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    print_tables(rows, time.perf_counter() - started)
    total = sum(r["questions"] for r in rows)
    overall = sum((r["ex"] or 0) * r["questions"] for r in rows) / max(total, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "open_dev.json").write_text(json.dumps({"overall_ex": overall, "questions": total,
                                                        "sets": args.sets, "databases": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
