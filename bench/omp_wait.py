"""How torch's OpenMP wait policy changes CPU speed when the machine is idle and when it is busy.

``sqldistill`` sets ``OMP_WAIT_POLICY=PASSIVE`` (unless the environment already sets it) before torch loads.
This script measures why: for each policy (ACTIVE, PASSIVE) and each load (none added, and ``--busy``
processes spinning on the CPU beside it), a fresh process encodes questions with the pointer student's frozen MiniLM
encoder and times training steps of the shipped base pointer network, with torch's default thread count.
Prints one row per (policy, load): seconds per 32 encoded questions and per training step (median), and
each policy's ratio to PASSIVE under the same load. Measured side by side in one run, so the ratios hold on a
noisy machine even where the absolute times do not.

    python bench/omp_wait.py [--busy 2] [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DB = REPO / "examples" / "employee_hire_evaluation.sqlite"
QUESTIONS = REPO / "examples" / "employee_hire_evaluation.questions.json"

CHILD = r"""
import json, statistics, sys, time
import torch
from sqldistill.db import connect, reflect
from sqldistill.models.seq2seq import BASE_DIR
from sqldistill.models.seq2seq.features import SchemaFeatures, TextEncoder
from sqldistill.models.seq2seq.network import Batch, PointerSeq2Seq
from sqldistill.models.seq2seq.values import database_values, value_index
from sqldistill.train.pointer import encode_pairs

db_path, questions_path, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
items = json.load(open(questions_path))
pairs = [(it["question"], it["query"]) for it in items][:32]
encoder = TextEncoder.load()
with connect(db_path) as db:
    schema = reflect(db)
    values = database_values(db, schema)
features = SchemaFeatures.build(schema, encoder)
encode = []
for _ in range(3):
    encoder._questions.clear()  # time the encoder itself, not its cache
    started = time.perf_counter()
    examples, _ = encode_pairs(pairs, features, value_index(values), encoder)
    encode.append(time.perf_counter() - started)
model = PointerSeq2Seq.load(BASE_DIR)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
times = []
for _ in range(steps):
    started = time.perf_counter()
    loss = model.loss(Batch(examples))
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - started)
print(json.dumps({"encode_s": statistics.median(encode), "step_s": statistics.median(times[1:] or times),
                  "threads": torch.get_num_threads()}))
"""


def _spin(stop: float) -> None:
    while time.time() < stop:
        pass


def run(policy: str, busy: int, steps: int) -> dict[str, float]:
    env = {**os.environ, "OMP_WAIT_POLICY": policy, "PYTHONPATH": str(REPO / "src")}
    spinners = [mp.Process(target=_spin, args=(time.time() + 600,), daemon=True) for _ in range(busy)]
    for p in spinners:
        p.start()
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(DB), str(QUESTIONS), str(steps)], env=env,
                             capture_output=True, text=True, timeout=1800)
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    if out.returncode != 0:
        raise SystemExit(f"error: the measuring process failed: {out.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="spinning processes for the busy load")
    ap.add_argument("--steps", type=int, default=8, help="training steps timed per run")
    args = ap.parse_args()
    rows = []
    for load, busy in (("no extra load", 0), (f"+{args.busy} spinning", args.busy)):
        got = {policy: run(policy, busy, args.steps) for policy in ("PASSIVE", "ACTIVE")}
        for policy, r in got.items():
            ratio = r["step_s"] / got["PASSIVE"]["step_s"]
            rows.append((load, policy, r["threads"], r["encode_s"], r["step_s"], ratio))
    print(f"{'load':<22} {'OMP_WAIT_POLICY':<16} {'threads':>7} {'encode 32 q (s)':>16} {'train step (s)':>15} "
          f"{'step vs PASSIVE':>16}")
    for load, policy, threads, enc, step, ratio in rows:
        print(f"{load:<22} {policy:<16} {threads:>7} {enc:>16.3f} {step:>15.3f} {ratio:>15.2f}x")
    print(f"cpu count {os.cpu_count()}; medians; encode = the frozen MiniLM over 32 questions; "
          f"step = forward + backward + AdamW of the shipped base pointer network on those 32 questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
