"""Serve a student: the ``ask`` command, an HTTP API (own and OpenAI-compatible), a web page, guardrails,
the request log, the feedback store and schema-drift checks.

Heavy pieces (FastAPI, the predictor) are imported lazily so that ``import sqldistill.serve`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "sqldistill.serve.app",
    "SqlService": "sqldistill.serve.service",
    "Answer": "sqldistill.serve.service",
    "model_schema_drift": "sqldistill.serve.service",
    "default_run_dir": "sqldistill.serve.service",
    "diff_schemas": "sqldistill.serve.drift",
    "SchemaDrift": "sqldistill.serve.drift",
    "Guardrails": "sqldistill.serve.guard",
    "run_guarded": "sqldistill.serve.guard",
    "FeedbackStore": "sqldistill.serve.feedback",
    "read_feedback": "sqldistill.serve.feedback",
    "validate_correction": "sqldistill.serve.feedback",
    "RequestLog": "sqldistill.serve.requestlog",
    "read_request_log": "sqldistill.serve.requestlog",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sqldistill.serve' has no attribute {name!r}")
