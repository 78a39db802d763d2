"""Decoding: greedy/beam/sample, batched == one by one, execution-guided selection, threads, errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from sqldistill.db import connect
from sqldistill.errors import ConfigError, ModelError
from sqldistill.infer.backend import SqlGenerator
from sqldistill.infer.causal import CausalLMGenerator
from sqldistill.infer.predictor import Predictor
from sqldistill.infer.select import select_by_execution
from sqldistill.train import data as tdata
from sqldistill.train.methods import train_sft
from tests.test_train_data import db_path_of, write_dataset

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("predict")
    train, _ = write_dataset(root / "data", db_path_of(spider_dir))
    result = train_sft(train, root / "model", model="1m", epochs=25, batch_size=16, lr=3e-3, logging_steps=50,
                       progress=False, seed=3)
    records = tdata.read_jsonl(train)
    return {"dir": result.model_dir, "records": records, "db": db_path_of(spider_dir),
            "predictor": Predictor.load(result.model_dir)}


def test_model_learnt_its_pairs_and_load_exposes_the_contract(trained: dict[str, Any]) -> None:
    p: Predictor = trained["predictor"]
    assert p.schema.db_id == "department_management" and p.fingerprint == p.schema.fingerprint
    assert p.num_parameters > 100_000 and p.prompt_format.schema_style == "none"
    assert torch.get_num_threads() == 1  # a tiny student on CPU decodes on one thread
    recs = trained["records"][:20]
    got = p.generate([r["question"] for r in recs])
    right = sum(c[0] == r["sql"] for c, r in zip(got, recs))
    assert right >= 14, list(zip(got, [r["sql"] for r in recs]))


def test_batched_greedy_equals_one_by_one_and_transformers_generate(trained: dict[str, Any]) -> None:
    p: Predictor = trained["predictor"]
    assert isinstance(p.generator, CausalLMGenerator) and p.generator.fast is not None
    questions = [r["question"] for r in trained["records"][:12]]
    one_by_one = [p.generate([q])[0] for q in questions]
    assert p.generate(questions) == one_by_one
    plain = Predictor.load(trained["dir"], fast=False)  # greedy through transformers' own generate()
    assert isinstance(plain.generator, CausalLMGenerator) and plain.generator.fast is None
    assert plain.generate(questions) == one_by_one
    assert [plain.generate([q])[0] for q in questions] == one_by_one


def test_candidates_carry_the_models_log_probability_when_asked(trained: dict[str, Any]) -> None:
    gen = trained["predictor"].generator
    assert isinstance(gen, SqlGenerator)
    q = ["List the name of all head.", "How many department are there?"]
    assert all(c.score is None for cands in gen.generate(q, 3, "beam") for c in cands)
    beams = gen.generate(q, 3, "beam", with_scores=True)
    greedy = gen.generate(q, with_scores=True)
    for cands, best in zip(beams, greedy):
        scores = [c.score for c in cands]
        assert all(s is not None and s < 0 for s in scores)
        assert best[0].sql == cands[0].sql and best[0].score == pytest.approx(scores[0], abs=1e-4)
    # the score is log P(SQL + EOS | prompt): one forward pass over the whole answer gives the same number
    ids = gen.encode(q[0])
    answer = gen.tokenizer(" " + greedy[0][0].sql, add_special_tokens=False)["input_ids"] + [gen.eos_id]
    with torch.inference_mode():
        logp = torch.log_softmax(gen.model(input_ids=torch.tensor([ids + answer])).logits[0].float(), -1)
    expected = sum(float(logp[len(ids) - 1 + i, t]) for i, t in enumerate(answer))
    assert greedy[0][0].score == pytest.approx(expected, abs=1e-3)


def test_beam_and_sample_give_distinct_candidates(trained: dict[str, Any]) -> None:
    p: Predictor = trained["predictor"]
    q = ["List the name of all head.", "How many department are there?"]
    beams = p.generate(q, num_candidates=4, mode="beam")
    assert len(beams) == 2 and all(1 <= len(c) <= 4 and len(set(c)) == len(c) for c in beams)
    assert beams[0][0] == p.generate(q[:1])[0][0]  # a confident model's best beam is its greedy answer
    a = p.generate(q, num_candidates=3, mode="sample", seed=7, temperature=1.5)
    b = p.generate(q, num_candidates=3, mode="sample", seed=7, temperature=1.5)
    assert a == b  # seeded sampling is reproducible
    with pytest.raises(ConfigError, match="unknown decoding mode"):
        p.generate(q, mode="nucleus")
    assert p.generate([]) == []


def test_select_by_execution_drops_failures_and_takes_the_majority(trained: dict[str, Any]) -> None:
    with connect(str(trained["db"])) as db:
        cands = ["SELECT nme FROM head", "DROP TABLE head", "SELEC name FROM", "SELECT count(*) FROM head",
                 "SELECT name FROM head ORDER BY age", "SELECT name FROM head"]
        sql, res, dropped = select_by_execution(cands, db)
        assert sql == "SELECT name FROM head ORDER BY age"  # two candidates agree on these rows
        assert res is not None and len(res.rows) == 10
        why = dict(dropped)
        assert why["SELECT nme FROM head"].startswith("execute:")
        assert why["DROP TABLE head"].startswith("read-only:")
        assert why["SELEC name FROM"].startswith(("parse:", "execute:"))
        sql, res, _ = select_by_execution(["SELECT count(*) FROM head", "SELECT max(age) FROM head"], db)
        assert sql == "SELECT count(*) FROM head"  # a tie goes to the better-ranked candidate
        sql, res, dropped = select_by_execution(["DELETE FROM head", "SELECT x FROM nowhere"], db)
        assert sql == "DELETE FROM head" and res is None and len(dropped) == 2


def test_execution_guided_predict_returns_a_result_that_runs(trained: dict[str, Any]) -> None:
    p: Predictor = trained["predictor"]
    with connect(str(trained["db"])) as db:
        pred = p.predict("List the name of all head.", db=db, execution_guided=True, num_candidates=4)
        assert pred.sql in pred.candidates and pred.result is not None and pred.result.ok
        assert pred.result.rows == db.execute(pred.sql).rows
        assert pred.candidates[0] == p.generate(["List the name of all head."])[0][0]  # greedy ranks first
        plain = p.predict("List the name of all head.")
        assert plain.result is None and plain.candidates == [plain.sql] and plain.latency_ms > 0


def test_one_predictor_serves_many_threads(trained: dict[str, Any]) -> None:
    p: Predictor = trained["predictor"]
    questions = [r["question"] for r in trained["records"][:16]]
    expected = {q: p.generate([q])[0] for q in questions}
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(chunk: list[str]) -> None:
        try:
            for q in chunk:
                got[q] = p.generate([q])[0]
            p.generate(chunk)  # batches interleave with single questions
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(questions[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == expected


def test_load_errors(tmp_path: Path, trained: dict[str, Any]) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Predictor.load(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ModelError, match="not a sqldistill model"):
        Predictor.load(tmp_path / "plain")
    before = torch.get_num_threads()
    try:
        assert Predictor.load(trained["dir"], num_threads=2) is not None and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
