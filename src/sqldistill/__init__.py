"""sqldistill: distil a small, private, fast text-to-SQL model for your own database.

The top-level verbs are imported lazily so that importing the package (and ``sqldistill --help``) stays fast.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"

# torch's OpenMP worker threads sleep, rather than spin, while they wait for work, unless the user chose
# otherwise: on a busy machine spinning threads fight other processes for the cores, and a small model's
# training step ran 25x slower on two loaded cores (bench/omp_wait.py measures it). Read when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]) -> tuple[list[str], Callable[[str], Any]]:
    """A package's ``__all__`` and a loader for its module-level ``__getattr__``: ``exports`` maps each module
    (relative to ``package`` when it starts with a dot) to the names it gives; a name is imported on first use."""
    where = {name: (f"{package}{module}" if module.startswith(".") else module)
             for module, names in exports.items() for name in names}

    def load(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module '{package}' has no attribute {name!r}")
        return getattr(importlib.import_module(where[name]), name)

    return sorted(where), load


def __getattr__(name: str) -> Any:
    if name in _VERBS:
        return getattr(importlib.import_module(_VERBS[name]), name)
    raise AttributeError(f"module 'sqldistill' has no attribute {name!r}")
