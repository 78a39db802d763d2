"""``dpo`` for the pointer student: prefer the verified SQL over a weak model's execution-wrong SQL.

The pairs are ``dpo.build_dpo_pairs``'s (``prompt``/``chosen``/``rejected`` plus ``question`` and the gold
``sql``), written by any weak model a ``Predictor`` loads, the pointer student included. Each pair's chosen and
rejected SQL become target sequences over the same question (``train.pointer.encode_pairs``); a pair whose
rejected (or chosen) SQL is outside the pointer language, or the same sequence as the chosen one, is skipped
and counted. ``train_pointer_dpo`` starts from ``options.model`` (a pointer model directory, normally the sft
student) and minimises ``losses.dpo_loss`` on the sequence log-probabilities of chosen vs rejected under the
policy and a frozen copy of the starting model, without dropout (as TRL's DPOTrainer); ``loss_type``
"sigmoid+sft" adds the chosen answers' cross-entropy, as TRL's does for causal students.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.errors import ConfigError, DataError
from sqldistill.models.seq2seq.language import PAD

if TYPE_CHECKING:
    import torch

    from sqldistill.models.seq2seq.features import Example
    from sqldistill.models.seq2seq.network import Batch, PointerSeq2Seq
    from sqldistill.train.methods import TrainResult
    from sqldistill.train.options import DPOOptions

LOSS_TYPES = ("sigmoid", "sft")
DEFAULT_LR = 5e-5  # a tenth of the pointer's sft step


def sequence_logprobs(model: PointerSeq2Seq, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed log-probability of each row's target, its number of target tokens), both [B]."""
    import torch

    assert batch.target is not None
    logp = torch.log_softmax(model(batch), dim=-1)
    keep = batch.target != PAD
    picked = logp.gather(-1, batch.target.unsqueeze(-1)).squeeze(-1).masked_fill(~keep, 0.0)
    return picked.sum(1), keep.sum(1)


def encode_preferences(rows: list[dict[str, Any]], features: Any, index: Any,
                       encoder: Any) -> tuple[list[tuple[Example, Example]], dict[str, int]]:
    """(chosen, rejected) examples of each usable pair, and how many were skipped and why."""
    from sqldistill.data.prompt import extract_sql
    from sqldistill.train.pointer import encode_pairs

    pairs: list[tuple[Example, Example]] = []
    skipped = {"chosen_outside_language": 0, "rejected_outside_language": 0, "same_sequence": 0}
    for row in rows:
        question = str(row.get("question") or row["prompt"])
        chosen_sql = str(row.get("sql") or extract_sql(str(row["chosen"])))
        rejected_sql = extract_sql(str(row["rejected"]))
        chosen, _ = encode_pairs([(question, chosen_sql)], features, index, encoder)
        if not chosen:
            skipped["chosen_outside_language"] += 1
            continue
        rejected, _ = encode_pairs([(question, rejected_sql)], features, index, encoder)
        if not rejected:
            skipped["rejected_outside_language"] += 1
            continue
        if chosen[0].target == rejected[0].target:
            skipped["same_sequence"] += 1
            continue
        pairs.append((chosen[0], rejected[0]))
    return pairs, skipped


def preference_margin(model: PointerSeq2Seq, reference: PointerSeq2Seq,
                      pairs: list[tuple[Example, Example]], batch_size: int = 32) -> float:
    """Mean DPO margin (policy minus reference log-ratio of chosen over rejected) on ``pairs``, no dropout."""
    import torch

    from sqldistill.models.seq2seq.network import Batch

    was = model.training
    model.eval()
    reference.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            batch = Batch([c for c, _ in chunk] + [r for _, r in chunk])
            pol, _ = sequence_logprobs(model, batch)
            ref, _ = sequence_logprobs(reference, batch)
            n = len(chunk)
            total += float(((pol[:n] - ref[:n]) - (pol[n:] - ref[n:])).sum())
    model.train(was)
    return total / max(1, len(pairs))


def fit_dpo(model: PointerSeq2Seq, reference: PointerSeq2Seq, pairs: list[tuple[Example, Example]], *,
            beta: float = 0.1, loss_types: tuple[str, ...] = ("sigmoid", "sft"),
            loss_weights: list[float] | None = None, epochs: float = 1.0, lr: float = DEFAULT_LR,
            batch_size: int = 8, seed: int = 0, weight_decay: float = 0.0, warmup: float = 0.05,
            max_steps: int = -1) -> dict[str, Any]:
    """Train ``model`` in place on preference ``pairs`` against the frozen ``reference``; returns stats."""
    import torch

    from sqldistill.models.seq2seq.network import Batch
    from sqldistill.train.losses import dpo_loss
    from sqldistill.train.pointer import optimiser

    weights = loss_weights or [1.0] * len(loss_types)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    total = max_steps if max_steps > 0 else max(1, int(math.ceil(len(pairs) / batch_size) * epochs))
    take_step = optimiser(model, lr=lr, total=total, warmup=warmup, weight_decay=weight_decay)
    model.eval()  # no dropout: the policy's log-ratios start at the reference's, as TRL's disable_dropout does
    started, step = time.perf_counter(), 0
    losses: list[float] = []
    order: list[int] = []
    while step < total:
        if not order:
            order = list(range(len(pairs)))
            rng.shuffle(order)
        chunk, order = [pairs[i] for i in order[:batch_size]], order[batch_size:]
        n = len(chunk)
        batch = Batch([c for c, _ in chunk] + [r for _, r in chunk])
        policy, lengths = sequence_logprobs(model, batch)
        with torch.no_grad():
            ref, _ = sequence_logprobs(reference, batch)
        loss = torch.zeros(())
        for kind, w in zip(loss_types, weights):
            if kind == "sigmoid":
                part, _ = dpo_loss(policy[:n], policy[n:], ref[:n], ref[n:], beta)
            else:  # sft: the chosen answers' cross-entropy per token
                part = -policy[:n].sum() / lengths[:n].sum().clamp(min=1)
            loss = loss + w * part
        take_step(loss)
        step += 1
        losses.append(loss.item())
    wall = time.perf_counter() - started
    return {"steps": step, "pairs": len(pairs), "epochs": epochs, "lr": lr, "batch_size": batch_size, "beta": beta,
            "loss_type": "+".join(loss_types), "wall_s": round(wall, 1), "step_s": wall / step,
            "loss": losses[-1], "first_loss": losses[0]}


def parse_loss_types(loss_type: str, loss_weights: list[float] | None) -> tuple[str, ...]:
    kinds = tuple(t.strip() for t in loss_type.replace("+", ",").split(",") if t.strip())
    unknown = [k for k in kinds if k not in LOSS_TYPES]
    if unknown or "sigmoid" not in kinds:
        raise ConfigError(f"the pointer student's dpo takes loss_type sigmoid or sigmoid+sft, not '{loss_type}'",
                          hint="Other TRL loss types work with causal students only")
    if loss_weights is not None and len(loss_weights) != len(kinds):
        raise ConfigError(f"loss_weights has {len(loss_weights)} values for {len(kinds)} loss types")
    return kinds


def train_pointer_dpo(pairs_file: str | Path, out_dir: str | Path, options: DPOOptions) -> TrainResult:
    """``train_dpo`` for a pointer ``options.model`` (see the module docstring); ``lr=None`` picks 5e-5."""
    from sqldistill.models.modeldir import meta_schema, read_model_meta
    from sqldistill.models.seq2seq import save_pointer_dir
    from sqldistill.models.seq2seq.features import SchemaFeatures, TextEncoder
    from sqldistill.models.seq2seq.network import PointerSeq2Seq, read_pointer_config
    from sqldistill.models.seq2seq.values import value_index
    from sqldistill.train import data as tdata
    from sqldistill.train.methods import TrainResult, require_model_dir, set_threads

    o = options
    if o.beta <= 0:
        raise ConfigError(f"dpo beta must be > 0, got {o.beta}")
    kinds = parse_loss_types(o.loss_type, o.loss_weights)
    if o.lora:
        raise ConfigError("the pointer student trains all its weights; lora is for causal students",
                          hint="Leave lora unset")
    start_dir = require_model_dir(o.model, "the starting model")
    set_threads(o.num_threads)
    meta = read_model_meta(start_dir)
    schema = meta_schema(meta)
    values_file = start_dir / "values.json"
    values = json.loads(values_file.read_text()) if values_file.is_file() else {}
    where = read_pointer_config(start_dir).get("encoder")
    encoder = TextEncoder.load(where if where and Path(where).is_dir() else None)
    rows = tdata.read_jsonl(pairs_file, ("prompt", "chosen", "rejected"))
    if not rows:
        raise DataError(f"{pairs_file} holds no preference pairs")
    pairs, skipped = encode_preferences(rows, SchemaFeatures.build(schema, encoder), value_index(values), encoder)
    if not pairs:
        raise DataError(f"none of the {len(rows)} pairs in {pairs_file} fits the pointer student's language",
                        hint=f"skipped: {skipped}")
    model = PointerSeq2Seq.load(start_dir)
    reference = PointerSeq2Seq.load(start_dir)
    stats = fit_dpo(model, reference, pairs, beta=o.beta, loss_types=kinds, loss_weights=o.loss_weights,
                    epochs=o.epochs, lr=o.lr if o.lr is not None else DEFAULT_LR, batch_size=o.batch_size,
                    seed=o.seed, weight_decay=o.weight_decay, max_steps=o.max_steps)
    stats.update(skipped=skipped, rows=len(rows), start_model=str(start_dir), pairs_file=str(pairs_file))
    custom = encoder.name if Path(encoder.name).is_dir() else ""
    save_pointer_dir(model, out_dir, schema=schema, values=values, method="dpo", base_model=str(start_dir),
                     training=stats, encoder=custom)
    n = sum(p.numel() for p in model.parameters())
    return TrainResult(Path(out_dir), "dpo", int(stats["steps"]), [{"step": stats["steps"], "loss": stats["loss"]}],
                       float(stats["wall_s"]), n, n, extra=stats)


__all__ = ["encode_preferences", "fit_dpo", "preference_margin", "sequence_logprobs", "train_pointer_dpo"]
