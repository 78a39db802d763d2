"""The options of each training method: one dataclass per method, the common block first.

Field names are the keys of ``sqldistill train`` configs and flags (``commands`` reads them from here), so a
config key and a Python keyword are one and the same. The pipeline builds these from a ``ModelConfig`` in one
place (``pipeline.train_options``).

Defaults, and why:

- ``lr=None`` picks 2e-3 for from-scratch students (tiny models want a large step), 2e-4 with LoRA and 5e-5 for
  full fine-tuning of a pretrained model (dpo: 3e-5 from scratch, else 5e-6);
- ``bf16=None`` means bf16 autocast on a CUDA device that supports it, fp32 elsewhere (CPU bf16 is slow);
- ``schema``/``db``/``prompt_format``: the schema is given, read from a file, reflected from ``db`` or found
  beside the data; the prompt format is read from the data when not given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqldistill.data.prompt import PromptFormat
from sqldistill.models.sizes import DEFAULT_VOCAB
from sqldistill.records import Schema


@dataclass(kw_only=True)
class TrainOptions:
    """What every method takes: the starting model, the schema and prompt, the optimiser and the run."""

    model: str | Path = "5m"  # a named size (1m, 5m, 20m, qwen2-5m, ...) or a local model directory
    schema: Schema | dict[str, Any] | str | Path | None = None
    db: str | None = None
    prompt_format: PromptFormat | dict[str, Any] | None = None
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 16
    grad_accum: int = 1
    lr: float | None = None
    warmup: float = 0.05
    weight_decay: float = 0.01
    max_length: int = 512
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    bf16: bool | None = None
    seed: int = 0
    report_to: str | list[str] = "none"
    logging_steps: int = 10
    progress: bool = True
    num_threads: int | None = None


@dataclass(kw_only=True)
class KDOptions(TrainOptions):
    """sft, kd and kid (``methods.train_student``): kd and kid learn from ``teacher``'s token distributions;
    ``divergence`` defaults to forward KL for kd and reverse KL for kid; kid masks ``mask_ratio`` of the gold
    SQL tokens for the student to fill in. sft uses none of the teacher fields."""

    teacher: str | Path | None = None
    tokenizer: str | Path | None = None
    divergence: str | None = None
    temperature: float = 1.0
    ce_weight: float = 0.5
    beta: float = 0.5
    skew_alpha: float = 0.1
    mask_ratio: float = 0.2
    chunk_size: int | None = None
    curriculum: bool = False
    vocab_size: int = DEFAULT_VOCAB


@dataclass(kw_only=True)
class GKDOptions(TrainOptions):
    """gkd (``gkd.train_gkd``, TRL's GKDTrainer): with probability ``lmbda`` a batch is the student's own
    samples, scored by the generalised JSD(``beta``) to ``teacher``."""

    teacher: str | Path
    model: str | Path = "1m"
    lmbda: float = 0.5
    beta: float = 0.5
    temperature: float = 0.9
    max_new_tokens: int = 96
    seq_kd: bool = False
    curriculum: bool = False
    vocab_size: int = DEFAULT_VOCAB


@dataclass(kw_only=True)
class DPOOptions(TrainOptions):
    """dpo (``dpo.train_dpo``, TRL's DPOTrainer) from ``model`` (normally the sft student), referenced to a
    frozen copy of itself; ``loss_type`` is one TRL DPO loss or several joined by "+"."""

    model: str | Path = field()  # required: the starting model
    beta: float = 0.1
    loss_type: str = "sigmoid+sft"
    loss_weights: list[float] | None = None
    epochs: float = 1.0
    batch_size: int = 8
    weight_decay: float = 0.0


@dataclass(kw_only=True)
class RoundsOptions(KDOptions):
    """rounds (``rounds.train_rounds``): an sft round 0, then ``rounds`` rounds of pseudo-labelling the
    questions of ``unlabelled_file`` on ``db`` and fine-tuning for ``round_epochs``; the sft fields apply to
    every round."""

    unlabelled_file: str | Path
    db: str = field()  # required: the database the pseudo-labels execute on
    rounds: int = 2
    eval_file: str | Path | None = None
    num_candidates: int = 4
    mode: str = "beam"
    round_epochs: float = 1.0


def option_fields(cls: type[TrainOptions]) -> dict[str, dataclasses.Field[Any]]:
    """The options a method takes, by name."""
    return {f.name: f for f in dataclasses.fields(cls)}


def subset(options: TrainOptions, cls: type[TrainOptions], **changes: Any) -> Any:
    """The fields of ``options`` that ``cls`` has, as a ``cls``, with ``changes`` on top."""
    kept = {name: getattr(options, name) for name in option_fields(cls) if hasattr(options, name)}
    return cls(**{**kept, **changes})


def as_config(options: TrainOptions) -> dict[str, Any]:
    """The options as ``sqldistill train`` config keys: set values only, paths as text."""
    out: dict[str, Any] = {}
    for name in option_fields(type(options)):
        value = getattr(options, name)
        if isinstance(value, (Schema, PromptFormat)):
            value = value.to_dict()
        if value is not None:
            out[name] = str(value) if isinstance(value, Path) else value
    return out


__all__ = ["DPOOptions", "GKDOptions", "KDOptions", "RoundsOptions", "TrainOptions", "as_config", "option_fields",
           "subset"]
