"""Training entry points for sft, kd and kid, and the plumbing gkd, dpo and rounds share.

Every entry point reads a JSONL file, prepares a student (a named from-scratch size or a local model), trains
and writes a model directory (see ``models.modeldir``). Each method takes the data's paths and its options
object (``options``: ``KDOptions`` here), whose fields are the keys of ``sqldistill train`` configs; a
named-size student distilled from a teacher is built on the teacher's tokenizer, so vocabularies match.
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
from sqldistill.models.sizes import DEFAULT_VOCAB, is_named_size, is_pointer_model
from sqldistill.records import Schema
from sqldistill.train import data as tdata
from sqldistill.train.losses import DIVERGENCES, check_divergence_args
from sqldistill.train.options import GKDOptions, KDOptions, TrainOptions

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


def training_arguments(out_dir: Path, options: TrainOptions, *, lr: float, curriculum: bool = False,
                       config_class: type[TrainingArguments] | None = None, **extra: Any) -> Any:
    """The trainer's arguments (``config_class``: a TRL config for its trainers) from a method's options;
    ``lr`` is the resolved learning rate, ``extra`` the config class's own fields."""
    import torch
    from transformers import TrainingArguments

    cls = config_class or TrainingArguments
    return cls(
        output_dir=str(out_dir / "logs"),
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        learning_rate=lr,
        lr_scheduler_type="cosine",
        warmup_steps=options.warmup,
        weight_decay=options.weight_decay,
        logging_steps=options.logging_steps,
        logging_first_step=True,
        save_strategy="no",
        report_to=options.report_to,
        bf16=use_bf16(options.bf16),
        seed=options.seed,
        data_seed=options.seed,
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


@dataclass
class StudentRun:
    """What sft/kd/kid and gkd prepare alike before their trainer: the data, its schema and prompt format,
    the teacher (when there is one) and the student on a tokenizer they share."""

    out: Path
    started: float
    schema: Schema
    prompt_format: PromptFormat
    examples: list[dict[str, Any]]
    student: Any
    tokenizer: PreTrainedTokenizerBase
    base_model: str
    lr: float
    teacher: Any = None


def prepare_run(train_file: str | Path, out_dir: str | Path, options: KDOptions | GKDOptions,
                teacher: str | Path | None = None, tokenizer: str | Path | None = None) -> StudentRun:
    """Read the data, find the schema and prompt format, load the teacher, build or load the student (on the
    teacher's tokenizer unless ``tokenizer`` is given), add LoRA, tokenise; the learning rate resolved."""
    o = options
    started = time.perf_counter()
    set_threads(o.num_threads)
    records = tdata.read_jsonl(train_file)
    the_schema = tdata.find_schema(train_file, o.schema, o.db)
    given_fmt = PromptFormat.from_dict(o.prompt_format) if isinstance(o.prompt_format, dict) else o.prompt_format
    fmt = tdata.infer_prompt_format(records, the_schema, given_fmt)
    if o.curriculum:
        records = tdata.curriculum_order(records, o.seed)
    teacher_model = teacher_tok = None
    if teacher is not None:
        teacher_model = load_model(str(teacher))
        teacher_tok = load_tokenizer(str(teacher))
    student, tok, base, from_scratch = prepare_student(o.model, records, the_schema, tokenizer=tokenizer or teacher_tok,
                                                       vocab_size=o.vocab_size, max_length=o.max_length, seed=o.seed)
    if teacher_model is not None and teacher_tok is not None:
        check_same_vocabulary(teacher_model, student, teacher_tok, tok)
    if o.lora:
        student = apply_lora(student, o.lora_r, o.lora_alpha)
    examples = tdata.tokenize_records(tok, records, o.max_length)
    lr = o.lr if o.lr is not None else default_lr(from_scratch, o.lora)
    return StudentRun(Path(out_dir), started, the_schema, fmt, examples, student, tok, base, lr, teacher_model)


def run_hyper(options: TrainOptions, run: StudentRun, method: str, train_file: str | Path) -> dict[str, Any]:
    """The hyper-parameters every method records in its model directory."""
    return {"method": method, "epochs": options.epochs, "max_steps": options.max_steps,
            "batch_size": options.batch_size, "lr": run.lr, "lora": options.lora, "seed": options.seed,
            "train_file": str(train_file), "examples": len(run.examples)}


def train_student(method: str, train_file: str | Path, out_dir: str | Path,
                  options: KDOptions | None = None) -> TrainResult:
    """Train a student with ``method`` in {"sft", "kd", "kid"} on ``train_file``; write it to ``out_dir``.

    ``options.divergence`` defaults to forward KL for kd and reverse KL for kid (one of fkl, rkl, jsd, tvd, skl,
    srkl)."""
    from sqldistill.train.trainer import DistillTrainer

    o = options or KDOptions()
    if method not in ("sft", "kd", "kid"):
        raise ConfigError(f"train_student does sft, kd and kid, not '{method}'")
    if is_pointer_model(o.model):
        from sqldistill.train.pointer import train_pointer_student

        return train_pointer_student(method, train_file, out_dir, o)
    divergence = o.divergence or ("rkl" if method == "kid" else "fkl")
    try:
        check_divergence_args(divergence, o.temperature, o.beta, o.skew_alpha)
    except ValueError as err:
        raise ConfigError(str(err), hint=f"divergence is one of {', '.join(DIVERGENCES)}") from None
    if not 0.0 < o.mask_ratio < 1.0:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {o.mask_ratio}")
    if method != "sft" and o.teacher is None:
        raise ConfigError(f"{method} needs a teacher model directory", hint="Pass teacher=PATH (--teacher)")
    run = prepare_run(train_file, out_dir, o, teacher=o.teacher if method != "sft" else None, tokenizer=o.tokenizer)
    tok = run.tokenizer
    args = training_arguments(run.out, o, lr=run.lr, curriculum=o.curriculum)
    log, callbacks = callbacks_for(run.out, method, o.progress)
    with quiet_libraries():
        trainer = DistillTrainer(
            model=run.student, args=args, train_dataset=run.examples, data_collator=tdata.PadCollator(tok.pad_token_id),
            processing_class=tok, callbacks=callbacks, method=method, teacher=run.teacher, divergence=divergence,
            temperature=o.temperature, beta=o.beta, skew_alpha=o.skew_alpha, ce_weight=o.ce_weight,
            mask_ratio=o.mask_ratio, mask_token_id=tok.mask_token_id, chunk_size=o.chunk_size,
        )
        quiet(trainer)
        trainer.train()
    hyper = {**run_hyper(o, run, method, train_file), "divergence": divergence if method != "sft" else None,
             "temperature": o.temperature, "ce_weight": o.ce_weight, "beta": o.beta, "skew_alpha": o.skew_alpha,
             "mask_ratio": o.mask_ratio, "teacher": str(o.teacher) if o.teacher else None,
             "grad_accum": o.grad_accum, "max_length": o.max_length, "curriculum": o.curriculum}
    return finish(trainer, tok, run.out, method=method, schema=run.schema, prompt_format=run.prompt_format,
                  base_model=run.base_model, log=log, started=run.started, hyper=hyper)


def train_sft(train_file: str | Path, out_dir: str | Path, **options: Any) -> TrainResult:
    """Supervised fine-tuning on verified pairs (sequence-level KD). ``options``: any ``KDOptions`` field."""
    return train_student("sft", train_file, out_dir, KDOptions(**options))


def train_kd(train_file: str | Path, out_dir: str | Path, *, teacher: str | Path, model: str | Path = "1m",
             divergence: str = "fkl", **options: Any) -> TrainResult:
    """Token-level KD from ``teacher``'s next-token distributions on the gold sequences."""
    return train_student("kd", train_file, out_dir,
                         KDOptions(teacher=teacher, model=model, divergence=divergence, **options))


def train_kid(train_file: str | Path, out_dir: str | Path, *, teacher: str | Path, model: str | Path = "1m",
              divergence: str = "rkl", **options: Any) -> TrainResult:
    """KD on imperfect sequences the student itself fills in (KID, arXiv 2410.11371)."""
    return train_student("kid", train_file, out_dir,
                         KDOptions(teacher=teacher, model=model, divergence=divergence, **options))


def require_model_dir(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise ModelError(f"{what} {p} does not exist", hint="Train it first or check the path")
    return p
