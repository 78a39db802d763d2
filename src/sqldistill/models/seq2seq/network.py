"""The pointer student's network: fusion of question, schema and values, then a decoder that points.

Inputs (``features.Example``): frozen encoder states of the question, pooled embeddings of the schema's
items, the question's value candidates. All three are projected to ``d_model`` with learned embeddings of
their link features, and a few transformer layers fuse them. The decoder (causal transformer layers over the
tokens so far, cross-attending to the fused memory) scores the next token among the keywords
(``language.KEYWORDS``) and, by dot product with the fused states, the pointers to items and values. A
pointer token's input embedding is the fused state of what it points at, so names are never spelled.

``decode`` scores every position of given prefixes (training); ``start_steps`` and ``step`` decode one
token at a time with the keys and values of earlier positions kept (inference), with the same logits.
``PointerConfig`` sizes it; ``save``/``load`` write and read ``pointer_config.json`` + ``model.safetensors``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sqldistill.models.seq2seq.features import ITEM_KINDS, VALUE_KINDS, Example
from sqldistill.models.seq2seq.language import NUM_KEYWORDS, PAD

CONFIG_FILE = "pointer_config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_TARGET = 160


@dataclass
class PointerConfig:
    encoder_dim: int = 384
    d_model: int = 128
    heads: int = 4
    fusion_layers: int = 2
    decoder_layers: int = 2
    ff: int = 256
    dropout: float = 0.1

    @classmethod
    def named(cls, size: str, encoder_dim: int = 384) -> PointerConfig:
        """``small`` (the student: 2 decoder layers) or ``large`` (the teacher: a decoder twice as deep, the rest
        the same shape, so it can start from the small base: ``grow_from``)."""
        if size == "large":
            return cls(encoder_dim, decoder_layers=4)
        return cls(encoder_dim)


class Batch:
    """Examples padded together; ``pointer_mask`` marks real items/values (items first, then values)."""

    def __init__(self, examples: list[Example], device: str | torch.device = "cpu") -> None:
        d = examples[0].question.shape[-1]
        b = len(examples)
        self.examples = examples
        q_len = max(1, max(e.question.shape[0] for e in examples))
        p_len = max(len(e.schema.kinds) + len(e.values) for e in examples)
        self.q = torch.zeros(b, q_len, d)
        self.q_links = torch.zeros(b, q_len, dtype=torch.long)
        self.q_mask = torch.zeros(b, q_len, dtype=torch.bool)
        self.item_emb = torch.zeros(b, p_len, d)
        self.item_kind = torch.zeros(b, p_len, dtype=torch.long)
        self.item_key = torch.zeros(b, p_len, dtype=torch.long)
        self.item_link = torch.zeros(b, p_len, dtype=torch.long)
        self.is_value = torch.zeros(b, p_len, dtype=torch.bool)
        self.value_kind = torch.zeros(b, p_len, dtype=torch.long)
        self.value_len = torch.zeros(b, p_len, dtype=torch.long)
        self.value_col = torch.zeros(b, p_len, dtype=torch.long)  # item index, 0 (the star) when none
        self.value_span = torch.zeros(b, p_len, q_len)
        self.pointer_mask = torch.zeros(b, p_len, dtype=torch.bool)
        for i, e in enumerate(examples):
            t = e.question.shape[0]
            self.q[i, :t] = e.question
            self.q_links[i, :t] = torch.tensor(e.question_links[:t], dtype=torch.long)
            self.q_mask[i, :max(t, 1)] = True
            n = len(e.schema.kinds)
            self.item_emb[i, :n] = e.schema.embeddings
            self.item_kind[i, :n] = torch.tensor(e.schema.kinds)
            self.item_key[i, :n] = torch.tensor(e.schema.keys)
            self.item_link[i, :n] = torch.tensor(e.item_links)
            for j in range(len(e.values)):
                self.is_value[i, n + j] = True
                self.value_kind[i, n + j] = e.value_kinds[j]
                self.value_len[i, n + j] = e.value_lengths[j]
                self.value_col[i, n + j] = max(0, e.value_columns[j])
                span = e.value_spans[j] or []
                for k in span:
                    self.value_span[i, n + j, k] = 1.0 / len(span)
            self.pointer_mask[i, :n + len(e.values)] = True
        targets = [e.target for e in examples if e.target is not None]
        self.target: torch.Tensor | None = None
        if len(targets) == len(examples):
            width = min(MAX_TARGET, max(len(t) for t in targets))
            self.target = torch.full((b, width), PAD, dtype=torch.long)
            for i, tgt in enumerate(targets):
                self.target[i, :len(tgt[:width])] = torch.tensor(tgt[:width])
        for name, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device))


@dataclass
class DecodeState:
    """What ``PointerSeq2Seq.step`` keeps between the steps of one example's decoding."""

    cross: list[tuple[torch.Tensor, torch.Tensor]]  # per decoder layer: memory keys, values [1, H, M, dh]
    attend: torch.Tensor  # [1, 1, 1, M], True where the memory is real
    pointers: torch.Tensor  # [1, P, d]
    pointer_keys: torch.Tensor  # [1, P, d]
    pointer_mask: torch.Tensor  # [1, P]
    self_kv: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # per layer [k, H, t, dh]
    length: int = 0  # positions decoded so far


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, L, d] -> [B, H, L, d / H]"""
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """[B, H, L, dh] -> [B, L, H * dh]"""
    b, h, n, dh = x.shape
    return x.transpose(1, 2).reshape(b, n, h * dh)


class PointerSeq2Seq(nn.Module):
    """See the module docstring."""

    def __init__(self, config: PointerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.q_proj = nn.Linear(config.encoder_dim, d)
        self.item_proj = nn.Linear(config.encoder_dim, d)
        self.q_link = nn.Embedding(3, d)
        self.item_kind = nn.Embedding(len(ITEM_KINDS), d)
        self.item_key = nn.Embedding(3, d)
        self.item_link = nn.Embedding(4, d)
        self.value_kind = nn.Embedding(len(VALUE_KINDS), d)
        self.value_len = nn.Embedding(4, d)
        self.segment = nn.Embedding(3, d)
        self.norm_in = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(d, config.heads, config.ff, config.dropout, batch_first=True,
                                           norm_first=True)
        self.fusion = nn.TransformerEncoder(layer, config.fusion_layers, enable_nested_tensor=False)
        self.keyword = nn.Embedding(NUM_KEYWORDS, d)
        self.position = nn.Embedding(MAX_TARGET + 1, d)
        dec = nn.TransformerDecoderLayer(d, config.heads, config.ff, config.dropout, batch_first=True,
                                         norm_first=True)
        self.decoder = nn.TransformerDecoder(dec, config.decoder_layers)
        self.norm_out = nn.LayerNorm(d)
        self.keyword_head = nn.Linear(d, NUM_KEYWORDS)
        self.pointer_query = nn.Linear(d, d)
        self.pointer_key = nn.Linear(d, d)

    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def encode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(fused memory, its padding mask (True = pad), the pointer states [B, P, d])."""
        q = self.q_proj(batch.q) + self.q_link(batch.q_links) + self.segment.weight[0]
        items = self.item_proj(batch.item_emb) + self.item_kind(batch.item_kind) + self.item_key(batch.item_key)
        items = items + self.item_link(batch.item_link)
        column = torch.gather(items, 1, batch.value_col.unsqueeze(-1).expand_as(items))
        values = torch.bmm(batch.value_span, q) + self.value_kind(batch.value_kind) + self.value_len(batch.value_len)
        values = values + column
        pointers = torch.where(batch.is_value.unsqueeze(-1), values + self.segment.weight[2],
                               items + self.segment.weight[1])
        memory = self.norm_in(torch.cat([q, pointers], dim=1))
        pad = ~torch.cat([batch.q_mask, batch.pointer_mask], dim=1)
        fused = self.fusion(memory, src_key_padding_mask=pad)
        return fused, pad, fused[:, batch.q.shape[1]:]

    def embed_tokens(self, tokens: torch.Tensor, pointers: torch.Tensor, start: int = 0) -> torch.Tensor:
        is_ptr = tokens >= NUM_KEYWORDS
        kw = self.keyword(torch.where(is_ptr, torch.zeros_like(tokens), tokens))
        idx = (tokens - NUM_KEYWORDS).clamp(min=0).clamp(max=pointers.shape[1] - 1)
        ptr = torch.gather(pointers, 1, idx.unsqueeze(-1).expand(-1, -1, pointers.shape[-1]))
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device).clamp(max=MAX_TARGET)
        return torch.where(is_ptr.unsqueeze(-1), ptr, kw) + self.position(positions)

    def decode(self, inputs: torch.Tensor, memory: torch.Tensor, pad: torch.Tensor, pointers: torch.Tensor,
               pointer_mask: torch.Tensor) -> torch.Tensor:
        """Logits over keywords then pointers for every position of ``inputs`` ([B, L] token ids)."""
        x = self.embed_tokens(inputs, pointers)
        length = inputs.shape[1]
        causal = torch.triu(torch.full((length, length), float("-inf"), device=inputs.device), diagonal=1)
        h = self.norm_out(self.decoder(x, memory, tgt_mask=causal, memory_key_padding_mask=pad))
        kw = self.keyword_head(h)
        ptr = torch.einsum("bld,bpd->blp", self.pointer_query(h), self.pointer_key(pointers))
        ptr = ptr / math.sqrt(h.shape[-1])
        ptr = ptr.masked_fill(~pointer_mask.unsqueeze(1), float("-inf"))
        return torch.cat([kw, ptr], dim=-1)

    def start_steps(self, memory: torch.Tensor, pad: torch.Tensor, pointers: torch.Tensor,
                    pointer_mask: torch.Tensor) -> DecodeState:
        """The state for decoding one example a token at a time (``step``): the cross-attention keys and
        values of its fused memory and its pointer keys, computed once instead of at every step."""
        heads = self.config.heads
        cross = []
        for layer in self.decoder.layers:
            attn = layer.multihead_attn
            d = attn.embed_dim
            w, b = attn.in_proj_weight, attn.in_proj_bias
            k = nn.functional.linear(memory, w[d:2 * d], None if b is None else b[d:2 * d])
            v = nn.functional.linear(memory, w[2 * d:], None if b is None else b[2 * d:])
            cross.append((_heads(k, heads), _heads(v, heads)))
        return DecodeState(cross=cross, attend=~pad[:, None, None, :], pointers=pointers,
                           pointer_keys=self.pointer_key(pointers), pointer_mask=pointer_mask)

    def step(self, tokens: list[int], state: DecodeState, parents: list[int]) -> torch.Tensor:
        """Logits [k, keywords + pointers] for the next token of ``k`` prefixes, given each one's last token
        (``tokens``) and which row of the previous step it continues (``parents``; ignored on the first step,
        which has no previous rows). Equal to ``decode``'s last position over the whole prefixes, at the cost
        of one position: every layer keeps its self-attention keys and values in ``state``."""
        heads = self.config.heads
        if state.self_kv:
            index = torch.tensor(parents, dtype=torch.long, device=state.pointers.device)
            state.self_kv = [(k.index_select(0, index), v.index_select(0, index)) for k, v in state.self_kv]
        ids = torch.tensor(tokens, dtype=torch.long, device=state.pointers.device)[:, None]
        x = self.embed_tokens(ids, state.pointers.expand(len(tokens), -1, -1), start=state.length)
        grown = []
        for i, layer in enumerate(self.decoder.layers):
            sa = layer.self_attn
            d = sa.embed_dim
            n = layer.norm1(x)
            q, k, v = nn.functional.linear(n, sa.in_proj_weight, sa.in_proj_bias).split(d, dim=-1)
            k, v = _heads(k, heads), _heads(v, heads)
            if state.self_kv:
                k = torch.cat([state.self_kv[i][0], k], dim=2)
                v = torch.cat([state.self_kv[i][1], v], dim=2)
            grown.append((k, v))
            out = nn.functional.scaled_dot_product_attention(_heads(q, heads), k, v)
            x = x + sa.out_proj(_merge(out))
            ca = layer.multihead_attn
            cq = nn.functional.linear(layer.norm2(x), ca.in_proj_weight[:d],
                                      None if ca.in_proj_bias is None else ca.in_proj_bias[:d])
            ck, cv = state.cross[i]
            out = nn.functional.scaled_dot_product_attention(_heads(cq, heads), ck, cv, attn_mask=state.attend)
            x = x + ca.out_proj(_merge(out))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm3(x))))
        state.self_kv = grown
        state.length += 1
        h = self.norm_out(x)[:, 0]
        kw = self.keyword_head(h)
        ptr = (self.pointer_query(h) @ state.pointer_keys[0].T) / math.sqrt(h.shape[-1])
        ptr = ptr.masked_fill(~state.pointer_mask, float("-inf"))
        return torch.cat([kw, ptr], dim=-1)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced logits [B, L, K + P] predicting ``batch.target`` (input: BOS + target[:-1])."""
        assert batch.target is not None
        memory, pad, pointers = self.encode(batch)
        bos = torch.full_like(batch.target[:, :1], 1)
        inputs = torch.cat([bos, batch.target[:, :-1]], dim=1)
        return self.decode(inputs, memory, pad, pointers, batch.pointer_mask)

    def loss(self, batch: Batch) -> torch.Tensor:
        assert batch.target is not None
        logits = self(batch)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.target.reshape(-1),
                                           ignore_index=PAD)

    def grow_from(self, smaller: PointerSeq2Seq) -> list[str]:
        """Copy every weight of ``smaller`` whose name and shape match (its decoder layers become the first
        ones of this deeper decoder); returns the names left as initialised."""
        own = self.state_dict()
        theirs = {k: v for k, v in smaller.state_dict().items() if k in own and own[k].shape == v.shape}
        own.update(theirs)
        self.load_state_dict(own)
        return sorted(set(own) - set(theirs))

    # -- files -----------------------------------------------------------------------------------------------
    def save(self, out_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(out / WEIGHTS_FILE))
        (out / CONFIG_FILE).write_text(json.dumps({**asdict(self.config), **(extra or {})}, indent=2) + "\n")
        return out

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "cpu") -> PointerSeq2Seq:
        from safetensors.torch import load_file

        from sqldistill.errors import ModelError

        folder = Path(model_dir)
        try:
            raw = json.loads((folder / CONFIG_FILE).read_text())
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot read {folder / CONFIG_FILE}: {err}") from None
        fields = PointerConfig.__dataclass_fields__
        model = cls(PointerConfig(**{k: v for k, v in raw.items() if k in fields}))
        model.load_state_dict(load_file(str(folder / WEIGHTS_FILE), device="cpu"))
        return model.to(device).eval()


def read_pointer_config(model_dir: str | Path) -> dict[str, Any]:
    return dict(json.loads((Path(model_dir) / CONFIG_FILE).read_text()))
