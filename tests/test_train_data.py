"""Training data handling, plus the helpers the other training tests use to make real pairs.

The pairs come from templates over a real Spider *train* database (never from dev questions): every SQL is
executed on the database before it is kept, so the tests train on pairs that are right.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sqldistill.data.prompt import PromptFormat, render_completion, render_prompt
from sqldistill.db import connect, reflect
from sqldistill.errors import DataError
from sqldistill.records import Schema

TRAIN_DB = "department_management"


def template_pairs(db_path: Path, fmt: PromptFormat | None = None) -> tuple[list[dict[str, Any]], Schema]:
    """Question/SQL pairs from simple templates over every table and column; only SQL that executes is kept."""
    schema = reflect(str(db_path), samples=3)
    fmt = fmt or PromptFormat()
    pairs: list[tuple[str, str, str]] = []
    for t in schema.tables:
        name = t.name
        pairs.append((f"How many {name} are there?", f"SELECT count(*) FROM {name}", "easy"))
        for c in t.columns:
            col = c.name
            pairs.append((f"List the {col} of all {name}.", f"SELECT {col} FROM {name}", "easy"))
            pairs.append((f"List the distinct {col} of {name}.", f"SELECT DISTINCT {col} FROM {name}", "easy"))
            pairs.append((f"Show {col} of {name} sorted by {col}.", f"SELECT {col} FROM {name} ORDER BY {col}",
                          "medium"))
            if c.type.upper() in ("INT", "INTEGER", "REAL", "NUMBER", "FLOAT"):
                pairs.append((f"What is the largest {col} of {name}?", f"SELECT max({col}) FROM {name}", "easy"))
                pairs.append((f"What is the average {col} of {name}?", f"SELECT avg({col}) FROM {name}", "easy"))
            for value in c.samples[:2]:
                literal = f"'{value}'" if isinstance(value, str) else str(value)
                other = t.columns[0].name
                pairs.append((f"Which {other} of {name} has {col} {value}?",
                               f"SELECT {other} FROM {name} WHERE {col} = {literal}", "medium"))
    records = []
    with connect(str(db_path)) as db:
        for question, sql, hardness in pairs:
            if db.execute(sql).ok:
                records.append({"question": question, "sql": sql, "db_id": schema.db_id, "hardness": hardness,
                                "prompt": render_prompt(question, schema, fmt), "completion": render_completion(sql)})
    return records, schema


def write_dataset(folder: Path, db_path: Path, fmt: PromptFormat | None = None) -> tuple[Path, Schema]:
    """train.jsonl and schema.json in ``folder``; returns the train file and the schema."""
    records, schema = template_pairs(db_path, fmt)
    folder.mkdir(parents=True, exist_ok=True)
    train = folder / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "schema.json").write_text(schema.to_json())
    return train, schema


def db_path_of(spider_dir: Path, db_id: str = TRAIN_DB) -> Path:
    return spider_dir / "database" / db_id / f"{db_id}.sqlite"


# ----------------------------------------------------------------------------------------------------------
from sqldistill.train import data as tdata  # noqa: E402


def test_templates_give_executable_pairs(spider_dir: Path) -> None:
    records, schema = template_pairs(db_path_of(spider_dir))
    assert len(records) > 40
    assert all(r["prompt"].endswith("SQL:") and r["completion"].startswith(" SELECT") for r in records)
    assert schema.db_id == TRAIN_DB


def test_read_jsonl_reports_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"prompt": "a", "completion": " b"}\n{"prompt": "a"}\n')
    with pytest.raises(DataError, match=r"t.jsonl:2 lacks the text field\(s\) completion"):
        tdata.read_jsonl(bad)
    bad.write_text("{not json\n")
    with pytest.raises(DataError, match=r"t.jsonl:1 is not valid JSON"):
        tdata.read_jsonl(bad)
    with pytest.raises(DataError, match="does not exist"):
        tdata.read_jsonl(tmp_path / "missing.jsonl")


def test_prompt_format_is_inferred_and_checked(spider_dir: Path, tmp_path: Path) -> None:
    fmt = PromptFormat("compact", 0)
    records, schema = template_pairs(db_path_of(spider_dir), fmt)
    assert tdata.infer_prompt_format(records, schema, None) == fmt
    with pytest.raises(DataError, match="were not rendered with"):
        tdata.infer_prompt_format(records, schema, PromptFormat("none", 0))
    forged = [{**r, "prompt": "Q: " + r["question"]} for r in records]
    with pytest.raises(DataError, match="do not match"):
        tdata.infer_prompt_format(forged, schema, None)


def test_schema_is_found_beside_the_data_or_refused(spider_dir: Path, tmp_path: Path) -> None:
    train, schema = write_dataset(tmp_path / "data", db_path_of(spider_dir))
    assert tdata.find_schema(train, None, None).fingerprint == schema.fingerprint
    (tmp_path / "data" / "schema.json").unlink()
    with pytest.raises(DataError, match="no schema found"):
        tdata.find_schema(train, None, None)
    assert tdata.find_schema(train, None, str(db_path_of(spider_dir))).fingerprint == schema.fingerprint


def test_tokenize_pair_masks_prompt_and_keeps_completion() -> None:
    from sqldistill.models.causal import train_tokenizer

    tok = train_tokenizer(["Question: how many heads?\nSQL: SELECT count(*) FROM head"] * 5, vocab_size=300)
    t = tdata.tokenize_pair(tok, "Question: how many heads?\nSQL:", " SELECT count(*) FROM head", 512)
    assert t.labels[: t.prompt_len] == [-100] * t.prompt_len
    assert t.labels[-1] == tok.eos_token_id
    assert tok.decode(t.input_ids[t.prompt_len:-1]) == " SELECT count(*) FROM head"
    n_completion = len(t.input_ids) - t.prompt_len
    short = tdata.tokenize_pair(tok, "Question: how many heads?\nSQL:", " SELECT count(*) FROM head", n_completion + 2)
    assert short.prompt_len == 2 and short.input_ids[-1] == tok.eos_token_id  # the prompt lost its start
    assert short.input_ids[:2] == t.input_ids[t.prompt_len - 2:t.prompt_len]


def test_curriculum_goes_easy_to_hard() -> None:
    recs = [{"completion": " x" * n, "hardness": h} for n, h in [(3, "hard"), (9, "easy"), (1, "extra"), (2, "easy")]]
    ordered = tdata.curriculum_order(recs)
    assert [r["hardness"] for r in ordered] == ["easy", "easy", "hard", "extra"]
    assert len(ordered[0]["completion"]) < len(ordered[1]["completion"])


def test_pad_collator_left_pads_prompts() -> None:
    coll = tdata.PadCollator(pad_id=0, with_prompts=True)
    batch = coll([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "prompt_len": [1]},
                  {"input_ids": [5, 8, 9, 4], "labels": [-100, -100, 9, 4], "prompt_len": [2]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [5, 8, 9, 4]]
    assert batch["labels"].tolist() == [[-100, 6, 7, -100], [-100, -100, 9, 4]]
    assert batch["prompts"].tolist() == [[0, 5], [5, 8]]
    assert batch["prompt_attention_mask"].tolist() == [[0, 1], [1, 1]]
