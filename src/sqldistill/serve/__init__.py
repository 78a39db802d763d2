"""Serve a student: the ``ask`` command, an HTTP API (own and OpenAI-compatible), a web page, guardrails,
the request log, the feedback store and schema-drift checks.

Heavy pieces (FastAPI, the predictor) are imported lazily so that ``import sqldistill.serve`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from sqldistill import lazy_exports

__all__, _load = lazy_exports(__name__, {
    ".app": ("create_app",),
    ".service": ("SqlService", "Answer", "model_schema_drift", "default_run_dir"),
    ".drift": ("diff_schemas", "SchemaDrift"),
    ".guard": ("Guardrails", "run_guarded"),
    ".feedback": ("FeedbackStore", "read_feedback", "validate_correction"),
    ".requestlog": ("RequestLog", "read_request_log"),
})


def __getattr__(name: str) -> Any:
    return _load(name)
