"""Training entry points for sft, kd and kid, and the plumbing gkd, dpo and rounds share.

Every entry point reads a JSONL file, prepares a student (a named from-scratch size or a local model), trains
with ``DistillTrainer`` and writes a model directory (see ``models.modeldir``). Arguments are flat keywords; the same
names are the keys of ``sqldistill train`` configs.

Defaults, and why:

- ``lr=None`` picks 2e-3 for from-scratch students (tiny models want a large step), 2e-4 with LoRA and 5e-5 for
  full fine-tuning of a pretrained model;
- ``bf16=None`` means bf16 autocast on a CUDA device that supports it, fp32 elsewhere (CPU bf16 is slow);
- a named-size student distilled from a teacher is built on the teacher's tokenizer, so vocabularies match.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import PromptFormat
from sqldistill.errors import ConfigError, ModelError
from sqldistill.models.causal import (
    check_same_vocabulary,
    count_parameters,
    load_model,
    load_tokenizer,
    new_model,
    no_hub_bars,
    train_tokenizer,
)
from sqldistill.models.modeldir import META_FILE, read_model_meta, save_model_dir
from sqldistill.models.sizes import DEFAULT_VOCAB, is_named_size
from sqldistill.records import Schema
from sqldistill.train import data as tdata
from sqldistill.train.losses import DIVERGENCES, check_divergence_args

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback, TrainingArguments


@dataclass
class TrainResult:
    """What a training call produced."""

    model_dir: Path
    method: str
    steps: int
    losses: list[dict[str, Any]]  # one record per logging step: step, loss, (kd_loss, ce_loss), elapsed_s
    train_seconds: float
    num_parameters: int
    trainable_parameters: int
    extra: dict[str, Any] = field(default_factory=dict)
    processes: int = 1  # training processes (one per device) that took part

    @property
    def final_loss(self) -> float | None:
        return float(self.losses[-1]["loss"]) if self.losses else None


def default_lr(from_scratch: bool, lora: bool) -> float:
    if from_scratch:
        return 2e-3
    return 2e-4 if lora else 5e-5


def use_bf16(bf16: bool | None) -> bool:
    import torch

    if bf16 is None:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if bf16 and not torch.cuda.is_available():
        raise ConfigError("bf16 needs a CUDA device here", hint="Leave bf16 unset to use it only where available")
    return bf16


def prepare_student(
    model: str | Path,
    records: list[dict[str, Any]],
    schema: Schema | None,
    *,
    tokenizer: str | Path | PreTrainedTokenizerBase | None = None,
    vocab_size: int = DEFAULT_VOCAB,
    max_length: int = 512,
    seed: int = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str, bool]:
    """(model, tokenizer, base-model name, from scratch?): a fresh named-size model, or a local model directory.

    A directory holding one of our own from-scratch students still counts as from scratch (it wants the large
    learning rate when training continues, e.g. in recursive rounds).
    """
    spec = str(model)
    if is_named_size(spec):
        if tokenizer is None:
            tok = train_tokenizer(tdata.corpus_texts(records, schema), vocab_size=vocab_size)
        elif isinstance(tokenizer, (str, Path)):
            tok = load_tokenizer(tokenizer)
        else:
            tok = tokenizer
        return new_model(spec, tok, max_positions=max(1024, max_length), seed=seed), tok, f"scratch:{spec}", True
    if not Path(spec).exists():
        raise ConfigError(f"model '{spec}' is neither a named size (1m, 5m, 20m) nor an existing directory")
    tok = load_tokenizer(tokenizer if isinstance(tokenizer, (str, Path)) else spec)
    scratch = False
    if (Path(spec) / META_FILE).is_file():
        scratch = str(read_model_meta(spec).get("base_model", "")).startswith("scratch:")
    return load_model(spec), tok, spec, scratch


def apply_lora(model: PreTrainedModel, lora_r: int, lora_alpha: int) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules="all-linear",
                        task_type="CAUSAL_LM")
    with quiet_libraries():
        return get_peft_model(model, config)


def training_arguments(
    out_dir: Path,
    *,
    epochs: float,
    max_steps: int,
    batch_size: int,
    grad_accum: int,
    lr: float,
    warmup: float,
    weight_decay: float,
    bf16: bool,
    curriculum: bool,
    seed: int,
    report_to: str | list[str],
    logging_steps: int,
    config_class: type[TrainingArguments] | None = None,
    **extra: Any,
) -> Any:
    import torch
    from transformers import TrainingArguments

    cls = config_class or TrainingArguments
    return cls(
        output_dir=str(out_dir / "logs"),
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=warmup,
        weight_decay=weight_decay,
        logging_steps=logging_steps,
        logging_first_step=True,
        save_strategy="no",
        report_to=report_to,
        bf16=bf16,
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        remove_unused_columns=False,
        train_sampling_strategy="sequential" if curriculum else "random",
        use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # every parameter takes part in every step
        **extra,
    )


def callbacks_for(out_dir: Path, label: str, progress: bool) -> tuple[Any, list[TrainerCallback]]:
    from sqldistill.train.trainer import LossLog, RichProgress

    log = LossLog(out_dir / "train_log.jsonl")
    (out_dir / "train_log.jsonl").unlink(missing_ok=True)
    return log, [log, *([RichProgress(label)] if progress else [])]


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence library chatter (dataset-map bars, deprecation warnings) while our own progress bar runs."""
    import datasets
    from transformers.utils import logging as hf_logging

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    bars = datasets.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    datasets.disable_progress_bars()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings(), no_hub_bars():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            datasets.enable_progress_bars()


def quiet(trainer: Any) -> None:
    """Our callbacks report progress; drop the Trainer's own printing of every log dict."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def set_threads(num_threads: int | None) -> None:
    """CPU threads for torch. On a small, shared CPU one thread is often fastest for tiny models: two threads
    spin against each other and against other processes (measured 40 ms vs 300 ms per step here)."""
    if num_threads is not None:
        import torch

        torch.set_num_threads(max(1, num_threads))


def finish(
    trainer: Any, tokenizer: PreTrainedTokenizerBase, out_dir: Path, *, method: str, schema: Schema,
    prompt_format: PromptFormat, base_model: str, log: Any, started: float, hyper: dict[str, Any],
) -> TrainResult:
    """Save the model directory on the main process and describe the run."""
    seconds = time.perf_counter() - started
    model = trainer.model
    n_params = count_parameters(model)
    n_train = count_parameters(model, trainable_only=True)
    training = {**hyper, "steps": trainer.state.global_step, "train_seconds": round(seconds, 2),
                "processes": trainer.accelerator.num_processes,
                "trainable_parameters": n_train, "last_log": log.records[-1] if log.records else None}
    if trainer.is_world_process_zero():
        with quiet_libraries():
            save_model_dir(model, tokenizer, out_dir, schema=schema, prompt_format=prompt_format, method=method,
                           base_model=base_model, training=training)
        logs = out_dir / "logs"
        if logs.is_dir() and not any(logs.rglob("events.out.tfevents*")):
            shutil.rmtree(logs, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return TrainResult(out_dir, method, trainer.state.global_step, list(log.records), seconds, n_params, n_train,
                       processes=trainer.accelerator.num_processes)


def train_student(
    method: str,
    train_file: str | Path,
    out_dir: str | Path,
    *,
    model: str | Path = "5m",
    teacher: str | Path | None = None,
    tokenizer: str | Path | None = None,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    db: str | None = None,
    prompt_format: PromptFormat | dict[str, Any] | None = None,
    divergence: str | None = None,
    temperature: float = 1.0,
    ce_weight: float = 0.5,
    beta: float = 0.5,
    skew_alpha: float = 0.1,
    mask_ratio: float = 0.2,
    chunk_size: int | None = None,
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
    """Train a student with ``method`` in {"sft", "kd", "kid"} on ``train_file``; write it to ``out_dir``.

    ``divergence`` defaults to forward KL for kd and reverse KL for kid (one of fkl, rkl, jsd, tvd, skl, srkl).
    """
    from sqldistill.train.trainer import DistillTrainer

    if method not in ("sft", "kd", "kid"):
        raise ConfigError(f"train_student does sft, kd and kid, not '{method}'")
    divergence = divergence or ("rkl" if method == "kid" else "fkl")
    try:
        check_divergence_args(divergence, temperature, beta, skew_alpha)
    except ValueError as err:
        raise ConfigError(str(err), hint=f"divergence is one of {', '.join(DIVERGENCES)}") from None
    if not 0.0 < mask_ratio < 1.0:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
    if method != "sft" and teacher is None:
        raise ConfigError(f"{method} needs a teacher model directory", hint="Pass teacher=PATH (--teacher)")
    started = time.perf_counter()
    set_threads(num_threads)
    out = Path(out_dir)
    records = tdata.read_jsonl(train_file)
    the_schema = tdata.find_schema(train_file, schema, db)
    given_fmt = PromptFormat.from_dict(prompt_format) if isinstance(prompt_format, dict) else prompt_format
    fmt = tdata.infer_prompt_format(records, the_schema, given_fmt)
    if curriculum:
        records = tdata.curriculum_order(records, seed)

    teacher_model = teacher_tok = None
    if method != "sft":
        teacher_model = load_model(str(teacher))
        teacher_tok = load_tokenizer(str(teacher))
    student, tok, base, from_scratch = prepare_student(model, records, the_schema, tokenizer=tokenizer or teacher_tok,
                                                       vocab_size=vocab_size, max_length=max_length, seed=seed)
    if teacher_model is not None and teacher_tok is not None:
        check_same_vocabulary(teacher_model, student, teacher_tok, tok)
    if lora:
        student = apply_lora(student, lora_r, lora_alpha)
    examples = tdata.tokenize_records(tok, records, max_length)
    lr = lr if lr is not None else default_lr(from_scratch, lora)
    args = training_arguments(out, epochs=epochs, max_steps=max_steps, batch_size=batch_size, grad_accum=grad_accum,
                              lr=lr, warmup=warmup, weight_decay=weight_decay, bf16=use_bf16(bf16),
                              curriculum=curriculum, seed=seed, report_to=report_to, logging_steps=logging_steps)
    log, callbacks = callbacks_for(out, method, progress)
    with quiet_libraries():
        trainer = DistillTrainer(
            model=student, args=args, train_dataset=examples, data_collator=tdata.PadCollator(tok.pad_token_id),
            processing_class=tok, callbacks=callbacks, method=method, teacher=teacher_model, divergence=divergence,
            temperature=temperature, beta=beta, skew_alpha=skew_alpha, ce_weight=ce_weight, mask_ratio=mask_ratio,
            mask_token_id=tok.mask_token_id, chunk_size=chunk_size,
        )
        quiet(trainer)
        trainer.train()
    hyper = {"method": method, "divergence": divergence if method != "sft" else None, "temperature": temperature,
             "ce_weight": ce_weight, "beta": beta, "skew_alpha": skew_alpha, "mask_ratio": mask_ratio,
             "teacher": str(teacher) if teacher else None, "epochs": epochs, "max_steps": max_steps,
             "batch_size": batch_size, "grad_accum": grad_accum, "lr": lr, "max_length": max_length, "lora": lora,
             "curriculum": curriculum, "seed": seed, "train_file": str(train_file), "examples": len(examples)}
    return finish(trainer, tok, out, method=method, schema=the_schema, prompt_format=fmt, base_model=base,
                  log=log, started=started, hyper=hyper)


def train_sft(train_file: str | Path, out_dir: str | Path, *, model: str | Path = "5m", **options: Any) -> TrainResult:
    """Supervised fine-tuning on verified pairs (sequence-level KD). ``options``: any ``train_student`` keyword."""
    return train_student("sft", train_file, out_dir, model=model, **options)


def train_kd(
    train_file: str | Path, out_dir: str | Path, *, teacher: str | Path, model: str | Path = "1m",
    divergence: str = "fkl", temperature: float = 1.0, ce_weight: float = 0.5, **options: Any,
) -> TrainResult:
    """Token-level KD from ``teacher``'s next-token distributions on the gold sequences."""
    return train_student("kd", train_file, out_dir, model=model, teacher=teacher, divergence=divergence,
                         temperature=temperature, ce_weight=ce_weight, **options)


def train_kid(
    train_file: str | Path, out_dir: str | Path, *, teacher: str | Path, model: str | Path = "1m",
    mask_ratio: float = 0.2, divergence: str = "rkl", ce_weight: float = 0.5, **options: Any,
) -> TrainResult:
    """KD on imperfect sequences the student itself fills in (KID, arXiv 2410.11371)."""
    return train_student("kid", train_file, out_dir, model=model, teacher=teacher, mask_ratio=mask_ratio,
                         divergence=divergence, ce_weight=ce_weight, **options)


def require_model_dir(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise ModelError(f"{what} {p} does not exist", hint="Train it first or check the path")
    return p
