"""Synthesis: question/SQL pairs from a database alone (learned corpus shapes, templates, teacher, query log,
feedback).

``synthesize(target, out_dir, SynthOptions(n=..., seed=..., teacher=None, log=None))`` is the verb; ``make_teacher`` builds
a teacher client (any OpenAI-compatible endpoint, or a local transformers model). Heavy parts are imported
on first use.
"""

from __future__ import annotations

from typing import Any

from sqldistill import lazy_exports

__all__, _load = lazy_exports(__name__, {
    ".synthesis": ("synthesize", "SynthOptions", "DEFAULT_MIX", "DEFAULT_SOURCES"),
    ".corpus": ("load_corpus", "build_corpus", "CorpusSource"),
    ".teacher": ("make_teacher", "Teacher", "OpenAITeacher", "LocalTeacher"),
    ".sampler": ("TemplateSource",),
    ".templates": ("CONSTRUCTS",),
    ".logmine": ("mine_log",),
    ".realise": ("realise",),
    ".graph": ("build_graph",),
})


def __getattr__(name: str) -> Any:
    return _load(name)
