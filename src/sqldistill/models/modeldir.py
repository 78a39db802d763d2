"""The model directory: the one artefact training hands to evaluation and serving.

Contract (stable; other stages rely on it):

- ``save_pretrained`` output: ``config.json``, ``generation_config.json``, ``model.safetensors`` — always a full
  model (LoRA adapters are merged before saving), so ``AutoModelForCausalLM.from_pretrained(dir)`` loads it;
- tokenizer files from ``tokenizer.save_pretrained``;
- ``sqldistill.json``, written last and atomically, so a directory holding it is complete::

    {"format": 1, "db_id": str, "schema_fingerprint": str, "schema": Schema.to_dict(),
     "prompt": PromptFormat.to_dict(), "method": "sft"|"kd"|"kid"|"gkd"|"dpo"|"rounds",
     "base_model": str, "created": ISO-8601 UTC, "num_parameters": int, "training": {...}}

  ``training`` holds the hyper-parameters, step count, wall time and the last logged losses.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqldistill.data.prompt import PromptFormat
from sqldistill.errors import ModelError
from sqldistill.jsonfiles import write_json_atomic
from sqldistill.records import Schema

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

META_FILE = "sqldistill.json"
FORMAT = 1
REQUIRED_KEYS = ("format", "db_id", "schema_fingerprint", "schema", "prompt", "method", "base_model", "created")


def save_model_dir(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str | Path,
    *,
    schema: Schema,
    prompt_format: PromptFormat,
    method: str,
    base_model: str,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write weights, tokenizer, then ``sqldistill.json`` (last) into ``out_dir``; returns the directory."""
    from sqldistill.models.causal import count_parameters, no_hub_bars, set_generation_tokens

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = out / META_FILE
    if stale.exists():
        stale.unlink()  # the directory is incomplete until the new metadata lands
    if hasattr(model, "merge_and_unload"):  # a PEFT model: ship one plain model, not base + adapter
        model = model.merge_and_unload()  # type: ignore[operator]
    set_generation_tokens(model, tokenizer)
    with no_hub_bars():
        model.save_pretrained(str(out), safe_serialization=True)
        tokenizer.save_pretrained(str(out))
    meta = {
        "format": FORMAT,
        "db_id": schema.db_id,
        "schema_fingerprint": schema.fingerprint,
        "schema": schema.to_dict(),
        "prompt": prompt_format.to_dict(),
        "method": method,
        "base_model": base_model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "num_parameters": count_parameters(model),
        "training": training or {},
    }
    write_json_atomic(out / META_FILE, meta)
    return out


def read_model_meta(model_dir: str | Path) -> dict[str, Any]:
    """The validated ``sqldistill.json`` of a model directory."""
    path = Path(model_dir) / META_FILE
    if not Path(model_dir).is_dir():
        raise ModelError(f"model directory {model_dir} does not exist", hint="Check the path or train a model first")
    if not path.is_file():
        raise ModelError(
            f"{model_dir} is not a sqldistill model (no {META_FILE})",
            hint="Use a directory written by `sqldistill train`; an interrupted run leaves none",
        )
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read {path}: {err}") from None
    missing = [k for k in REQUIRED_KEYS if k not in meta] if isinstance(meta, dict) else list(REQUIRED_KEYS)
    if missing:
        raise ModelError(f"{path} lacks {', '.join(missing)}", hint="Retrain the model with this version")
    if meta["format"] != FORMAT:
        raise ModelError(f"{path} has format {meta['format']}, this version reads format {FORMAT}")
    return dict(meta)


DECODING_FILE = "decoding.json"
# a model never evaluated answers greedily; the counts are what execution-guided decoding uses when asked for
GREEDY = {"execution_guided": False, "num_candidates": 4, "memory_k": 20}


def write_decoding(model_dir: str | Path, execution_guided: bool, num_candidates: int, memory_k: int) -> None:
    """Record, next to the model, the decoding its reported EX was measured with (``ask`` and ``serve`` answer
    with it unless told otherwise)."""
    write_json_atomic(Path(model_dir) / DECODING_FILE, {"execution_guided": bool(execution_guided),
                                                        "num_candidates": int(num_candidates),
                                                        "memory_k": int(memory_k)})


def read_decoding(model_dir: str | Path) -> dict[str, Any]:
    """The decoding recorded by ``write_decoding``; greedy for a model that was never evaluated."""
    path = Path(model_dir) / DECODING_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return dict(GREEDY)
    except (OSError, ValueError) as err:
        raise ModelError(f"cannot read {path}: {err}", hint="Delete the file to answer greedily") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("execution_guided"), bool):
        raise ModelError(f"{path} does not say whether decoding is execution-guided",
                         hint="Delete the file to answer greedily")
    return {**GREEDY, **{k: doc[k] for k in GREEDY if k in doc}}


def meta_schema(meta: dict[str, Any]) -> Schema:
    return Schema.from_dict(meta["schema"])


def meta_prompt_format(meta: dict[str, Any]) -> PromptFormat:
    return PromptFormat.from_dict(meta["prompt"])


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
