"""The training-method experiment for the default (pointer) family: sft vs kd vs kid vs sft+dpo vs rounds.

    python bench/train_methods.py [--spider ../shared/data/spider] [--dbs allergy_1,race_track,hospital_1] \
        [--seeds 0,1,2] [--out runs/train_methods]

Per database, the embedded default config (``sqldistill init``) runs the ``distill`` pipeline up to its
teacher stage: ``profile``, ``synth`` (the default synthesis: train.jsonl + valid.jsonl) and ``teacher``
(``pointer-large`` by sft, the default epochs), so data and teacher are exactly what a user gets. Then, for
every seed, the ``pointer-base`` student is trained from the same data and teacher with each method, with the
``student`` section's options (epochs, batch size, ce_weight, mask_ratio, dpo_beta, rounds):

- ``sft``     cross-entropy on the synthetic pairs;
- ``kd``      token-level KD from the teacher (the config's divergence, forward KL) + CE;
- ``kid``     KD on imperfect sequences: reverse KL on gold targets with ``mask_ratio`` of the decoder inputs
              filled in by the student itself + CE;
- ``sft+dpo`` the sft student of the same seed, then DPO on pairs where its execution-wrong SQL is rejected
              (its train seconds include the sft student's and building the pairs; its step time is
              DPO's: chosen and rejected through the policy, and the frozen reference);
- ``rounds``  an sft round 0, then ``rounds`` rounds of pseudo-labelling fresh synthetic questions (the
              pipeline's second synthesis) with execution-guided decoding, critics and retraining (its step
              time is the last round's).

Every model is scored with the official-equivalent EX (``eval.model_eval.evaluate_model``, the evaluate stage's
scorer) on the database's human questions: the Spider training-set questions of these tuning databases (held
out of the base corpus; read only by the scorer), with greedy decoding and with the default decoding
(execution-guided, beam 4, memory 0). The table prints mean ± sd over seeds, train seconds and the mean
training-step time relative to sft; ``OUT/train_methods.json`` keeps every row. Reruns resume: finished
models are scored again, not retrained.
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

METHODS = ("sft", "kd", "kid", "sft+dpo", "rounds")
DEFAULT_DBS = "allergy_1,race_track,hospital_1"
SPIDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "spider"


def human_questions(spider: Path, db_id: str) -> list[dict[str, Any]]:
    """The Spider training-set questions of ``db_id`` (the tuning databases' human questions)."""
    return [q for q in json.loads((spider / "train.json").read_text(encoding="utf-8")) if q["db_id"] == db_id]


def prepare(db_id: str, spider: Path, out: Path) -> tuple[Any, Path]:
    """Run the default pipeline up to its teacher for ``db_id``; (state, human-questions file)."""
    from sqldistill.config import load_config
    from sqldistill.pipeline import distill
    from sqldistill.pipeline_commands import preset_text

    work = out / db_id
    work.mkdir(parents=True, exist_ok=True)
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(human_questions(spider, db_id), indent=1))
    db_path = spider / "database" / db_id / f"{db_id}.sqlite"
    text = preset_text("default", database=str(db_path.resolve()), run_dir=str((work / "run").resolve()),
                       questions=str(qfile.resolve()))
    (work / "sqldistill.yaml").write_text(yaml.safe_dump(yaml.safe_load(text), sort_keys=False))
    cfg = load_config(work / "sqldistill.yaml")
    state = distill(cfg, progress=lambda m: print(f"[{db_id}] {m}", file=sys.stderr, flush=True), only="teacher")
    return state, qfile


def unlabelled(state: Any, work: Path) -> Path:
    """The rounds' fresh questions: the pipeline's second synthesis (seed-independent, made once)."""
    from sqldistill.pipeline import _unlabelled_questions

    path = work / "unlabelled.jsonl"
    if not path.is_file():
        _unlabelled_questions(state, path)
    return path


def train(method: str, seed: int, state: Any, work: Path) -> dict[str, Any]:
    """Train one student with ``method``; its training stats (seconds, steps, step time, method extras)."""
    from sqldistill.pipeline import train_options
    from sqldistill.train.dpo import build_dpo_pairs, train_dpo
    from sqldistill.train.methods import TrainResult, train_student
    from sqldistill.train.options import DPOOptions, KDOptions, RoundsOptions
    from sqldistill.train.rounds import train_rounds

    m = state.cfg.student
    train_file = state.path("synth", "train.jsonl")
    teacher = state.path("teacher", "model")
    out = work / f"{method}-s{seed}"
    extra: dict[str, Any] = {}
    started = time.perf_counter()
    result: TrainResult
    if method in ("sft", "kd", "kid"):
        divergence = "rkl" if method == "kid" else m.divergence
        kd = train_options(m, state, KDOptions, seed=seed, teacher=teacher if method != "sft" else None,
                           divergence=divergence, temperature=m.temperature, ce_weight=m.ce_weight,
                           mask_ratio=m.mask_ratio)
        result = train_student(method, train_file, out, kd)
    elif method == "sft+dpo":
        weak = work / f"sft-s{seed}"
        seconds = 0.0
        if not (weak / "sqldistill.json").is_file():
            seconds = train("sft", seed, state, work)["train_s"]
        else:
            seconds = float(json.loads((weak / "sqldistill.json").read_text())["training"]["wall_s"])
        pairs = work / f"pairs-s{seed}.jsonl"
        extra = build_dpo_pairs(train_file, pairs, weak_model=weak, db=state.cfg.database, seed=seed)
        result = train_dpo(pairs, out, train_options(m, state, DPOOptions, seed=seed, model=weak, beta=m.dpo_beta,
                                                     epochs=1.0))
        extra.update(result.extra)
        started -= seconds
    else:
        result = train_rounds(train_file, out, train_options(
            m, state, RoundsOptions, seed=seed, unlabelled_file=unlabelled(state, work), db=state.cfg.database,
            rounds=m.rounds, eval_file=state.path("synth", "valid.jsonl")))
        extra = {"rounds": [{k: v for k, v in r.items() if k != "model_dir"} for r in result.extra["rounds"]]}
    step_s = result.extra.get("step_s")
    return {"train_s": round(time.perf_counter() - started, 1), "steps": result.steps,
            "step_ms": None if step_s is None else round(1000 * step_s, 2), **extra}


def score(model_dir: Path, state: Any, questions: Path, work: Path) -> dict[str, float]:
    """EX on the human questions with the default decoding and greedily."""
    from sqldistill.eval.model_eval import evaluate_model, read_questions

    human = read_questions(questions, state.results["profile"].metrics["db_id"])
    ev = state.cfg.eval
    res = evaluate_model(model_dir, state.cfg.database, {"human": human}, work, execution_guided=ev.execution_guided,
                         num_candidates=ev.num_candidates, memory_k=ev.memory_k, timeout_s=ev.timeout_s, workers=1)
    h = res["human"]
    return {"default": h["ex"]["all"], "greedy": (h.get("greedy") or h)["ex"]["all"]}


def read_rows(out: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    path = out / "rows.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    return {(r["db"], r["method"], r["seed"]): r for r in rows}


def run(args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    """Every database prepared first; then seed by seed (each seed over every database), so a run cut short
    still has whole seeds. Finished rows (``OUT/rows.jsonl``) are kept, not redone."""
    done = read_rows(out)
    prepared = {db_id: prepare(db_id, Path(args.spider), out) for db_id in args.dbs.split(",")}
    todo = [(db_id, "teacher", 0) for db_id in prepared]
    todo += [(db_id, m, int(s)) for s in args.seeds.split(",") for db_id in prepared for m in args.methods.split(",")]
    log = []
    for db_id, method, seed in todo:
        if (db_id, method, seed) in done:
            log.append(done[(db_id, method, seed)])
            continue
        state, qfile = prepared[db_id]
        work = out / db_id
        if method == "teacher":
            t = state.results["teacher"].metrics
            stats: dict[str, Any] = {"train_s": t.get("seconds"), "steps": t.get("steps")}
            model_dir = state.path("teacher", "model")
        else:
            stats = train(method, seed, state, work)
            model_dir = work / f"{method}-s{seed}"
        row = {"db": db_id, "method": method, "seed": seed, **stats,
               **score(model_dir, state, qfile, work / "eval" / f"{method}-s{seed}")}
        with (out / "rows.jsonl").open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        log.append(row)
        print(json.dumps(row), flush=True)
    return log


def _cell(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):5.1f} ±{sd:4.1f}"


def summarise(log: list[dict[str, Any]]) -> None:
    """Per database and method: EX (default decoding, greedy) mean ± sd over seeds, train seconds, step time
    relative to sft; then the mean over databases."""
    head = "{:<12} {:<9} {:>5} {:>13} {:>13} {:>9} {:>9}"
    print(head.format("database", "method", "seeds", "EX default", "EX greedy", "train s", "step/sft"))
    for db in dict.fromkeys(r["db"] for r in log):
        sft_steps = [r["step_ms"] for r in log if r["db"] == db and r["method"] == "sft" and r.get("step_ms")]
        for method in dict.fromkeys(r["method"] for r in log if r["db"] == db):
            rows = [r for r in log if r["db"] == db and r["method"] == method]
            steps = [r["step_ms"] for r in rows if r.get("step_ms")]
            rel = f"{statistics.mean(steps) / statistics.mean(sft_steps):.2f}x" if steps and sft_steps else "-"
            print(head.format(db, method, len(rows), _cell([100 * r["default"] for r in rows]),
                              _cell([100 * r["greedy"] for r in rows]),
                              f"{statistics.mean(r['train_s'] or 0 for r in rows):.0f}", rel))
    print("mean over databases, per seed that has every database; mean ± sd over those seeds:")
    dbs = list(dict.fromkeys(r["db"] for r in log))
    for method in dict.fromkeys(r["method"] for r in log):
        by_seed = {s: [r for r in log if r["method"] == method and r["seed"] == s]
                   for s in sorted({r["seed"] for r in log if r["method"] == method})}
        whole = [rows for rows in by_seed.values() if len(rows) == len(dbs)]
        cells = [_cell([100 * statistics.mean(r[key] for r in rows) for rows in whole]) if whole else "-"
                 for key in ("default", "greedy")]
        print(head.format("all", method, len(whole), *cells, "", ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spider", default=str(SPIDER))
    ap.add_argument("--dbs", default=DEFAULT_DBS)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="runs/train_methods")
    args = ap.parse_args()
    unknown = set(args.methods.split(",")) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown method(s) {', '.join(sorted(unknown))}; use {', '.join(METHODS)}")
    out = Path(args.out)
    log = run(args, out)
    (out / "train_methods.json").write_text(json.dumps(log, indent=2))
    summarise(log)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
