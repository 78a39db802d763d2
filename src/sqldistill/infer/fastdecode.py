"""Greedy decoding of Llama- and Qwen2-shaped models with plain tensor operations and a preallocated KV cache.

A tiny student's forward step costs a few microseconds of arithmetic but milliseconds of framework overhead
(cache objects, mask builders, output classes, hooks) when it goes through ``model(...)``. This module reads the
model's own weights once and runs the same computation (RMSNorm, rotary attention with grouped key/value heads,
SwiGLU MLP, tied or untied head) as a handful of fused tensor calls per layer, so a decoding step of a 1M student
takes a fraction of a millisecond and a batch of questions costs little more than one.

Contract (stable):

- ``FastDecoder.for_model(model) -> FastDecoder | None``: a decoder for a supported model (Llama or Qwen2
  architecture, SiLU MLP, full attention in every layer, a rotary type whose angles depend on the position only,
  CPU or CUDA), else ``None`` (callers keep the transformers path).
- ``decoder.greedy(prompts, max_new_tokens, eos_id) -> list[list[int]]``: the greedy continuation of each prompt
  (token ids), stopping at ``eos_id`` (not included). Same tokens as the transformers forward up to float
  rounding (tests compare both on tiny models of both shapes).
- ``decoder.logits(prompts) -> Tensor``: next-token logits after each (left-padded) prompt, for checks.
- ``continuous.SlotDecoder`` runs it with continuous batching and speculative steps.

The decoder shares the model's parameter tensors (it copies only the fused projection weights), so it must be
rebuilt after the model is trained further.
"""

from __future__ import annotations

from typing import Any

SUPPORTED_TYPES = ("llama", "qwen2")
# rotary types whose angle for a position does not depend on the sequence length (a table can be cached)
STATIC_ROPE = ("default", "linear", "llama3", "yarn")


def _rope_type(config: Any) -> str | None:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if not isinstance(params, dict):
        return None
    return str(params.get("rope_type") or params.get("type") or "default")


def unsupported_reason(model: Any) -> str | None:
    """Why ``model`` cannot take the fast path (None when it can)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_TYPES:
        return f"architecture {getattr(config, 'model_type', None)!r} (supported: {', '.join(SUPPORTED_TYPES)})"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act!r}"
    if getattr(config, "pretraining_tp", 1) not in (None, 1):
        return "pretraining_tp > 1"
    if any(t != "full_attention" for t in (getattr(config, "layer_types", None) or [])):
        return "sliding-window layers"
    if getattr(config, "use_sliding_window", False):
        return "sliding-window attention"
    if _rope_type(config) not in STATIC_ROPE:
        return f"rotary type {_rope_type(config)!r}"
    base = getattr(model, "model", None)
    if base is None or not hasattr(base, "layers") or not hasattr(base, "rotary_emb"):
        return "unexpected module layout"
    if getattr(model, "training", False):
        return "model in training mode"
    first = next(model.parameters())
    if first.device.type not in ("cpu", "cuda"):
        return f"device {first.device.type}"
    if str(first.dtype) != "torch.float32":
        return f"dtype {first.dtype} (the fast path computes in float32)"
    return None


def _cat_bias(*mods: Any) -> Any:
    import torch

    if all(getattr(m, "bias", None) is None for m in mods):
        return None
    return torch.cat([m.bias if m.bias is not None else m.weight.new_zeros(m.weight.shape[0]) for m in mods]).detach()


class FastDecoder:
    """See the module docstring."""

    def __init__(self, model: Any) -> None:
        import torch

        config = model.config
        base = model.model
        self.n_heads = int(config.num_attention_heads)
        self.n_kv = int(getattr(config, "num_key_value_heads", None) or self.n_heads)
        self.head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // self.n_heads)
        self.hidden = int(config.hidden_size)
        self.embed = base.embed_tokens.weight
        self.norm_eps = float(base.norm.variance_epsilon)
        # RMSNorm weights multiply the input of the product that follows, so they are folded into its columns
        self.head_w = (model.lm_head.weight * base.norm.weight).detach()
        self.head_b = getattr(model.lm_head, "bias", None)
        self.rotary = base.rotary_emb
        self.device = self.embed.device
        self.dtype = self.embed.dtype
        self._eps: dict[float, Any] = {}
        self.layers: list[dict[str, Any]] = []
        for layer in base.layers:
            att, mlp = layer.self_attn, layer.mlp
            ln1, ln2 = layer.input_layernorm, layer.post_attention_layernorm
            qkv = torch.cat([att.q_proj.weight, att.k_proj.weight, self._rotated(att.q_proj.weight),
                             self._rotated(att.k_proj.weight), att.v_proj.weight])
            self.layers.append({
                "eps1": float(ln1.variance_epsilon), "eps2": float(ln2.variance_epsilon),
                "qkv_w": (qkv * ln1.weight).detach(), "qkv_b": self._qkv_bias(att),
                "o_w": att.o_proj.weight, "o_b": att.o_proj.bias,
                "gu_w": (torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]) * ln2.weight).detach(),
                "gu_b": _cat_bias(mlp.gate_proj, mlp.up_proj),
                "down_w": mlp.down_proj.weight, "down_b": mlp.down_proj.bias,
            })
        self.q_size = self.n_heads * self.head_dim
        self.kv_size = self.n_kv * self.head_dim
        self.scale = float(getattr(model.model.layers[0].self_attn, "scaling", self.head_dim ** -0.5))
        self._cos: Any = None
        self._sin: Any = None

    def _rotated(self, rows: Any) -> Any:
        """Rows W' with W'x = rotate_half(Wx) per head (rotate_half(y) = [-y2, y1] for the halves y1, y2)."""
        import torch

        per_head = rows.view(-1, self.head_dim, *rows.shape[1:])
        half = self.head_dim // 2
        return torch.cat((-per_head[:, half:], per_head[:, :half]), dim=1).reshape(rows.shape)

    def _qkv_bias(self, att: Any) -> Any:
        import torch

        q, k, v = att.q_proj, att.k_proj, att.v_proj
        if all(m.bias is None for m in (q, k, v)):
            return None
        qb, kb, vb = (m.bias if m.bias is not None else m.weight.new_zeros(m.weight.shape[0]) for m in (q, k, v))
        return torch.cat([qb, kb, self._rotated(qb), self._rotated(kb), vb]).detach()

    @classmethod
    def for_model(cls, model: Any) -> FastDecoder | None:
        return None if unsupported_reason(model) is not None else cls(model)

    # -- pieces -------------------------------------------------------------------------------------------------
    def _rope_table(self, length: int) -> tuple[Any, Any]:
        import torch

        if self._cos is None or self._cos.shape[0] < length:
            size = max(length, 256, 2 * (0 if self._cos is None else self._cos.shape[0]))
            positions = torch.arange(size, device=self.device).unsqueeze(0)
            probe = torch.empty(1, dtype=self.dtype, device=self.device)
            cos, sin = self.rotary(probe, positions)
            self._cos, self._sin = cos[0], sin[0]
        return self._cos, self._sin

    def _unit_rms(self, x: Any, eps: float) -> Any:
        """x / sqrt(mean(x^2) + eps) (RMSNorm without its weight), in fewer tensor calls than F.rms_norm."""
        import torch

        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        return x * torch.rsqrt(torch.addcmul(self._eps_t(eps), norm, norm, value=1.0 / self.hidden))

    def _eps_t(self, eps: float) -> Any:
        import torch

        if eps not in self._eps:
            self._eps[eps] = torch.tensor(eps, dtype=torch.float32, device=self.device)
        return self._eps[eps]

    def _attend_one(self, q: Any, keys: Any, values: Any, mask: Any) -> Any:
        """Attention of one new query per row, as two batched products (a group of query heads shares its key
        head, so no key is repeated); q [B, H, 1, D], keys/values [B, L, KV, D], mask [B, 1, 1, L] or None.
        Returns [B, 1, H, D]."""
        import torch

        bsz = q.shape[0]
        group = self.n_heads // self.n_kv
        qg = q.reshape(bsz, self.n_kv, group, self.head_dim)
        # a broadcast product then a sum: on small CPU shapes cheaper than a batched matmul over permuted keys
        scores = (qg.unsqueeze(-2) * keys.permute(0, 2, 1, 3).unsqueeze(2)).sum(-1) * self.scale  # [B, KV, G, L]
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        return torch.matmul(probs, values.transpose(1, 2)).reshape(bsz, 1, self.n_heads, self.head_dim)

    def _forward(self, ids: Any, positions: Any, caches: list[tuple[Any, Any]], start: int,
                 mask: Any, rows: tuple[Any, Any] | None = None, end: int | None = None,
                 every: bool = False) -> Any:
        """Hidden state after the final norm for the last position of ``ids`` [B, Q] (``every``: for all Q
        positions, [B, Q, hidden]).

        K/V of the new tokens go to cache positions ``start:start+Q``, or with ``rows`` = (row indices, cache
        indices), both flat [B*Q] in row-major order, each token to its own row and index; attention then reads
        positions ``:end``."""
        import torch
        import torch.nn.functional as F

        bsz, q_len = ids.shape
        end = start + q_len if end is None else end
        cos_t, sin_t = self._rope_table(int(positions.max()) + 1)
        heads = self.n_heads + self.n_kv
        cos = cos_t[positions].unsqueeze(2)  # [B, Q, 1, D]: one rotation for every q and k head together
        sin = sin_t[positions].unsqueeze(2)
        qk_size = heads * self.head_dim
        h = F.embedding(ids, self.embed)
        for layer, (k_cache, v_cache) in zip(self.layers, caches):
            x = self._unit_rms(h, layer["eps1"])  # the norm's weight is folded into the next product
            # [q, k, rotate_half(q), rotate_half(k), v] from one product: the rotation is folded into the weights
            qkv = F.linear(x, layer["qkv_w"], layer["qkv_b"])
            qk, qk_rot, v = qkv.split((qk_size, qk_size, self.kv_size), dim=-1)
            shape = (bsz, q_len, heads, self.head_dim)
            qk = torch.addcmul(qk.view(shape) * cos, qk_rot.reshape(shape), sin).view(bsz, q_len, qk_size)
            q = qk[..., : self.q_size].view(bsz, q_len, self.n_heads, self.head_dim).transpose(1, 2)
            k_new = qk[..., self.q_size:].view(bsz, q_len, self.n_kv, self.head_dim)
            v_new = v.view(bsz, q_len, self.n_kv, self.head_dim)
            if rows is None:
                k_cache[:, start:end] = k_new
                v_cache[:, start:end] = v_new
            else:  # each row's new tokens at that row's own cache indices
                k_cache.index_put_(rows, k_new.reshape(-1, self.n_kv, self.head_dim))
                v_cache.index_put_(rows, v_new.reshape(-1, self.n_kv, self.head_dim))
            if q_len == 1:
                att = self._attend_one(q, k_cache[:, :end], v_cache[:, :end], mask)
            else:
                att = F.scaled_dot_product_attention(
                    q, k_cache[:, :end].transpose(1, 2), v_cache[:, :end].transpose(1, 2), attn_mask=mask,
                    is_causal=mask is None, enable_gqa=self.n_kv != self.n_heads).transpose(1, 2)
            h = h + F.linear(att.reshape(bsz, q_len, self.q_size), layer["o_w"], layer["o_b"])
            x = self._unit_rms(h, layer["eps2"])
            gate, up = F.linear(x, layer["gu_w"], layer["gu_b"]).chunk(2, dim=-1)
            h = h + F.linear(F.silu(gate) * up, layer["down_w"], layer["down_b"])
        return self._unit_rms(h if every else h[:, -1], self.norm_eps)

    def _head(self, h: Any) -> Any:
        import torch.nn.functional as F

        return F.linear(h, self.head_w, self.head_b)

    def _start(self, prompts: list[list[int]], room: int,
               caches: list[tuple[Any, Any]] | None = None) -> tuple[Any, Any, Any, Any, list[tuple[Any, Any]]]:
        """(hidden after prefill, next positions, key-valid mask or None, width, caches); the prompts' keys and
        values go to ``caches`` when given (views with room for them), else to new ones."""
        import torch

        bsz = len(prompts)
        width = max(len(p) for p in prompts)
        ids = torch.zeros((bsz, width), dtype=torch.long)
        valid = torch.zeros((bsz, width + room), dtype=torch.bool)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            valid[i, width - len(p):] = True
        valid[:, width:] = True
        ids, valid = ids.to(self.device), valid.to(self.device)
        positions = (valid[:, :width].long().cumsum(-1) - 1).clamp(min=0)
        padded = any(len(p) != width for p in prompts)
        mask = None
        if padded:
            causal = torch.ones((width, width), dtype=torch.bool, device=self.device).tril()
            mask = (causal.unsqueeze(0) & valid[:, None, :width]) | torch.eye(width, dtype=torch.bool,
                                                                             device=self.device)
            mask = mask.unsqueeze(1)  # [B, 1, Q, K]; a padding query sees itself so no row is empty
        if caches is None:
            shape = (bsz, width + room, self.n_kv, self.head_dim)
            caches = [(torch.empty(shape, dtype=self.dtype, device=self.device),
                       torch.empty(shape, dtype=self.dtype, device=self.device)) for _ in self.layers]
        h = self._forward(ids, positions, caches, 0, mask)
        return h, positions[:, -1:] + 1, (valid if padded else None), width, caches

    # -- public -------------------------------------------------------------------------------------------------
    def logits(self, prompts: list[list[int]]) -> Any:
        import torch

        with torch.inference_mode():
            h, *_ = self._start(prompts, 0)
            return self._head(h).float()

    def greedy(self, prompts: list[list[int]], max_new_tokens: int, eos_id: int) -> list[list[int]]:
        import torch

        if not prompts:
            return []
        with torch.inference_mode():
            h, pos, valid, width, caches = self._start(prompts, max_new_tokens)
            out: list[list[int]] = [[] for _ in prompts]
            done = [False] * len(prompts)
            live = len(prompts)
            for step in range(max_new_tokens):
                nxt = self._head(h).argmax(-1)
                for i, t in enumerate(nxt.tolist()):
                    if not done[i]:
                        if t == eos_id:
                            done[i] = True
                            live -= 1
                        else:
                            out[i].append(t)
                if live == 0 or step == max_new_tokens - 1:
                    break
                end = width + step + 1
                mask = None if valid is None else valid[:, None, None, :end]
                h = self._forward(nxt.unsqueeze(1), pos, caches, width + step, mask)
                pos = pos + 1
        return out


__all__ = ["FastDecoder", "unsupported_reason"]
