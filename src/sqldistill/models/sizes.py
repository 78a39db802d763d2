"""Named model sizes (``1m``, ``5m``, ``20m``, optionally prefixed with the shape: ``qwen2-5m``).

Kept apart from the model code, which needs torch and transformers, so that reading a config can tell a named
size from a model directory without loading either.
"""

from __future__ import annotations

from pathlib import Path

# hidden, layers, attention heads, key/value heads, MLP width
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "1m": (128, 3, 4, 2, 384),
    "5m": (256, 6, 8, 4, 640),
    "20m": (384, 12, 6, 2, 1024),
}
ARCHS = ("llama", "qwen2")
DEFAULT_VOCAB = 4096


def parse_size(spec: str) -> tuple[str, str] | None:
    """``"qwen2-5m"`` -> ``("qwen2", "5m")``; ``"5m"`` -> ``("llama", "5m")``; a path -> None."""
    low = spec.strip().lower()
    arch, _, size = low.rpartition("-")
    arch = arch or "llama"
    if size in SIZES and arch in ARCHS:
        return arch, size
    return None


# The pointer student (``models.seq2seq``): "pointer"/"pointer-base" start from the committed base network;
# "pointer-large" is the deeper, wider member of the family (a teacher), trained from scratch.
POINTER_SIZES = {"pointer": "small", "pointer-base": "small", "pointer-small": "small", "pointer-large": "large"}


def pointer_size(spec: str | Path) -> str | None:
    """``"small"``/``"large"`` for a pointer-student name, else None."""
    return POINTER_SIZES.get(spec.strip().lower()) if isinstance(spec, str) else None


def is_pointer_model(spec: str | Path | None) -> bool:
    """A pointer-student name or a directory holding a pointer network."""
    if spec is None:
        return False
    if pointer_size(spec) is not None and not Path(spec).exists():
        return True
    return (Path(spec) / "pointer_config.json").is_file()


def is_named_size(spec: str | Path) -> bool:
    return isinstance(spec, str) and parse_size(spec) is not None and not Path(spec).exists()


__all__ = ["ARCHS", "DEFAULT_VOCAB", "POINTER_SIZES", "SIZES", "is_named_size", "is_pointer_model", "parse_size",
           "pointer_size"]
