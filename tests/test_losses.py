"""Numerical tests of the distillation losses: direct formulas, limits, chunked == unchunked, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from sqldistill.train.losses import (
    DIVERGENCES,
    chunked_distill_loss,
    distill_loss,
    token_divergence,
)

torch.set_num_threads(1)


def _logits(seed: int, shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype) * 2.0


def _direct(kind: str, s: list[float], t: list[float], temp: float = 1.0, beta: float = 0.5,
            alpha: float = 0.1) -> float:
    """The textbook definitions, one vocabulary row, in plain Python floats."""
    def softmax(x: list[float]) -> list[float]:
        m = max(x)
        e = [math.exp((v - m) / temp) for v in x]
        z = sum(e)
        return [v / z for v in e]

    q, p = softmax(s), softmax(t)

    def kl(a: list[float], b: list[float]) -> float:
        return sum(ai * math.log(ai / bi) for ai, bi in zip(a, b))

    if kind == "fkl":
        d = kl(p, q)
    elif kind == "rkl":
        d = kl(q, p)
    elif kind == "jsd":
        m = [beta * pi + (1 - beta) * qi for pi, qi in zip(p, q)]
        d = beta * kl(p, m) + (1 - beta) * kl(q, m)
    elif kind == "tvd":
        d = 0.5 * sum(abs(pi - qi) for pi, qi in zip(p, q))
    elif kind == "skl":
        d = kl(p, [alpha * pi + (1 - alpha) * qi for pi, qi in zip(p, q)])
    else:
        d = kl(q, [alpha * qi + (1 - alpha) * pi for pi, qi in zip(p, q)])
    return d * temp**2


@pytest.mark.parametrize("kind", DIVERGENCES)
@pytest.mark.parametrize("temp", [1.0, 2.5])
def test_each_divergence_matches_its_formula(kind: str, temp: float) -> None:
    s, t = _logits(1, (4, 7)), _logits(2, (4, 7))
    got = token_divergence(s, t, kind, temperature=temp, beta=0.3, alpha=0.2)
    want = [_direct(kind, s[i].tolist(), t[i].tolist(), temp, beta=0.3, alpha=0.2) for i in range(4)]
    assert got.shape == (4,)
    assert got.tolist() == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("kind", DIVERGENCES)
def test_divergences_vanish_on_equal_distributions_and_are_positive_otherwise(kind: str) -> None:
    s = _logits(3, (5, 11))
    assert token_divergence(s, s.clone(), kind).abs().max() < 1e-12
    assert bool((token_divergence(s, _logits(4, (5, 11)), kind) > 0).all())


def test_jsd_limits_are_forward_and_reverse_kl() -> None:
    s, t = _logits(5, (6, 9)), _logits(6, (6, 9))
    fkl, rkl = token_divergence(s, t, "fkl"), token_divergence(s, t, "rkl")
    small = 1e-8  # the reverse limit converges slowly where the teacher gives a token little mass
    assert (token_divergence(s, t, "jsd", beta=small) / small).tolist() == pytest.approx(fkl.tolist(), rel=1e-3)
    assert (token_divergence(s, t, "jsd", beta=1 - small) / small).tolist() == pytest.approx(rkl.tolist(), rel=1e-3)


def test_skew_kl_with_alpha_zero_is_plain_kl() -> None:
    s, t = _logits(7, (3, 6)), _logits(8, (3, 6))
    assert torch.allclose(token_divergence(s, t, "skl", alpha=0.0), token_divergence(s, t, "fkl"))
    assert torch.allclose(token_divergence(s, t, "srkl", alpha=0.0), token_divergence(s, t, "rkl"))


def test_bad_arguments_are_refused() -> None:
    s = _logits(9, (2, 3))
    with pytest.raises(ValueError, match="unknown divergence"):
        token_divergence(s, s, "kl2")
    with pytest.raises(ValueError, match="0 < beta < 1"):
        token_divergence(s, s, "jsd", beta=0.0)
    with pytest.raises(ValueError, match="temperature"):
        token_divergence(s, s, "fkl", temperature=0.0)


def test_distill_loss_masks_and_mixes_ce() -> None:
    s, t = _logits(10, (2, 5, 8)), _logits(11, (2, 5, 8))
    labels = torch.tensor([[-100, 1, 2, 3, -100], [-100, -100, 4, 5, 6]])
    valid = labels != -100
    kd = token_divergence(s, t, "fkl")[valid].mean()
    ce = torch.nn.functional.cross_entropy(s[valid], labels[valid])
    assert float(distill_loss(s, t, labels, "fkl", ce_weight=0.25)) == pytest.approx(float(kd + 0.25 * ce))
    assert float(distill_loss(s, None, labels)) == pytest.approx(float(ce))  # no teacher: plain SFT


@pytest.mark.parametrize("kind", DIVERGENCES)
@pytest.mark.parametrize("chunk", [1, 5, 64])
def test_chunked_equals_unchunked_in_value_and_gradients(kind: str, chunk: int) -> None:
    n, h, ht, v = 23, 6, 10, 17
    hid = _logits(12, (n, h)).requires_grad_()
    w = _logits(13, (v, h)).requires_grad_()
    t_hid, t_w = _logits(14, (n, ht)), _logits(15, (v, ht))
    labels = torch.randint(0, v, (n,), generator=torch.Generator().manual_seed(16))
    labels[[0, 7]] = -100
    ce_mask = torch.ones(n, dtype=torch.bool)
    ce_mask[[3, 4, 9]] = False  # KID skips CE where the input was corrupted
    opts = dict(ce_weight=0.4, temperature=1.7, beta=0.35, alpha=0.15, ce_mask=ce_mask)
    ref = distill_loss(hid @ w.T, t_hid @ t_w.T, labels, kind, **opts)  # type: ignore[arg-type]
    ref_grads = torch.autograd.grad(ref, (hid, w))
    parts = chunked_distill_loss(hid, w, labels, t_hid, t_w, kind, chunk_size=chunk, **opts)  # type: ignore[arg-type]
    grads = torch.autograd.grad(parts.loss, (hid, w))
    assert float(parts.loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
    assert float(parts.kd + 0.4 * parts.ce) == pytest.approx(float(ref.detach()), rel=1e-12)
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_chunked_without_teacher_is_cross_entropy_and_frozen_head_gets_no_grad() -> None:
    hid = _logits(17, (9, 4)).requires_grad_()
    w = _logits(18, (12, 4))  # frozen head, as with LoRA
    labels = torch.randint(0, 12, (9,), generator=torch.Generator().manual_seed(19))
    parts = chunked_distill_loss(hid, w, labels, chunk_size=4, ce_weight=0.1)
    ce = torch.nn.functional.cross_entropy(hid @ w.T, labels)
    assert float(parts.loss.detach()) == pytest.approx(float(ce.detach()), rel=1e-12)
    parts.loss.backward()
    assert hid.grad is not None and w.grad is None


@pytest.mark.parametrize("kind", ["fkl", "rkl", "jsd", "tvd"])
def test_chunked_gradcheck(kind: str) -> None:
    n, h, v = 6, 3, 5
    hid = _logits(20, (n, h)).requires_grad_()
    w = _logits(21, (v, h)).requires_grad_()
    t_hid, t_w = _logits(22, (n, h)), _logits(23, (v, h))
    labels = torch.tensor([0, 1, -100, 3, 4, 2])

    def f(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return chunked_distill_loss(a, b, labels, t_hid, t_w, kind, chunk_size=4, temperature=1.3).loss

    assert torch.autograd.gradcheck(f, (hid, w), eps=1e-6, atol=1e-5)


def test_chunked_keeps_no_full_vocabulary_tensor_for_backward() -> None:
    """No autograd save ever holds more than one chunk of logits, never [tokens x vocabulary]."""
    n, h, v = 64, 8, 1000
    hid = torch.randn(n, h, requires_grad=True)
    w = torch.randn(v, h, requires_grad=True)
    labels = torch.randint(0, v, (n,))
    saved: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        parts = chunked_distill_loss(hid, w, labels, torch.randn(n, h), torch.randn(v, h), "fkl", chunk_size=16)
    parts.loss.backward()
    assert saved and max(saved) <= 16 * v  # one chunk of logits at most, and only while that chunk is computed


def test_bf16_inputs_are_computed_in_fp32() -> None:
    hid, w = _logits(24, (10, 8), torch.float32), _logits(25, (20, 8), torch.float32)
    t_hid, t_w = _logits(26, (10, 8), torch.float32), _logits(27, (20, 8), torch.float32)
    labels = torch.arange(10)
    full = chunked_distill_loss(hid, w, labels, t_hid, t_w, "rkl").loss
    half = chunked_distill_loss(hid.bfloat16(), w.bfloat16(), labels, t_hid.bfloat16(), t_w.bfloat16(), "rkl").loss
    assert half.dtype == torch.float32
    assert float(half) == pytest.approx(float(full), rel=0.05)
