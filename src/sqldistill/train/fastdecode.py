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
- ``SlotDecoder(decoder, slots, eos_id, drafter=None, max_draft=4)``: continuous batching (``add``/``step``/
  ``clear``); with an ``NgramDrafter`` its steps are speculative (guessed tokens checked in one pass).

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


class NgramDrafter:
    """Guesses how an answer goes on from answers seen before: a table from the last ``order`` tokens (fewer
    when those were never seen, but at least two, the first of which may be the start of the answer) to the
    token that most often came next. A model specialised to one schema writes a few query shapes over and over,
    so the next tokens of an answer are often those of an earlier one; ``SlotDecoder`` checks every guess with
    the model (the output is the model's own greedy answer either way) and keeps the guessed tokens it agrees
    with, several per forward step.

    ``add(tokens)`` learns a token sequence (an answer, ending with EOS when it ended there); ``draft(tokens,
    k)`` returns up to ``k`` guessed next tokens after ``tokens`` (the answer so far). The table stops taking new
    contexts at ``max_contexts`` (counts of known ones still change)."""

    START = -1  # stands before the first token of every answer

    def __init__(self, order: int = 4, max_contexts: int = 200_000) -> None:
        self.order = max(2, order)
        self.max_contexts = max_contexts
        self.counts: dict[tuple[int, ...], dict[int, int]] = {}
        self.best: dict[tuple[int, ...], int] = {}

    def __len__(self) -> int:
        return len(self.best)

    def add(self, tokens: list[int]) -> None:
        seq = [self.START, *tokens]
        for i in range(1, len(seq)):
            nxt = seq[i]
            # contexts of 2..order tokens; the first token also after START alone
            for n in range(1 if i == 1 else 2, min(self.order, i) + 1):
                key = tuple(seq[i - n:i])
                counts = self.counts.get(key)
                if counts is None:
                    if len(self.best) >= self.max_contexts:
                        continue
                    counts = self.counts[key] = {}
                counts[nxt] = counts.get(nxt, 0) + 1
                best = self.best.get(key)
                if best is None or (best != nxt and counts[nxt] > counts[best]):
                    self.best[key] = nxt

    def draft(self, tokens: list[int], k: int, stop: int | None = None) -> list[int]:
        """Up to ``k`` guessed tokens after ``tokens``; ends early at ``stop`` (EOS) or an unknown context."""
        ctx = [self.START, *tokens][-self.order:]
        out: list[int] = []
        while len(out) < k:
            nxt = None
            for n in range(min(self.order, len(ctx)), 0, -1):
                if n == 1 and ctx[-1] != self.START:
                    break
                nxt = self.best.get(tuple(ctx[-n:]))
                if nxt is not None:
                    break
            if nxt is None:
                break
            out.append(nxt)
            if nxt == stop:
                break
            ctx.append(nxt)
        return out


class SlotDecoder:
    """Continuous greedy decoding: prompts join and leave a running batch between steps.

    Each prompt takes a free slot of a shared KV cache; ``step()`` first prefills what was added since the last
    step, then advances every running prompt by one token and returns those that finished (EOS or their token
    limit). A short answer therefore leaves as soon as it is done instead of waiting for the longest one in its
    batch, and a question that arrives mid-way starts at the next step. The batch covers slots up to the highest
    one in use, so one question alone costs what it costs alone. Not thread-safe: one thread drives it.

    With a ``drafter`` (``NgramDrafter``; every finished answer teaches it) a step is speculative: each running
    prompt appends up to ``max_draft`` guessed tokens to its last one, one forward pass scores them all, and
    the prompt keeps the guesses the model's own greedy choice agrees with plus the model's next token, so a
    step can advance a prompt by several tokens. The tokens are the same as without a drafter (up to float
    rounding between batch shapes); ``drafted``/``accepted`` count guesses made and kept."""

    def __init__(self, decoder: FastDecoder, slots: int = 16, eos_id: int = 0,
                 drafter: NgramDrafter | None = None, max_draft: int = 4) -> None:
        self.d = decoder
        self.slots = max(1, slots)
        self.eos_id = eos_id
        self.drafter = drafter
        self.max_draft = max(0, max_draft)
        self.drafted = 0
        self.accepted = 0
        self.capacity = 0
        self.caches: list[tuple[Any, Any]] = []
        self.valid: Any = None  # [slots, capacity] bool: which cache positions hold a real token
        self.length = [0] * self.slots  # next cache index per slot
        self.position = [0] * self.slots  # next position id per slot
        self.limit = [0] * self.slots
        self.tokens: list[list[int]] = [[] for _ in range(self.slots)]
        self.last = [0] * self.slots
        self.tag: list[Any] = [None] * self.slots
        self.waiting: list[tuple[list[int], int, Any]] = []

    @property
    def running(self) -> int:
        return sum(t is not None for t in self.tag)

    @property
    def free(self) -> int:
        return self.slots - self.running - len(self.waiting)

    def busy(self) -> bool:
        return bool(self.waiting) or self.running > 0

    def clear(self) -> list[Any]:
        """Drop every prompt, running or waiting (after a failed step); returns their tags."""
        tags = [t for t in self.tag if t is not None] + [t for _, _, t in self.waiting]
        self.tag = [None] * self.slots
        self.tokens = [[] for _ in range(self.slots)]
        self.length = [0] * self.slots
        self.position = [0] * self.slots
        self.waiting = []
        self.caches, self.valid, self.capacity = [], None, 0  # allocated afresh by the next admission
        return tags

    def add(self, prompt: list[int], max_new_tokens: int, tag: Any) -> None:
        """Queue a prompt (its token ids); it starts at the next ``step``. ``tag`` comes back with its answer."""
        if not prompt:
            raise ValueError("empty prompt")
        self.waiting.append((list(prompt), max(1, max_new_tokens), tag))

    def _ensure(self, needed: int) -> None:
        import torch

        if needed <= self.capacity:
            return
        cap = max(needed, 2 * self.capacity, 256)
        d = self.d
        caches = [(torch.zeros((self.slots, cap, d.n_kv, d.head_dim), dtype=d.dtype, device=d.device),
                   torch.zeros((self.slots, cap, d.n_kv, d.head_dim), dtype=d.dtype, device=d.device))
                  for _ in d.layers]
        valid = torch.zeros((self.slots, cap), dtype=torch.bool, device=d.device)
        if self.capacity:
            for (k_old, v_old), (k_new, v_new) in zip(self.caches, caches):
                k_new[:, : self.capacity] = k_old
                v_new[:, : self.capacity] = v_old
            valid[:, : self.capacity] = self.valid
        self.caches, self.valid, self.capacity = caches, valid, cap

    def _admit(self) -> list[tuple[Any, list[int]]]:
        import torch

        free = [i for i in range(self.slots) if self.tag[i] is None]
        batch, self.waiting = self.waiting[: len(free)], self.waiting[len(free):]
        if not batch:
            return []
        slots = free[: len(batch)]
        prompts = [p for p, _, _ in batch]
        width = max(len(p) for p in prompts)
        self._ensure(width + max(limit for _, limit, _ in batch) + 1)
        index = torch.tensor(slots, device=self.d.device)
        if slots == list(range(slots[0], slots[0] + len(slots))):  # neighbouring slots: prefill in place
            lo, hi = slots[0], slots[0] + len(slots)
            h, *_ = self.d._start(prompts, 0, [(k[lo:hi], v[lo:hi]) for k, v in self.caches])
        else:
            h, _, _, _, caches = self.d._start(prompts, 0)
            for (k_slot, v_slot), (k_new, v_new) in zip(self.caches, caches):
                k_slot[index, :width] = k_new
                v_slot[index, :width] = v_new
        self.valid[index] = False
        finished = []
        first = self.d._head(h).argmax(-1).tolist()
        for row, (slot, (prompt, limit, tag)) in enumerate(zip(slots, batch)):
            self.valid[slot, width - len(prompt): width] = True
            self.length[slot], self.position[slot], self.limit[slot] = width, len(prompt), limit
            self.tokens[slot], self.tag[slot] = [], tag
            done = self._take(slot, first[row])
            if done is not None:
                finished.append(done)
        return finished

    def _take(self, slot: int, token: int) -> tuple[Any, list[int]] | None:
        """Record a slot's next token; (tag, tokens) and the slot freed when its answer is complete."""
        if token != self.eos_id:
            self.tokens[slot].append(token)
            self.last[slot] = token
        if token == self.eos_id or len(self.tokens[slot]) >= self.limit[slot]:
            done = (self.tag[slot], self.tokens[slot])
            if self.drafter is not None:
                self.drafter.add(self.tokens[slot] + ([token] if token == self.eos_id else []))
            self.tag[slot], self.tokens[slot] = None, []
            return done
        return None

    def step(self) -> list[tuple[Any, list[int]]]:
        """Admit waiting prompts, advance every running one by a token (or several, when a drafter's guesses
        hold); returns the (tag, tokens) that finished."""
        import torch

        with torch.inference_mode():
            finished = self._admit()
            live = [i for i in range(self.slots) if self.tag[i] is not None]
            if not live:
                return finished
            top = live[-1] + 1  # rows 0..top-1; free rows in between compute a throwaway token
            drafts: dict[int, list[int]] = {}
            if self.drafter is not None and self.max_draft:
                for slot in live:
                    room = self.limit[slot] - len(self.tokens[slot]) - 1  # the model's own token comes on top
                    if room > 0:
                        guess = self.drafter.draft(self.tokens[slot], min(self.max_draft, room), self.eos_id)
                        if guess:
                            drafts[slot] = guess
            q_len = 1 + max((len(g) for g in drafts.values()), default=0)
            dev = self.d.device
            self._ensure(max(self.length[:top]) + q_len)
            lengths = torch.tensor(self.length[:top], device=dev)
            index = lengths[:, None] + torch.arange(q_len, device=dev)  # [top, Q]: each new token's cache index
            rows = torch.arange(top, device=dev)[:, None].expand(top, q_len)
            self.valid[rows, index] = True
            end = max(self.length[:top]) + q_len
            rows_in: list[list[int]] = []
            for slot in range(top):  # the last token, its guesses, then filler whose results are dropped
                inputs = [self.last[slot], *drafts.get(slot, [])]
                rows_in.append(inputs + [self.last[slot]] * (q_len - len(inputs)))
            ids = torch.tensor(rows_in, device=dev)
            positions = torch.tensor(self.position[:top], device=dev)[:, None] + torch.arange(q_len, device=dev)
            if q_len == 1:
                mask = self.valid[:top, None, None, :end]
            else:  # a new token sees the row's earlier tokens and the new ones up to itself
                upto = torch.arange(end, device=dev)[None, None, :] <= index[:, :, None]
                mask = (self.valid[:top, None, :end] & upto).unsqueeze(1)
            caches = [(k[:top], v[:top]) for k, v in self.caches]
            h = self.d._forward(ids, positions, caches, 0, mask, rows=(rows.reshape(-1), index.reshape(-1)),
                                end=end, every=True)
            choice = self.d._head(h).argmax(-1).tolist()  # [top][Q]: the model's token after each input
            for slot in live:
                guess = drafts.get(slot, [])
                self.drafted += len(guess)
                j = 0
                while True:
                    done = self._take(slot, choice[slot][j])
                    if done is not None:
                        finished.append(done)
                        break
                    if j < len(guess) and guess[j] == choice[slot][j]:
                        j += 1  # the guess was the model's choice: its K/V are right, read on
                        continue
                    break
                self.accepted += j
                # inputs 0..j (the last token and j kept guesses) stay; the rest of this row's new cache goes
                self.valid[slot, self.length[slot] + j + 1: self.length[slot] + q_len] = False
                self.length[slot] += j + 1
                self.position[slot] += j + 1
            for slot in range(top):
                if self.tag[slot] is None:  # a free row's throwaway tokens must not stay visible
                    self.valid[slot] = False
                    self.length[slot] = self.position[slot] = 0
            return finished


__all__ = ["FastDecoder", "NgramDrafter", "SlotDecoder", "unsupported_reason"]
