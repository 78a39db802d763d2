"""From-scratch models and tokenizers, loading, vocabulary checks, and the model-directory contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sqldistill.data.prompt import PromptFormat
from sqldistill.errors import ConfigError, ModelError
from sqldistill.models.causal import (
    check_same_vocabulary,
    count_parameters,
    load_model,
    load_tokenizer,
    new_model,
    train_tokenizer,
)
from sqldistill.models.modeldir import META_FILE, read_model_meta, save_model_dir
from sqldistill.models.sizes import ARCHS, SIZES, parse_size

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def spider_tokenizer(spider_dir: Path):  # type: ignore[no-untyped-def]
    """A 4,096-token BPE trained on Spider's training query log and schema names (a run's corpus in miniature)."""
    texts = [line.split("\t")[0] for line in (spider_dir / "train_gold.sql").read_text().splitlines()]
    for db in json.loads((spider_dir / "tables.json").read_text()):
        texts.append(" ".join(db["table_names_original"]) + " " + " ".join(c[1] for c in db["column_names_original"]))
    return train_tokenizer(texts, vocab_size=4096)


def test_tokenizer_round_trips_sql_and_unseen_characters(spider_tokenizer) -> None:  # type: ignore[no-untyped-def]
    tok = spider_tokenizer
    assert len(tok) == 4096
    assert tok.eos_token == "<|eos|>" and tok.pad_token == "<|pad|>" and tok.mask_token == "<|mask|>"
    for text in ["SELECT count(*) FROM singer WHERE age > 20", " SELECT name FROM t WHERE x = 'Pádraig 東京 ✓'"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
    assert tok("SELECT", add_special_tokens=True)["input_ids"] == tok("SELECT", add_special_tokens=False)["input_ids"]
    common = tok(" SELECT count(*) FROM", add_special_tokens=False)["input_ids"]
    assert len(common) <= 5  # frequent SQL is merged into few tokens


def test_isolated_spaces_give_values_the_same_ids_in_question_and_sql(spider_dir: Path) -> None:
    """With spaces and quotes as tokens of their own a value can be copied id for id, even one never seen."""
    texts = [line.split("\t")[0] for line in (spider_dir / "train_gold.sql").read_text().splitlines()]
    tok = train_tokenizer(texts, vocab_size=2048, isolate_spaces=True)
    for value in ("France", "Zyxwvut", "2010"):
        in_question = tok(f"Which singers are from {value}?", add_special_tokens=False)["input_ids"]
        in_sql = tok(f" SELECT Name FROM singer WHERE Citizenship = '{value}'", add_special_tokens=False)["input_ids"]
        value_ids = tok(value, add_special_tokens=False)["input_ids"]
        assert _contains(in_question, value_ids) and _contains(in_sql, value_ids)
    plain = train_tokenizer(["Which singers are from France? SELECT Name FROM singer WHERE x = 'France'"] * 30,
                            vocab_size=400, isolate_spaces=False)
    q = plain(" France", add_special_tokens=False)["input_ids"]
    assert q != plain("France", add_special_tokens=False)["input_ids"]  # what plain byte-level BPE would do


def _contains(seq: list[int], part: list[int]) -> bool:
    return any(seq[i:i + len(part)] == part for i in range(len(seq) - len(part) + 1))


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("arch", ARCHS)
def test_named_sizes_have_their_parameter_counts(spider_tokenizer, size: str, arch: str) -> None:  # type: ignore[no-untyped-def]
    model = new_model(f"{arch}-{size}", spider_tokenizer)
    nominal = {"1m": 1e6, "5m": 5e6, "20m": 20e6}[size]
    assert 0.9 * nominal <= count_parameters(model) <= 1.15 * nominal
    assert model.config.model_type == arch
    assert model.get_output_embeddings().weight.shape[0] == len(spider_tokenizer)
    assert model.generation_config.eos_token_id == spider_tokenizer.eos_token_id


def test_size_names_and_errors() -> None:
    assert parse_size("5m") == ("llama", "5m")
    assert parse_size("QWEN2-20M") == ("qwen2", "20m")
    assert parse_size("gpt-5m") is None and parse_size("/models/x") is None
    with pytest.raises(ConfigError, match="unknown model size"):
        new_model("7b", train_tokenizer(["a b c"] * 3, vocab_size=300))
    with pytest.raises(ConfigError, match="too small"):
        train_tokenizer(["x"], vocab_size=10)


def test_loading_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_model(tmp_path / "empty")
    with pytest.raises(ModelError, match="cannot load a tokenizer"):
        load_tokenizer(tmp_path / "empty")


def test_vocabulary_mismatch_is_refused(spider_tokenizer) -> None:  # type: ignore[no-untyped-def]
    other = train_tokenizer(["SELECT a FROM b"] * 10 + ["completely different words here"] * 10, vocab_size=400)
    small = new_model("1m", other)
    big = new_model("5m", spider_tokenizer)
    with pytest.raises(ModelError, match="vocabularies differ in size"):
        check_same_vocabulary(big, small, spider_tokenizer, other)
    same_size = new_model("1m", spider_tokenizer)
    check_same_vocabulary(big, same_size, spider_tokenizer, spider_tokenizer)  # same tokenizer: fine
    shuffled = train_tokenizer(["zzz yyy xxx"] * 50, vocab_size=300)
    with pytest.raises(ModelError, match="map tokens differently"):
        check_same_vocabulary(new_model("1m", shuffled), new_model("1m", shuffled), shuffled, other)


def test_model_dir_contract_round_trip(spider_dir: Path, tmp_path: Path) -> None:
    from sqldistill.db import reflect

    schema = reflect(str(spider_dir / "database" / "department_management" / "department_management.sqlite"))
    tok = train_tokenizer(["SELECT name FROM head", "How many heads?"] * 20, vocab_size=300)
    model = new_model("1m", tok)
    out = save_model_dir(model, tok, tmp_path / "m", schema=schema, prompt_format=PromptFormat("compact", 1),
                         method="sft", base_model="scratch:1m", training={"steps": 0})
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", META_FILE} <= names
    meta = read_model_meta(out)
    assert meta["format"] == 1 and meta["db_id"] == "department_management"
    assert meta["schema_fingerprint"] == schema.fingerprint and meta["schema"]["db_id"] == schema.db_id
    assert meta["prompt"] == {"schema_style": "compact", "samples": 1}
    assert meta["method"] == "sft" and meta["base_model"] == "scratch:1m" and meta["created"].endswith("+00:00")
    assert meta["num_parameters"] == count_parameters(model)
    again = load_model(out)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_read_model_meta_rejects_incomplete_dirs(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        read_model_meta(tmp_path / "missing")
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelError, match="not a sqldistill model"):
        read_model_meta(tmp_path / "m")
    (tmp_path / "m" / META_FILE).write_text('{"format": 1}')
    with pytest.raises(ModelError, match="lacks db_id"):
        read_model_meta(tmp_path / "m")
    (tmp_path / "m" / META_FILE).write_text("{broken")
    with pytest.raises(ModelError, match="cannot read"):
        read_model_meta(tmp_path / "m")
