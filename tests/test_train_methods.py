"""Every training method trains a tiny model a few steps on pairs from a real Spider database.

Each run must log a decreasing loss, change every trainable parameter, and leave a model directory that
reloads and writes SQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from sqldistill.data.prompt import PromptFormat
from sqldistill.errors import ConfigError, ModelError
from sqldistill.infer.predictor import Predictor
from sqldistill.jsonfiles import write_jsonl_atomic
from sqldistill.models.causal import load_model, load_tokenizer, new_model, train_tokenizer
from sqldistill.models.modeldir import read_model_meta, save_model_dir
from sqldistill.train import data as tdata
from sqldistill.train.methods import TrainResult, train_kd, train_kid, train_sft, train_student
from sqldistill.train.options import DPOOptions, GKDOptions, KDOptions, RoundsOptions, TrainOptions
from tests.test_train_data import TRAIN_DB, db_path_of, write_dataset

torch.set_num_threads(1)
QUESTIONS = ["How many head are there?", "List the name of all head."]


@pytest.fixture(scope="module")
def world(spider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Data, a shared tokenizer, an untrained 1m student and a briefly trained teacher (another shape)."""
    root = tmp_path_factory.mktemp("methods")
    db = db_path_of(spider_dir)
    train, schema = write_dataset(root / "data", db)
    records = tdata.read_jsonl(train)
    tok = train_tokenizer(tdata.corpus_texts(records, schema), vocab_size=1024)
    tok.save_pretrained(str(root / "tok"))
    init = save_model_dir(new_model("1m", tok, seed=1), tok, root / "init", schema=schema, prompt_format=PromptFormat(),
                          method="init", base_model="scratch:1m")
    teacher = train_sft(train, root / "teacher", model="qwen2-1m", tokenizer=root / "tok", max_steps=40,
                        batch_size=16, logging_steps=10, progress=False)
    warm = train_sft(train, root / "warm", model=init, max_steps=8, batch_size=16, logging_steps=5, progress=False)
    return {"root": root, "db": db, "train": train, "schema": schema, "init": init, "teacher": teacher.model_dir,
            "warm": warm.model_dir}


def assert_trained(result: TrainResult, start_dir: Path, min_logs: int = 3) -> None:
    losses = [r["loss"] for r in result.losses]
    assert len(losses) >= min_logs, losses
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2, f"loss did not decrease: {losses}"
    logged = (result.model_dir / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["loss"] for line in logged] == pytest.approx(losses)
    before = load_model(start_dir).state_dict()
    after = load_model(result.model_dir).state_dict()
    unchanged = [k for k in before if k in after and torch.equal(before[k], after[k])]
    assert not unchanged, f"parameters that did not change: {unchanged}"
    meta = read_model_meta(result.model_dir)
    assert meta["method"] == result.method and meta["db_id"] == TRAIN_DB
    sqls = Predictor.load(result.model_dir).generate(QUESTIONS)
    assert all(len(c) == 1 and c[0].upper().startswith("SELECT") for c in sqls), sqls


def test_sft(world: dict[str, Any]) -> None:
    result = train_sft(world["train"], world["root"] / "sft", model=world["init"], max_steps=30, batch_size=16,
                       logging_steps=5, progress=False)
    assert result.steps == 30 and result.method == "sft"
    assert result.trainable_parameters == result.num_parameters
    assert_trained(result, world["init"])


def test_kd_forward_kl(world: dict[str, Any]) -> None:
    result = train_kd(world["train"], world["root"] / "kd", teacher=world["teacher"], model=world["init"],
                      max_steps=30, batch_size=16, logging_steps=5, progress=False)
    assert all("kd_loss" in r and "ce_loss" in r for r in result.losses)
    assert read_model_meta(result.model_dir)["training"]["divergence"] == "fkl"
    assert_trained(result, world["init"])


def test_kid(world: dict[str, Any]) -> None:
    result = train_kid(world["train"], world["root"] / "kid", teacher=world["teacher"], model=world["init"],
                       max_steps=30, batch_size=16, logging_steps=5, progress=False)
    corrupted = [r["corrupted"] for r in result.losses]
    assert all(0.0 < c <= 0.3 for c in corrupted), corrupted  # about mask_ratio, less what the student got right
    assert read_model_meta(result.model_dir)["training"]["divergence"] == "rkl"
    assert_trained(result, world["init"])


def test_kid_imperfect_sequence_masks_only_completion_tokens(world: dict[str, Any]) -> None:
    from sqldistill.train.methods import training_arguments
    from sqldistill.train.trainer import DistillTrainer

    tok = load_tokenizer(world["init"])
    examples = tdata.tokenize_records(tok, tdata.read_jsonl(world["train"]), 256)
    options = TrainOptions(epochs=1, max_steps=1, batch_size=8, warmup=0.0, weight_decay=0.0, bf16=False,
                           logging_steps=1)
    args = training_arguments(world["root"] / "kid-unit", options, lr=1e-3)
    model = load_model(world["init"])
    trainer = DistillTrainer(model=model, args=args, train_dataset=examples, processing_class=tok,
                             data_collator=tdata.PadCollator(tok.pad_token_id), method="kid",
                             teacher=load_model(world["teacher"]), mask_ratio=0.5, mask_token_id=tok.mask_token_id)
    batch = tdata.PadCollator(tok.pad_token_id)(examples[:8])
    ids, labels = batch["input_ids"], batch["labels"]
    imperfect, masked = trainer.imperfect_sequence(model, ids, batch["attention_mask"], labels)
    completion = (labels != -100) & (ids != tok.eos_token_id)
    assert not bool((masked & ~completion).any())  # never the prompt, padding or EOS
    assert masked.sum(1).tolist() == (completion.sum(1).float() * 0.5).round().long().tolist()
    assert torch.equal(imperfect[~masked], ids[~masked])
    assert bool((imperfect != ids).any())  # an untrained student gets masked tokens wrong
    assert tok.mask_token_id not in imperfect.tolist()  # masks are filled in, never left behind


def test_vocabulary_mismatch_fails_before_training(world: dict[str, Any]) -> None:
    other = train_tokenizer(["SELECT x FROM y"] * 20, vocab_size=300)
    alien = save_model_dir(new_model("1m", other), other, world["root"] / "alien", schema=world["schema"],
                           prompt_format=PromptFormat(), method="init", base_model="scratch:1m")
    with pytest.raises(ModelError, match="vocabularies differ"):
        train_kd(world["train"], world["root"] / "kd-bad", teacher=alien, model=world["init"], max_steps=1,
                 progress=False)
    assert not (world["root"] / "kd-bad" / "sqldistill.json").exists()


def test_bad_options_are_config_errors(world: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="unknown divergence"):
        train_student("kd", world["train"], world["root"] / "x", KDOptions(teacher=world["teacher"], divergence="kl9"))
    with pytest.raises(ConfigError, match="needs a teacher"):
        train_student("kid", world["train"], world["root"] / "x")
    with pytest.raises(ConfigError, match="neither a named size"):
        train_sft(world["train"], world["root"] / "x", model="no-such-model", progress=False)


def test_lora_trains_adapters_and_saves_a_merged_model(world: dict[str, Any]) -> None:
    result = train_sft(world["train"], world["root"] / "lora", model=world["teacher"], lora=True, lora_r=4,
                       max_steps=12, batch_size=16, logging_steps=3, lr=5e-3, progress=False)
    assert 0 < result.trainable_parameters < result.num_parameters / 2
    assert not (result.model_dir / "adapter_config.json").exists()
    before, after = load_model(world["teacher"]).state_dict(), load_model(result.model_dir).state_dict()
    assert set(before) == set(after)
    linear = [k for k in before if k.endswith("proj.weight")]
    assert linear and all(not torch.equal(before[k], after[k]) for k in linear)  # every adapted layer moved
    frozen = [k for k in before if "norm" in k or "embed" in k]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    losses = [r["loss"] for r in result.losses]
    assert losses[-1] < losses[0]


def test_curriculum_with_gradient_accumulation_and_tensorboard(world: dict[str, Any]) -> None:
    result = train_sft(world["train"], world["root"] / "cur", model=world["init"], curriculum=True, grad_accum=2,
                       batch_size=4, max_steps=5, logging_steps=1, report_to="tensorboard", progress=False)
    assert result.steps == 5 and len(result.losses) == 5
    assert read_model_meta(result.model_dir)["training"]["curriculum"] is True
    assert list((result.model_dir / "logs").rglob("events.out.tfevents*"))


def test_gkd(world: dict[str, Any]) -> None:
    from sqldistill.train.gkd import train_gkd

    # On-policy distillation starts from a student that already writes SQL-like text, as it would in practice.
    result = train_gkd(world["train"], world["root"] / "gkd", GKDOptions(
        teacher=world["teacher"], model=world["warm"], max_steps=30, batch_size=16, logging_steps=3, max_new_tokens=24,
        lmbda=0.5, lr=5e-3, progress=False))
    assert result.method == "gkd"
    assert_trained(result, world["warm"])


def test_dpo_pairs_and_training(world: dict[str, Any]) -> None:
    from sqldistill.train.dpo import build_dpo_pairs, train_dpo

    pairs_file = world["root"] / "pairs.jsonl"
    stats = build_dpo_pairs(world["train"], pairs_file, weak_model=world["warm"], db=str(world["db"]),
                            num_candidates=2, max_new_tokens=32)
    assert stats["pairs"] + stats["weak_all_right"] + stats["gold_failed"] == stats["questions"]
    pairs = tdata.read_jsonl(pairs_file, ("prompt", "chosen", "rejected"))
    assert len(pairs) == stats["pairs"] > 10
    assert all(p["chosen"] != p["rejected"] and p["chosen"].startswith(" SELECT") for p in pairs)
    plain = train_dpo(pairs_file, world["root"] / "dpo1", DPOOptions(
        model=world["teacher"], loss_type="sigmoid", max_steps=1, batch_size=8, logging_steps=1, progress=False))
    assert plain.losses[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # log 2: policy == reference at the start
    result = train_dpo(pairs_file, world["root"] / "dpo", DPOOptions(  # default loss: sigmoid + sft on the chosen SQL
        model=world["teacher"], max_steps=12, batch_size=8, logging_steps=3, lr=1e-4, progress=False))
    assert result.losses[-1]["rewards/margins"] > 0
    assert_trained(result, world["teacher"])


def test_rounds(world: dict[str, Any], tmp_path: Path) -> None:
    from sqldistill.train.rounds import read_rounds, train_rounds

    records = tdata.read_jsonl(world["train"])
    write_jsonl_atomic(tmp_path / "labelled.jsonl", records[::2])
    write_jsonl_atomic(tmp_path / "unlabelled.jsonl", [{"question": r["question"], "teacher_sql": r["sql"]}
                                                       for r in records[1::4]])
    write_jsonl_atomic(tmp_path / "eval.jsonl", records[3::8])
    (tmp_path / "schema.json").write_text(world["schema"].to_json())
    result = train_rounds(tmp_path / "labelled.jsonl", world["root"] / "rounds", RoundsOptions(
        unlabelled_file=tmp_path / "unlabelled.jsonl", db=str(world["db"]), rounds=1, model=world["init"],
        eval_file=tmp_path / "eval.jsonl", max_steps=30, batch_size=16, logging_steps=5, num_candidates=2,
        progress=False))
    history = read_rounds(result.model_dir)
    assert [h["round"] for h in history] == [0, 1]
    assert all(isinstance(h["eval_ex"], float) and 0.0 <= h["eval_ex"] <= 1.0 for h in history)
    assert history[0]["pseudo_labelled"] == history[0]["outcomes"].get("kept", 0)
    assert sum(history[0]["outcomes"].values()) == len(records[1::4])
    meta = read_model_meta(result.model_dir)
    assert meta["method"] == "rounds" and len(meta["training"]["rounds"]) == 2
    assert_trained(result, world["init"])
