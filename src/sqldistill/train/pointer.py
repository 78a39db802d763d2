"""Training the pointer student (``models.seq2seq``): the base on a public corpus, then one database's student.

``encode_pairs`` turns (question, SQL) pairs into examples (SQL outside the pointer language is skipped and
counted). ``fit`` is the one loop: AdamW with linear warm-up and decay, cross-entropy on the target tokens,
and, with a ``teacher`` of the same family (any size: both score the same keywords and pointers), a
token-level distillation term (``losses.token_divergence``) mixed in with weight ``kd_weight``.
``specialise`` starts from a base network, fits the database's synthetic pairs (sft, or kd from a teacher
model directory) and writes a model directory that ``infer.predictor`` loads.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.errors import ConfigError
from sqldistill.models.seq2seq.features import Example, SchemaFeatures, TextEncoder, make_example
from sqldistill.models.seq2seq.language import Unsupported, to_tokens
from sqldistill.models.seq2seq.values import ValueIndex, find_values

if TYPE_CHECKING:
    from sqldistill.models.seq2seq.network import PointerSeq2Seq
    from sqldistill.train.methods import TrainResult
    from sqldistill.train.options import KDOptions

POINTER_METHODS = ("sft", "kd")


def encode_pairs(pairs: Sequence[tuple[str, str]], features: SchemaFeatures, index: ValueIndex,
                 encoder: TextEncoder, half: bool = False) -> tuple[list[Example], int]:
    """Examples with targets for ``pairs`` over one database; and how many were outside the language."""
    from sqldistill.models.seq2seq.network import MAX_TARGET

    states = encoder.questions([q for q, _ in pairs])
    out: list[Example] = []
    skipped = 0
    for (question, sql), (st, spans) in zip(pairs, states):
        ex = make_example(question, st.half() if half else st, spans, features, find_values(question, index))
        try:
            ex.target = to_tokens(sql, ex.items)
        except Unsupported:
            skipped += 1
            continue
        if len(ex.target) > MAX_TARGET:
            skipped += 1
            continue
        out.append(ex)
    return out, skipped


def _kd_term(student: Any, teacher: Any, target: Any, divergence: str, temperature: float) -> Any:
    from sqldistill.train.losses import token_divergence

    # padded pointers are -inf in both; a large finite value keeps the divergence defined
    s = student.masked_fill(student == float("-inf"), -1e4)
    t = teacher.masked_fill(teacher == float("-inf"), -1e4)
    per = token_divergence(s, t, divergence, temperature=temperature)
    keep = (target != 0).float()
    return (per * keep).sum() / keep.sum().clamp(min=1.0)


def fit(model: PointerSeq2Seq, examples: list[Example], *, epochs: float = 3, lr: float = 5e-4,
        batch_size: int = 32, seed: int = 0, teacher: PointerSeq2Seq | None = None, kd_weight: float = 0.5,
        divergence: str = "fkl", temperature: float = 1.0, warmup: float = 0.05,
        log: Callable[[str], None] | None = None, log_every: int = 100) -> dict[str, Any]:
    """Train ``model`` in place; returns steps, wall time and the last losses."""
    import torch

    from sqldistill.models.seq2seq.network import Batch

    if not examples:
        raise ConfigError("no training pairs fit the pointer student's language",
                          hint="Check that the pairs' SQL runs on the database the student is for")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    per_epoch = math.ceil(len(examples) / batch_size)
    total = max(1, int(per_epoch * epochs))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    ramp = max(1, int(total * warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / ramp) * max(0.0, (total - s) / max(1, total - ramp)))
    if teacher is not None:
        teacher.eval()
    model.train()
    started, step, losses = time.perf_counter(), 0, []
    order: list[int] = []
    while step < total:
        if not order:
            order = list(range(len(examples)))
            rng.shuffle(order)
        chunk, order = order[:batch_size], order[batch_size:]
        batch = Batch([examples[i] for i in chunk])
        logits = model(batch)
        assert batch.target is not None
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.target.reshape(-1),
                                               ignore_index=0)
        loss = ce
        if teacher is not None and kd_weight > 0:
            with torch.no_grad():
                t_logits = teacher(batch)
            loss = (1 - kd_weight) * ce + kd_weight * _kd_term(logits, t_logits, batch.target, divergence,
                                                                temperature)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        losses.append((loss.item(), ce.item()))
        if log and (step % log_every == 0 or step == total):
            recent = losses[-log_every:]
            log(f"step {step}/{total} loss {sum(x for x, _ in recent) / len(recent):.4f} "
                f"ce {sum(c for _, c in recent) / len(recent):.4f} ({time.perf_counter() - started:.0f}s)")
    model.eval()
    return {"steps": step, "examples": len(examples), "epochs": epochs, "lr": lr, "batch_size": batch_size,
            "wall_s": round(time.perf_counter() - started, 1), "loss": losses[-1][0], "ce": losses[-1][1],
            "kd_weight": kd_weight if teacher is not None else 0.0, "divergence": divergence}


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(question, sql) from a JSONL file of Example records (``train.jsonl``, ``candidates.jsonl``) or
    prompt/completion rows."""
    from sqldistill.data.prompt import extract_sql

    pairs = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if "question" in row and "sql" in row:
            pairs.append((str(row["question"]), str(row["sql"])))
        elif "prompt" in row and "completion" in row:
            question = str(row.get("question") or row["prompt"])
            pairs.append((question, extract_sql(str(row["completion"]))))
    return pairs


def specialise(train_file: str | Path, db: str, out_dir: str | Path, *, method: str = "sft",
               base: str | Path | None = None, teacher: str | Path | None = None, size: str = "small",
               epochs: float = 3, lr: float = 5e-4, batch_size: int = 32, seed: int = 0, kd_weight: float = 0.5,
               divergence: str = "fkl", temperature: float = 1.0, encoder: TextEncoder | None = None,
               log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit one database's pairs starting from ``base`` (the committed base when None; ``size: large``, the
    deeper teacher, grows from the committed base) and write a model directory to ``out_dir``."""
    import torch

    from sqldistill.db import connect, reflect
    from sqldistill.models.seq2seq import BASE_DIR, save_pointer_dir
    from sqldistill.models.seq2seq.network import PointerConfig, PointerSeq2Seq
    from sqldistill.models.seq2seq.values import database_values, value_index

    if method not in POINTER_METHODS:
        raise ConfigError(f"the pointer student trains with {' or '.join(POINTER_METHODS)}, not '{method}'")
    if method == "kd" and not teacher:
        raise ConfigError("kd needs a teacher", hint="Pass the teacher's model directory (a pointer model)")
    torch.manual_seed(seed)
    encoder = encoder or TextEncoder.load()
    with connect(db) as database:
        schema = reflect(database)
        values = database_values(database, schema)
    if base:
        base_dir = Path(base)
        model = PointerSeq2Seq.load(base_dir)
    elif size == "small" and (BASE_DIR / "pointer_config.json").is_file():
        base_dir = BASE_DIR
        model = PointerSeq2Seq.load(base_dir)
    else:
        model = PointerSeq2Seq(PointerConfig.named(size, encoder.dim))
        base_dir = Path("none")
        if (BASE_DIR / "pointer_config.json").is_file():  # a deeper decoder grows from the base's layers
            model.grow_from(PointerSeq2Seq.load(BASE_DIR))
            base_dir = BASE_DIR
    features = SchemaFeatures.build(schema, encoder)
    examples, skipped = encode_pairs(read_pairs(train_file), features, value_index(values), encoder)
    if log:
        log(f"{len(examples)} pairs in the pointer language, {skipped} outside it")
    teacher_model = PointerSeq2Seq.load(teacher) if method == "kd" and teacher else None
    stats = fit(model, examples, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, teacher=teacher_model,
                kd_weight=kd_weight, divergence=divergence, temperature=temperature, log=log)
    stats["skipped"] = skipped
    custom = encoder.name if Path(encoder.name).is_dir() else ""
    save_pointer_dir(model, out_dir, schema=schema, values=values, method=method, base_model=str(base_dir),
                     training=stats, encoder=custom)
    return stats


def train_pointer_student(method: str, train_file: str | Path, out_dir: str | Path, o: KDOptions) -> TrainResult:
    """``train_student`` for a pointer-student ``o.model``: sft, or kd from a pointer ``o.teacher``."""
    from sqldistill.models.sizes import is_pointer_model, pointer_size
    from sqldistill.train.methods import TrainResult

    if method not in POINTER_METHODS:
        raise ConfigError(f"the pointer student trains with {' or '.join(POINTER_METHODS)}, not '{method}'")
    if not o.db:
        raise ConfigError("the pointer student needs the database (its values are what it copies)",
                          hint="Pass --db TARGET")
    if method == "kd" and not is_pointer_model(o.teacher):
        raise ConfigError("a pointer student learns by kd only from a pointer teacher",
                          hint="Train the teacher with model: pointer-large first")
    size = pointer_size(str(o.model))
    base = None if size else str(o.model)
    log = print if o.progress else None
    stats = specialise(train_file, o.db, out_dir, method=method, base=base, teacher=o.teacher,
                       size=size or "small", epochs=o.epochs, lr=o.lr or 5e-4, batch_size=o.batch_size,
                       seed=o.seed, kd_weight=1.0 - o.ce_weight, divergence=o.divergence or "fkl",
                       temperature=o.temperature, log=log)
    from sqldistill.models.seq2seq.network import PointerSeq2Seq

    model = PointerSeq2Seq.load(out_dir)
    n = sum(p.numel() for p in model.parameters())
    return TrainResult(Path(out_dir), method, int(stats["steps"]), [{"step": stats["steps"], "loss": stats["loss"]}],
                       float(stats["wall_s"]), n, n, extra=stats)


__all__ = ["POINTER_METHODS", "encode_pairs", "fit", "read_pairs", "specialise", "train_pointer_student"]
