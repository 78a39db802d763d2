"""Synthesis: question/SQL pairs from a database alone (learned corpus shapes, templates, teacher, query log,
feedback).

``synthesize(target, out_dir, SynthOptions(n=..., seed=..., teacher=None, log=None))`` is the verb; ``make_teacher`` builds
a teacher client (any OpenAI-compatible endpoint, or a local transformers model). Heavy parts are imported
on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "synthesize": "sqldistill.synth.synthesis",
    "SynthOptions": "sqldistill.synth.synthesis",
    "DEFAULT_MIX": "sqldistill.synth.synthesis",
    "DEFAULT_SOURCES": "sqldistill.synth.synthesis",
    "load_corpus": "sqldistill.synth.corpus",
    "build_corpus": "sqldistill.synth.corpus",
    "CorpusSource": "sqldistill.synth.corpus",
    "make_teacher": "sqldistill.synth.teacher",
    "Teacher": "sqldistill.synth.teacher",
    "OpenAITeacher": "sqldistill.synth.teacher",
    "LocalTeacher": "sqldistill.synth.teacher",
    "TemplateSource": "sqldistill.synth.sampler",
    "CONSTRUCTS": "sqldistill.synth.templates",
    "mine_log": "sqldistill.synth.logmine",
    "realise": "sqldistill.synth.realise",
    "build_graph": "sqldistill.synth.graph",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sqldistill.synth' has no attribute {name!r}")
