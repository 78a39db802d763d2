"""The ``distill`` run: profile -> synth -> teacher -> student -> evaluate -> report, in one run directory.

Each stage is a small function over the config and the earlier stages' folders; ``STAGES`` is their visible
order. A stage's identity is the hash of its config sections plus its inputs' hashes, so a rerun skips
every finished stage, redoes an interrupted one from scratch, and redoes everything downstream of a change.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqldistill.config import Config, ModelConfig
from sqldistill.data.manifest import RunDir, StageResult
from sqldistill.errors import ConfigError, ModelError
from sqldistill.jsonfiles import write_json_atomic

if TYPE_CHECKING:
    from sqldistill.train.methods import TrainResult
    from sqldistill.train.options import KDOptions, TrainOptions

Opts = TypeVar("Opts", bound="TrainOptions")


@dataclass
class RunState:
    cfg: Config
    run: RunDir
    results: dict[str, StageResult] = field(default_factory=dict)
    progress: Callable[[str], None] = print

    def path(self, stage: str, *parts: str) -> Path:
        return self.results[stage].path.joinpath(*parts)


# ---------------------------------------------------------------- stages


def stage_profile(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.db import reflect

    schema = reflect(state.cfg.database)
    (work / "schema.json").write_text(schema.to_json())
    metrics.update(db_id=schema.db_id, dialect=schema.dialect, fingerprint=schema.fingerprint,
                   tables=len(schema.tables), rows=sum(t.row_count for t in schema.tables))


def stage_synth(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.data.prompt import PromptFormat
    from sqldistill.synth.synthesis import SynthOptions, synthesize

    cfg = state.cfg
    teacher = None
    options: dict[str, Any] = {}
    if cfg.synth.teacher is not None:
        from sqldistill.synth.teacher import make_teacher

        t = cfg.synth.teacher
        teacher = make_teacher(t.base_url, model=t.model, api_key_env=t.api_key_env or "OPENAI_API_KEY",
                               cache_dir=state.run.root / "cache" / "teacher", concurrency=t.concurrency,
                               max_retries=t.max_retries, timeout_s=t.timeout_s, temperature=t.temperature,
                               price_per_1k_input=t.price_per_1k_input, price_per_1k_output=t.price_per_1k_output)
        options.update(teacher_pairs=t.new_pairs, paraphrases=t.paraphrases, vote=t.vote)
    feedback = state.run.root / "feedback.jsonl"
    stats = synthesize(cfg.database, work, SynthOptions(
        n=cfg.synth.n, seed=cfg.seed, teacher=teacher, log=cfg.synth.log,
        feedback=feedback if feedback.is_file() else None, valid_fraction=cfg.synth.valid_fraction,
        template_cap=cfg.synth.template_cap, timeout_s=cfg.synth.timeout_s,
        sources=cfg.synth.sources.model_dump(), corpus=cfg.synth.corpus,
        prompt_format=PromptFormat(schema_style=cfg.prompt_schema), progress=False, **options))
    metrics["stats"] = stats
    metrics["train"] = _count_lines(work / "train.jsonl")
    metrics["valid"] = _count_lines(work / "valid.jsonl")
    if teacher is not None and hasattr(teacher, "usage"):
        metrics["teacher_usage"] = _plain(teacher.usage)


def train_options(m: ModelConfig, state: RunState, cls: type[Opts], **method_fields: Any) -> Opts:
    """The one mapping from a model section of the config to a training method's options object."""
    common: dict[str, Any] = dict(
        model=m.model, epochs=m.epochs, max_steps=m.max_steps, batch_size=m.batch_size, grad_accum=m.grad_accum,
        lr=m.lr, max_length=m.max_length, lora=m.lora, lora_r=m.lora_r, bf16=m.bf16, seed=state.cfg.seed,
        num_threads=m.num_threads, progress=False, schema=str(state.path("profile", "schema.json")),
        db=state.cfg.database)
    return cls(**{**common, **method_fields})


def _train_kd(method: str, train_file: Path, out: Path, options: KDOptions, processes: int) -> TrainResult:
    """sft/kd/kid in this process, or in ``processes`` processes through accelerate."""
    if processes > 1:
        from sqldistill.train.launch import train_in_processes

        return train_in_processes(method, train_file, out, options, processes)
    from sqldistill.train.methods import train_student

    return train_student(method, train_file, out, options)


def _train_result_metrics(result: TrainResult) -> dict[str, Any]:
    return {
        "processes": result.processes,
        "params": result.num_parameters,
        "trainable": result.trainable_parameters,
        "steps": result.steps,
        "seconds": round(result.train_seconds, 1),
        "final_loss": result.final_loss,
        "loss": [[r["step"], r["loss"]] for r in result.losses if "loss" in r],
    }


def stage_teacher(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.train.options import KDOptions

    m = state.cfg.teacher_model
    assert m is not None
    train_file = state.path("synth", "train.jsonl")
    options = train_options(m, state, KDOptions, curriculum=m.curriculum)
    result = _train_kd("sft", train_file, work / "model", options, m.processes)
    metrics.update(_train_result_metrics(result))
    _build_memory(state, m, train_file, work / "model", metrics)


def stage_student(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.train.options import DPOOptions, GKDOptions, KDOptions, RoundsOptions

    m = state.cfg.student
    train_file = state.path("synth", "train.jsonl")
    teacher = state.path("teacher", "model") if "teacher" in state.results else None
    if m.method in ("kd", "kid", "gkd") and teacher is None:
        raise ConfigError(f"student.method {m.method} needs a teacher",
                          hint="Add a teacher_model section, or use method: sft")
    out = work / "model"
    if m.method in ("sft", "kd", "kid"):
        kd = train_options(m, state, KDOptions, teacher=teacher, divergence=m.divergence, temperature=m.temperature,
                           ce_weight=m.ce_weight, mask_ratio=m.mask_ratio, curriculum=m.curriculum)
        result = _train_kd(m.method, train_file, out, kd, m.processes)
    elif m.method == "gkd":
        from sqldistill.train.gkd import train_gkd

        assert teacher is not None
        result = train_gkd(train_file, out, train_options(m, state, GKDOptions, teacher=teacher,
                                                          temperature=m.temperature))
    elif m.method == "dpo":
        from sqldistill.train.dpo import build_dpo_pairs, train_dpo
        from sqldistill.train.methods import train_student

        weak = work / "weak"
        first = train_student("sft", train_file, weak, train_options(m, state, KDOptions, curriculum=m.curriculum))
        metrics["weak"] = _train_result_metrics(first)
        pairs = work / "pairs.jsonl"
        build_dpo_pairs(train_file, pairs, weak_model=weak, db=state.cfg.database)
        result = train_dpo(pairs, out, train_options(m, state, DPOOptions, model=weak, beta=m.dpo_beta, epochs=1.0))
        metrics["pairs"] = _count_lines(pairs)
        shutil.rmtree(weak, ignore_errors=True)
    else:  # rounds
        from sqldistill.train.rounds import read_rounds, train_rounds

        unlabelled = work / "unlabelled.jsonl"
        _unlabelled_questions(state, unlabelled)
        result = train_rounds(train_file, out, train_options(
            m, state, RoundsOptions, unlabelled_file=unlabelled, db=state.cfg.database, rounds=m.rounds,
            eval_file=state.path("synth", "valid.jsonl")))
        metrics["rounds"] = read_rounds(out)
    metrics.update(_train_result_metrics(result))
    teacher_memory = teacher / "retrieval" if teacher is not None else None
    if teacher_memory is not None and state.cfg.teacher_model is not None \
            and state.cfg.teacher_model.memory == m.memory and (teacher_memory / "index.json").is_file():
        # the same pairs and the same encoder: the teacher's memory is this one
        state.progress("copying the teacher's retrieval memory (the same pairs and encoder)")
        shutil.copytree(teacher_memory, out / "retrieval", dirs_exist_ok=True)
        metrics["memory"] = json.loads((out / "retrieval" / "index.json").read_text())
        return
    _build_memory(state, m, train_file, out, metrics)


def _build_memory(state: RunState, m: ModelConfig, train_file: Path, out: Path, metrics: dict[str, Any]) -> None:
    """The model's retrieval memory of the training pairs (see ``infer.retrieval``), unless ``memory: none``."""
    if m.memory == "none":
        return
    from sqldistill.db import connect
    from sqldistill.infer.retrieval import build_index
    from sqldistill.records import Schema

    state.progress(f"building the retrieval memory ({m.memory})")
    schema = Schema.from_json(state.path("profile", "schema.json").read_text())
    with connect(state.cfg.database) as db:
        build_index(out, _read_jsonl(train_file), db=db, encoder=m.memory, schema=schema)
    metrics["memory"] = json.loads((out / "retrieval" / "index.json").read_text())


def _unlabelled_questions(state: RunState, out: Path) -> None:
    """Fresh questions for recursive rounds: a second synthesis with another seed, SQL thrown away."""
    from sqldistill.synth.synthesis import SynthOptions, synthesize

    tmp = out.parent / "second-synthesis"
    synthesize(state.cfg.database, tmp, SynthOptions(n=max(200, state.cfg.synth.n // 2), seed=state.cfg.seed + 1000,
                                                     valid_fraction=0.0, progress=False,
                                                     sources=state.cfg.synth.sources.model_dump(),
                                                     corpus=state.cfg.synth.corpus))
    seen = {json.loads(line)["question"] for line in state.path("synth", "train.jsonl").open()}
    with out.open("w") as fh:
        for line in (tmp / "train.jsonl").open():
            q = json.loads(line)["question"]
            if q not in seen:
                fh.write(json.dumps({"question": q}) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)


def stage_evaluate(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.eval.model_eval import evaluate_model, read_questions
    from sqldistill.models.modeldir import write_decoding

    models = {"student": state.path("student", "model")}
    if "teacher" in state.results:
        models = {"teacher": state.path("teacher", "model"), **models}
    sets: dict[str, list[dict[str, Any]]] = {"valid": _read_jsonl(state.path("synth", "valid.jsonl"))}
    if state.cfg.eval.questions is not None:
        sets["human"] = read_questions(state.cfg.eval.questions, state.results["profile"].metrics["db_id"])
    ev = state.cfg.eval
    for name, model_dir in models.items():
        state.progress(f"evaluating the {name}")
        metrics[name] = evaluate_model(model_dir, state.cfg.database, sets, work / name,
                                       execution_guided=ev.execution_guided, num_candidates=ev.num_candidates,
                                       memory_k=ev.memory_k, timeout_s=ev.timeout_s, workers=ev.workers)
        # serve and ask answer with the decoding whose EX the report shows
        write_decoding(model_dir, ev.execution_guided, ev.num_candidates, ev.memory_k)


def stage_report(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.eval.html_report import render_report
    from sqldistill.eval.report import collect_metrics

    doc = collect_metrics(state.cfg.database, state.results)
    write_json_atomic(work / "metrics.json", doc)
    (work / "report.html").write_text(render_report(doc))
    metrics["summary"] = doc.get("eval", {})


STAGES: tuple[tuple[str, Callable[[RunState, Path, dict[str, Any]], None], tuple[str, ...]], ...] = (
    ("profile", stage_profile, ("database",)),
    ("synth", stage_synth, ("seed", "prompt_schema", "synth")),
    ("teacher", stage_teacher, ("seed", "teacher_model")),
    ("student", stage_student, ("seed", "student")),
    ("evaluate", stage_evaluate, ("eval",)),
    ("report", stage_report, ()),
)


# ---------------------------------------------------------------- helpers


def _count_lines(path: Path) -> int:
    with path.open() as fh:
        return sum(1 for line in fh if line.strip())


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _plain(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return json.loads(json.dumps(value, default=lambda o: getattr(o, "__dict__", str(o))))


# ---------------------------------------------------------------- the run


def stage_plan(cfg: Config) -> list[tuple[str, Callable[[RunState, Path, dict[str, Any]], None], str]]:
    """The stages this config runs, each with its chained hash (a change upstream changes every later hash)."""
    plan = []
    upstream = ""
    for name, fn, sections in STAGES:
        if name == "teacher" and cfg.teacher_model is None:
            continue
        upstream = cfg.section_hash(*sections, salt=upstream)
        plan.append((name, fn, upstream))
    return plan


def distill(cfg: Config, progress: Callable[[str], None] = print, only: str | None = None) -> RunState:
    """Run (or resume) every stage of ``cfg`` in ``cfg.run_dir`` (up to and including ``only``, when given);
    returns the finished state."""
    if cfg.teacher_model is None and cfg.student.method in ("kd", "kid", "gkd"):
        raise ConfigError(f"student.method {cfg.student.method} needs a teacher_model section",
                          hint="Add teacher_model (e.g. model: 5m), or use method: sft")
    if cfg.student.processes > 1 and cfg.student.method not in ("sft", "kd", "kid"):
        raise ConfigError(f"student.processes > 1 works with sft, kd and kid, not {cfg.student.method}",
                          hint="Set student.processes: 1, or launch `sqldistill train` through accelerate yourself")
    _check_pointer_student(cfg)
    for m in (cfg.teacher_model, cfg.student):
        if m is not None and not _is_named(m.model) and not Path(m.model).is_dir():
            raise ModelError(f"No model directory at {m.model}", hint="Use a named size (1m, 5m, 20m) or a path")
    state = RunState(cfg, RunDir(cfg.run_dir), progress=progress)
    for name, fn, chained in stage_plan(cfg):
        done = state.run.finished(name, chained)
        if done is not None:
            progress(f"{name}: already done, skipped")
            state.results[name] = done
            if only == name:  # a finished stage ends an ``only`` run as a fresh one does
                break
            continue
        progress(f"{name}: running")
        with state.run.stage(name, chained) as (work, metrics):
            fn(state, work, metrics)
        result = state.run.finished(name, chained)
        assert result is not None
        result.skipped = False
        state.results[name] = result
        progress(f"{name}: done in {result.manifest.get('seconds', 0):.0f} s")
        if only == name:
            break
    return state


def _check_pointer_student(cfg: Config) -> None:
    """The pointer student trains by sft, kd, kid, dpo or rounds (``train.pointer.POINTER_METHODS``); kd and kid
    only from a teacher of its own family (both score the same keywords and pointers)."""
    from sqldistill.models.sizes import is_pointer_model
    from sqldistill.train.pointer import POINTER_METHODS

    if not is_pointer_model(cfg.student.model):
        return
    if cfg.student.method not in POINTER_METHODS:
        raise ConfigError(f"student.model {cfg.student.model} trains with {', '.join(POINTER_METHODS)}, "
                          f"not {cfg.student.method}", hint="gkd samples from causal language models; use kd or kid")
    teacher = cfg.teacher_model
    if cfg.student.method in ("kd", "kid") and teacher is not None and not is_pointer_model(teacher.model):
        raise ConfigError(f"a pointer student learns by {cfg.student.method} only from a pointer teacher",
                          hint="Set teacher_model.model: pointer-large")


def _is_named(spec: str) -> bool:
    from sqldistill.models.sizes import parse_size, pointer_size

    return parse_size(spec) is not None or pointer_size(spec) is not None
