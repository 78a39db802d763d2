"""``gkd``: on-policy distillation (Agarwal et al., 2024) with TRL's ``GKDTrainer``, kept as a baseline.

With probability ``lmbda`` a batch's completions are replaced by the student's own samples and the generalised
JSD(``beta``) to the teacher is taken on them; otherwise on the gold completions. The data is tokenised exactly as
for sft (``data.tokenize_records``) and handed over pre-tokenised with our collator, which adds the left-padded
prompts TRL generates from. TRL computes full-vocabulary logits of both models, which is why it is the memory
reference for ``bench/train_speed.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqldistill.errors import ConfigError
from sqldistill.train import data as tdata
from sqldistill.train.methods import (
    TrainResult,
    callbacks_for,
    finish,
    prepare_run,
    quiet,
    quiet_libraries,
    run_hyper,
    training_arguments,
)
from sqldistill.train.options import GKDOptions

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # GKD lives in trl.experimental; we chose it knowingly


def gkd_trainer(
    student: Any, teacher: Any, tokenizer: Any, examples: list[dict[str, Any]], args: Any, callbacks: list[Any]
) -> Any:
    """A TRL GKDTrainer over pre-tokenised examples (shared with the speed bench)."""
    from datasets import Dataset
    from trl.experimental.gkd import GKDTrainer

    return GKDTrainer(
        model=student,
        teacher_model=teacher,
        args=args,
        train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer,
        data_collator=tdata.PadCollator(tokenizer.pad_token_id, with_prompts=True),
        callbacks=callbacks,
    )


def gkd_config(out: Path, options: GKDOptions, lr: float) -> Any:
    """TRL's GKDConfig for ``options``."""
    from trl.experimental.gkd import GKDConfig

    return training_arguments(out, options, lr=lr, curriculum=options.curriculum, config_class=GKDConfig,
                              lmbda=options.lmbda, beta=options.beta, temperature=options.temperature,
                              max_new_tokens=options.max_new_tokens, seq_kd=options.seq_kd,
                              max_length=options.max_length)


def train_gkd(train_file: str | Path, out_dir: str | Path, options: GKDOptions) -> TrainResult:
    """On-policy distillation from ``options.teacher`` with TRL's GKDTrainer; writes a model directory."""
    from sqldistill.models.sizes import is_pointer_model

    o = options
    if is_pointer_model(o.model) or is_pointer_model(o.teacher):
        raise ConfigError("gkd samples from causal language models; the pointer student does not train by gkd",
                          hint="Use kd or kid for a pointer student")
    if not 0.0 <= o.lmbda <= 1.0 or not 0.0 <= o.beta <= 1.0:
        raise ConfigError("gkd needs 0 <= lmbda <= 1 and 0 <= beta <= 1")
    run = prepare_run(train_file, out_dir, o, teacher=o.teacher)
    log, callbacks = callbacks_for(run.out, "gkd", o.progress)
    with quiet_libraries():
        args = gkd_config(run.out, o, run.lr)
        trainer = gkd_trainer(run.student, run.teacher, run.tokenizer, run.examples, args, callbacks)
        quiet(trainer)
        trainer.train()
    hyper = {**run_hyper(o, run, "gkd", train_file), "lmbda": o.lmbda, "beta": o.beta, "temperature": o.temperature,
             "seq_kd": o.seq_kd, "max_new_tokens": o.max_new_tokens, "teacher": str(o.teacher)}
    return finish(trainer, run.tokenizer, run.out, method="gkd", schema=run.schema, prompt_format=run.prompt_format,
                  base_model=run.base_model, log=log, started=run.started, hyper=hyper)
