"""Training in several processes (one per device): ``accelerate launch -m sqldistill train`` on a config
written beside the model directory, and the ``TrainResult`` read back from the directory it wrote."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from sqldistill.errors import ModelError
from sqldistill.train.methods import TrainResult
from sqldistill.train.options import KDOptions, as_config


def launch_config(method: str, train_file: Path, out_dir: Path, options: KDOptions) -> Path:
    """``OUT_DIR.train.yaml``: the ``sqldistill train`` config of the run."""
    import yaml

    spec = {"method": method, "train_file": str(train_file), "out_dir": str(out_dir), **as_config(options)}
    cfg_file = out_dir.parent / f"{out_dir.name}.train.yaml"
    cfg_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return cfg_file


def train_in_processes(method: str, train_file: Path, out_dir: Path, options: KDOptions,
                       processes: int) -> TrainResult:
    """Train sft/kd/kid in ``processes`` processes."""
    cfg_file = launch_config(method, train_file, out_dir, options)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
           "--num_machines", "1", "--dynamo_backend", "no", "--main_process_port", str(port)]
    if processes > 1:
        cmd.append("--multi_gpu")
    cmd += ["-m", "sqldistill", "train", str(cfg_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
        why = next((ln for ln in reversed(lines) if ln.startswith("error:")), lines[-1] if lines else "no output")
        raise ModelError(f"training in {processes} processes failed: {why.removeprefix('error: ')}",
                         hint="Check `accelerate config` and the devices; processes: 1 trains in-process")
    return result_from_model_dir(out_dir, method)


def result_from_model_dir(out_dir: Path, method: str) -> TrainResult:
    """The ``TrainResult`` of a finished training run, from its model directory and loss log."""
    from sqldistill.models.modeldir import read_model_meta

    meta = read_model_meta(out_dir)
    tr = meta.get("training", {})
    log_file = out_dir / "train_log.jsonl"
    log = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()] \
        if log_file.is_file() else []
    return TrainResult(out_dir, str(meta.get("method", method)), int(tr.get("steps", 0)), log,
                       float(tr.get("train_seconds", 0.0)), int(meta.get("num_parameters") or 0),
                       int(tr.get("trainable_parameters") or 0), processes=int(tr.get("processes") or 1))


__all__ = ["launch_config", "result_from_model_dir", "train_in_processes"]
