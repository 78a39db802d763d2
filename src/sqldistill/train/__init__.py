"""Student training (sft, kd, kid, gkd, dpo, recursive rounds); decoding is ``sqldistill.infer``.

Public API (names are loaded lazily so importing this package stays cheap); each method takes one options
object from ``sqldistill.train.options``:

- ``train_student(method, train_file, out_dir, KDOptions(...))`` for sft, kd and kid, with the shortcuts
  ``train_sft(train_file, out_dir, **kd_options)``, ``train_kd(..., teacher=...)``, ``train_kid(..., teacher=...)``;
- ``train_gkd(train_file, out_dir, GKDOptions(teacher=...))`` (TRL GKDTrainer);
- ``build_dpo_pairs(train_file, out_file, weak_model=..., db=...)`` and
  ``train_dpo(pairs_file, out_dir, DPOOptions(model=...))``;
- ``train_rounds(train_file, out_dir, RoundsOptions(unlabelled_file=..., db=..., rounds=2))``;
- model directories: ``save_model_dir``, ``read_model_meta`` (see ``sqldistill.models.modeldir`` for the contract);
- from-scratch models: ``SIZES``, ``new_model``, ``train_tokenizer``; any local model: ``load_model``.

Every training call returns a ``TrainResult`` and leaves a complete model directory behind.
"""

from __future__ import annotations

from typing import Any

from sqldistill import lazy_exports

__all__, _load = lazy_exports(__name__, {
    ".methods": ("TrainResult", "train_student", "train_sft", "train_kd", "train_kid"),
    ".gkd": ("train_gkd",),
    ".dpo": ("build_dpo_pairs", "train_dpo"),
    ".rounds": ("train_rounds", "execution_accuracy"),
    "sqldistill.models.modeldir": ("save_model_dir", "read_model_meta"),
    "sqldistill.models.sizes": ("SIZES",),
    "sqldistill.models.causal": ("new_model", "train_tokenizer", "load_model", "load_tokenizer"),
})


def __getattr__(name: str) -> Any:
    return _load(name)
