"""The corpus of learned shapes and phrasings: built from question/SQL pairs over one real database,
filled in over another, worded with that database's own names and values; the source mix and its counts."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from click.testing import CliRunner

from sqldistill.cli import cli
from sqldistill.db import connect, reflect
from sqldistill.errors import ConfigError, DataError
from sqldistill.sql.safety import readonly_problem
from sqldistill.sql.skeleton import skeleton
from sqldistill.synth import SynthOptions, synthesize
from sqldistill.synth.corpus import (
    Corpus,
    CorpusSource,
    Entry,
    SkeletonModel,
    anchor,
    build_corpus,
    load_corpus,
    mutate,
    neighbour_pool,
    phrasing,
    speak,
    values_of,
)
from sqldistill.synth.graph import SchemaGraph, build_graph
from sqldistill.synth.ir import to_sql, walk
from sqldistill.synth.logmine import parse_query
from sqldistill.synth.picker import Picker
from sqldistill.synth.shapes import abstract_slots, instantiate_slots, shape_skeleton
from sqldistill.synth.synthesis import parse_sources

# Questions written for these tests over the bundled singer database (singer, song).
PAIRS = [
    ("How many singers are there?", "SELECT count(*) FROM singer"),
    ("How many singers have citizenship France?", "SELECT count(*) FROM singer WHERE Citizenship = 'France'"),
    ("List the name of singers with net worth millions above 30.",
     "SELECT Name FROM singer WHERE Net_Worth_Millions > 30"),
    ("Show the title of songs by singers with citizenship United States.",
     "SELECT T2.Title FROM singer AS T1 JOIN song AS T2 ON T1.Singer_ID = T2.Singer_ID "
     "WHERE T1.Citizenship = 'United States'"),
    ("Show each citizenship and the number of singers.", "SELECT Citizenship, count(*) FROM singer GROUP BY Citizenship"),
    ("What is the name of the singer with the largest net worth millions?",
     "SELECT Name FROM singer ORDER BY Net_Worth_Millions DESC LIMIT 1"),
    ("List the name of singers that do not have any song.",
     "SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM song)"),
    ("Show the citizenship shared by singers with birth year before 1945 and after 1955.",
     "SELECT Citizenship FROM singer WHERE Birth_Year < 1945 INTERSECT "
     "SELECT Citizenship FROM singer WHERE Birth_Year > 1955"),
]


def _graph(spider_dir: Path, name: str) -> SchemaGraph:
    with connect(str(spider_dir / "database" / name / f"{name}.sqlite")) as db:
        return build_graph(db, reflect(db, samples=0))


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory: pytest.TempPathFactory, spider_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    train = root / "train.json"
    train.write_text(json.dumps([{"db_id": "singer", "question": q, "question_syn": q.replace("List", "Give"),
                                  "query": sql} for q, sql in PAIRS]
                                + [{"db_id": "poker_player", "question": "How many people are there?",
                                    "query": "SELECT count(*) FROM people"}]))
    out = root / "corpus.json.gz"
    stats = build_corpus(train, spider_dir / "database", out, exclude=["poker_player"])
    assert stats["pairs"] == len(PAIRS) and stats["shapes"] == len(PAIRS)  # the excluded database is left out
    assert stats["phrased"] >= 8
    return out


def test_abstract_then_fill_on_the_same_database_keeps_the_skeleton(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
        links = Picker(g, random.Random(0)).links
        rng = random.Random(0)
        for _, sql in PAIRS:
            q = parse_query(sql, g)
            assert q is not None, sql
            done = abstract_slots(q, g)
            assert done is not None
            shape, slots, variables = done
            assert set(variables) == {t for part in walk(q) for t in part.tables}
            assert all(c.table in g.tables for c in slots.values())
            made = [instantiate_slots(shape, g, rng, links, strict=s) for s in (True, False) for _ in range(5)]
            filled = [f for f in made if f is not None]
            assert filled, sql
            for f in filled:
                text = to_sql(f.query)
                assert skeleton(text) == skeleton(sql), (sql, text)
                assert db.execute(text).ok, text


def test_filled_on_another_schema_names_only_that_schema(corpus_file: Path, spider_dir: Path) -> None:
    corpus = load_corpus(str(corpus_file))
    assert corpus.excluded == ("poker_player",)
    path = spider_dir / "database" / "poker_player" / "poker_player.sqlite"
    with connect(str(path)) as db:
        g = build_graph(db, reflect(db, samples=3))
        source = CorpusSource(g, 0, corpus, db)
        made = [ex for ex in (source.next() for _ in range(200)) if ex is not None]
        assert len({skeleton(ex.sql) for ex in made}) >= 5
        names = {t.lower() for t in g.tables}
        columns = {c.name.lower() for t in g.tables.values() for c in t.columns}
        for ex in made:
            assert ex.source == "corpus" and ex.db_id == "poker_player"
            assert readonly_problem(ex.sql, "sqlite") is None
            assert db.execute(ex.sql).ok, ex.sql
            tree = sqlglot.parse_one(ex.sql, read="sqlite")
            assert {t.name.lower() for t in tree.find_all(sqlglot.exp.Table)} <= names
            assert {c.name.lower() for c in tree.find_all(sqlglot.exp.Column)} <= columns
            assert "singer" not in ex.sql.lower() and "{" not in ex.question


def test_phrasing_slots_take_the_target_words_and_values(spider_dir: Path) -> None:
    singer = _graph(spider_dir, "singer")
    q = parse_query("SELECT count(*) FROM singer WHERE Citizenship = 'France'", singer)
    assert q is not None
    done = abstract_slots(q, singer)
    assert done is not None
    shape, slots, variables = done
    template = phrasing("How many singers have citizenship France?", q, singer, slots, variables)
    assert template is not None
    assert re.fullmatch(r"How many \{t:0:p\} have \{c:s\d+\} \{v:0\}\?", template), template
    # a question naming a column the query does not use cannot be moved to another schema
    assert phrasing("How many singers with a song have citizenship France?", q, singer, slots, variables) is None
    # nor one whose value it does not show
    assert phrasing("How many singers are French?", q, singer, slots, variables) is None

    path = spider_dir / "database" / "poker_player" / "poker_player.sqlite"
    with connect(str(path)) as db:
        people = build_graph(db, reflect(db, samples=3))
        links = Picker(people, random.Random(0)).links
        rng = random.Random(3)
        spoken = 0
        for _ in range(30):
            filled = instantiate_slots(shape, people, rng, links)
            if filled is None:
                continue
            text = speak(template, filled, people, rng)
            assert text is not None and "{" not in text
            table = filled.tables[0]
            column = next(iter(filled.columns.values()))
            value = values_of(filled.query)[0]
            assert table.plural in text and column.phrase in text and str(value) in text, text
            assert value in column.values  # a value from the target database
            spoken += 1
        assert spoken >= 5


def test_source_mix_is_parsed_and_each_source_counted(corpus_file: Path, spider_dir: Path, tmp_path: Path) -> None:
    assert parse_sources("corpus=0.8, templates=0.2")["corpus"] == 0.8
    assert parse_sources("")["templates"] == 0.2
    for bad in ("corpus=x", "magic=1", "templates=-1"):
        with pytest.raises(ConfigError):
            parse_sources(bad)
    db = spider_dir / "database" / "poker_player" / "poker_player.sqlite"
    stats = synthesize(db, tmp_path / "mix", SynthOptions(n=80, seed=2, progress=False, corpus=corpus_file,
                                                          sources={"corpus": 0.5, "templates": 0.5}))
    sources = stats["sources"]
    assert set(sources) == {"corpus", "template"}
    assert sum(s["kept"] for s in sources.values()) == stats["kept"] == 80
    assert sources["corpus"]["kept"] >= 30 and sources["template"]["kept"] >= 30
    assert sum(stats["corpus_wording"].values()) == sources["corpus"]["kept"]
    rows = [json.loads(line) for line in (tmp_path / "mix" / "train.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == {"corpus", "template"}
    only = synthesize(db, tmp_path / "templates", SynthOptions(n=40, seed=2, progress=False, corpus="/nowhere",
                                                                sources={"corpus": 0, "templates": 1}))
    assert set(only["sources"]) == {"template"}  # no corpus share: the corpus is not even read
    with pytest.raises(ConfigError):
        synthesize(db, tmp_path / "none", SynthOptions(n=10, progress=False, sources={"corpus": 0, "templates": 0}))


def test_config_carries_the_mix() -> None:
    from sqldistill.config import config_from_dict

    cfg = config_from_dict({"database": "x", "synth": {"sources": {"corpus": 0.7, "templates": 0.3}}})
    assert cfg.synth.sources.corpus == 0.7 and cfg.synth.sources.log == 0.3
    with pytest.raises(ConfigError):
        config_from_dict({"database": "x", "synth": {"sources": {"corpus": 0, "templates": 0}}})
    with pytest.raises(ConfigError):
        config_from_dict({"database": "x", "synth": {"sources": {"oracle": 1}}})


def test_missing_or_corrupt_corpus_is_one_clear_error(tmp_path: Path, spider_dir: Path) -> None:
    with pytest.raises(DataError, match="No synthesis corpus"):
        load_corpus(str(tmp_path / "absent.json.gz"))
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="unreadable"):
        load_corpus(str(bad))
    wrong = tmp_path / "wrong.json.gz"
    wrong.write_bytes(gzip.compress(json.dumps({"format": 99, "shapes": []}).encode()))
    with pytest.raises(DataError, match="unreadable"):
        load_corpus(str(wrong))
    db = spider_dir / "database" / "singer" / "singer.sqlite"
    result = CliRunner().invoke(cli, ["synth", str(db), "--out", str(tmp_path / "o"), "--n", "10", "--quiet",
                                      "--corpus", str(bad)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "unreadable" in lines[0], result.output
    assert not (tmp_path / "o" / "train.jsonl").exists()


def test_shipped_corpus_holds_out_the_tuning_databases() -> None:
    corpus = load_corpus()
    assert len(corpus.entries) > 1000 and len({e.skeleton for e in corpus.entries}) > 500
    assert sum(bool(e.phrasings) for e in corpus.entries) > 300
    assert len(corpus.excluded) == 20 and {"wine_1", "csu_1", "store_1"} <= set(corpus.excluded)
    assert [e.n for e in corpus.entries] == sorted((e.n for e in corpus.entries), reverse=True)


def test_values_come_from_one_row_and_neighbours_change_the_skeleton(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
        # two values that no singer holds together: the anchored query takes both from one real row
        q = parse_query("SELECT Name FROM singer WHERE Citizenship = 'France' AND Birth_Year = 1948", g)
        assert q is not None and not db.execute(to_sql(q)).rows
        rng = random.Random(0)
        for _ in range(10):
            fixed = anchor(q, db, rng)
            assert skeleton(to_sql(fixed)) == skeleton(to_sql(q))
            assert db.execute(to_sql(fixed)).rows, to_sql(fixed)
        links = Picker(g, random.Random(0)).links
        changed = 0
        for _, sql in PAIRS:
            parsed = parse_query(sql, g)
            assert parsed is not None
            done = abstract_slots(parsed, g)
            assert done is not None
            shape = done[0]
            other = mutate(shape, rng)
            assert shape == abstract_slots(parsed, g)[0]  # type: ignore[index]
            assert set(other["slots"]) == _slots_used(other)
            filled = instantiate_slots(other, g, rng, links, strict=False)
            if filled is not None and other != shape:
                assert skeleton(to_sql(filled.query)) != skeleton(sql)
                assert db.execute(to_sql(filled.query)).ok
                changed += 1
        assert changed >= 4


def _slots_used(shape: dict[str, Any]) -> set[str]:
    """Every slot a shape's query names (as its projections, joins, groups, conditions and their values)."""
    return set(re.findall(r'"(s\d+)"', json.dumps(shape["q"])))


def test_structural_neighbours_add_drop_and_move_parts_and_still_run(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
        links = Picker(g, random.Random(0)).links
        rng = random.Random(1)
        shapes = []
        for _, sql in PAIRS:
            parsed = parse_query(sql, g)
            assert parsed is not None
            done = abstract_slots(parsed, g)
            assert done is not None
            shapes.append((sql, done[0]))
        for kind in ("projection", "condition", "order", "count", "range", "operator", "table"):
            changed = 0
            for sql, shape in shapes:
                for _ in range(6):
                    other = mutate(shape, rng, {kind: 1.0})
                    assert set(other["slots"]) == _slots_used(other), (kind, other)  # no slot left dangling
                    filled = instantiate_slots(other, g, rng, links, strict=False)
                    if filled is None or other == shape:
                        continue
                    text = to_sql(filled.query)
                    assert db.execute(text).ok, text
                    assert skeleton(text) != skeleton(sql), (kind, text)
                    changed += 1
            assert changed >= 3, kind
        # a table neighbour joins one more table along a key, with a condition on the new table
        for sql, shape in shapes:
            if " JOIN " in sql or sql.count("SELECT") > 1:
                continue
            joined = [f for f in (instantiate_slots(mutate(shape, rng, {"table": 1.0}), g, rng, links)
                                  for _ in range(5)) if f is not None]
            assert joined, sql
            for f in joined:
                assert len(f.query.tables) == 2 and len(f.query.joins) == 1 and f.query.where, to_sql(f.query)
                on_new = {f.query.where[-1].left.col.table, f.query.where[0].left.col.table}
                assert f.query.tables[1] in on_new
                assert db.execute(to_sql(f.query)).ok
        # a projection neighbour shows one column more or fewer, or the same ones in another order
        parsed = parse_query("SELECT Name, Birth_Year FROM singer WHERE Net_Worth_Millions > 30", g)
        assert parsed is not None
        done = abstract_slots(parsed, g)
        assert done is not None
        select = done[0]["q"]["select"]
        made = [mutate(done[0], random.Random(seed), {"projection": 1.0})["q"]["select"] for seed in range(40)]
        assert any(len(m) == 3 for m in made) and any(len(m) == 1 for m in made)
        assert select[::-1] in made
        # no sort for a one-row answer; a group by a column that is not a key shows only more aggregates
        single = abstract_slots(parse_query("SELECT avg(Net_Worth_Millions) FROM singer", g), g)  # type: ignore[arg-type]
        grouped = abstract_slots(parse_query("SELECT Citizenship, count(*) FROM singer GROUP BY Citizenship", g),
                                 g)  # type: ignore[arg-type]
        assert single is not None and grouped is not None
        for seed in range(20):
            assert "order" not in mutate(single[0], random.Random(seed), {"order": 1.0})["q"]
            shown = mutate(grouped[0], random.Random(seed), {"projection": 1.0})["q"]["select"]
            assert all(len(it) > 1 or it == grouped[0]["q"]["select"][0] for it in shown), shown
            assert any(len(it) > 1 for it in shown)  # never the groups alone


def test_join_paths_written_with_all_conditions_after_the_last_join(spider_dir: Path) -> None:
    sql = ("SELECT T1.Fname FROM Student AS T1 JOIN Has_Allergy AS T2 JOIN Allergy_Type AS T3 "
           "ON T1.StuID = T2.StuID AND T2.Allergy = T3.Allergy WHERE T3.AllergyType = 'food'")
    with connect(str(spider_dir / "database" / "allergy_1" / "allergy_1.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
        q = parse_query(sql, g)
        assert q is not None and q.chained and len(q.joins) == 2
        assert skeleton(to_sql(q)) == skeleton(sql)
        assert sorted(db.execute(to_sql(q)).rows) == sorted(db.execute(sql).rows) != []
        plain = to_sql(q.with_(chained=False))
        assert "JOIN Has_Allergy AS T2 ON" in plain and sorted(db.execute(plain).rows) == sorted(db.execute(sql).rows)
        # two joins with no ON at all, or a condition count that does not match, stay outside the subset
        assert parse_query(sql.replace(" AND T2.Allergy = T3.Allergy", ""), g) is None
        done = abstract_slots(q, g)
        assert done is not None and done[0]["q"]["chained"] is True
        links = Picker(g, random.Random(0)).links
        rng = random.Random(0)
        filled = [f for f in (instantiate_slots(done[0], g, rng, links) for _ in range(10)) if f is not None]
        assert filled and all(skeleton(to_sql(f.query)) == skeleton(sql) for f in filled)
        # the neighbour written the other way: one ON per JOIN
        other = mutate(done[0], rng, {"join": 1.0})
        assert "chained" not in other["q"]
        back = instantiate_slots(other, g, rng, links)
        assert back is not None and " ON " in to_sql(back.query).split("JOIN")[1]
        assert db.execute(to_sql(back.query)).ok


def test_or_bounds_and_having_thresholds_fit_the_data(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
        rng = random.Random(0)
        # two OR-ed bounds on one column are put apart, so they do not hold for every row
        q = parse_query("SELECT Name FROM singer WHERE Birth_Year > 1950 OR Birth_Year < 1960", g)
        assert q is not None
        apart = to_sql(anchor(q, db, rng))
        assert apart.endswith("Birth_Year > 1960 OR Birth_Year < 1950"), apart
        assert len(db.execute(apart).rows) < len(db.execute("SELECT Name FROM singer").rows)
        for op in (">", ">=", "<", "<=", "="):
            q = parse_query(f"SELECT Citizenship FROM singer GROUP BY Citizenship HAVING count(*) {op} 40", g)
            assert q is not None
            empty = not db.execute(to_sql(q)).rows
            assert empty or op in ("<", "<=")
            for _ in range(5):
                fixed = anchor(q, db, rng)
                assert skeleton(to_sql(fixed)) == skeleton(to_sql(q))
                assert db.execute(to_sql(fixed)).rows, to_sql(fixed)
        # with several groups of different sizes, a threshold also leaves some group out
        q = parse_query("SELECT Citizenship FROM singer GROUP BY Citizenship HAVING count(*) > 40", g)
        assert q is not None
        groups = len(db.execute("SELECT DISTINCT Citizenship FROM singer").rows)
        sizes = {r[0] for r in db.execute("SELECT count(*) FROM singer GROUP BY Citizenship").rows}
        if len(sizes) > 1:
            rows = db.execute(to_sql(anchor(q, db, rng))).rows
            assert 0 < len(rows) < groups


def test_skeleton_model_prefers_sql_that_reads_like_the_corpus() -> None:
    model = SkeletonModel(e.skeleton for e in load_corpus().entries)
    usual = "select c from t where c > v order by c desc"
    assert model.score(usual) > model.score("select c from t order by c desc where c > v")
    assert model.score(usual) > model.score("select c from t where c > v desc order by c")
    assert model.score("select c from t join t on c = c where c = v") > \
        model.score("select c from t join t on c = c on c = c where c = v")


def _shapes_of_pairs(g: SchemaGraph) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for _, sql in PAIRS:
        parsed = parse_query(sql, g)
        assert parsed is not None
        done = abstract_slots(parsed, g)
        assert done is not None
        out.append((sql, done[0]))
    return out


def test_a_shape_knows_its_skeleton_before_it_is_filled(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
    links = Picker(g, random.Random(0)).links
    rng = random.Random(4)
    checked = 0
    for sql, shape in _shapes_of_pairs(g):
        assert shape_skeleton(shape) == skeleton(sql)
        for _ in range(10):
            other = mutate(shape, rng)
            filled = instantiate_slots(other, g, rng, links, strict=False)
            if filled is not None:
                assert shape_skeleton(other) == skeleton(to_sql(filled.query)), other
                checked += 1
    assert checked >= 30


def test_neighbour_pool_ranks_skeletons_the_corpus_lacks_and_the_source_draws_them(spider_dir: Path) -> None:
    g = _graph(spider_dir, "singer")
    entries = [Entry(1, skeleton(sql), shape) for sql, shape in _shapes_of_pairs(g)]
    pool = neighbour_pool(entries, draws=30)
    own = {e.skeleton for e in entries}
    assert len(pool) > 20
    assert [p["n"] for p in pool] == sorted((p["n"] for p in pool), reverse=True)
    assert pool[0]["n"] >= 2  # some neighbour is reached from more than one shape
    for p in pool:
        assert p["skeleton"] not in own and 1 <= len(p["shapes"]) <= 3
        assert all(shape_skeleton(shape) == p["skeleton"] for shape in p["shapes"])
    assert neighbour_pool(entries, draws=30) == pool  # the same corpus gives the same pool
    # the source fills the pool's shapes in over another database, each with its own skeleton
    corpus = Corpus(tuple(entries), neighbours=tuple(Entry(p["n"], p["skeleton"], shape) for p in pool
                                                     for shape in p["shapes"]))
    path = spider_dir / "database" / "poker_player" / "poker_player.sqlite"
    with connect(str(path)) as db:
        target = build_graph(db, reflect(db, samples=3))
        source = CorpusSource(target, 0, corpus, db, neighbours=0.0, pool_least=1)
        made = [ex for ex in (source.next() for _ in range(300)) if ex is not None]
        near = [ex for ex in made if ex.meta["shape"] == "pool"]
        assert len({skeleton(ex.sql) for ex in near}) >= 10
        for ex in near:
            assert skeleton(ex.sql) in {p["skeleton"] for p in pool} and db.execute(ex.sql).ok, ex.sql


def test_shipped_corpus_carries_a_neighbour_pool() -> None:
    corpus = load_corpus()
    own = {e.skeleton for e in corpus.entries}
    near = {e.skeleton for e in corpus.neighbours}
    assert len(near) >= 500 and not near & own


def test_a_join_over_a_key_of_two_columns_equates_both(spider_dir: Path, shared_spider_dir: Path) -> None:
    sql = ("SELECT T2.course_id FROM classroom AS T1 JOIN section AS T2 ON T1.building = T2.building "
           "AND T1.room_number = T2.room_number WHERE T1.capacity > 50")
    with connect(str(shared_spider_dir / "database" / "college_2" / "college_2.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
        q = parse_query(sql, g)
        assert q is not None and len(q.joins) == 1 and len(q.also) == 1
        assert skeleton(to_sql(q)) == skeleton(sql)
        assert sorted(db.execute(to_sql(q)).rows) == sorted(db.execute(sql).rows) != []
        # an ON that equates anything but the rest of the key is outside the subset
        other = sql.replace("T1.room_number = T2.room_number", "T1.capacity = T2.sec_id")
        assert parse_query(other, g) is None
        # a shape learned over a key of one column, filled in over these tables, joins on both columns
        singer = _graph(spider_dir, "singer")
        learned = parse_query("SELECT T2.Title FROM singer AS T1 JOIN song AS T2 "
                              "ON T1.Singer_ID = T2.Singer_ID WHERE T1.Citizenship = 'France'", singer)
        assert learned is not None
        done = abstract_slots(learned, singer)
        assert done is not None
        links = Picker(g, random.Random(0)).links
        rng = random.Random(0)
        keyed = 0
        for _ in range(300):
            filled = instantiate_slots(done[0], g, rng, links, strict=False)
            if filled is None or set(filled.query.tables) != {"classroom", "section"}:
                continue
            text = to_sql(filled.query)
            assert re.search(r"ON T\d\.\w+ = T\d\.\w+ AND T\d\.\w+ = T\d\.\w+ WHERE", text), text
            assert db.execute(text).ok, text
            keyed += 1
        assert keyed >= 3
        # and so do the template sampler's join paths
        picker = Picker(g, random.Random(1))
        paths = [p for p in (picker.path(2) for _ in range(300)) if p is not None]
        pairs = [p for p in paths if set(p.names) == {"classroom", "section"}]
        assert pairs and all(len(p.also) == 1 for p in pairs)
        assert all({a.table, b.table} <= set(p.names) for p in paths for a, b in p.also)
