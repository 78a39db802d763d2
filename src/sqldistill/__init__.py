"""sqldistill: distil a small, private, fast text-to-SQL model for your own database.

The top-level verbs are imported lazily so that importing the package (and ``sqldistill --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_VERBS = {
    "connect": "sqldistill.db",
    "reflect": "sqldistill.db",
    "render_schema": "sqldistill.db",
    "same_result": "sqldistill.db",
    "check_readonly": "sqldistill.sql.safety",
    "hardness": "sqldistill.spider.hardness",
    "evaluate": "sqldistill.eval",
    "synthesize": "sqldistill.synth",
    "distill": "sqldistill.pipeline",
}

__all__ = [*sorted(_VERBS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _VERBS:
        return getattr(importlib.import_module(_VERBS[name]), name)
    raise AttributeError(f"module 'sqldistill' has no attribute {name!r}")
