"""The tiny real student the serving tests run against, and a check that it really writes SQL.

The student is a from-scratch 1M-size Llama with a BPE tokenizer trained on a handful of hand-written
question/SQL pairs over Spider's ``singer`` database, trained a few hundred steps with a plain torch loop until it
reproduces them. It is built once per test session (other serving test modules import ``tiny_student``) and
saved as a real model directory, so everything downstream loads it the way it loads a trained model.
"""

from __future__ import annotations

import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PAIRS: list[tuple[str, str]] = [
    ("How many singers are there?", "SELECT count(*) FROM singer"),
    ("List the names of all singers.", "SELECT Name FROM singer"),
    ("What are the names of singers from France?", "SELECT Name FROM singer WHERE Citizenship = 'France'"),
    ("Show the titles of all songs.", "SELECT Title FROM song"),
    ("How many songs are there?", "SELECT count(*) FROM song"),
    ("What is the average net worth of singers?", "SELECT avg(Net_Worth_Millions) FROM singer"),
    ("List singer names ordered by net worth descending.", "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC"),
    ("What is the birth year of each singer?", "SELECT Name, Birth_Year FROM singer"),
    ("Show each citizenship and the number of singers with it.",
     "SELECT Citizenship, count(*) FROM singer GROUP BY Citizenship"),
    ("List the titles of songs with sales above 300000.", "SELECT Title FROM song WHERE Sales > 300000"),
    ("Show the names of singers and the titles of their songs.",
     "SELECT T1.Name, T2.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID"),
    ("What is the highest position of any song?", "SELECT max(Highest_Position) FROM song"),
    ("Which singer has the largest net worth?", "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 1"),
    ("List the distinct citizenships of singers.", "SELECT DISTINCT Citizenship FROM singer"),
]

_BUILT: dict[str, Path] = {}


def build_tiny_student(spider_dir: Path, out_dir: Path, steps: int = 200, seed: int = 0) -> Path:
    """Train and save the tiny singer student into ``out_dir``; returns the model directory."""
    import torch

    from sqldistill.data.prompt import PromptFormat, render_completion, render_prompt
    from sqldistill.db import reflect
    from sqldistill.models.causal import new_model, train_tokenizer
    from sqldistill.models.modeldir import save_model_dir
    from sqldistill.train.data import PadCollator, corpus_texts, tokenize_records

    schema = reflect(str(spider_dir / "database" / "singer" / "singer.sqlite"), samples=3)
    fmt = PromptFormat(schema_style="none")
    records = [{"prompt": render_prompt(q, schema, fmt), "completion": render_completion(s)} for q, s in PAIRS]
    tokenizer = train_tokenizer(corpus_texts(records, schema), vocab_size=700)
    model = new_model("1m", tokenizer, max_positions=256, seed=seed)
    features = tokenize_records(tokenizer, records, max_length=128)
    batch = PadCollator(tokenizer.pad_token_id)(features)
    torch.manual_seed(seed)
    random.seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    threads = torch.get_num_threads()
    # One thread: on a shared two-core machine, two threads that wait for each other are many times slower.
    torch.set_num_threads(1)
    model.train()
    step = 0
    try:
        while step < steps:
            step += 1
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if loss.item() < 0.01:  # it reproduces its pairs well before this
                break
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return save_model_dir(model, tokenizer, out_dir, schema=schema, prompt_format=fmt, method="sft",
                          base_model="llama-1m", training={"steps": step, "final_loss": loss.item()})


def tiny_student(spider_dir: Path, tmp_path_factory: Any) -> Path:
    """The session's one tiny student (built on first use)."""
    key = str(spider_dir)
    if key not in _BUILT:
        _BUILT[key] = build_tiny_student(spider_dir, tmp_path_factory.mktemp("tiny-student") / "model" / "sft")
    return _BUILT[key]


def singer_copy(spider_dir: Path, where: Path) -> Path:
    """A private copy of the singer database (tests that alter a database alter only their copy)."""
    where.mkdir(parents=True, exist_ok=True)
    dst = where / "singer.sqlite"
    shutil.copyfile(spider_dir / "database" / "singer" / "singer.sqlite", dst)
    return dst


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Run ``app`` under a real uvicorn server on a free loopback port; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def student_dir(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_student(spider_dir, tmp_path_factory)


def test_tiny_student_reproduces_its_pairs(student_dir: Path, spider_dir: Path) -> None:
    from sqldistill.db import connect
    from sqldistill.infer.predictor import Predictor
    from sqldistill.models.modeldir import read_model_meta

    meta = read_model_meta(student_dir)
    assert meta["db_id"] == "singer" and meta["training"]["final_loss"] < 0.05
    predictor = Predictor.load(student_dir)
    questions = [q for q, _ in PAIRS]
    got = [c[0] for c in predictor.generate(questions)]
    exact = sum(g == s for g, (_, s) in zip(got, PAIRS))
    assert exact >= len(PAIRS) - 1, list(zip(got, [s for _, s in PAIRS]))
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        runs = [db.execute(sql).ok for sql in got]
    assert sum(runs) >= len(PAIRS) - 1
