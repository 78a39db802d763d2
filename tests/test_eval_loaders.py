"""Gold and prediction readers: every supported format, alignment kept on empty predictions, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqldistill.errors import DataError
from sqldistill.eval.loaders import GoldExample, load_gold, load_predictions


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_spider_json_gold(tmp_path: Path) -> None:
    data = [{"db_id": "singer", "query": "SELECT count(*) FROM singer", "question": "How many?"}]
    gold = load_gold(write(tmp_path, "dev.json", json.dumps(data)))
    assert gold == [GoldExample("SELECT count(*) FROM singer", "singer", "How many?")]


def test_bird_json_gold_keeps_evidence_and_difficulty(tmp_path: Path) -> None:
    data = [{"question_id": 0, "db_id": "db", "question": "q", "evidence": "e", "SQL": "SELECT 1",
             "difficulty": "simple"}]
    (g,) = load_gold(write(tmp_path, "bird.json", json.dumps(data)))
    assert (g.sql, g.db_id, g.evidence, g.difficulty) == ("SELECT 1", "db", "e", "simple")


def test_jsonl_and_tsv_gold(tmp_path: Path) -> None:
    lines = [json.dumps({"db_id": "a", "question": "q1", "sql": "SELECT 1"}), "",
             json.dumps({"db_id": "b", "question": "q2", "sql": "SELECT 2"})]
    assert [g.db_id for g in load_gold(write(tmp_path, "g.jsonl", "\n".join(lines)))] == ["a", "b"]
    tsv = load_gold(write(tmp_path, "gold.sql", "SELECT 1\ta\r\n\nSELECT  2 \tb\n"))
    assert [(g.sql, g.db_id) for g in tsv] == [("SELECT 1", "a"), ("SELECT  2 ", "b")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("SELECT 1\n", "not 'SQL<TAB>db_id'"),
        ("SELECT 1\ta\tb\n", "not 'SQL<TAB>db_id'"),
        ('[{"db_id": "a"}]', "has no SQL"),
        ('[{"query": "SELECT 1"}]', "has no db_id"),
        ('[{"query": "  ", "db_id": "a"}]', "empty gold SQL"),
        ("[1, 2]", "is not a JSON object"),
        ('{"db_id": "a", "sql": "SELECT 1"}\n{broken\n', "line 2"),
    ],
)
def test_malformed_gold_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_gold(write(tmp_path, "gold.txt", text))


def test_missing_gold_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_gold(tmp_path / "nope.json")


def test_predictions_keep_alignment_on_empty_lines(tmp_path: Path) -> None:
    # The official reader would take the blank line for a separator and shift everything after it.
    path = write(tmp_path, "pred.sql", "SELECT 1\n\n   \nSELECT 2\tsinger\n")
    assert load_predictions(path, expected=4) == ["SELECT 1", "", "", "SELECT 2"]


def test_predictions_are_cut_at_the_first_tab_without_restripping(tmp_path: Path) -> None:
    # The official reader strips the line, then cuts at the first tab: the space before the tab stays.
    path = write(tmp_path, "pred.sql", "SELECT a FROM t WHERE b = value \tdb\n")
    assert load_predictions(path) == ["SELECT a FROM t WHERE b = value "]


def test_only_newlines_end_a_prediction(tmp_path: Path) -> None:
    path = write(tmp_path, "pred.sql", "SELECT 'a\x0cb'\r\nSELECT 2\rSELECT 3")
    assert load_predictions(path) == ["SELECT 'a\x0cb'", "SELECT 2", "SELECT 3"]


def test_trailing_blank_lines_are_forgiven_but_counts_must_match(tmp_path: Path) -> None:
    path = write(tmp_path, "pred.sql", "SELECT 1\nSELECT 2\n\n\n")
    assert load_predictions(path, expected=2) == ["SELECT 1", "SELECT 2"]
    assert load_predictions(path, expected=3) == ["SELECT 1", "SELECT 2", ""]  # a blank line is a prediction
    with pytest.raises(DataError, match="has 4 predictions but the gold has 5 examples"):
        load_predictions(path, expected=5)


def test_json_predictions(tmp_path: Path) -> None:
    as_list = write(tmp_path, "p.json", json.dumps(["SELECT 1", {"sql": "SELECT 2"}, None]))
    assert load_predictions(as_list) == ["SELECT 1", "SELECT 2", ""]
    as_lines = write(tmp_path, "p.jsonl", '{"sql": "SELECT 1"}\n\n{"question": "q"}\n')
    assert load_predictions(as_lines) == ["SELECT 1", "", ""]
    bird = write(tmp_path, "bird.json", json.dumps({"1": "SELECT 2\t----- bird -----\tdb",
                                                    "0": "SELECT 1\t----- bird -----\tdb"}))
    assert load_predictions(bird) == ["SELECT 1", "SELECT 2"]


def test_a_text_prediction_starting_with_a_bracket_is_still_text(tmp_path: Path) -> None:
    path = write(tmp_path, "pred.sql", "[garbage\nSELECT 1\n")
    assert load_predictions(path) == ["[garbage", "SELECT 1"]
