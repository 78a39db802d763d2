"""Step time and peak memory of every training method, relative to sft, on the same batches.

    python bench/train_speed.py                      # CPU, tiny models (1m student, 5m teacher)
    python bench/train_speed.py --config cpu-bigvocab  # CPU, tiny Qwen2 shapes with the 151,936-token vocabulary
    python bench/train_speed.py --config gpu         # CUDA: Qwen2.5-shaped random-init 0.5B student,
                                                     # 1.5B teacher, vocabulary 151,936, bf16, 8 x 512 tokens

Each method runs in a fresh subprocess (so peak memory is its own) through the real trainer objects:
``DistillTrainer`` for sft/kd/kid, TRL's ``GKDTrainer`` (off-policy, lmbda=0, the same sequences as the others, and
on-policy, lmbda=1, generating the completions) and TRL's ``DPOTrainer``. Data is random token ids of fixed
prompt and completion lengths over a synthetic word-level vocabulary of the configured size, so every method
sees identical shapes. Warm-up steps are excluded. Memory: on CUDA, peak allocated bytes during the measured
steps; on CPU, the rise of the process's peak resident set (VmHWM, reset after warm-up) above its resident
set before the measured steps.

Targets (issue 5, GPU): kid step time <= 1.3x sft; kd and kid peak memory <= 0.5x TRL GKD at the same batch.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METHODS = ("sft", "kd", "kid", "gkd", "gkd-onpolicy", "dpo")
SHAPES: dict[str, dict[str, Any]] = {
    # Qwen2.5-0.5B / 1.5B shapes (random init)
    "qwen2.5-0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                         intermediate_size=4864),
    "qwen2.5-1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                         intermediate_size=8960),
    # small stand-ins that keep the real 151,936-token vocabulary, to see the logits' share of memory on a CPU
    "qwen2-tiny-student": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               intermediate_size=192),
    "qwen2-tiny-teacher": dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                               intermediate_size=384),
}
CONFIGS: dict[str, dict[str, Any]] = {
    "cpu": dict(student="1m", teacher="5m", vocab=4096, batch=16, prompt=24, completion=24, bf16=False),
    "cpu-bigvocab": dict(student="qwen2-tiny-student", teacher="qwen2-tiny-teacher", vocab=151936, batch=4,
                         prompt=32, completion=32, bf16=False),
    "gpu": dict(student="qwen2.5-0.5b", teacher="qwen2.5-1.5b", vocab=151936, batch=8, prompt=448, completion=64,
                bf16=True),
}


def word_tokenizer(vocab: int) -> Any:
    """A word-level tokenizer with exactly ``vocab`` ids: t0 ... (special tokens first)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {"<|pad|>": 0, "<|eos|>": 1, "<|mask|>": 2}
    words.update({f"t{i}": i for i in range(3, vocab)})
    tok = Tokenizer(models.WordLevel(vocab=words, unk_token="<|pad|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|pad|>", eos_token="<|eos|>",
                                   mask_token="<|mask|>")


def build_model(spec: str, tok: Any, bf16: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from sqldistill.models.causal import new_model

    if spec in SHAPES:
        cfg = Qwen2Config(vocab_size=len(tok), tie_word_embeddings=True, max_position_embeddings=4096,
                          rope_theta=1e6, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                          bos_token_id=None, **SHAPES[spec])
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16 if bf16 else torch.float32)
        model.generation_config.eos_token_id = tok.eos_token_id
        model.generation_config.pad_token_id = tok.pad_token_id
        return model
    return new_model(spec, tok, seed=0)


class StepClock:
    """Times steps after warm-up and resets the memory high-water mark when measuring starts."""

    def __init__(self, warmup: int, cuda: bool) -> None:
        self.warmup, self.cuda = warmup, cuda
        self.times: list[float] = []
        self.base_rss = 0
        self._t = 0.0

    def _sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def begin(self, step: int) -> None:
        if step == self.warmup:
            self._sync()
            if self.cuda:
                import torch

                torch.cuda.reset_peak_memory_stats()
            else:
                Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
                self.base_rss = status_kib("VmRSS")
        self._t = time.perf_counter()

    def end(self, step: int) -> None:
        if step >= self.warmup:
            self._sync()
            self.times.append(time.perf_counter() - self._t)


def status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def run_one(method: str, cfg: dict[str, Any], steps: int, warmup: int, out: Path) -> dict[str, Any]:
    import torch
    from transformers import TrainerCallback

    from sqldistill.models.causal import count_parameters
    from sqldistill.train import data as tdata
    from sqldistill.train.methods import quiet, quiet_libraries, training_arguments
    from sqldistill.train.options import GKDOptions, TrainOptions

    cuda = torch.cuda.is_available()
    bf16 = bool(cfg["bf16"] and cuda)
    tok = word_tokenizer(cfg["vocab"])
    g = torch.Generator().manual_seed(0)
    n = cfg["batch"] * (steps + warmup)
    p_len, c_len = cfg["prompt"], cfg["completion"]
    ids = torch.randint(3, cfg["vocab"], (n, p_len + c_len), generator=g).tolist()
    examples = [{"input_ids": [*row, tok.eos_token_id], "labels": [-100] * p_len + [*row[p_len:], tok.eos_token_id],
                 "prompt_len": [p_len]} for row in ids]
    student = build_model(cfg["student"], tok, bf16=False)  # fp32 master weights; bf16 autocast when enabled
    teacher = build_model(cfg["teacher"], tok, bf16) if method != "sft" and method != "dpo" else None
    clock = StepClock(warmup, cuda)

    class Clock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            clock.begin(state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            clock.end(state.global_step - 1)

    common: dict[str, Any] = dict(epochs=1.0, max_steps=steps + warmup, batch_size=cfg["batch"], warmup=0.0,
                                  weight_decay=0.0, bf16=bf16, seed=0, logging_steps=10**6)
    with quiet_libraries():
        if method in ("sft", "kd", "kid"):
            from sqldistill.train.trainer import DistillTrainer

            args = training_arguments(out, TrainOptions(**common), lr=1e-4, curriculum=True)
            trainer: Any = DistillTrainer(model=student, args=args, train_dataset=examples, processing_class=tok,
                                          data_collator=tdata.PadCollator(tok.pad_token_id), callbacks=[Clock()],
                                          method=method, teacher=teacher, divergence="rkl" if method == "kid" else "fkl",
                                          mask_token_id=tok.mask_token_id)
        elif method.startswith("gkd"):
            from sqldistill.train.gkd import gkd_config, gkd_trainer

            options = GKDOptions(teacher="(in memory)", lmbda=1.0 if method == "gkd-onpolicy" else 0.0,
                                 beta=0.5, temperature=1.0, max_new_tokens=c_len, seq_kd=False,
                                 max_length=p_len + c_len + 1, curriculum=True, **common)
            args = gkd_config(out, options, lr=1e-4)
            trainer = gkd_trainer(student, teacher, tok, examples, args, [Clock()])
        else:
            from datasets import Dataset
            from trl import DPOConfig, DPOTrainer

            def words(row: list[int]) -> str:
                return " ".join(f"t{i}" for i in row)

            rows = [{"prompt": words(r[:p_len]), "chosen": " " + words(r[p_len:]),
                     "rejected": " " + words(r[p_len:][::-1])} for r in ids]
            args = training_arguments(out, TrainOptions(**common), lr=1e-4, curriculum=True,
                                      config_class=DPOConfig, beta=0.1, max_length=p_len + c_len + 1)
            reference = copy.deepcopy(student)  # a random-init model has no path TRL could reload it from
            trainer = DPOTrainer(model=student, ref_model=reference, args=args, train_dataset=Dataset.from_list(rows),
                                 processing_class=tok, callbacks=[Clock()])
        quiet(trainer)
        trainer.train()
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**20
        working = peak
    else:
        peak = status_kib("VmHWM") / 1024
        working = peak - clock.base_rss / 1024
    times = sorted(clock.times)
    return {"method": method, "step_ms": 1000 * times[len(times) // 2], "peak_mib": peak, "working_mib": working,
            "steps": len(times), "device": "cuda" if cuda else "cpu", "bf16": bf16,
            "student_params": count_parameters(student), "teacher_params": count_parameters(teacher) if teacher else 0,
            "torch_threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", choices=list(CONFIGS), default="cpu")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--prompt-len", type=int)
    ap.add_argument("--completion-len", type=int)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads per run (default: torch's)")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    cfg = dict(CONFIGS[args.config])
    for key, value in (("batch", args.batch), ("prompt", args.prompt_len), ("completion", args.completion_len)):
        if value:
            cfg[key] = value
    if args.one:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as tmp:
            print("ROW " + json.dumps(run_one(args.one, cfg, args.steps, args.warmup, Path(tmp))), flush=True)
        return
    rows = []
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--one", method, "--config", args.config, "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--batch", str(cfg["batch"]), "--prompt-len", str(cfg["prompt"]),
               "--completion-len", str(cfg["completion"])]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TRL_EXPERIMENTAL_SILENCE": "1"})
        found = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]
        if proc.returncode != 0 or not found:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            rows.append({"method": method, "error": tail[0][:200]})
        else:
            rows.append(found[0])
        print(f"  measured {method}", file=sys.stderr, flush=True)
    base = next((r for r in rows if r.get("method") == "sft" and "error" not in r), None)
    print(f"config={args.config} batch={cfg['batch']} prompt={cfg['prompt']} completion={cfg['completion']} "
          f"student={cfg['student']} teacher={cfg['teacher']} vocab={cfg['vocab']} steps={args.steps} "
          f"(after {args.warmup} warm-up)")
    mem = "peak MiB" if base and base["device"] == "cuda" else "step MiB (RSS rise)"
    print(f"{'method':<14}{'step ms':>10}{'x sft':>8}{mem:>22}{'x sft':>8}{'peak MiB':>11}")
    for r in rows:
        if "error" in r:
            print(f"{r['method']:<14}  failed: {r['error']}")
            continue
        t_ratio = r["step_ms"] / base["step_ms"] if base else float("nan")
        m_ratio = r["working_mib"] / base["working_mib"] if base and base["working_mib"] > 0 else float("nan")
        print(f"{r['method']:<14}{r['step_ms']:>10.1f}{t_ratio:>8.2f}{r['working_mib']:>22.1f}{m_ratio:>8.2f}"
              f"{r['peak_mib']:>11.1f}")
    if base:
        print(f"device={base['device']} bf16={base['bf16']} threads={base['torch_threads']} "
              f"student={base['student_params']:,} params")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
