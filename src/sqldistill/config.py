"""The YAML config of a ``distill`` run: pydantic models, validated once at load, unknown keys rejected.

Components never take these objects: the pipeline maps a model section to the training method's options
(``pipeline.train_options``, the one place that does) and the rest to each stage's arguments.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sqldistill.errors import ConfigError
from sqldistill.models.sizes import parse_size, pointer_size


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TeacherEndpoint(_Strict):
    """An OpenAI-compatible chat endpoint that writes and checks question/SQL pairs."""

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = Field(4, ge=1, le=256)
    max_retries: int = Field(4, ge=0, le=20)
    timeout_s: float = Field(60.0, gt=0)
    temperature: float = Field(0.7, ge=0, le=2)
    new_pairs: int = Field(0, ge=0, description="pairs the teacher writes from few-shot prompts")
    paraphrases: int = Field(0, ge=0, description="paraphrases per template question")
    vote: int = Field(0, ge=0, le=15, description="teacher SQLs per question for the self-consistency vote")
    price_per_1k_input: float = Field(0.0, ge=0)
    price_per_1k_output: float = Field(0.0, ge=0)


class SourceMix(_Strict):
    """Shares of n: the corpus of learned shapes and the templates split what feedback and the log leave;
    the log and the teacher (new pairs) are used up to their share when given."""

    corpus: float = Field(0.8, ge=0, description="shapes and phrasings learned from a public corpus")
    templates: float = Field(0.2, ge=0, description="the hand-written template sampler")
    log: float = Field(0.3, ge=0, le=1, description="at most this share from the query log")
    teacher: float = Field(0.1, ge=0, description="new pairs from the teacher endpoint")

    @model_validator(mode="after")
    def _something_fills(self) -> SourceMix:
        if self.corpus <= 0 and self.templates <= 0:
            raise ValueError("corpus or templates needs a positive share")
        return self


class SynthConfig(_Strict):
    n: int = Field(3000, ge=10, le=1_000_000, description="candidate pairs to sample from templates")
    valid_fraction: float = Field(0.05, ge=0, lt=0.5)
    log: Path | None = Field(None, description="a file of existing SQL to mine for templates")
    timeout_s: float = Field(2.0, gt=0, description="critics: a candidate must execute within this")
    template_cap: int = Field(40, ge=1, description="critics: at most this many pairs per SQL template")
    sources: SourceMix = Field(default_factory=lambda: SourceMix(),
                               description="shares of n per source of pairs")
    corpus: Path | None = Field(None, description="a corpus of learned shapes other than the shipped one")
    teacher: TeacherEndpoint | None = None


class ModelConfig(_Strict):
    """A model to train: a from-scratch named size, or a local pretrained transformers model directory."""

    model: str = Field("1m", description="1m, 5m, 20m (optionally llama-/qwen2- prefixed), "
                       "pointer-base / pointer-large (the pointer student) or a model directory")
    method: Literal["sft", "kd", "kid", "gkd", "dpo", "rounds"] = "sft"
    epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(-1, ge=-1, description="-1: run all epochs")
    batch_size: int = Field(32, ge=1)
    grad_accum: int = Field(1, ge=1)
    lr: float | None = Field(None, gt=0, lt=1, description="None: a default for from-scratch or pretrained")
    max_length: int = Field(256, ge=16)
    lora: bool = False
    lora_r: int = Field(16, ge=1)
    bf16: bool | None = Field(None, description="None: bf16 where the hardware supports it")
    curriculum: bool = Field(False, description="order training pairs from easy to hard")
    divergence: Literal["fkl", "rkl", "jsd", "tvd", "skl", "srkl"] | None = Field(
        None, description="kd/kid loss; None: forward KL for kd, reverse KL for kid")
    temperature: float = Field(1.0, gt=0)
    ce_weight: float = Field(0.5, ge=0, le=1)
    mask_ratio: float = Field(0.2, gt=0, lt=1, description="kid: share of gold SQL tokens the student fills in")
    dpo_beta: float = Field(0.1, gt=0)
    rounds: int = Field(2, ge=1, le=10, description="rounds: recursive distillation rounds after the first")
    num_threads: int | None = Field(None, ge=1, description="CPU threads for training; None: all")
    processes: int = Field(1, ge=1, le=64, description="sft/kd/kid: training processes (one per GPU) launched "
                                                       "through accelerate; 1: train in this process")
    memory: Literal["auto", "minilm", "hashing", "none"] = Field(
        "auto", description="retrieval memory of the training pairs for execution-guided decoding; "
                            "auto: MiniLM when installed, else hashing")


class EvalConfig(_Strict):
    questions: Path | None = Field(None, description="human questions to measure on (Spider dev.json format)")
    execution_guided: bool = True
    num_candidates: int = Field(4, ge=1, le=32)
    memory_k: int = Field(20, ge=0, le=100, description="nearest training queries added as candidates")
    timeout_s: float = Field(5.0, gt=0)
    workers: int = Field(0, ge=0, description="0: one per CPU")


class Config(_Strict):
    database: str = Field(..., description="SQLite path or SQLAlchemy URL")
    run_dir: Path = Path("runs/default")
    seed: int = 0
    prompt_schema: Literal["none", "compact", "create"] = "none"
    synth: SynthConfig = SynthConfig()
    teacher_model: ModelConfig | None = None
    student: ModelConfig = ModelConfig()
    eval: EvalConfig = EvalConfig()

    @field_validator("database")
    @classmethod
    def _database_given(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a SQLite file or a SQLAlchemy URL")
        return v

    def section_hash(self, *names: str, salt: str = "") -> str:
        """A hash of the named sections plus ``salt`` (the upstream stage's hash), for stage manifests."""
        data = self.model_dump(mode="json")
        blob = json.dumps({"salt": salt, **{n: data.get(n) for n in names}}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _format_error(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check its spelling; `sqldistill init` writes every known key)"
    extra = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {where}: {msg}{extra}"


def config_from_dict(data: Any, source: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values at the top level")
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(err, source)) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config; relative paths in it are taken relative to the config's folder."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"No config file at {p}", hint="Write one with `sqldistill init DATABASE`")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}:{where} is not valid YAML ({getattr(err, 'problem', err)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p} is not a text file") from None
    cfg = config_from_dict(data, source=str(p))
    return _resolve_paths(cfg, p.parent)


def _resolve_paths(cfg: Config, base: Path) -> Config:
    def fix(v: Path | None) -> Path | None:
        return v if v is None or v.is_absolute() else base / v

    database = cfg.database
    if "://" not in database and not Path(database).is_absolute():
        database = str(base / database)
    synth = cfg.synth.model_copy(update={"log": fix(cfg.synth.log), "corpus": fix(cfg.synth.corpus)})
    teacher = cfg.teacher_model.model_copy(update={"model": _model_path(cfg.teacher_model.model, base)}) \
        if cfg.teacher_model else None
    student = cfg.student.model_copy(update={"model": _model_path(cfg.student.model, base)})
    ev = cfg.eval.model_copy(update={"questions": fix(cfg.eval.questions)})
    return cfg.model_copy(update={"database": database, "run_dir": fix(cfg.run_dir), "synth": synth,
                                  "teacher_model": teacher, "student": student, "eval": ev})


def _model_path(spec: str, base: Path) -> str:
    """Named sizes stay as they are; a relative model directory is taken relative to the config's folder."""
    if parse_size(spec) is not None or pointer_size(spec) is not None or Path(spec).is_absolute():
        return spec
    return str(base / spec)
