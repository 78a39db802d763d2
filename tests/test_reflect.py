"""Reflection: agreement with Spider's tables.json (the bundled 14 databases, all 153 with the full data),
fingerprints, JSON, rendering."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from sqldistill.db import reflect, render_schema
from sqldistill.records import Schema

# Foreign keys the databases declare but tables.json leaves out (the database is right; its annotation is not):
#  imdb: tags.kid -> keyword.kid; loan_1: loan.Cust_ID -> customer.Cust_ID (declared with different case);
#  restaurants: location.restaurant_id -> restaurant (declared after a missing comma in the DDL);
#  store_product: store_product.product_id -> product.product_id.
KNOWN_EXTRA_FKS = {
    "imdb": {(("tags", "kid"), ("keyword", "kid"))},
    "loan_1": {(("loan", "cust_id"), ("customer", "cust_id"))},
    "restaurants": {(("location", "restaurant_id"), ("restaurant", "restaurant_id"))},
    "store_product": {(("store_product", "product_id"), ("product", "product_id"))},
}


def _agreement(spider_dir: Path) -> dict[str, list[str]]:
    tables_json = {e["db_id"]: e for e in json.loads((spider_dir / "tables.json").read_text())}
    misses: dict[str, list[str]] = defaultdict(list)
    for db_dir in sorted((spider_dir / "database").iterdir()):
        entry = tables_json[db_dir.name]
        schema = reflect(db_dir / f"{db_dir.name}.sqlite", samples=0)
        names = [t.lower() for t in entry["table_names_original"]]
        # tables.json lists SQLite's internal sqlite_sequence table where it exists; reflection skips it.
        json_tables = {t for t in names if t != "sqlite_sequence"}
        if json_tables != {t.name.lower() for t in schema.tables}:
            misses["tables"].append(db_dir.name)
        cols = entry["column_names_original"]
        json_cols = {(names[t], c.lower()) for t, c in cols if t >= 0 and names[t] != "sqlite_sequence"}
        if json_cols != {(t.name.lower(), c.name.lower()) for t in schema.tables for c in t.columns}:
            misses["columns"].append(db_dir.name)
        # tables.json keeps one primary-key column per table; it must be one of the reflected key columns,
        # and a table whose key has several columns is the only place the two may differ.
        json_pk: dict[str, set[str]] = defaultdict(set)
        for p in entry["primary_keys"]:
            for i in p if isinstance(p, list) else [p]:
                json_pk[names[cols[i][0]]].add(cols[i][1].lower())
        for t in schema.tables:
            ours = {c.name.lower() for c in t.columns if c.primary_key}
            theirs = json_pk.get(t.name.lower(), set())
            if not (ours == theirs or (len(theirs) == 1 and theirs < ours)):
                misses["primary_keys"].append(f"{db_dir.name}.{t.name}")
        json_fk = {((names[cols[a][0]], cols[a][1].lower()), (names[cols[b][0]], cols[b][1].lower()))
                   for a, b in entry["foreign_keys"]}
        our_fk = {((t.name.lower(), c.lower()), (fk.ref_table.lower(), r.lower()))
                  for t in schema.tables for fk in t.foreign_keys for c, r in zip(fk.columns, fk.ref_columns)}
        if json_fk - our_fk or our_fk - json_fk - KNOWN_EXTRA_FKS.get(db_dir.name, set()):
            misses["foreign_keys"].append(db_dir.name)
    return misses


def test_bundled_spider_databases_agree_with_tables_json(spider_dir: Path) -> None:
    assert len(list((spider_dir / "database").iterdir())) == 14
    assert dict(_agreement(spider_dir)) == {}


def test_all_spider_databases_agree_with_tables_json(shared_spider_dir: Path) -> None:
    assert len(list((shared_spider_dir / "database").iterdir())) == 153
    assert dict(_agreement(shared_spider_dir)) == {}


def test_reflect_contents(spider_dir: Path) -> None:
    schema = reflect(spider_dir / "database" / "singer" / "singer.sqlite")
    singer, song = schema.table("singer"), schema.table("song")
    assert singer and song and singer.row_count == 8
    assert singer.primary_key == ["Singer_ID"]
    assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in song.foreign_keys] == [
        (["Singer_ID"], "singer", ["Singer_ID"])
    ]
    citizenship = singer.column("citizenship")
    assert citizenship and citizenship.distinct_count == 5 and len(citizenship.samples) == 5
    assert "France" in citizenship.samples


def test_fingerprint_is_stable_and_sensitive(tmp_path: Path) -> None:
    def make(name: str, ddl: list[str]) -> Schema:
        path = tmp_path / name
        conn = sqlite3.connect(path)
        for stmt in ddl:
            conn.execute(stmt)
        conn.commit()
        conn.close()
        return reflect(path)

    base = ["CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT)", "CREATE TABLE b (id INT, a_id INT REFERENCES a(id))"]
    one, two = make("one.sqlite", base), make("two.sqlite", [*base, "INSERT INTO a VALUES (1, 'x')"])
    assert one.fingerprint == two.fingerprint  # data is not structure
    variants = {
        "table added": [*base, "CREATE TABLE c (x INT)"],
        "column added": [base[0].replace("name TEXT", "name TEXT, age INT"), base[1]],
        "column retyped": [base[0].replace("name TEXT", "name INT"), base[1]],
        "column renamed": [base[0].replace("name", "title"), base[1]],
        "key changed": [base[0].replace("INTEGER PRIMARY KEY", "INTEGER"), base[1]],
        "fk dropped": [base[0], "CREATE TABLE b (id INT, a_id INT)"],
    }
    prints = {k: make(f"{i}.sqlite", v).fingerprint for i, (k, v) in enumerate(variants.items())}
    assert one.fingerprint not in prints.values()
    assert len(set(prints.values())) == len(prints)


def test_schema_round_trips_through_json(spider_dir: Path) -> None:
    schema = reflect(spider_dir / "database" / "employee_hire_evaluation" / "employee_hire_evaluation.sqlite")
    again = Schema.from_json(schema.to_json())
    assert again == schema and again.fingerprint == schema.fingerprint
    assert json.loads(schema.to_json())["fingerprint"] == schema.fingerprint


@pytest.mark.parametrize("style", ["create", "compact"])
def test_render_mentions_every_table_and_column(spider_dir: Path, style: str) -> None:
    schema = reflect(spider_dir / "database" / "employee_hire_evaluation" / "employee_hire_evaluation.sqlite")
    text = render_schema(schema, style=style, samples=2)
    for t in schema.tables:
        assert t.name in text
        for c in t.columns:
            assert c.name in text
    assert "George Chuter" in text  # a sample value
    assert ("REFERENCES employee(Employee_ID)" if style == "create" else "hiring.Shop_ID -> shop.Shop_ID") in text
    assert render_schema(schema, style=style, samples=0).count("George") == 0
    with pytest.raises(ValueError):
        render_schema(schema, style="fancy")


def test_text_values_keep_the_stored_spelling_and_retrieval_strips_them(tmp_path: Path) -> None:
    from sqldistill.db import connect
    from sqldistill.db.reflect import text_values
    from sqldistill.infer.retrieval import column_values

    path = tmp_path / "t.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INT);
        INSERT INTO t VALUES (1, 'Oslo ', 3), (2, 'X', 4), (3, '""" + "y" * 61 + """', 5), (4, 'Oslo ', 6);""")
    conn.commit()
    conn.close()
    db = connect(str(path))
    schema = reflect(db)
    values = text_values(db, schema, limit=100)
    assert values == {"t.name": ["Oslo ", "X"]}  # as stored, one letter kept, over 60 left out, no numbers
    assert column_values(db, schema) == {"t.name": ["Oslo"]}
