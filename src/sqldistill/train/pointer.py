"""Training the pointer student (``models.seq2seq``): the base on a public corpus, then one database's student.

``encode_pairs`` turns (question, SQL) pairs into examples (SQL outside the pointer language is skipped and
counted). ``fit`` is the one loop: AdamW with linear warm-up and decay, cross-entropy on the target tokens,
and, with a ``teacher`` of the same family (any size: both score the same keywords and pointers), a
token-level distillation term (``losses.token_divergence``) mixed in with weight ``kd_weight``:

- ``kd``: the divergence on the gold sequence;
- ``kid`` (``mask_ratio`` > 0): KD on imperfect sequences. ``imperfect_inputs`` picks ``mask_ratio`` of each
  row's gold decoder inputs, and one no-grad student pass over the gold sequence fills each with the student's
  argmax for it (its prediction from the gold prefix); student and teacher then both read that sequence, the
  divergence (reverse KL by default) is taken at every target position, and the cross-entropy to the gold
  only where the input was not changed (as the causal trainer's kid does).

``specialise`` starts from a base network, fits the database's synthetic pairs (sft, or kd/kid from a teacher
model directory) and writes a model directory that ``infer.predictor`` loads. The pointer family's dpo is in
``train.pointer_dpo``; its rounds are ``train.rounds``'s, whose sft rounds land here.
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
from sqldistill.models.seq2seq.language import BOS, EOS, PAD, Unsupported, to_tokens
from sqldistill.models.seq2seq.values import ValueIndex, find_values

if TYPE_CHECKING:
    from sqldistill.models.seq2seq.network import Batch, PointerSeq2Seq
    from sqldistill.train.methods import TrainResult
    from sqldistill.train.options import KDOptions

# what the pointer family trains with; ``fit`` does the first three, ``pointer_dpo`` dpo, ``rounds`` rounds
POINTER_METHODS = ("sft", "kd", "kid", "dpo", "rounds")
FIT_METHODS = ("sft", "kd", "kid")


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
    keep = (target != PAD).float()
    return (per * keep).sum() / keep.sum().clamp(min=1.0)


def decoder_inputs(target: Any) -> Any:
    """The teacher-forced decoder inputs of ``target`` [B, L]: BOS, then the target shifted right."""
    import torch

    return torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], dim=1)


def imperfect_inputs(model: PointerSeq2Seq, batch: Batch, mask_ratio: float, generator: Any) -> tuple[Any, Any]:
    """KID's imperfect decoder inputs for ``batch``: (inputs, masked positions [B, L]).

    Exactly round(mask_ratio * n) of a row's n gold input tokens after BOS (EOS and padding excluded) are
    picked at random; each is replaced by ``model``'s argmax for it in one no-grad, dropout-free teacher-forced
    pass over the gold sequence (never PAD or BOS). A picked token the student predicts right stays as it was."""
    import torch

    assert batch.target is not None
    gold = decoder_inputs(batch.target)
    candidates = (gold != PAD) & (gold != EOS)
    candidates[:, 0] = False  # BOS: a prediction needs a position before it
    scores = torch.rand(gold.shape, generator=generator).to(gold.device).masked_fill(~candidates, -1.0)
    counts = (candidates.sum(1).float() * mask_ratio).round().long()
    ranks = scores.argsort(dim=1, descending=True).argsort(dim=1)
    masked = (ranks < counts.unsqueeze(1)) & candidates
    if not bool(masked.any()):
        return gold, masked
    was_training = model.training
    model.eval()
    with torch.no_grad():
        memory, pad, pointers = model.encode(batch)
        logits = model.decode(gold, memory, pad, pointers, batch.pointer_mask)
    model.train(was_training)
    logits[..., PAD] = float("-inf")
    logits[..., BOS] = float("-inf")
    rows, cols = masked.nonzero(as_tuple=True)
    filled = gold.clone()
    filled[rows, cols] = logits[rows, cols - 1].argmax(-1)  # position j - 1 predicts input j
    return filled, masked


def optimiser(model: PointerSeq2Seq, *, lr: float, total: int, warmup: float,
              weight_decay: float = 0.01) -> Callable[[Any], None]:
    """AdamW over ``model``'s trainable parameters with a linear warm-up (``warmup`` of ``total`` steps) and a
    linear decay to zero; the returned function takes one step on a loss, gradients clipped to norm 1."""
    import torch

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    ramp = max(1, int(total * warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / ramp) * max(0.0, (total - s) / max(1, total - ramp)))

    def take_step(loss: Any) -> None:
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()

    return take_step


def fit(model: PointerSeq2Seq, examples: list[Example], *, epochs: float = 3, lr: float = 5e-4,
        batch_size: int = 32, seed: int = 0, teacher: PointerSeq2Seq | None = None, kd_weight: float = 0.5,
        divergence: str = "fkl", temperature: float = 1.0, mask_ratio: float = 0.0, warmup: float = 0.05,
        log: Callable[[str], None] | None = None, log_every: int = 100) -> dict[str, Any]:
    """Train ``model`` in place (kid when ``mask_ratio`` > 0 and there is a ``teacher``); returns steps, wall
    time, mean seconds per step and the last losses."""
    import torch

    from sqldistill.models.seq2seq.network import Batch

    if mask_ratio and not 0.0 < mask_ratio < 1.0:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
    if mask_ratio and teacher is None:
        raise ConfigError("kid needs a teacher", hint="Pass the teacher's model directory (a pointer model)")
    if not examples:
        raise ConfigError("no training pairs fit the pointer student's language",
                          hint="Check that the pairs' SQL runs on the database the student is for")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    per_epoch = math.ceil(len(examples) / batch_size)
    total = max(1, int(per_epoch * epochs))
    take_step = optimiser(model, lr=lr, total=total, warmup=warmup)
    if teacher is not None:
        teacher.eval()
    model.train()
    masks = torch.Generator().manual_seed(seed)
    started, step, losses, corrupted = time.perf_counter(), 0, [], []
    order: list[int] = []
    while step < total:
        if not order:
            order = list(range(len(examples)))
            rng.shuffle(order)
        chunk, order = order[:batch_size], order[batch_size:]
        batch = Batch([examples[i] for i in chunk])
        assert batch.target is not None
        target = batch.target
        if teacher is not None and mask_ratio > 0:
            inputs, _ = imperfect_inputs(model, batch, mask_ratio, masks)
            changed = inputs != decoder_inputs(target)
            corrupted.append(float(changed[target != PAD].float().mean()))
            memory, pad, pointers = model.encode(batch)
            logits = model.decode(inputs, memory, pad, pointers, batch.pointer_mask)
            with torch.no_grad():
                t_memory, t_pad, t_pointers = teacher.encode(batch)
                t_logits = teacher.decode(inputs, t_memory, t_pad, t_pointers, batch.pointer_mask)
            gold_ce = target.masked_fill(changed, PAD)  # CE to the gold only where the input is the gold's
        else:
            logits = model(batch)
            gold_ce = target
            if teacher is not None and kd_weight > 0:
                with torch.no_grad():
                    t_logits = teacher(batch)
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold_ce.reshape(-1),
                                               ignore_index=PAD)
        loss = ce
        if teacher is not None and kd_weight > 0:
            loss = (1 - kd_weight) * ce + kd_weight * _kd_term(logits, t_logits, target, divergence, temperature)
        take_step(loss)
        step += 1
        losses.append((loss.item(), ce.item()))
        if log and (step % log_every == 0 or step == total):
            recent = losses[-log_every:]
            log(f"step {step}/{total} loss {sum(x for x, _ in recent) / len(recent):.4f} "
                f"ce {sum(c for _, c in recent) / len(recent):.4f} ({time.perf_counter() - started:.0f}s)")
    model.eval()
    wall = time.perf_counter() - started
    stats = {"steps": step, "examples": len(examples), "epochs": epochs, "lr": lr, "batch_size": batch_size,
             "wall_s": round(wall, 1), "step_s": wall / step, "loss": losses[-1][0], "ce": losses[-1][1],
             "first_loss": losses[0][0], "kd_weight": kd_weight if teacher is not None else 0.0,
             "divergence": divergence}
    if corrupted:
        stats.update(mask_ratio=mask_ratio, corrupted=sum(corrupted) / len(corrupted))
    return stats


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
               divergence: str = "fkl", temperature: float = 1.0, mask_ratio: float = 0.2,
               encoder: TextEncoder | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit one database's pairs with ``method`` (sft, kd, kid; ``mask_ratio`` is kid's) starting from ``base``
    (the committed base when None; ``size: large``, the deeper teacher, grows from the committed base) and
    write a model directory to ``out_dir``."""
    import torch

    from sqldistill.db import connect, reflect
    from sqldistill.models.seq2seq import BASE_DIR, save_pointer_dir
    from sqldistill.models.seq2seq.network import PointerConfig, PointerSeq2Seq
    from sqldistill.models.seq2seq.values import database_values, value_index

    if method not in FIT_METHODS:
        raise ConfigError(f"specialise fits the pointer student with {', '.join(FIT_METHODS)}, not '{method}'")
    if method != "sft" and not teacher:
        raise ConfigError(f"{method} needs a teacher", hint="Pass the teacher's model directory (a pointer model)")
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
    teacher_model = PointerSeq2Seq.load(teacher) if method != "sft" and teacher else None
    stats = fit(model, examples, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, teacher=teacher_model,
                kd_weight=kd_weight, divergence=divergence, temperature=temperature,
                mask_ratio=mask_ratio if method == "kid" else 0.0, log=log)
    stats["skipped"] = skipped
    custom = encoder.name if Path(encoder.name).is_dir() else ""
    save_pointer_dir(model, out_dir, schema=schema, values=values, method=method, base_model=str(base_dir),
                     training=stats, encoder=custom)
    return stats


def train_pointer_student(method: str, train_file: str | Path, out_dir: str | Path, o: KDOptions) -> TrainResult:
    """``train_student`` for a pointer-student ``o.model``: sft, or kd/kid from a pointer ``o.teacher``
    (``o.divergence`` defaults to forward KL for kd and reverse KL for kid; ``1 - o.ce_weight`` weighs it)."""
    from sqldistill.models.sizes import is_pointer_model, pointer_size
    from sqldistill.train.losses import DIVERGENCES, check_divergence_args
    from sqldistill.train.methods import TrainResult

    if method not in FIT_METHODS:
        raise ConfigError(f"the pointer student trains by {method} through its own entry point, not train_student",
                          hint="dpo: train.dpo.train_dpo; rounds: train.rounds.train_rounds")
    if not o.db:
        raise ConfigError("the pointer student needs the database (its values are what it copies)",
                          hint="Pass --db TARGET")
    if method != "sft" and not is_pointer_model(o.teacher):
        raise ConfigError(f"a pointer student learns by {method} only from a pointer teacher",
                          hint="Train the teacher with model: pointer-large first")
    if method == "kid" and not 0.0 < o.mask_ratio < 1.0:
        raise ConfigError(f"mask_ratio must be in (0, 1), got {o.mask_ratio}")
    try:
        check_divergence_args(o.divergence or "fkl", o.temperature, o.beta, o.skew_alpha)
    except ValueError as err:
        raise ConfigError(str(err), hint=f"divergence is one of {', '.join(DIVERGENCES)}") from None
    if not 0.0 <= o.ce_weight <= 1.0:
        raise ConfigError(f"the pointer student's ce_weight must be in [0, 1], got {o.ce_weight}",
                          hint="It weighs the cross-entropy against the divergence: ce_weight + kd weight = 1")
    size = pointer_size(str(o.model))
    base = None if size else str(o.model)
    log = print if o.progress else None
    stats = specialise(train_file, o.db, out_dir, method=method, base=base, teacher=o.teacher,
                       size=size or "small", epochs=o.epochs, lr=o.lr or 5e-4, batch_size=o.batch_size,
                       seed=o.seed, kd_weight=1.0 - o.ce_weight,
                       divergence=o.divergence or ("rkl" if method == "kid" else "fkl"), temperature=o.temperature,
                       mask_ratio=o.mask_ratio, log=log)
    from sqldistill.models.seq2seq.network import PointerSeq2Seq

    model = PointerSeq2Seq.load(out_dir)
    n = sum(p.numel() for p in model.parameters())
    return TrainResult(Path(out_dir), method, int(stats["steps"]), [{"step": stats["steps"], "loss": stats["loss"]}],
                       float(stats["wall_s"]), n, n, extra=stats)


__all__ = ["FIT_METHODS", "POINTER_METHODS", "decoder_inputs", "encode_pairs", "fit", "imperfect_inputs", "optimiser",
           "read_pairs", "specialise", "train_pointer_student"]
