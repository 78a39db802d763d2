"""Scoring a trained model on question sets: what the ``evaluate`` stage of a run measures.

``evaluate_model`` loads a model directory, answers every question of each set (execution-guided when asked)
on the run's database, writes the predictions and per-example verdicts, and returns EX (and EM) per hardness,
the model's size and its latency. ``score_predictions`` is the scoring alone: the official evaluator
(``evaluate``) on SQLite files, and the same EX code on an open connection for every other database
(``spider.execution.execution_verdicts``).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.errors import ConfigError
from sqldistill.jsonfiles import write_jsonl_atomic

if TYPE_CHECKING:
    from sqldistill.db import Database


def read_questions(path: Path, db_id: str) -> list[dict[str, Any]]:
    """The {question, sql} pairs of a gold file that belong to ``db_id`` (or name no database)."""
    from sqldistill.eval.loaders import load_gold

    golds = [g for g in load_gold(path) if g.db_id in (db_id, "")]
    if not golds:
        raise ConfigError(f"eval.questions: {path} has no questions for the database {db_id!r}",
                          hint="Use a Spider-format file whose db_id matches the database's name")
    if any(not g.question for g in golds):
        raise ConfigError(f"eval.questions: {path} has examples without a question",
                          hint="Use a Spider dev.json-style file with question and query fields")
    return [{"question": g.question, "sql": g.sql} for g in golds]


def evaluate_model(model_dir: Path, database: str, sets: dict[str, list[dict[str, Any]]], out: Path, *,
                   execution_guided: bool = True, num_candidates: int = 4, memory_k: int = 20,
                   timeout_s: float = 5.0, workers: int = 0) -> dict[str, Any]:
    """EX (and EM on SQLite) of one model on each question set, with the p50 latency of the decoding that
    produced it, plus the model's size.

    ``sets``: name -> {question, sql} records. Each set is answered with the given decoding; when it is
    execution-guided, each set is also answered greedily and scored under ``greedy`` (its EX and latency),
    so the report can show both, labelled. Every question is answered as a first-seen one: each set and mode
    starts from a freshly loaded model, with no encoded question kept from an earlier pass, so a mode's latency
    is not lowered by the pass before it. ``workers`` 0: a scoring process per CPU."""
    from sqldistill.db import connect
    from sqldistill.infer.predictor import Predictor

    out.mkdir(parents=True, exist_ok=True)
    predictor = Predictor.load(model_dir)
    decoding = {"execution_guided": execution_guided, "num_candidates": num_candidates, "memory_k": memory_k}
    result: dict[str, Any] = {"params": predictor.num_parameters, "total_params": predictor.total_parameters,
                              "decoding": decoding}
    modes = [("", execution_guided)] + ([("greedy", False)] if execution_guided else [])
    with connect(database) as db:
        passes = [(name, examples, mode, guided) for name, examples in sets.items() for mode, guided in modes]
        for k, (name, examples, mode, guided) in enumerate(passes):
            if k:
                predictor = Predictor.load(model_dir)
            preds, latencies = [], []
            for ex in examples:
                started = time.perf_counter()
                p = predictor.predict(ex["question"], db=db, execution_guided=guided,
                                      num_candidates=num_candidates, memory_k=memory_k)
                latencies.append((time.perf_counter() - started) * 1000)
                preds.append(p.sql)
            stem = f"{name}.{mode}" if mode else name
            (out / f"{stem}.pred.sql").write_text("".join(p.replace("\n", " ") + "\n" for p in preds))
            scores = score_predictions(db, examples, preds, out / f"{stem}.examples.jsonl",
                                       timeout_s=timeout_s, workers=workers)
            scores["latency_ms_p50"] = statistics.median(latencies) if latencies else None
            if mode:
                result[name][mode] = scores
            else:
                result[name] = scores
    main = result.get("human") or result.get("valid") or {}
    result["latency_ms_p50"] = main.get("latency_ms_p50")
    return result


def score_predictions(db: Database, examples: list[dict[str, Any]], preds: list[str], per_example: Path, *,
                      timeout_s: float = 5.0, workers: int = 0) -> dict[str, Any]:
    """EX with the official semantics: per hardness, with EM, on SQLite (``evaluate``); overall elsewhere."""
    if db.dialect == "sqlite":
        from sqldistill.eval.loaders import GoldExample
        from sqldistill.eval.scoring import evaluate

        link_dir = per_example.parent / "db"
        link_dir.mkdir(exist_ok=True)
        link = link_dir / f"{db.db_id}.sqlite"
        if not link.exists():
            os.symlink(Path(db.target.location).resolve(), link)
        golds = [GoldExample(sql=e["sql"], db_id=db.db_id, question=e["question"]) for e in examples]
        report = evaluate(golds, preds, link_dir, etype="all", workers=workers or None, timeout_s=timeout_s,
                          cache_dir=False)
        report.write_jsonl(per_example)
        scores = report.to_dict()["scores"]
        return {
            "ex": {lv: s.get("exec") for lv, s in scores.items() if s.get("count")},
            "em": {lv: s.get("exact") for lv, s in scores.items() if s.get("count")},
            "count": {lv: s.get("count") for lv, s in scores.items() if s.get("count")},
        }
    from sqldistill.spider.execution import execution_verdicts

    verdicts = execution_verdicts(db, [(ex["sql"], pred) for ex, pred in zip(examples, preds)], timeout_s)
    write_jsonl_atomic(per_example, ({"index": i, "exec": v.exec, "error": v.error,
                                      **({"gold_error": v.gold_error} if v.gold_error else {})}
                                     for i, v in enumerate(verdicts)))
    hits = sum(v.exec for v in verdicts)
    return {"ex": {"all": hits / max(len(examples), 1)}, "count": {"all": len(examples)}}


__all__ = ["evaluate_model", "read_questions", "score_predictions"]
