"""Query-log mining: real logged SQL read into the sampler's query form, then re-instantiated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sqldistill.db import connect, reflect
from sqldistill.errors import DataError
from sqldistill.sql.skeleton import skeleton, template
from sqldistill.synth.graph import SchemaGraph, build_graph
from sqldistill.synth.ir import to_sql
from sqldistill.synth.logmine import mine_log, parse_query, read_log


@pytest.fixture(scope="module")
def college(spider_dir: Path) -> Iterator[tuple[object, SchemaGraph, list[str]]]:
    db = connect(str(spider_dir / "database" / "college_3" / "college_3.sqlite"))
    graph = build_graph(db, reflect(db, samples=2))
    log = read_log(spider_dir / "train_gold.sql", "college_3")
    yield db, graph, log
    db.close()


def test_logged_queries_keep_their_shape(college: tuple[object, SchemaGraph, list[str]]) -> None:
    db, graph, log = college
    assert len(log) > 50
    parsed = 0
    for sql in log:
        q = parse_query(sql, graph)
        if q is None:
            continue
        parsed += 1
        again = to_sql(q)
        assert skeleton(again) == skeleton(sql), (sql, again)
        assert db.execute(again).ok  # type: ignore[attr-defined]
    assert parsed / len(log) > 0.85  # the rest joins with AND-ed ON clauses or forward aliases


def test_unsupported_sql_is_skipped(college: tuple[object, SchemaGraph, list[str]]) -> None:
    _, graph, _ = college
    for sql in ("SELECT * FROM nowhere", "SELECT Fname FROM Student AS a JOIN Student AS b ON a.StuID = b.StuID",
                "not sql", "SELECT max(Age) + 1 FROM Student"):
        assert parse_query(sql, graph) is None


def test_mined_variants_change_values_and_columns(college: tuple[object, SchemaGraph, list[str]],
                                                  spider_dir: Path) -> None:
    db, graph, log = college
    mined = list(mine_log(spider_dir / "train_gold.sql", graph, seed=0, variants=2))
    assert mined and all(ex.source == "log" and ex.question for ex in mined)
    originals = {template(sql) for sql in log}
    variants = [ex for ex in mined if template(ex.sql) not in originals]
    assert len(variants) > 20  # new columns
    assert len({ex.sql for ex in mined}) > len({template(ex.sql) for ex in mined})  # new values
    ok = sum(db.execute(ex.sql).ok for ex in mined[:200])  # type: ignore[attr-defined]
    assert ok == min(200, len(mined))
    again = [ex.sql for ex in mine_log(spider_dir / "train_gold.sql", graph, seed=0, variants=2)]
    assert again == [ex.sql for ex in mined]


def test_missing_log_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No query log"):
        read_log(tmp_path / "none.sql")
