"""Training inputs: JSONL pairs, how they become token ids, and the order they are seen in.

Input lines carry at least ``prompt`` and ``completion`` (TRL's prompt/completion format, rendered by
``sqldistill.data.prompt``); ``question``, ``sql`` and ``hardness`` are used when present. Preference files carry
``prompt``/``chosen``/``rejected``.

The prompt is tokenised on its own (with the tokenizer's special tokens, as at inference) and the completion
separately, followed by EOS; the loss covers the completion and EOS only. Tokenising the two halves apart keeps
the token boundary exactly where generation starts at serving time.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import PromptFormat, render_prompt
from sqldistill.errors import DataError
from sqldistill.records import Schema

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

HARDNESS_ORDER = {"easy": 0, "medium": 1, "hard": 2, "extra": 3}
IGNORE = -100


def read_jsonl(path: str | Path, required: Sequence[str] = ("prompt", "completion")) -> list[dict[str, Any]]:
    """Records of a JSONL file; a malformed line is reported with its number."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"training file {p} does not exist", hint="Run `sqldistill synth` first or check the path")
    records = []
    with p.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as err:
                raise DataError(f"{p}:{number} is not valid JSON ({err})") from None
            missing = [k for k in required if not isinstance(rec, dict) or not isinstance(rec.get(k), str)]
            if missing:
                raise DataError(f"{p}:{number} lacks the text field(s) {', '.join(missing)}",
                                hint=f"Each line needs {', '.join(required)}")
            records.append(rec)
    if not records:
        raise DataError(f"{p} holds no records", hint="Check that synthesis kept some pairs")
    return records


def find_schema(train_file: str | Path, schema: Schema | dict[str, Any] | str | Path | None, db: str | None) -> Schema:
    """The schema a model is trained for: given, read from a file, reflected from ``db``, or found beside the data.

    The model directory must record it (serving checks drift against it), so training without one is an error.
    """
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return Schema.from_dict(schema)
    if schema is not None:
        return _read_schema(Path(schema))
    if db is not None:
        from sqldistill.db import reflect

        return reflect(db, samples=5)
    here = Path(train_file).resolve().parent
    for folder in (here, here.parent, here.parent.parent):
        candidate = folder / "schema.json"
        if candidate.is_file():
            return _read_schema(candidate)
    raise DataError(
        f"no schema found for {train_file}",
        hint="Pass --schema SCHEMA.json or --db TARGET (or keep schema.json beside the data)",
    )


def _read_schema(path: Path) -> Schema:
    try:
        return Schema.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"cannot read a schema from {path}: {err}") from None


def infer_prompt_format(records: Sequence[dict[str, Any]], schema: Schema, given: PromptFormat | None) -> PromptFormat:
    """The prompt format the data was rendered with, so serving renders questions the same way.

    With ``question`` fields, the first records are re-rendered; a mismatch with ``given`` (or with every known
    format when none is given) is an error, because a model served with another prompt than it learnt is broken
    silently.
    """
    sample = [r for r in records[:20] if isinstance(r.get("question"), str)]
    if not sample:
        return given or PromptFormat()

    def fits(fmt: PromptFormat) -> bool:
        return all(render_prompt(r["question"], schema, fmt) == r["prompt"] for r in sample)

    if given is not None:
        if not fits(given):
            raise DataError(
                f"the prompts in the data were not rendered with {given}",
                hint="Pass the prompt format the dataset was made with",
            )
        return given
    candidates = [PromptFormat("none", 0)] + [
        PromptFormat(style, n) for style in ("compact", "create") for n in range(0, 6)
    ]
    for fmt in candidates:
        if fits(fmt):
            return fmt
    raise DataError(
        "the prompts in the data do not match sqldistill's prompt renderer for this schema",
        hint="Make the data with sqldistill.data.prompt, or pass prompt_format explicitly",
    )


def curriculum_order(records: Sequence[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """Easy to hard: by Spider hardness when present, then by SQL length; shuffled within ties."""
    rng = random.Random(seed)
    keyed = [(HARDNESS_ORDER.get(str(r.get("hardness", "")).lower(), 1), len(r["completion"]), rng.random(), i)
             for i, r in enumerate(records)]
    return [records[k[-1]] for k in sorted(keyed)]


@dataclass
class Tokenized:
    input_ids: list[int]
    labels: list[int]
    prompt_len: int


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])


def tokenize_pair(tokenizer: PreTrainedTokenizerBase, prompt: str, completion: str, max_length: int) -> Tokenized:
    """Prompt ids + completion ids + EOS; labels only on the completion. Long prompts lose their start."""
    p_ids = encode_prompt(tokenizer, prompt)
    c_ids = [*tokenizer(completion, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    c_ids = c_ids[: max(max_length - 1, 1)]
    room = max_length - len(c_ids)
    if len(p_ids) > room:
        p_ids = p_ids[len(p_ids) - room:] if room > 0 else []
    return Tokenized(p_ids + c_ids, [IGNORE] * len(p_ids) + c_ids, len(p_ids))


def tokenize_records(
    tokenizer: PreTrainedTokenizerBase, records: Sequence[dict[str, Any]], max_length: int
) -> list[dict[str, list[int]]]:
    out = []
    for rec in records:
        t = tokenize_pair(tokenizer, rec["prompt"], rec["completion"], max_length)
        if t.prompt_len == 0:
            continue  # nothing to condition on: the example cannot teach the task
        out.append({"input_ids": t.input_ids, "labels": t.labels, "prompt_len": [t.prompt_len]})
    if not out:
        raise DataError("every example is longer than max_length", hint="Raise max_length")
    return out


class PadCollator:
    """Right-pads ``input_ids``/``labels`` into a batch (left-pads the prompt copy used for generation)."""

    def __init__(self, pad_id: int, with_prompts: bool = False) -> None:
        self.pad_id = pad_id
        self.with_prompts = with_prompts

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        if self.with_prompts:
            plen = [int(f["prompt_len"][0]) for f in features]
            pw = max(plen)
            prompts = torch.full((len(features), pw), self.pad_id, dtype=torch.long)
            pmask = torch.zeros((len(features), pw), dtype=torch.long)
            for i, (f, n) in enumerate(zip(features, plen)):
                prompts[i, pw - n:] = torch.tensor(f["input_ids"][:n])
                pmask[i, pw - n:] = 1
            batch["prompts"] = prompts
            batch["prompt_attention_mask"] = pmask
        return batch


def corpus_texts(records: Sequence[dict[str, Any]], schema: Schema | None) -> list[str]:
    """What a from-scratch tokenizer learns from: prompts, completions, and the schema's names and values."""
    texts = [r["prompt"] + r["completion"] for r in records]
    if schema is not None:
        for table in schema.tables:
            texts.append(table.name)
            for col in table.columns:
                texts.append(f"{table.name}.{col.name} {col.name}")
                texts.extend(str(v) for v in col.samples)
    return texts
