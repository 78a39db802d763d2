"""Distillation losses as pure functions of tensors.

``token_divergence`` is the reference: per-position divergences between a teacher distribution ``p`` and a
student distribution ``q`` over the vocabulary (last dimension), computed in fp32:

- ``fkl``  forward KL, KL(p || q) — mode covering, the classic KD loss;
- ``rkl``  reverse KL, KL(q || p) — mode seeking (KID's default);
- ``jsd``  generalised Jensen-Shannon with ``beta`` in (0, 1): beta KL(p || m) + (1-beta) KL(q || m),
  m = beta p + (1-beta) q; JSD/beta -> forward KL as beta -> 0 and JSD/(1-beta) -> reverse KL as beta -> 1;
- ``tvd``  total variation, 0.5 sum |p - q|;
- ``skl``  skew forward KL, KL(p || alpha p + (1-alpha) q);  ``srkl`` skew reverse KL, KL(q || alpha q + (1-alpha) p).

Logits are divided by ``temperature`` and the divergence multiplied by ``temperature**2`` so gradient scales
stay comparable across temperatures (Hinton et al.).

``dpo_loss`` is DPO's sigmoid loss on sequence log-probabilities (the pointer family's dpo; causal LMs use
TRL's DPOTrainer).

``chunked_distill_loss`` is what training calls. It takes final hidden states and output-head weights rather
than logits, and walks the positions in chunks: each chunk's logits (student and teacher, fp32) are made, the
loss and its gradient with respect to those logits are taken at once, and the logits are dropped. Full-vocabulary
logits of both models therefore never exist at the same time, and the backward pass costs two small matmuls
per chunk instead of a second trip through the vocabulary.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

DIVERGENCES = ("fkl", "rkl", "jsd", "tvd", "skl", "srkl")
# Rows of logits per chunk are chosen so that one chunk holds at most this many fp32 values per model.
CHUNK_ELEMENTS = 1 << 25


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """KL(a || b) over the last dimension from log-probabilities."""
    return (log_a.exp() * (log_a - log_b)).sum(-1)


def _log_mix(log_a: torch.Tensor, log_b: torch.Tensor, weight_a: float) -> torch.Tensor:
    """log(w a + (1-w) b), computed stably."""
    if weight_a <= 0.0:
        return log_b
    if weight_a >= 1.0:
        return log_a
    return torch.logaddexp(log_a + math.log(weight_a), log_b + math.log1p(-weight_a))


def check_divergence_args(kind: str, temperature: float, beta: float, alpha: float) -> None:
    if kind not in DIVERGENCES:
        raise ValueError(f"unknown divergence '{kind}'; use one of {', '.join(DIVERGENCES)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if kind == "jsd" and not 0.0 < beta < 1.0:
        raise ValueError(f"jsd needs 0 < beta < 1, got {beta}")
    if kind in ("skl", "srkl") and not 0.0 <= alpha < 1.0:
        raise ValueError(f"skew KL needs 0 <= alpha < 1, got {alpha}")


def token_divergence(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    kind: str = "fkl",
    *,
    temperature: float = 1.0,
    beta: float = 0.5,
    alpha: float = 0.1,
) -> torch.Tensor:
    """Per-position divergence (shape = logits shape without the vocabulary dimension), fp32."""
    check_divergence_args(kind, temperature, beta, alpha)
    log_q = F.log_softmax(_at_least_fp32(student_logits) / temperature, dim=-1)
    log_p = F.log_softmax(_at_least_fp32(teacher_logits) / temperature, dim=-1)
    if kind == "fkl":
        div = _kl(log_p, log_q)
    elif kind == "rkl":
        div = _kl(log_q, log_p)
    elif kind == "jsd":
        log_m = _log_mix(log_p, log_q, beta)
        div = beta * _kl(log_p, log_m) + (1.0 - beta) * _kl(log_q, log_m)
    elif kind == "tvd":
        div = 0.5 * (log_p.exp() - log_q.exp()).abs().sum(-1)
    elif kind == "skl":
        div = _kl(log_p, _log_mix(log_p, log_q, alpha))
    else:  # srkl
        div = _kl(log_q, _log_mix(log_q, log_p, alpha))
    return div * (temperature**2)


def distill_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor,
    kind: str = "fkl",
    *,
    ce_weight: float = 0.5,
    temperature: float = 1.0,
    beta: float = 0.5,
    alpha: float = 0.1,
    kd_mask: torch.Tensor | None = None,
    ce_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Unchunked reference: mean divergence over ``kd_mask`` + ce_weight * mean CE over ``ce_mask``.

    ``labels`` uses -100 for ignored positions; both masks default to ``labels != -100``. Without a teacher
    the loss is plain cross-entropy (SFT).
    """
    valid = labels != -100
    kd_mask = valid if kd_mask is None else kd_mask & valid
    ce_mask = valid if ce_mask is None else ce_mask & valid
    ce_tok = F.cross_entropy(
        _at_least_fp32(student_logits).reshape(-1, student_logits.shape[-1]), labels.clamp(min=0).reshape(-1), reduction="none"
    ).reshape(labels.shape)
    ce = (ce_tok * ce_mask).sum() / ce_mask.sum().clamp(min=1)
    if teacher_logits is None:
        return ce
    div = token_divergence(student_logits, teacher_logits, kind, temperature=temperature, beta=beta, alpha=alpha)
    kd = (div * kd_mask).sum() / kd_mask.sum().clamp(min=1)
    return kd + ce_weight * ce


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, per-pair margins): -log sigmoid(beta * ((pc - rc) - (pr - rr))) over sequence log-probs of
    the chosen and rejected answers under the policy (p) and the frozen reference (r) (Rafailov et al. 2023)."""
    if not beta > 0:
        raise ValueError(f"dpo beta must be > 0, got {beta}")
    margins = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -F.logsigmoid(beta * margins).mean(), margins.detach()


class LossParts(NamedTuple):
    loss: torch.Tensor  # differentiable total
    kd: torch.Tensor  # detached mean divergence (0 without a teacher)
    ce: torch.Tensor  # detached mean cross-entropy


def chunk_rows(vocab_size: int, chunk_elements: int = CHUNK_ELEMENTS) -> int:
    return max(16, chunk_elements // max(vocab_size, 1))


class _ChunkedLoss(torch.autograd.Function):
    """Loss over rows of hidden states; gradients are taken chunk by chunk during the forward pass."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        teacher_hidden: torch.Tensor | None,
        teacher_weight: torch.Tensor | None,
        labels: torch.Tensor,
        kd_coef: torch.Tensor,
        ce_coef: torch.Tensor,
        options: tuple[str, float, float, float, float, int],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        kind, temperature, beta, alpha, ce_scale, rows = options
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.zeros_like(hidden) if need_h else None
        acc = torch.promote_types(weight.dtype, torch.float32)
        grad_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None
        kd_total = torch.zeros((), dtype=acc, device=hidden.device)
        ce_total = torch.zeros((), dtype=acc, device=hidden.device)
        for start in range(0, hidden.shape[0], rows):
            sl = slice(start, start + rows)
            h = hidden[sl]
            with torch.enable_grad():
                logits = _at_least_fp32(h @ weight.t()).detach().requires_grad_(need_h or need_w)
                ce_tok = F.cross_entropy(logits, labels[sl].clamp(min=0), reduction="none")
                ce_part = (ce_tok * ce_coef[sl]).sum()
                total = ce_scale * ce_part
                if teacher_hidden is not None and teacher_weight is not None:
                    t_logits = _at_least_fp32(teacher_hidden[sl] @ teacher_weight.t())
                    div = token_divergence(logits, t_logits, kind, temperature=temperature, beta=beta, alpha=alpha)
                    kd_part = (div * kd_coef[sl]).sum()
                    kd_total += kd_part.detach()
                    total = total + kd_part
                ce_total += ce_part.detach()
                if need_h or need_w:
                    (d_logits,) = torch.autograd.grad(total, logits)
            if grad_h is not None:
                grad_h[sl] = (d_logits.to(weight.dtype) @ weight).to(hidden.dtype)
            if grad_w is not None:
                grad_w += d_logits.t() @ h.to(acc)
        ctx.save_for_backward(*(g for g in (grad_h, grad_w) if g is not None))
        ctx.has = (grad_h is not None, grad_w is not None)
        ctx.dtypes = (hidden.dtype, weight.dtype)
        loss = kd_total + ce_scale * ce_total
        ctx.mark_non_differentiable(kd_total, ce_total)
        return loss, kd_total, ce_total

    @staticmethod
    def backward(ctx: Any, grad_loss: torch.Tensor, *_: Any) -> tuple[Any, ...]:  # type: ignore[override]
        saved = list(ctx.saved_tensors)
        grad_h = grad_w = None
        if ctx.has[0]:
            grad_h = (saved.pop(0) * grad_loss.to(ctx.dtypes[0])).to(ctx.dtypes[0])
        if ctx.has[1]:
            grad_w = (saved.pop(0) * grad_loss).to(ctx.dtypes[1])
        return grad_h, grad_w, None, None, None, None, None, None


def chunked_distill_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    teacher_hidden: torch.Tensor | None = None,
    teacher_weight: torch.Tensor | None = None,
    kind: str = "fkl",
    *,
    ce_weight: float = 0.5,
    temperature: float = 1.0,
    beta: float = 0.5,
    alpha: float = 0.1,
    kd_mask: torch.Tensor | None = None,
    ce_mask: torch.Tensor | None = None,
    chunk_size: int | None = None,
) -> LossParts:
    """Same value and gradients as ``distill_loss(hidden @ weight.T, teacher_hidden @ teacher_weight.T, ...)``.

    ``hidden`` is ``[N, H]`` (already the positions that count), ``weight`` the ``[V, H]`` output head.
    Without a teacher the loss is cross-entropy alone, whatever ``ce_weight`` says.
    """
    check_divergence_args(kind, temperature, beta, alpha)
    if (teacher_hidden is None) != (teacher_weight is None):
        raise ValueError("teacher_hidden and teacher_weight go together")
    valid = labels != -100
    acc = torch.promote_types(hidden.dtype, torch.float32)
    kd_m = (valid if kd_mask is None else kd_mask & valid).to(acc)
    ce_m = (valid if ce_mask is None else ce_mask & valid).to(acc)
    has_teacher = teacher_hidden is not None
    kd_coef = kd_m / kd_m.sum().clamp(min=1) if has_teacher else torch.zeros_like(kd_m)
    ce_coef = ce_m / ce_m.sum().clamp(min=1)
    ce_scale = float(ce_weight) if has_teacher else 1.0
    rows = chunk_size or chunk_rows(weight.shape[0])
    options = (kind, float(temperature), float(beta), float(alpha), ce_scale, int(rows))
    loss, kd, ce = _ChunkedLoss.apply(hidden, weight, teacher_hidden, teacher_weight, labels, kd_coef, ce_coef, options)
    return LossParts(loss, kd, ce)
