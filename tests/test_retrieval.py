"""Retrieval memory: value filling, masking, the index on a real database, weighted execution votes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sqldistill.db import connect
from sqldistill.errors import ModelError
from sqldistill.infer.retrieval import (
    HashingEncoder,
    RetrievalIndex,
    build_index,
    fill_values,
    mask_question,
    minilm_available,
)
from sqldistill.infer.select import select_by_execution, vote_weights

VALUES = {"singer.country": ["France", "Netherlands", "United States"], "singer.name": ["Joe Sharp", "Rose White"]}


def test_fill_values_swaps_a_literal_for_one_the_question_names() -> None:
    sql = "SELECT name FROM singer WHERE country = 'United States'"
    got = fill_values(sql, "Which singers are from France?", VALUES)
    assert got is not None and "'France'" in got and "United States" not in got
    # aliased columns resolve through their table
    sql = "SELECT T1.name FROM singer AS T1 WHERE T1.country = \"Netherlands\""
    got = fill_values(sql, "names of singers from france", VALUES)
    assert got is not None and "'France'" in got
    # numbers come from the question, in order; 0 and 1 never need to
    got = fill_values("SELECT name FROM singer WHERE age > 40 LIMIT 1", "singers older than 32", VALUES)
    assert got is not None and "> 32" in got and "LIMIT 1" in got


def test_fill_values_gives_up_when_the_question_lacks_a_value() -> None:
    assert fill_values("SELECT name FROM singer WHERE country = 'Peru'", "singers from Spain", VALUES) is None
    assert fill_values("SELECT name FROM singer WHERE age > 40", "old singers", VALUES) is None
    # nothing to fill: None means "no edit"
    assert fill_values("SELECT name FROM singer WHERE country = 'France'", "singers from France", VALUES) is None


def test_mask_question_hides_values_and_numbers() -> None:
    values = sorted({v.lower() for vs in VALUES.values() for v in vs}, key=len, reverse=True)
    assert mask_question("Singers from 'United States' older than 30?", values) == \
        "Singers from value older than number?"
    assert mask_question("songs by Joe Sharp", values) == "songs by value"
    assert mask_question("Frances songs", values) == "Frances songs"  # whole words only


def test_hashing_encoder_is_unit_norm_and_prefers_shared_words() -> None:
    enc = HashingEncoder()
    a, b, c = enc.encode(["how many singers are there", "count the singers", "average stadium capacity"])
    assert abs(float(a @ a) - 1) < 1e-5
    assert float(a @ b) > float(a @ c)


def test_index_on_a_real_database_finds_and_fills(spider_dir: Path, tmp_path: Path) -> None:
    db_path = spider_dir / "database" / "singer" / "singer.sqlite"
    pairs = [
        {"question": "How many singers are there?", "sql": "SELECT count(*) FROM singer"},
        {"question": "Names of singers from United States", "sql": "SELECT Name FROM singer WHERE Citizenship = "
                                                                     "'United States'"},
        {"question": "What is the average net worth of singers?", "sql": "SELECT avg(Net_Worth_Millions) FROM singer"},
        {"question": "How many singers are there?", "sql": "SELECT count(*) FROM singer"},  # a duplicate
    ]
    with connect(db_path) as db:
        folder = build_index(tmp_path / "model", pairs, db=db, encoder="hashing")
        meta = json.loads((folder / "index.json").read_text())
        assert meta["pairs"] == 3 and meta["encoder"] == "hashing"
        values = json.loads((folder / "values.json").read_text())
        assert "France" in values["singer.citizenship"]  # read from the database itself
        index = RetrievalIndex.load(tmp_path / "model")
        assert index is not None and index.num_parameters == 0  # hashing has no weights
        assert index._encoder is None  # loading a model does not load the encoder until a search needs it
        hits = index.search("How many singers do we have?", k=3)
        assert index._encoder is not None
        assert hits[0].sql == "SELECT count(*) FROM singer" and hits[0].similarity >= hits[1].similarity
        cands = index.candidates("Show the names of singers from France", k=1)
        assert cands[0][0].endswith("'France'")
        _, res, _ = select_by_execution([c for c, _ in cands], db)
        assert res is not None and sorted(r[0] for r in res.rows) == sorted(
            r[0] for r in db.execute("SELECT Name FROM singer WHERE Citizenship = 'France'").rows)
    assert RetrievalIndex.load(tmp_path / "nothing") is None


def test_weighted_vote_prefers_the_heavier_cluster(spider_dir: Path) -> None:
    db_path = spider_dir / "database" / "singer" / "singer.sqlite"
    a = "SELECT max(Birth_Year) FROM singer"
    b = "SELECT min(Birth_Year) FROM singer"
    with connect(db_path) as db:
        assert db.execute(a).rows != db.execute(b).rows
        # unweighted: two votes for b beat one for a
        assert select_by_execution([a, b, b + " "], db)[0].startswith(b)
        # weighted: one heavy vote for a wins, and within a cluster the heaviest member speaks
        assert select_by_execution([a, b, b + " "], db, weights=[3.0, 1.0, 1.0])[0] == a
        assert select_by_execution([b, b + " ", a], db, weights=[0.5, 2.0, 1.0])[0] == b + " "


def test_selection_stops_running_candidates_once_the_choice_is_settled(spider_dir: Path) -> None:
    """Candidates that cannot change the choice are not run (a failing one shows whether it ran: it is
    dropped); those that could still outvote the leader, or speak for its cluster, are."""
    db_path = spider_dir / "database" / "singer" / "singer.sqlite"
    a, b, bad = "SELECT max(Birth_Year) FROM singer", "SELECT min(Birth_Year) FROM singer", "SELECT x FROM nowhere"
    with connect(str(db_path)) as db:
        # a outweighs all the rest together: nothing after it runs
        sql, _, dropped = select_by_execution([a, bad, b], db, weights=[3.0, 1.0, 1.0])
        assert sql == a and dropped == []
        # the rest could outvote it: they run, and they do
        sql, _, dropped = select_by_execution([a, bad, b, b + " "], db, weights=[3.0, 1.0, 1.6, 1.6])
        assert sql == b and [d for d, _ in dropped] == [bad]
        # the leading cluster is settled, but a heavier member still to come would speak for it
        sql, _, dropped = select_by_execution([a, a + " ", a + "  ", bad, a + "   "], db,
                                              weights=[1.0, 1.0, 1.0, 0.05, 1.5])
        assert sql == a + "   " and [d for d, _ in dropped] == [bad]
        # unweighted, every vote is 1: three agreeing with two left is settled, two with two left is not
        sql, _, dropped = select_by_execution([a, a + " ", a + "  ", b, bad], db)
        assert sql == a and dropped == []
        sql, _, dropped = select_by_execution([a, a + " ", b, bad], db)
        assert sql == a and [d for d, _ in dropped] == [bad]


def test_vote_weights_rank_similarity_and_grounding() -> None:
    q = "singers from France"
    got = dict(vote_weights(["SELECT name FROM singer", "SELECT age FROM singer"], [("SELECT name FROM singer WHERE country = 'France'", 0.9),
                                                        ("SELECT name FROM singer WHERE country = 'Peru'", 0.9),
                                                        ("SELECT count(*) FROM singer", 0.8)], q, tau=0.05, ungrounded=0.2, student_weight=0.5))
    assert got["SELECT name FROM singer"] == 0.5 and got["SELECT age FROM singer"] == 0.25
    assert got["SELECT name FROM singer WHERE country = 'France'"] == pytest.approx(1.0)
    assert got["SELECT name FROM singer WHERE country = 'Peru'"] == pytest.approx(0.2)
    assert got["SELECT count(*) FROM singer"] == pytest.approx(math.exp(-2))


def test_vote_weights_use_the_model_scores_when_every_candidate_has_one() -> None:
    a, b, c = "SELECT name FROM singer", "SELECT age FROM singer", "SELECT count(*) FROM singer"
    got = dict(vote_weights([a, b, c], [], "singers", scores=[-2.0, -1.0, -3.0], student_weight=0.5))
    # the likeliest candidate gets the full vote whatever its rank, the others their probability next to it
    assert got[b] == pytest.approx(0.5) and got[a] == pytest.approx(0.5 * math.exp(-1))
    assert got[c] == pytest.approx(0.5 * math.exp(-2))
    # a missing score falls back to the rank
    part = dict(vote_weights([a, b, c], [], "singers", scores=[-2.0, None, -3.0], student_weight=0.5))
    assert part[a] == 0.5 and part[b] == 0.25 and part[c] == pytest.approx(0.5 / 3)


def test_vote_weights_favour_the_database_values_the_question_contains() -> None:
    from sqldistill.records import Column, Schema, Table

    schema = Schema("s", "sqlite", [Table("singer", [Column("name", "text"), Column("country", "text"),
                                                      Column("age", "int")])])
    values = {"singer.country": ["France", "Netherlands", "Peru", "Country"], "singer.name": ["Joe Sharp", "Tim"]}
    q = "Quels chanteurs viennent de france ?"  # no English, the value matched case-insensitively
    uses, misses = "SELECT name FROM singer WHERE country = 'France'", "SELECT name FROM singer"
    wrong_column = "SELECT name FROM singer WHERE name = 'France'"
    got = dict(vote_weights([misses, uses, wrong_column], [], q, student_weight=1.0, value_weight=1.0,
                            schema=schema, values=values))
    assert got[uses] == pytest.approx(1.0 / 2 * math.e)
    assert got[misses] == pytest.approx(math.exp(-1))
    # uses the value (+1), but on a column that does not hold it while country does (-1)
    assert got[wrong_column] == pytest.approx(1.0 / 3)
    off = dict(vote_weights([misses, uses], [], q, student_weight=1.0, value_weight=0.0, values=values))
    assert off == {misses: 1.0, uses: 0.5}


def test_named_values_are_whole_tokens_and_not_schema_names() -> None:
    from sqldistill.records import Column, Schema, Table
    from sqldistill.sql.values import named_values

    schema = Schema("s", "sqlite", [Table("singer", [Column("name", "text"), Column("country", "text")])])
    values = {"singer.country": ["Peru", "Country", "New York", "York", "UK"], "singer.name": ["2010"]}
    assert named_values("Singers by country from Peruvian towns in 2010", values, schema) == frozenset()
    assert named_values("Sänger aus New York oder PERU?", values, schema) == {"new york", "peru"}
    # the cells are read once per values dict and schema: another dict (or schema) is read afresh
    other = {"singer.country": ["Chile", "New York"]}
    assert named_values("Sänger aus New York oder Chile?", other, schema) == {"new york", "chile"}
    assert named_values("Sänger aus New York oder PERU?", values, None) == {"new york", "peru"}
    assert named_values("Which country is Peru?", values, None) == {"country", "peru"}
    assert named_values("Which country is Peru?", values, schema) == {"peru"}


def test_a_text_compared_with_a_column_that_does_not_hold_it_costs_a_point() -> None:
    from sqldistill.records import Column, Schema, Table
    from sqldistill.sql.values import value_agreement

    schema = Schema("s", "sqlite", [Table("singer", [Column("name", "text"), Column("country", "text")])])
    values = {"singer.country": ["Peru", "Chile"], "singer.name": ["Ana Peru", "Luis"]}
    assert value_agreement("SELECT name FROM singer WHERE country = 'Peru'", frozenset(), schema, values) == 0
    assert value_agreement("SELECT name FROM singer WHERE name = 'Chile'", frozenset(), schema, values) == -1
    assert value_agreement("SELECT name FROM singer WHERE name = ' LUIS '", frozenset(), schema, values) == 0
    assert value_agreement("SELECT name FROM singer WHERE name = 'Chile'", frozenset({"chile"}), schema, values) == 0


@pytest.mark.skipif(not minilm_available(), reason="the optional MiniLM package is not installed")
def test_minilm_encoder_ranks_paraphrases_together() -> None:
    from sqldistill.infer.retrieval import MiniLMEncoder

    enc = MiniLMEncoder()
    a, b, c = enc.encode(["How many singers do we have?", "Count the number of singers.", "List all stadiums."])
    assert float(a @ b) > float(a @ c) and enc.num_parameters > 20_000_000


def test_unknown_encoder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown retrieval encoder"):
        build_index(tmp_path, [{"question": "q", "sql": "SELECT 1"}], encoder="bm25")


def test_guided_serving_uses_the_memory_to_answer_an_unseen_value(spider_dir: Path,
                                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    """The tiny student only ever saw 'France'; its memory fills in the country the user typed, and the
    execution-guided service picks that query."""
    import shutil

    from sqldistill.infer.predictor import Predictor
    from sqldistill.serve.service import SqlService
    from tests.test_serve_student import PAIRS, singer_copy, tiny_student

    where = tmp_path_factory.mktemp("guided")
    model = where / "model"
    shutil.copytree(tiny_student(spider_dir, tmp_path_factory), model)
    db_path = singer_copy(spider_dir, where / "db")
    question = "What are the names of singers from Germany?"
    plain = Predictor.load(model).generate([question])[0][0]
    assert "Germany" not in plain  # the decoder alone cannot say it
    with connect(db_path) as db:
        build_index(model, [{"question": q, "sql": s} for q, s in PAIRS], db=db, encoder="hashing")
    svc = SqlService.load(model, str(db_path), guided=True, warmup=False)
    try:
        answer = svc.answer_sync(question)
        assert answer.sql.endswith("'Germany'") and answer.result is not None
        assert [r[0] for r in answer.result.rows] == [
            r[0] for r in svc.db.execute("SELECT Name FROM singer WHERE Citizenship = 'Germany'").rows]
    finally:
        svc.close()


def test_only_numbers_written_in_digits_ground_a_literal() -> None:
    from sqldistill.sql.grounding import numbers_in, ungrounded_literals

    assert numbers_in("at least 2 teachers, 1,500 seats and 3.5 stars") == {2.0, 1500.0, 1.5, 3.5}
    assert numbers_in("at least two teachers") == set()  # no word list of any language
    sql = "SELECT hometown FROM teacher GROUP BY hometown HAVING count(*) >= 2"
    assert ungrounded_literals(sql, "hometowns shared by at least 2 teachers") == []
    assert ungrounded_literals(sql, "hometowns shared by at least two teachers") == ["2"]
    assert ungrounded_literals("SELECT name FROM t ORDER BY x LIMIT 1", "the first one") == []
