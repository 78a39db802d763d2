"""The template sampler on real Spider databases: humanised names, the graph, constructs, questions."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from sqldistill.db import connect, reflect
from sqldistill.sql.names import column_phrases, pluralize, singularize, split_words, table_phrase
from sqldistill.sql.skeleton import skeleton
from sqldistill.synth.graph import SchemaGraph, build_graph
from sqldistill.synth.ir import Col, Cond, Item, Query, spoken_value, to_sql, walk
from sqldistill.synth.realise import realise
from sqldistill.synth.templates import CONSTRUCTS, Picker

NAMES = [
    (("StuID", "Student"), "student id"),
    (("Singer_Name", "singer"), "name"),
    (("budget_in_billions", "department"), "budget in billions"),
    (("fname", "x"), "first name"),
    (("dept_store_chain_id", "x"), "department store chain id"),
    (("firstname", "x"), "first name"),
    (("HouseNo", "x"), "house number"),
    (("gender_mf", "x"), "gender"),
]


@pytest.mark.parametrize(("args", "spoken"), NAMES)
def test_column_names_are_humanised(args: tuple[str, str], spoken: str) -> None:
    assert column_phrases(*args)[0] == spoken


def test_words_tables_and_number() -> None:
    assert split_words("StuID") == ["stu", "id"] and split_words("camelCaseName") == ["camel", "case", "name"]
    assert table_phrase("Ref_Document_Types") == "document type"
    assert table_phrase("Courses") == "course" and table_phrase("people") == "person"
    assert [pluralize(w) for w in ("city", "class", "person", "student id")] == ["cities", "classes", "people",
                                                                               "student ids"]
    assert [singularize(w) for w in ("addresses", "statuses", "houses", "matches")] == ["address", "status",
                                                                                      "house", "match"]


@pytest.fixture(scope="module")
def singer(spider_dir: Path) -> tuple[object, SchemaGraph]:
    db = connect(str(spider_dir / "database" / "singer" / "singer.sqlite"))
    graph = build_graph(db, reflect(db, samples=2))
    yield db, graph
    db.close()


def test_graph_profiles_columns(singer: tuple[object, SchemaGraph]) -> None:
    _, g = singer
    t = g.table("singer")
    assert t.label is not None and t.label.name == "Name"
    assert t.column("Citizenship").role == "category" and "United States" in t.column("Citizenship").values
    assert t.column("Net_Worth_Millions").kind == "number"
    assert t.column("Singer_ID").role == "key"
    assert [(e.table, e.ref_table) for e in g.edges] == [("song", "singer")]


def _graph_of(tmp_path: Path, script: str) -> SchemaGraph:
    """The schema graph of a small SQLite database made from ``script``."""
    import sqlite3

    path = tmp_path / "small.sqlite"
    con = sqlite3.connect(path)
    con.executescript(script)
    con.commit()
    con.close()
    with connect(str(path)) as db:
        return build_graph(db, reflect(db))


def test_join_keys_are_inferred_when_none_are_declared(tmp_path: Path) -> None:
    g = _graph_of(tmp_path, "CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT);"
                            "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INT, total REAL);"
                            "INSERT INTO customer VALUES (1, 'Ann'), (2, 'Bo');"
                            "INSERT INTO orders VALUES (1, 1, 9.5), (2, 1, 3.0);")
    assert [(e.table, e.column, e.ref_table, e.ref_column, e.declared) for e in g.edges] == [
        ("orders", "customer_id", "customer", "id", False)]


def test_numbers_kept_as_text_are_numbers(tmp_path: Path) -> None:
    t = _graph_of(tmp_path, "CREATE TABLE teacher (Teacher_ID INTEGER PRIMARY KEY, Name TEXT, Age TEXT, Phone TEXT, "
                            "Code TEXT);"
                            "INSERT INTO teacher VALUES (1, 'Ann', '32', '5551234567', '007'), "
                            "(2, 'Bo', '29', '5559876543', '012'), (3, 'Cy', '41.5', '5550001111', '100');"
                  ).table("teacher")
    age = t.column("Age")
    assert age.kind == "number" and age.role == "measure" and sorted(age.values) == [29, 32, 41.5]
    # long digit strings (phone numbers) and codes with leading zeros stay text
    assert t.column("Phone").kind == "text" and t.column("Code").kind == "text"


def _sample(g: SchemaGraph, seed: int, per_construct: int) -> list[tuple[str, Query]]:
    picker = Picker(g, random.Random(seed))
    out = []
    for name, _, build in CONSTRUCTS:
        for _ in range(per_construct):
            q = build(picker)
            if q is not None:
                out.append((name, q))
    return out


def test_every_construct_builds_executable_spider_style_sql(singer: tuple[object, SchemaGraph]) -> None:
    db, g = singer
    made = _sample(g, 0, 25)
    assert {name for name, _ in made} == {name for name, _, _ in CONSTRUCTS}
    for _, q in made:
        sql = to_sql(q)
        res = db.execute(sql)  # type: ignore[attr-defined]
        assert res.ok, (sql, res.error)
        if q.is_join:
            assert " AS T1 JOIN " in sql and "T2." in sql
        assert "COUNT(" not in sql and "count (" not in sql


def test_constructs_cover_what_people_ask(singer: tuple[object, SchemaGraph]) -> None:
    """Spider's constructs are the floor: each appears within a few hundred draws."""
    _, g = singer
    text = "\n".join(to_sql(q) for _, q in _sample(g, 1, 60))
    for needle in ("count(*)", "count(DISTINCT", "sum(", "avg(", "min(", "max(", " != ", " < ", " > ", " <= ",
                   " >= ", " BETWEEN ", " LIKE '%", " NOT IN (SELECT", " IN (SELECT", " OR ", " AND ",
                   "GROUP BY", "HAVING count(*)", "ORDER BY", " DESC LIMIT 1", "> (SELECT avg(", " INTERSECT ",
                   " EXCEPT ", " UNION ", "SELECT DISTINCT", "JOIN", "SELECT *"):
        assert needle in text, needle


def test_values_in_questions_are_copied_verbatim(singer: tuple[object, SchemaGraph]) -> None:
    _, g = singer
    rng = random.Random(5)
    checked = 0
    for _, q in _sample(g, 2, 20):
        question = realise(q, g, rng)
        for part in walk(q):
            for c in (*part.where, *part.having):
                for v in (c.value, c.value2):
                    if v is None or isinstance(v, (Query, Col, tuple)):
                        continue
                    text = spoken_value(v).strip("%")
                    assert text in question, (question, to_sql(q))
                    checked += 1
    assert checked > 50


def test_questions_vary_and_sound_like_people(singer: tuple[object, SchemaGraph]) -> None:
    _, g = singer
    q = Query((Item(Col("", "*"), "count"),), ("singer",))
    phrasings = {realise(q, g, random.Random(seed)) for seed in range(60)}
    assert len(phrasings) >= 6
    starts = Counter(p.split()[0].lower() for p in phrasings)
    assert {"how", "count"} <= set(starts), starts  # questions and imperatives
    assert any(not p.endswith(("?", ".")) for p in phrasings)  # and typed-style fragments


def test_wording_is_type_aware(singer: tuple[object, SchemaGraph]) -> None:
    _, g = singer
    oldest = Query((Item(Col("singer", "Name")),), ("singer",), order=(Item(Col("singer", "Birth_Year")),),
                   desc=True, limit=1)
    texts = " ".join(realise(oldest, g, random.Random(s)) for s in range(40))
    assert re.search(r"latest|most recent", texts)  # a year: temporal words, not "highest"
    after = Query((Item(Col("singer", "Name")),), ("singer",), where=(Cond(Item(Col("singer", "Birth_Year")), ">",
                                                                          1948),))
    texts = " ".join(realise(after, g, random.Random(s)) for s in range(40))
    assert "after 1948" in texts
    where = Query((Item(Col("singer", "Name")),), ("singer",), where=(Cond(Item(Col("singer", "Citizenship")), "=",
                                                                          "France"),))
    texts = " ".join(realise(where, g, random.Random(s)) for s in range(40))
    assert "from France" in texts  # a place


def test_same_seed_same_queries(singer: tuple[object, SchemaGraph]) -> None:
    _, g = singer
    a = [to_sql(q) for _, q in _sample(g, 9, 5)]
    b = [to_sql(q) for _, q in _sample(g, 9, 5)]
    assert a == b
    assert len({skeleton(s) for s in a}) > 15


def test_names_are_quoted_only_when_needed_per_dialect() -> None:
    q = Query((Item(Col("My Table", "order")), Item(Col("My Table", "Name"))), ("My Table",),
              where=(Cond(Item(Col("My Table", "Name")), "=", "O'Brien"),))
    assert to_sql(q) == "SELECT \"order\", Name FROM \"My Table\" WHERE Name = 'O''Brien'"
    assert to_sql(q, "mysql") == "SELECT `order`, Name FROM `My Table` WHERE Name = 'O''Brien'"
    assert to_sql(q, "postgresql") == "SELECT \"order\", \"Name\" FROM \"My Table\" WHERE \"Name\" = 'O''Brien'"
    assert spoken_value("O'Brien") == "O'Brien" and spoken_value(1940.0) == "1940" and spoken_value(2.5) == "2.5"
