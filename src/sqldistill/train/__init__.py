"""Student training (sft, kd, kid, gkd, dpo, recursive rounds); decoding is ``sqldistill.infer``.

Public API (flat keyword arguments; names are loaded lazily so importing this package stays cheap):

- ``train_sft(train_file, out_dir, *, model="5m", **options)``, ``train_kd(..., teacher=...)``,
  ``train_kid(..., teacher=...)`` and the general ``train_student(method, train_file, out_dir, **options)``;
- ``train_gkd(train_file, out_dir, *, teacher, ...)`` (TRL GKDTrainer);
- ``build_dpo_pairs(train_file, out_file, *, weak_model, db)`` and ``train_dpo(pairs_file, out_dir, *, model)``;
- ``train_rounds(train_file, out_dir, *, unlabelled_file, db, rounds=2, ...)``;
- model directories: ``save_model_dir``, ``read_model_meta`` (see ``sqldistill.models.modeldir`` for the contract);
- from-scratch models: ``SIZES``, ``new_model``, ``train_tokenizer``; any local model: ``load_model``.

Every training call returns a ``TrainResult`` and leaves a complete model directory behind.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainResult": "methods",
    "train_student": "methods",
    "train_sft": "methods",
    "train_kd": "methods",
    "train_kid": "methods",
    "train_gkd": "gkd",
    "build_dpo_pairs": "dpo",
    "train_dpo": "dpo",
    "train_rounds": "rounds",
    "execution_accuracy": "rounds",
    "save_model_dir": "sqldistill.models.modeldir",
    "read_model_meta": "sqldistill.models.modeldir",
    "SIZES": "sqldistill.models.sizes",
    "new_model": "sqldistill.models.causal",
    "train_tokenizer": "sqldistill.models.causal",
    "load_model": "sqldistill.models.causal",
    "load_tokenizer": "sqldistill.models.causal",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sqldistill.train' has no attribute '{name}'")
    return getattr(importlib.import_module(module if "." in module else f"sqldistill.train.{module}"), name)
