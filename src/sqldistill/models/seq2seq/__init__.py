"""The pointer student: a frozen pretrained sentence encoder, schema linking, a small fusion encoder and a
decoder that writes SQL FROM first, copying names and values by pointer, under a grammar.

- ``language``: the output language (tokens <-> SQL) and its grammar;
- ``values``: value candidates found in the database for a question;
- ``features``: the frozen encoder and the inputs it gives the network;
- ``network``: the trainable network, its sizes and its weight files.

A model directory of this family holds ``pointer_config.json``, ``model.safetensors``, ``values.json`` (the
database's short text values, where value candidates are looked up) and ``sqldistill.json`` (written last,
with ``"family": "pointer"``). ``base/`` holds the base network trained on the public corpus, which every
database's student starts from.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqldistill.models.seq2seq.network import PointerSeq2Seq
    from sqldistill.records import Schema

FAMILY = "pointer"
BASE_DIR = Path(__file__).resolve().parent / "base"


def is_pointer_meta(meta: dict[str, Any]) -> bool:
    return meta.get("family") == FAMILY


def save_pointer_dir(model: PointerSeq2Seq, out_dir: str | Path, *, schema: Schema, values: dict[str, list[str]],
                     method: str, base_model: str, training: dict[str, Any] | None = None,
                     encoder: str = "") -> Path:
    """Write the network, the database's values, then ``sqldistill.json`` (last); returns the directory.
    ``encoder``: the frozen encoder's directory when it is not the default all-MiniLM-L6-v2."""
    from sqldistill.data.prompt import PromptFormat
    from sqldistill.jsonfiles import write_json_atomic
    from sqldistill.models.modeldir import FORMAT, META_FILE

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = out / META_FILE
    if stale.exists():
        stale.unlink()
    model.save(out, {"encoder": encoder} if encoder else None)
    write_json_atomic(out / "values.json", values)
    meta = {
        "format": FORMAT,
        "family": FAMILY,
        "db_id": schema.db_id,
        "schema_fingerprint": schema.fingerprint,
        "schema": schema.to_dict(),
        "prompt": PromptFormat().to_dict(),
        "method": method,
        "base_model": base_model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "training": training or {},
    }
    write_json_atomic(stale, meta)
    return out


__all__ = ["BASE_DIR", "FAMILY", "is_pointer_meta", "save_pointer_dir"]
