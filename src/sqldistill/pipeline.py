"""The ``distill`` run: profile -> synth -> teacher -> student -> evaluate -> report, in one run directory.

Each stage is a small function over the config and the earlier stages' folders; ``STAGES`` is their visible
order. A stage's identity is the hash of its config sections plus its inputs' hashes, so a rerun skips
every finished stage, redoes an interrupted one from scratch, and redoes everything downstream of a change.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqldistill.config import Config, ModelConfig
from sqldistill.data.manifest import RunDir, StageResult
from sqldistill.errors import ConfigError, ModelError
from sqldistill.jsonfiles import write_json_atomic, write_jsonl_atomic


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
    from sqldistill.synth import synthesize

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
    stats = synthesize(cfg.database, work, n=cfg.synth.n, seed=cfg.seed, teacher=teacher, log=cfg.synth.log,
                       feedback=feedback if feedback.is_file() else None,
                       valid_fraction=cfg.synth.valid_fraction, template_cap=cfg.synth.template_cap,
                       timeout_s=cfg.synth.timeout_s, prompt_format=PromptFormat(schema_style=cfg.prompt_schema),
                       progress=False, **options)
    metrics["stats"] = stats
    metrics["train"] = _count_lines(work / "train.jsonl")
    metrics["valid"] = _count_lines(work / "valid.jsonl")
    if teacher is not None and hasattr(teacher, "usage"):
        metrics["teacher_usage"] = _plain(teacher.usage)


def _train_options(m: ModelConfig, state: RunState) -> dict[str, Any]:
    return dict(epochs=m.epochs, max_steps=m.max_steps, batch_size=m.batch_size, grad_accum=m.grad_accum, lr=m.lr,
                max_length=m.max_length, lora=m.lora, lora_r=m.lora_r, bf16=m.bf16, seed=state.cfg.seed,
                num_threads=m.num_threads, progress=False,
                schema=str(state.path("profile", "schema.json")))


def _train_result_metrics(result: Any) -> dict[str, Any]:
    return {
        "processes": getattr(result, "processes", 1),
        "params": result.num_parameters,
        "trainable": result.trainable_parameters,
        "steps": result.steps,
        "seconds": round(result.train_seconds, 1),
        "final_loss": result.final_loss,
        "loss": [[r["step"], r["loss"]] for r in result.losses if "loss" in r],
    }


def _launched(method: str, train_file: Path, out: Path, m: ModelConfig, options: dict[str, Any]) -> Any:
    """Train sft/kd/kid in ``m.processes`` processes through ``accelerate launch -m sqldistill train``; the
    result read back from the model directory it wrote."""
    import socket
    import subprocess
    import sys
    from types import SimpleNamespace

    import yaml

    from sqldistill.models.modeldir import read_model_meta

    spec = {"method": method, "train_file": str(train_file), "out_dir": str(out), "model": m.model,
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in options.items() if v is not None}}
    cfg_file = out.parent / f"{out.name}.train.yaml"
    cfg_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(m.processes),
           "--num_machines", "1", "--dynamo_backend", "no", "--main_process_port", str(port)]
    if m.processes > 1:
        cmd.append("--multi_gpu")
    cmd += ["-m", "sqldistill", "train", str(cfg_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        why = next((ln for ln in reversed(lines) if ln.startswith("error:")), lines[-1] if lines else "no output")
        raise ModelError(f"training in {m.processes} processes failed: {why.removeprefix('error: ')}",
                            hint="Check `accelerate config` and the devices; processes: 1 trains in-process")
    meta = read_model_meta(out)
    tr = meta.get("training", {})
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines() if line.strip()] \
        if (out / "train_log.jsonl").is_file() else []
    return SimpleNamespace(num_parameters=meta.get("num_parameters"), trainable_parameters=tr.get("trainable_parameters"),
                           steps=tr.get("steps", 0), train_seconds=tr.get("train_seconds", 0.0),
                           final_loss=log[-1]["loss"] if log and "loss" in log[-1] else None,
                           losses=log, processes=tr.get("processes"))


def stage_teacher(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.train import train_sft

    m = state.cfg.teacher_model
    assert m is not None
    train_file = state.path("synth", "train.jsonl")
    options = {**_train_options(m, state), "curriculum": m.curriculum}
    if m.processes > 1:
        result = _launched("sft", train_file, work / "model", m, options)
    else:
        result = train_sft(train_file, work / "model", model=m.model, **options)
    metrics.update(_train_result_metrics(result))
    _build_memory(state, m, train_file, work / "model", metrics)


def stage_student(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill import train

    m = state.cfg.student
    train_file = state.path("synth", "train.jsonl")
    options = _train_options(m, state)
    teacher = state.path("teacher", "model") if "teacher" in state.results else None
    if m.method in ("kd", "kid", "gkd") and teacher is None:
        raise ConfigError(f"student.method {m.method} needs a teacher",
                          hint="Add a teacher_model section, or use method: sft")
    out = work / "model"
    if m.method in ("sft", "kd", "kid"):
        kw = dict(teacher=teacher, divergence=m.divergence, temperature=m.temperature, ce_weight=m.ce_weight,
                  mask_ratio=m.mask_ratio, curriculum=m.curriculum, **options)
        if m.processes > 1:
            result = _launched(m.method, train_file, out, m, kw)
        else:
            result = train.train_student(m.method, train_file, out, model=m.model, **kw)
    elif m.method == "gkd":
        result = train.train_gkd(train_file, out, teacher=teacher, model=m.model, temperature=m.temperature,
                                 **options)
    elif m.method == "dpo":
        weak = work / "weak"
        first = train.train_student("sft", train_file, weak, model=m.model, curriculum=m.curriculum, **options)
        metrics["weak"] = _train_result_metrics(first)
        pairs = work / "pairs.jsonl"
        train.build_dpo_pairs(train_file, pairs, weak_model=weak, db=state.cfg.database)
        options.pop("epochs")
        result = train.train_dpo(pairs, out, model=weak, beta=m.dpo_beta, epochs=1.0, **options)
        metrics["pairs"] = _count_lines(pairs)
        shutil.rmtree(weak, ignore_errors=True)
    else:  # rounds
        unlabelled = work / "unlabelled.jsonl"
        _unlabelled_questions(state, unlabelled)
        result = train.train_rounds(train_file, out, unlabelled_file=unlabelled, db=state.cfg.database,
                                    rounds=m.rounds, model=m.model, eval_file=state.path("synth", "valid.jsonl"),
                                    **options)
        from sqldistill.train.rounds import read_rounds

        metrics["rounds"] = read_rounds(out)
    metrics.update(_train_result_metrics(result))
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
    from sqldistill.synth import synthesize

    tmp = out.parent / "second-synthesis"
    synthesize(state.cfg.database, tmp, n=max(200, state.cfg.synth.n // 2), seed=state.cfg.seed + 1000,
               valid_fraction=0.0, progress=False)
    seen = {json.loads(line)["question"] for line in state.path("synth", "train.jsonl").open()}
    with out.open("w") as fh:
        for line in (tmp / "train.jsonl").open():
            q = json.loads(line)["question"]
            if q not in seen:
                fh.write(json.dumps({"question": q}) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)


def stage_evaluate(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    models = {"student": state.path("student", "model")}
    if "teacher" in state.results:
        models = {"teacher": state.path("teacher", "model"), **models}
    sets: dict[str, list[dict[str, Any]]] = {"valid": _read_jsonl(state.path("synth", "valid.jsonl"))}
    if state.cfg.eval.questions is not None:
        sets["human"] = _read_questions(state.cfg.eval.questions, state.results["profile"].metrics["db_id"])
    for name, model_dir in models.items():
        state.progress(f"evaluating the {name}")
        metrics[name] = evaluate_model(model_dir, state.cfg, sets, work / name)


def stage_report(state: RunState, work: Path, metrics: dict[str, Any]) -> None:
    from sqldistill.eval.html_report import render_report

    doc = collect_metrics(state)
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


# ---------------------------------------------------------------- evaluation helpers


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


def _read_questions(path: Path, db_id: str) -> list[dict[str, Any]]:
    from sqldistill.eval import load_gold

    golds = [g for g in load_gold(path) if g.db_id in (db_id, "")]
    if not golds:
        raise ConfigError(f"eval.questions: {path} has no questions for the database {db_id!r}",
                          hint="Use a Spider-format file whose db_id matches the database's name")
    if any(not g.question for g in golds):
        raise ConfigError(f"eval.questions: {path} has examples without a question",
                          hint="Use a Spider dev.json-style file with question and query fields")
    return [{"question": g.question, "sql": g.sql} for g in golds]


def evaluate_model(model_dir: Path, cfg: Config, sets: dict[str, list[dict[str, Any]]], out: Path) -> dict[str, Any]:
    """EX (and EM on SQLite) of one model on each question set, plus its size and per-question latency."""
    from sqldistill.db import connect
    from sqldistill.infer.predictor import Predictor

    out.mkdir(parents=True, exist_ok=True)
    predictor = Predictor.load(model_dir)
    result: dict[str, Any] = {"params": predictor.num_parameters, "total_params": predictor.total_parameters}
    with connect(cfg.database) as db:
        for name, examples in sets.items():
            preds, latencies = [], []
            for ex in examples:
                started = time.perf_counter()
                p = predictor.predict(ex["question"], db=db, execution_guided=cfg.eval.execution_guided,
                                      num_candidates=cfg.eval.num_candidates, memory_k=cfg.eval.memory_k)
                latencies.append((time.perf_counter() - started) * 1000)
                preds.append(p.sql)
            (out / f"{name}.pred.sql").write_text("".join(p.replace("\n", " ") + "\n" for p in preds))
            scores = score_predictions(cfg, db, examples, preds, out / f"{name}.examples.jsonl")
            result[name] = {**scores, "latency_ms_p50": statistics.median(latencies) if latencies else None}
        timed = [e["question"] for e in (sets.get("human") or sets["valid"])][: cfg.eval.latency_questions]
        lat = []
        for q in timed:
            started = time.perf_counter()
            predictor.predict(q)
            lat.append((time.perf_counter() - started) * 1000)
        result["latency_ms_p50"] = statistics.median(lat) if lat else None
    return result


def score_predictions(cfg: Config, db: Any, examples: list[dict[str, Any]], preds: list[str],
                      per_example: Path) -> dict[str, Any]:
    """EX per hardness with the official semantics; on SQLite through ``sqldistill.eval``, else plain EX."""
    if db.dialect == "sqlite":
        from sqldistill.eval import evaluate
        from sqldistill.eval.loaders import GoldExample

        link_dir = per_example.parent / "db"
        link_dir.mkdir(exist_ok=True)
        link = link_dir / f"{db.db_id}.sqlite"
        if not link.exists():
            os.symlink(Path(db.target.location).resolve(), link)
        golds = [GoldExample(sql=e["sql"], db_id=db.db_id, question=e["question"]) for e in examples]
        report = evaluate(golds, preds, link_dir, etype="all", workers=cfg.eval.workers or None,
                          timeout_s=cfg.eval.timeout_s, cache_dir=False)
        report.write_jsonl(per_example)
        scores = report.to_dict()["scores"]
        return {
            "ex": {lv: s.get("exec") for lv, s in scores.items() if s.get("count")},
            "em": {lv: s.get("exact") for lv, s in scores.items() if s.get("count")},
            "count": {lv: s.get("count") for lv, s in scores.items() if s.get("count")},
        }
    from sqldistill.spider.execution import execution_verdicts

    verdicts = execution_verdicts(db, [(ex["sql"], pred) for ex, pred in zip(examples, preds)], cfg.eval.timeout_s)
    write_jsonl_atomic(per_example, ({"index": i, "exec": v.exec, "error": v.error,
                                      **({"gold_error": v.gold_error} if v.gold_error else {})}
                                     for i, v in enumerate(verdicts)))
    hits = sum(v.exec for v in verdicts)
    return {"ex": {"all": hits / max(len(examples), 1)}, "count": {"all": len(examples)}}


# ---------------------------------------------------------------- the run


def collect_metrics(state: RunState) -> dict[str, Any]:
    prof = state.results["profile"].metrics
    synth = state.results["synth"].metrics
    stats = synth.get("stats", {})
    doc: dict[str, Any] = {
        "database": _display(state.cfg.database),
        "db_id": prof.get("db_id"),
        "fingerprint": prof.get("fingerprint"),
        "seconds": sum(r.manifest.get("seconds", 0) for r in state.results.values()),
        "stages": {n: r.manifest.get("seconds") for n, r in state.results.items()},
        "data": {
            "train": synth.get("train"),
            "valid": synth.get("valid"),
            "funnel": funnel_from_stats(stats),
            "hardness": _hardness_mix(stats),
            "sources": stats.get("sources", {}),
        },
        "training": {},
        "models": {},
        "eval": {},
    }
    for name in ("teacher", "student"):
        if name in state.results:
            tr = state.results[name].metrics
            doc["training"][name] = {k: tr.get(k) for k in ("loss", "steps", "seconds", "final_loss")}
            doc["models"][name] = {"params": tr.get("params")}
            if tr.get("rounds"):
                doc["rounds"] = [{"round": r.get("round", i), "ex": r.get("ex", r.get("ex_greedy", 0.0))}
                                 for i, r in enumerate(tr["rounds"])]
    ev = state.results["evaluate"].metrics if "evaluate" in state.results else {}
    for name, res in ev.items():
        main = res.get("human") or res.get("valid") or {}
        doc["eval"][name] = {"ex": main.get("ex", {}), "em": main.get("em", {}), "count": main.get("count", {}),
                             "ex_valid": (res.get("valid") or {}).get("ex", {}).get("all"),
                             "ex_human": (res.get("human") or {}).get("ex", {}).get("all")}
        doc["models"].setdefault(name, {})["latency_ms_p50"] = res.get("latency_ms_p50")
        doc["models"][name]["params"] = res.get("params") or doc["models"][name].get("params")
    return doc


def funnel_from_stats(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """(critic, dropped, kept-after) rows in critic order, from synthesize()'s stats."""
    critics = stats.get("critics", {})
    rows = []
    remaining = stats.get("candidates")
    for name, c in critics.items() if isinstance(critics, dict) else []:
        checked = c.get("checked", remaining or 0)
        dropped = c.get("dropped", 0)
        remaining = checked - dropped
        rows.append({"critic": name, "checked": checked, "dropped": dropped, "kept": remaining})
    return rows


def _hardness_mix(stats: dict[str, Any]) -> dict[str, int]:
    mix = stats.get("hardness") or {}
    if isinstance(mix, dict):
        return {k: (v.get("kept", v) if isinstance(v, dict) else v) for k, v in mix.items()}
    return {}


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
    """Run (or resume) every stage of ``cfg`` in ``cfg.run_dir``; returns the finished state."""
    if cfg.teacher_model is None and cfg.student.method in ("kd", "kid", "gkd"):
        raise ConfigError(f"student.method {cfg.student.method} needs a teacher_model section",
                          hint="Add teacher_model (e.g. model: 5m), or use method: sft")
    if cfg.student.processes > 1 and cfg.student.method not in ("sft", "kd", "kid"):
        raise ConfigError(f"student.processes > 1 works with sft, kd and kid, not {cfg.student.method}",
                          hint="Set student.processes: 1, or launch `sqldistill train` through accelerate yourself")
    for m in (cfg.teacher_model, cfg.student):
        if m is not None and not _is_named(m.model) and not Path(m.model).is_dir():
            raise ModelError(f"No model directory at {m.model}", hint="Use a named size (1m, 5m, 20m) or a path")
    state = RunState(cfg, RunDir(cfg.run_dir), progress=progress)
    for name, fn, chained in stage_plan(cfg):
        done = state.run.finished(name, chained)
        if done is not None:
            progress(f"{name}: already done, skipped")
            state.results[name] = done
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


def _display(target: str) -> str:
    from sqldistill.db.targets import parse_target

    try:
        return parse_target(target).display
    except Exception:
        return target


def _is_named(spec: str) -> bool:
    from sqldistill.models.sizes import parse_size

    return parse_size(spec) is not None
