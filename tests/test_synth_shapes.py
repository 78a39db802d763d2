"""Query shapes: abstracted from a real log over one database, filled in over another, shape intact."""

from __future__ import annotations

import json
import random
from pathlib import Path

from sqldistill.db import connect, reflect
from sqldistill.sql.skeleton import skeleton
from sqldistill.synth.graph import build_graph
from sqldistill.synth.ir import to_sql
from sqldistill.synth.logmine import parse_query, read_log
from sqldistill.synth.shapes import abstract, instantiate
from sqldistill.synth.templates import Picker


def test_shapes_move_between_databases_keeping_their_skeleton(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "college_3" / "college_3.sqlite")) as src_db:
        source = build_graph(src_db, reflect(src_db, samples=0))
    with connect(str(spider_dir / "database" / "employee_hire_evaluation" / "employee_hire_evaluation.sqlite")) as db:
        target = build_graph(db, reflect(db, samples=0))
        links = Picker(target, random.Random(0)).links
        rng = random.Random(0)
        moved = 0
        for sql in read_log(spider_dir / "train_gold.sql", "college_3"):
            q = parse_query(sql, source)
            shape = abstract(q, source) if q is not None else None
            if shape is None:
                continue
            json.dumps(shape)  # plain data
            for _ in range(3):
                new = instantiate(shape, target, rng, links)
                if new is None:
                    continue
                text = to_sql(new)
                assert skeleton(text) == skeleton(sql), (sql, text)
                assert set(new.tables) <= set(target.tables)
                res = db.execute(text)
                assert res.ok, (text, res.error)
                moved += 1
    assert moved > 60


def test_links_become_foreign_keys(spider_dir: Path) -> None:
    with connect(str(spider_dir / "database" / "singer" / "singer.sqlite")) as db:
        g = build_graph(db, reflect(db, samples=0))
    q = parse_query("SELECT Name FROM singer WHERE Singer_ID NOT IN (SELECT Singer_ID FROM song)", g)
    assert q is not None
    shape = abstract(q, g)
    assert shape is not None and shape["links"] == [["s1", "s2", "<"]]  # song.Singer_ID references singer
    rng = random.Random(1)
    made = [instantiate(shape, g, rng, Picker(g, rng).links) for _ in range(20)]
    assert sum(q is not None for q in made) >= 5
    for new in made:
        if new is not None:  # starting from song there is no way down: the shape does not fit
            inner = new.where[0].value
            assert (inner.tables[0], new.tables[0]) == ("song", "singer")  # the only foreign key, same direction
