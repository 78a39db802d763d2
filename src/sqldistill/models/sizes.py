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


def is_named_size(spec: str | Path) -> bool:
    return isinstance(spec, str) and parse_size(spec) is not None and not Path(spec).exists()


__all__ = ["ARCHS", "DEFAULT_VOCAB", "SIZES", "is_named_size", "parse_size"]
