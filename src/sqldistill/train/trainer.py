"""One ``transformers.Trainer`` subclass for sft, kd and kid, plus the callbacks every method shares.

The three methods differ only in ``compute_loss``:

- ``sft``: cross-entropy on the completion tokens;
- ``kd``: a divergence between teacher and student next-token distributions on the gold sequence, plus
  ``ce_weight`` times the cross-entropy;
- ``kid`` (Zhong et al. 2024, arXiv 2410.11371): a fraction ``mask_ratio`` of the gold SQL tokens is replaced by
  a mask token, one no-grad student forward predicts them, and the argmax predictions are spliced in to form an
  imperfect sequence — the kind of prefix the student produces at inference. The divergence (reverse KL by
  default) between teacher and student is taken on that sequence, plus ``ce_weight`` times the cross-entropy to
  the gold tokens at the positions whose input was not corrupted. Per step that is one extra no-grad student
  body pass (the output head is applied only at the masked positions) and one teacher pass.

All three read the model's final hidden states (a forward hook on the decoder; the model itself computes the
logits of one position only) and hand them with the output-head weights to ``losses.chunked_distill_loss``,
so the full-vocabulary logits of both models never exist at once. The model is still called through its
(possibly DDP-wrapped) forward, so multi-process gradient sync works as usual.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, Trainer, TrainerCallback

from sqldistill.errors import ModelError
from sqldistill.train.losses import chunked_distill_loss

METHODS_WITH_TEACHER = ("kd", "kid")


def _base_model(model: torch.nn.Module) -> PreTrainedModel:
    inner = getattr(model, "module", model)  # DDP
    if hasattr(inner, "get_base_model"):  # PEFT
        inner = inner.get_base_model()  # type: ignore[operator]
    return inner  # type: ignore[return-value]


class FinalHidden:
    """Captures the decoder's final (normed) hidden states during a forward call."""

    def __init__(self, model: torch.nn.Module) -> None:
        base = _base_model(model)
        self.head = base.get_output_embeddings()
        if self.head is None or getattr(self.head, "bias", None) is not None:
            raise ModelError("the model's output head is not a bias-free linear layer; kd/kid/sft cannot use it")
        self._value: torch.Tensor | None = None
        self._handle = base.get_decoder().register_forward_hook(self._grab)

    def _grab(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        self._value = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]

    @property
    def weight(self) -> torch.Tensor:
        return self.head.weight  # type: ignore[no-any-return]

    def __call__(self, model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        self._value = None
        model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=1, use_cache=False)
        value, self._value = self._value, None
        if value is None:
            raise ModelError("could not read the model's hidden states (its decoder was not called)")
        return value

    def check(self, model: torch.nn.Module, device: torch.device) -> None:
        """The chunked loss assumes logits == hidden @ head.T (no soft-capping or scaling); verify once."""
        ids = torch.arange(2, 10, device=device).unsqueeze(0) % self.weight.shape[0]
        mask = torch.ones_like(ids)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
            hidden = self(model, ids, mask)
            mine = (hidden @ self.weight.t()).float()
        if not torch.allclose(logits, mine, rtol=1e-2, atol=1e-2 * float(logits.abs().max()) + 1e-4):
            raise ModelError("this architecture post-processes its logits; kd/kid/sft here need a plain output head")

    def remove(self) -> None:
        self._handle.remove()


class DistillTrainer(Trainer):
    """``Trainer`` whose loss is sft, kd or kid (see the module docstring)."""

    loss_is_scaled_for_ga = False  # losses are per-micro-batch means; Trainer divides by accumulation steps

    def __init__(
        self,
        *args: Any,
        method: str = "sft",
        teacher: PreTrainedModel | None = None,
        divergence: str = "fkl",
        temperature: float = 1.0,
        beta: float = 0.5,
        skew_alpha: float = 0.1,
        ce_weight: float = 0.5,
        mask_ratio: float = 0.2,
        mask_token_id: int | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if method in METHODS_WITH_TEACHER and teacher is None:
            raise ModelError(f"method {method} needs a teacher model")
        self.method = method
        self.divergence, self.temperature, self.beta, self.skew_alpha = divergence, temperature, beta, skew_alpha
        self.ce_weight, self.mask_ratio, self.chunk_size = ce_weight, mask_ratio, chunk_size
        self.mask_token_id = mask_token_id
        assert self.model is not None
        self.student_hidden = FinalHidden(self.model)
        self.student_hidden.check(self.model, self.args.device)
        self.teacher: PreTrainedModel | None = None
        self.teacher_hidden: FinalHidden | None = None
        if teacher is not None and method in METHODS_WITH_TEACHER:
            dtype = torch.bfloat16 if self.args.bf16 else None
            moved: Any = teacher.to(device=self.args.device, dtype=dtype)  # type: ignore[call-arg]
            self.teacher = moved.eval().requires_grad_(False)
            self.teacher_hidden = FinalHidden(self.teacher)
            self.teacher_hidden.check(self.teacher, self.args.device)
        self._rng = torch.Generator(device="cpu").manual_seed(self.args.seed + self.args.process_index)
        self._parts: dict[str, list[float]] = {"kd_loss": [], "ce_loss": [], "corrupted": []}

    @torch.no_grad()
    def imperfect_sequence(
        self, model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """KID's imperfect data: mask a fraction of the gold tokens, let the student fill them in, splice.

        Returns (imperfect sequence, masked positions). Exactly round(mask_ratio * n) of a row's n completion
        tokens (EOS excluded) are masked; a masked token the student predicts right stays as it was.
        """
        eos = getattr(self.processing_class, "eos_token_id", None)
        candidates = (labels != -100) & (input_ids != eos) if eos is not None else labels != -100
        candidates[:, 0] = False  # a prediction needs a position before it
        scores = torch.rand(input_ids.shape, generator=self._rng).to(input_ids.device)
        scores = scores.masked_fill(~candidates, -1.0)
        counts = (candidates.sum(1).float() * self.mask_ratio).round().long()
        ranks = scores.argsort(dim=1, descending=True).argsort(dim=1)
        masked_pos = (ranks < counts.unsqueeze(1)) & candidates
        if not bool(masked_pos.any()):
            return input_ids, masked_pos
        fill = self.mask_token_id if self.mask_token_id is not None else int(input_ids[0, 0])
        masked = input_ids.masked_fill(masked_pos, fill)
        unwrapped = self.accelerator.unwrap_model(model)
        hidden = self.student_hidden(unwrapped, masked, attention_mask)
        rows, cols = masked_pos.nonzero(as_tuple=True)
        preds = (hidden[rows, cols - 1] @ self.student_hidden.weight.t()).argmax(-1)
        imperfect = input_ids.clone()
        imperfect[rows, cols] = preds.to(imperfect.dtype)
        return imperfect, masked_pos

    def compute_loss(
        self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        input_ids, attention_mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
        seq = input_ids
        if self.method == "kid" and model.training:
            seq, _ = self.imperfect_sequence(model, input_ids, attention_mask, labels)
        hidden = self.student_hidden(model, seq, attention_mask)[:, :-1]
        target = labels[:, 1:]
        select = target != -100
        t_hidden = None
        if self.teacher is not None and self.teacher_hidden is not None:
            with torch.no_grad():
                t_hidden = self.teacher_hidden(self.teacher, seq, attention_mask)[:, :-1][select]
        ce_mask = None
        if seq is not input_ids:
            corrupted = (seq != input_ids)[:, :-1]
            ce_mask = ~corrupted[select]
            self._parts["corrupted"].append(float(corrupted[select].float().mean()))
        parts = chunked_distill_loss(
            hidden[select],
            self.student_hidden.weight,
            target[select],
            t_hidden,
            self.teacher_hidden.weight if self.teacher_hidden is not None else None,
            self.divergence,
            ce_weight=self.ce_weight,
            temperature=self.temperature,
            beta=self.beta,
            alpha=self.skew_alpha,
            ce_mask=ce_mask,
            chunk_size=self.chunk_size,
        )
        if model.training:
            self._parts["ce_loss"].append(float(parts.ce))
            if t_hidden is not None:
                self._parts["kd_loss"].append(float(parts.kd))
        return (parts.loss, {}) if return_outputs else parts.loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            for key, values in self._parts.items():
                if values:
                    logs[key] = round(sum(values) / len(values), 5)
                values.clear()
        super().log(logs, start_time)


class LossLog(TrainerCallback):
    """Keeps every logged training record and, on the main process, appends it to a JSONL file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = []
        self.started = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not logs or "loss" not in logs:
            return
        rec = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4),
               "elapsed_s": round(time.perf_counter() - self.started, 3), **logs}
        self.records.append(rec)
        if self.path is not None and state.is_world_process_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, default=float) + "\n")


class RichProgress(TrainerCallback):
    """A rich progress bar with the latest loss, on the main process only."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.progress: Any = None
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), transient=False)
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=state.max_steps)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if self.progress is not None and logs and "loss" in logs:
            self.progress.update(self.task, description=f"{self.label} loss {logs['loss']:.4f}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
