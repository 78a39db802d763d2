"""``gkd``: on-policy distillation (Agarwal et al., 2024) with TRL's ``GKDTrainer``, kept as a baseline.

With probability ``lmbda`` a batch's completions are replaced by the student's own samples and the generalised
JSD(``beta``) to the teacher is taken on them; otherwise on the gold completions. The data is tokenised exactly as
for sft (``data.tokenize_records``) and handed over pre-tokenised with our collator, which adds the left-padded
prompts TRL generates from. TRL computes full-vocabulary logits of both models, which is why it is the memory
reference for ``bench/train_speed.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqldistill.data.prompt import PromptFormat
from sqldistill.errors import ConfigError
from sqldistill.models.causal import check_same_vocabulary, load_model, load_tokenizer
from sqldistill.models.sizes import DEFAULT_VOCAB
from sqldistill.records import Schema
from sqldistill.train import data as tdata
from sqldistill.train.methods import (
    TrainResult,
    apply_lora,
    callbacks_for,
    default_lr,
    finish,
    prepare_student,
    quiet,
    quiet_libraries,
    set_threads,
    training_arguments,
    use_bf16,
)

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


def gkd_config(out: Path, *, lmbda: float, beta: float, temperature: float, max_new_tokens: int, seq_kd: bool,
               max_length: int, **common: Any) -> Any:
    from trl.experimental.gkd import GKDConfig

    return training_arguments(out, config_class=GKDConfig, lmbda=lmbda, beta=beta, temperature=temperature,
                              max_new_tokens=max_new_tokens, seq_kd=seq_kd, max_length=max_length, **common)


def train_gkd(
    train_file: str | Path,
    out_dir: str | Path,
    *,
    teacher: str | Path,
    model: str | Path = "1m",
    lmbda: float = 0.5,
    beta: float = 0.5,
    temperature: float = 0.9,
    max_new_tokens: int = 96,
    seq_kd: bool = False,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    db: str | None = None,
    prompt_format: PromptFormat | dict[str, Any] | None = None,
    epochs: float = 3.0,
    max_steps: int = -1,
    batch_size: int = 16,
    grad_accum: int = 1,
    lr: float | None = None,
    warmup: float = 0.05,
    weight_decay: float = 0.01,
    max_length: int = 512,
    lora: bool = False,
    lora_r: int = 16,
    lora_alpha: int = 32,
    bf16: bool | None = None,
    curriculum: bool = False,
    seed: int = 0,
    vocab_size: int = DEFAULT_VOCAB,
    report_to: str | list[str] = "none",
    logging_steps: int = 10,
    progress: bool = True,
    num_threads: int | None = None,
) -> TrainResult:
    """On-policy distillation from ``teacher`` with TRL's GKDTrainer; writes a model directory to ``out_dir``."""
    if not 0.0 <= lmbda <= 1.0 or not 0.0 <= beta <= 1.0:
        raise ConfigError("gkd needs 0 <= lmbda <= 1 and 0 <= beta <= 1")
    started = time.perf_counter()
    set_threads(num_threads)
    out = Path(out_dir)
    records = tdata.read_jsonl(train_file)
    the_schema = tdata.find_schema(train_file, schema, db)
    given = PromptFormat.from_dict(prompt_format) if isinstance(prompt_format, dict) else prompt_format
    fmt = tdata.infer_prompt_format(records, the_schema, given)
    if curriculum:
        records = tdata.curriculum_order(records, seed)
    teacher_model = load_model(str(teacher))
    teacher_tok = load_tokenizer(str(teacher))
    student, tok, base, from_scratch = prepare_student(model, records, the_schema, tokenizer=teacher_tok,
                                                       vocab_size=vocab_size, max_length=max_length, seed=seed)
    check_same_vocabulary(teacher_model, student, teacher_tok, tok)
    if lora:
        student = apply_lora(student, lora_r, lora_alpha)
    examples = tdata.tokenize_records(tok, records, max_length)
    lr = lr if lr is not None else default_lr(from_scratch, lora)
    log, callbacks = callbacks_for(out, "gkd", progress)
    with quiet_libraries():
        args = gkd_config(out, lmbda=lmbda, beta=beta, temperature=temperature, max_new_tokens=max_new_tokens,
                          seq_kd=seq_kd, max_length=max_length, epochs=epochs, max_steps=max_steps,
                          batch_size=batch_size, grad_accum=grad_accum, lr=lr, warmup=warmup,
                          weight_decay=weight_decay, bf16=use_bf16(bf16), curriculum=curriculum, seed=seed,
                          report_to=report_to, logging_steps=logging_steps)
        trainer = gkd_trainer(student, teacher_model, tok, examples, args, callbacks)
        quiet(trainer)
        trainer.train()
    hyper = {"method": "gkd", "lmbda": lmbda, "beta": beta, "temperature": temperature, "seq_kd": seq_kd,
             "max_new_tokens": max_new_tokens, "teacher": str(teacher), "epochs": epochs, "max_steps": max_steps,
             "batch_size": batch_size, "lr": lr, "lora": lora, "seed": seed, "train_file": str(train_file),
             "examples": len(examples)}
    return finish(trainer, tok, out, method="gkd", schema=the_schema, prompt_format=fmt, base_model=base, log=log,
                  started=started, hyper=hyper)
