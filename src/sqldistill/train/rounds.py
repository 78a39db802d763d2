"""``rounds``: recursive distillation — the student labels new questions, critics filter, the student retrains.

Round 0 trains a student with sft on the labelled pairs. Each later round loads the previous student, writes
SQL for the unlabelled questions with execution-guided decoding, and keeps a pseudo-label when it

1. passes the critics of ``infer.select.candidate_problem`` (parses, is read-only, executes within a steady
   timeout: counted in the engine's work, so the same on a busy machine as on an idle one),
2. returns rows (an empty result teaches little and is often a wrong filter), and
3. agrees with the teacher vote: when the question carries teacher SQL (``teacher_sql``: a string or a list,
   or ``sql``), the student's result must equal the majority result of those; without teacher SQL, at least
   two of the student's own candidates must agree (self-consistency).

The student is then fine-tuned on labelled + kept pairs. A pointer student (``train.pointer``) goes through
the same rounds; it reads ``db`` in every round. EX on ``eval_file`` is measured after every round
and logged to ``rounds.json`` and the model's ``sqldistill.json``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import render_completion
from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.errors import ConfigError
from sqldistill.jsonfiles import write_json_atomic, write_jsonl_atomic
from sqldistill.models.modeldir import META_FILE, read_model_meta
from sqldistill.models.sizes import is_pointer_model
from sqldistill.spider.execution import execution_verdicts
from sqldistill.train import data as tdata
from sqldistill.train.methods import TrainResult, train_student
from sqldistill.train.options import KDOptions, RoundsOptions, subset

if TYPE_CHECKING:
    from sqldistill.db import Database
    from sqldistill.records import ExecResult


def execution_accuracy(predictor: Any, records: list[dict[str, Any]], db: Database, execution_guided: bool = False,
                       num_candidates: int = 4, timeout_s: float = 5.0) -> float:
    """Share of ``records`` (question, sql) whose predicted SQL returns the gold result: EX with the official
    semantics (``spider.execution``), the one EX of evaluation."""
    if not records:
        return 0.0
    preds = [predictor.predict(rec["question"], db=db, execution_guided=execution_guided,
                               num_candidates=num_candidates).sql for rec in records]
    verdicts = execution_verdicts(db, [(rec["sql"], pred) for rec, pred in zip(records, preds)], timeout_s)
    return sum(v.exec for v in verdicts) / len(records)


def _teacher_sqls(rec: dict[str, Any]) -> list[str]:
    value = rec.get("teacher_sql", rec.get("sql"))
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _vote(db: Database, sqls: list[str], timeout_s: float) -> list[tuple[Any, ...]] | None:
    """The majority result of the teacher's SQL (None when none of it runs); results count as one when
    ``same_result`` says so (the first SQL's ORDER BY decides whether row order counts), ties go to the
    earlier SQL."""
    results = [r for r in (db.execute(s, timeout_s=timeout_s, steady=True) for s in sqls) if r.ok]
    if not results:
        return None
    order = gold_order_matters(sqls[0])
    groups: list[list[ExecResult]] = []
    for res in results:
        group = next((g for g in groups if same_result(g[0].rows, res.rows, order)), None)
        if group is None:
            groups.append([res])
        else:
            group.append(res)
    return max(groups, key=len)[0].rows


def pseudo_label(predictor: Any, unlabelled: list[dict[str, Any]], db: Any, num_candidates: int = 4,
                 mode: str = "beam", timeout_s: float = 5.0) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Records the student labelled and the critics kept, and why the others were dropped."""
    kept: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    for rec in unlabelled:
        pred = predictor.predict(rec["question"], db=db, execution_guided=True, num_candidates=num_candidates,
                                 mode=mode, timeout_s=timeout_s, steady=True)
        if pred.result is None:
            reasons["fails critics"] += 1
            continue
        if not pred.result.rows:
            reasons["empty result"] += 1
            continue
        teacher = _teacher_sqls(rec)
        if teacher:
            vote = _vote(db, teacher, timeout_s)
            if vote is None or not same_result(vote, pred.result.rows, gold_order_matters(teacher[0])):
                reasons["disagrees with teacher vote"] += 1
                continue
        else:
            agreeing = sum(1 for c in pred.candidates if c != pred.sql and
                           (r := db.execute(c, timeout_s=timeout_s, steady=True)).ok and
                           same_result(pred.result.rows, r.rows, gold_order_matters(pred.sql)))
            if agreeing < 1:
                reasons["no self-consistency"] += 1
                continue
        kept.append({"question": rec["question"], "sql": pred.sql, "source": "student-round",
                     "prompt": predictor.prompt(rec["question"]), "completion": render_completion(pred.sql)})
        reasons["kept"] += 1
    return kept, reasons


def train_rounds(train_file: str | Path, out_dir: str | Path, options: RoundsOptions) -> TrainResult:
    """Recursive distillation for ``options.rounds`` rounds after an sft round 0; the sft fields of ``options``
    apply to every round.

    Round k's model is written to ``out_dir/round_k``; the last round's model is also the model in ``out_dir``.
    """
    from sqldistill.db import connect
    from sqldistill.infer.predictor import Predictor

    o = options
    if o.rounds < 1:
        raise ConfigError("rounds must be at least 1")
    started = time.perf_counter()
    out = Path(out_dir)
    labelled = tdata.read_jsonl(train_file)
    unlabelled = tdata.read_jsonl(o.unlabelled_file, ("question",))
    evaluation = tdata.read_jsonl(o.eval_file, ("question", "sql")) if o.eval_file else []
    history: list[dict[str, Any]] = []
    # the pointer student reads its database every round (its values are what it copies)
    pointer = is_pointer_model(o.model)
    with connect(o.db) as database:
        current = out / "round_0"
        result = train_student("sft", train_file, current,
                               subset(o, KDOptions, db=o.db if pointer or not o.schema else None))
        for k in range(o.rounds + 1):
            predictor = Predictor.load(current)
            acc = execution_accuracy(predictor, evaluation, database) if evaluation else None
            entry: dict[str, Any] = {"round": k, "eval_ex": acc, "model_dir": str(current),
                                     "final_loss": result.final_loss}
            history.append(entry)
            if k == o.rounds:
                break
            kept, reasons = pseudo_label(predictor, unlabelled, database, o.num_candidates, o.mode)
            entry.update(pseudo_labelled=len(kept), outcomes=dict(reasons))
            data_file = out / f"round_{k + 1}.jsonl"
            write_jsonl_atomic(data_file, labelled + kept)
            current = out / f"round_{k + 1}"
            result = train_student("sft", data_file, current,
                                   subset(o, KDOptions, model=out / f"round_{k}", epochs=o.round_epochs,
                                          db=o.db if pointer else None,
                                          schema=predictor.schema, prompt_format=predictor.prompt_format))
    final = _publish(current, out, history)
    write_json_atomic(out / "rounds.json", {"rounds": history})
    extra = {"rounds": history, "final": str(final)}
    if "step_s" in result.extra:  # the last round's mean step time (the pointer student's fit reports it)
        extra["step_s"] = result.extra["step_s"]
    return TrainResult(out, "rounds", result.steps, result.losses, time.perf_counter() - started,
                       result.num_parameters, result.trainable_parameters, extra)


def _publish(last: Path, out: Path, history: list[dict[str, Any]]) -> Path:
    """Copy the last round's model into ``out`` and mark it as a ``rounds`` model (metadata written last)."""
    import shutil

    for f in last.iterdir():
        if f.is_file() and f.name != META_FILE:
            shutil.copy2(f, out / f.name)
    meta = read_model_meta(last)
    meta["method"] = "rounds"
    meta["training"] = {**meta.get("training", {}), "rounds": history}
    write_json_atomic(out / META_FILE, meta)
    return out


def read_rounds(out_dir: str | Path) -> list[dict[str, Any]]:
    return list(json.loads((Path(out_dir) / "rounds.json").read_text())["rounds"])
