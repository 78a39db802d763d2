"""Inference: turning a question into SQL with a trained model.

- ``backend``: ``SqlGenerator``, the one interface a model offers (encode a question; greedy, beam or sampled
  candidates with their scores; parameter count; continuous decoding when it can), and ``Candidate``;
- ``causal``: a transformers causal LM as an ``SqlGenerator``; ``fastdecode`` and ``continuous``: its fast
  greedy path and continuous (speculative) batching;
- ``retrieval``: the model's memory of its training pairs; ``select``: the retrieval vote and
  execution-guided selection, the same for every model;
- ``predictor``: ``Predictor.load(model_dir)`` -> ``.generate(...)`` / ``.predict(...)`` / ``.stream(...)``.

Names are loaded lazily, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Candidate": "backend",
    "ContinuousDecoder": "backend",
    "SqlGenerator": "backend",
    "CausalLMGenerator": "causal",
    "Predictor": "predictor",
    "Prediction": "predictor",
    "RetrievalIndex": "retrieval",
    "build_index": "retrieval",
    "select_by_execution": "select",
    "vote_weights": "select",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sqldistill.infer' has no attribute '{name}'")
    return getattr(importlib.import_module(f"sqldistill.infer.{module}"), name)
