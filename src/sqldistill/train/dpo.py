"""``dpo`` (SENSE-style): prefer the verified SQL over a weak model's execution-wrong SQL, with TRL's DPOTrainer.

``build_dpo_pairs`` makes the preference data: a weak model (an earlier or smaller student) writes candidates
for each training question; a candidate is *wrong* when it fails to execute or its result differs from the gold
result (``db.same_result``, the comparison the EX metric uses). Each question with a wrong candidate yields
``{"prompt", "chosen": gold completion, "rejected": wrong completion}``; questions the weak model always gets
right yield nothing. ``train_dpo`` then optimises a student (normally the sft model) on those pairs against a
frozen copy of itself as the reference; a pointer-student model goes to ``pointer_dpo.train_pointer_dpo``
(the same pairs, as sequences of its own language).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqldistill.data.prompt import PromptFormat, render_completion
from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.errors import ConfigError, DataError
from sqldistill.jsonfiles import write_jsonl_atomic
from sqldistill.models.causal import load_model, load_tokenizer
from sqldistill.models.modeldir import META_FILE, meta_prompt_format, meta_schema, read_model_meta
from sqldistill.models.sizes import is_pointer_model
from sqldistill.train import data as tdata
from sqldistill.train.methods import (
    TrainResult,
    apply_lora,
    callbacks_for,
    finish,
    quiet,
    quiet_libraries,
    require_model_dir,
    set_threads,
    training_arguments,
)
from sqldistill.train.options import DPOOptions


def build_dpo_pairs(
    train_file: str | Path,
    out_file: str | Path,
    *,
    weak_model: str | Path,
    db: str,
    num_candidates: int = 4,
    mode: str = "sample",
    batch_size: int = 16,
    max_new_tokens: int = 128,
    timeout_s: float = 5.0,
    seed: int = 0,
) -> dict[str, int]:
    """Write preference pairs for the records of ``train_file`` to ``out_file``; returns counts."""
    from sqldistill.db import connect
    from sqldistill.infer.predictor import Predictor

    records = tdata.read_jsonl(train_file, ("prompt", "completion", "question", "sql"))
    weak = Predictor.load(weak_model)
    stats = {"questions": len(records), "pairs": 0, "weak_all_right": 0, "gold_failed": 0}
    pairs: list[dict[str, Any]] = []
    with connect(db) as database:
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            questions = [r["question"] for r in chunk]
            cands = weak.generate(questions, num_candidates, mode, max_new_tokens, seed=seed + start)
            greedy = weak.generate(questions, 1, "greedy", max_new_tokens)
            for rec, sampled, first in zip(chunk, cands, greedy):
                gold = database.execute(rec["sql"], timeout_s=timeout_s, max_rows=None, steady=True)
                if not gold.ok:
                    stats["gold_failed"] += 1
                    continue
                order = gold_order_matters(rec["sql"])
                wrong, why = None, ""
                for sql in dict.fromkeys(first + sampled):
                    if not sql:
                        continue
                    res = database.execute(sql, timeout_s=timeout_s, max_rows=len(gold.rows) + 1, steady=True)
                    if not res.ok:
                        wrong, why = sql, f"fails: {res.error}"
                    elif not same_result(gold.rows, res.rows, order):
                        wrong, why = sql, "different result"
                    if wrong:
                        break
                if wrong is None:
                    stats["weak_all_right"] += 1
                    continue
                pairs.append({"prompt": rec["prompt"], "chosen": render_completion(rec["sql"]),
                              "rejected": render_completion(wrong), "question": rec["question"],
                              "sql": rec["sql"], "why_rejected": why})
    stats["pairs"] = len(pairs)
    write_jsonl_atomic(out_file, pairs)
    return stats


def train_dpo(pairs_file: str | Path, out_dir: str | Path, options: DPOOptions) -> TrainResult:
    """DPO on ``prompt``/``chosen``/``rejected`` pairs, starting from (and referenced to) ``options.model``.

    ``loss_type`` "sigmoid+sft" adds the chosen answers' cross-entropy, which keeps a small student from
    unlearning the chosen SQL along with the rejected one. ``lr=None`` picks 3e-5 for from-scratch students
    (DPO wants far smaller steps than sft), 5e-6 otherwise. Defaults measured on network_1 (1m sft student,
    1,277 pairs, one epoch; EX human / held-out synthetic): sft alone 12.5% / 22%; sigmoid at 1e-4 3.6% / 14%;
    sigmoid at 1e-5 8.9% / 24%; sigmoid+sft at 3e-5 8.9% / 29%.
    """
    o = options
    if is_pointer_model(o.model):
        from sqldistill.train.pointer_dpo import train_pointer_dpo

        return train_pointer_dpo(pairs_file, out_dir, o)
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if o.beta <= 0:
        raise ConfigError(f"dpo beta must be > 0, got {o.beta}")
    losses = [t.strip() for t in o.loss_type.replace("+", ",").split(",") if t.strip()]
    if o.loss_weights is not None and len(o.loss_weights) != len(losses):
        raise ConfigError(f"loss_weights has {len(o.loss_weights)} values for {len(losses)} loss types")
    started = time.perf_counter()
    set_threads(o.num_threads)
    out = Path(out_dir)
    start_dir = require_model_dir(o.model, "starting model")
    pairs = tdata.read_jsonl(pairs_file, ("prompt", "chosen", "rejected"))
    given_fmt = PromptFormat.from_dict(o.prompt_format) if isinstance(o.prompt_format, dict) else o.prompt_format
    if (start_dir / META_FILE).is_file():
        meta = read_model_meta(start_dir)
        the_schema, fmt = meta_schema(meta), meta_prompt_format(meta)
        from_scratch = str(meta.get("base_model", "")).startswith("scratch:")
    else:
        the_schema = tdata.find_schema(pairs_file, o.schema, o.db)
        fmt = given_fmt or PromptFormat()
        from_scratch = False
    fmt = given_fmt or fmt
    student = load_model(start_dir)
    tok = load_tokenizer(start_dir)
    if o.lora:
        student = apply_lora(student, o.lora_r, o.lora_alpha)
    rows = [{"prompt": p["prompt"], "chosen": p["chosen"], "rejected": p["rejected"]} for p in pairs]
    if not rows:
        raise DataError(f"{pairs_file} holds no preference pairs")
    lr = o.lr if o.lr is not None else (3e-5 if from_scratch else 5e-6)
    log, callbacks = callbacks_for(out, "dpo", o.progress)
    with quiet_libraries():
        args = training_arguments(out, o, lr=lr, config_class=DPOConfig, beta=o.beta, loss_type=losses,
                                  loss_weights=o.loss_weights, max_length=o.max_length)
        trainer = DPOTrainer(model=student, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                             callbacks=callbacks)
        quiet(trainer)
        trainer.train()
    hyper = {"method": "dpo", "beta": o.beta, "loss_type": o.loss_type, "start_model": str(start_dir), "lr": lr,
             "epochs": o.epochs, "max_steps": o.max_steps, "batch_size": o.batch_size, "lora": o.lora,
             "seed": o.seed, "pairs_file": str(pairs_file), "pairs": len(rows)}
    return finish(trainer, tok, out, method="dpo", schema=the_schema, prompt_format=fmt, base_model=str(start_dir),
                  log=log, started=started, hyper=hyper)


__all__ = ["build_dpo_pairs", "train_dpo"]
