"""Two CPU processes (gloo) train one student through accelerate: gradients are synced, the model saved once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sqldistill.models.modeldir import read_model_meta
from tests.test_train_data import db_path_of, write_dataset

REPO = Path(__file__).resolve().parents[1]



def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_process_gloo_training(spider_dir: Path, tmp_path: Path) -> None:
    train, _ = write_dataset(tmp_path / "data", db_path_of(spider_dir))
    script = tmp_path / "ddp_train.py"
    script.write_text(
        "import hashlib, json, sys\n"
        "import torch.distributed as dist\n"
        "from sqldistill.train.methods import train_sft, prepare_student\n"
        "from sqldistill.train.trainer import DistillTrainer\n"
        "seen = {}\n"
        "original = DistillTrainer.train\n"
        "def train(self, *a, **k):\n"
        "    out = original(self, *a, **k)\n"
        "    h = hashlib.sha256()\n"
        "    for p in self.model.parameters():\n"
        "        h.update(p.detach().contiguous().numpy().tobytes())\n"
        "    seen['digest'] = h.hexdigest()\n"
        "    return out\n"
        "DistillTrainer.train = train\n"
        "r = train_sft(sys.argv[1], sys.argv[2], model='1m', max_steps=4, batch_size=4, logging_steps=1,\n"
        "              progress=False, num_threads=1)\n"
        "# one file per rank: two processes printing to one pipe can interleave their lines\n"
        "with open(f'{sys.argv[3]}/rank{dist.get_rank()}.json', 'w') as fh:\n"
        "    json.dump({'rank': dist.get_rank(), 'world': dist.get_world_size(),\n"
        "               'backend': dist.get_backend(), 'steps': r.steps, 'digest': seen['digest'],\n"
        "               'losses': [x['loss'] for x in r.losses]}, fh)\n"
    )
    out = tmp_path / "model"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), str(script), str(train), str(out), str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("rank*.json"))]
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert all(r["world"] == 2 and r["backend"] == "gloo" and r["steps"] == 4 for r in results)
    assert results[0]["digest"] == results[1]["digest"]  # DDP kept both replicas identical
    losses = results[0]["losses"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert read_model_meta(out)["method"] == "sft"  # written once, by the main process
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 4
