"""Each critic on real examples over a real database: the verdict and, for drops, the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sqldistill.critics import (
    DEFAULT_CRITICS,
    OPTIONAL_CRITICS,
    CriticContext,
    CriticStats,
    critic_name,
    critics_for,
    distinguishable,
    executes,
    hardness_mix,
    judge,
    non_empty,
    not_duplicate,
    parses,
    read_only,
    teacher_vote,
    template_cap,
    well_formed,
)
from sqldistill.db import connect
from sqldistill.errors import ConfigError
from sqldistill.records import Example, Verdict


@pytest.fixture()
def ctx(tmp_sqlite_copy) -> Iterator[CriticContext]:  # type: ignore[no-untyped-def]
    db = connect(str(tmp_sqlite_copy("singer")))
    yield CriticContext(db=db, timeout_s=2.0)
    db.close()


def ex(sql: str, question: str = "What are the names of the singers?") -> Example:
    return Example(question=question, sql=sql, db_id="singer", source="template")


CASES = [
    (well_formed, ex("SELECT 1", "names"), "fewer than 2 words"),
    (well_formed, ex("  "), "SQL is empty"),
    (parses, ex("SELECT Name FROM singer WHERE"), "does not parse"),
    (parses, ex("SELECT 1; SELECT 2"), "does not parse"),
    (read_only, ex("DELETE FROM singer"), "not a read-only query"),
    (read_only, ex("SELECT load_extension('x')"), "not a read-only query"),
    (executes, ex("SELECT Nope FROM singer"), "fails on the database: no such column"),
    (non_empty, ex("SELECT Name FROM singer WHERE Citizenship = 'Mars'"), "returns no rows"),
    (non_empty, ex("SELECT max(Name) FROM singer WHERE 1 = 0"), "returns only NULL"),
    (non_empty, ex("SELECT count(*) FROM singer WHERE Citizenship = 'Mars'"), "counts nothing"),
]


@pytest.mark.parametrize(("critic", "example", "reason"), CASES, ids=[f"{critic_name(c[0])}-{i}"
                                                                       for i, c in enumerate(CASES)])
def test_drop_with_reason(ctx: CriticContext, critic, example: Example, reason: str) -> None:  # type: ignore[no-untyped-def]
    verdict = critic(example, ctx)
    assert not verdict.keep and verdict.critic == critic_name(critic)
    assert reason in verdict.reason


def test_good_example_passes_every_default_critic(ctx: CriticContext) -> None:
    good = ex("SELECT Name FROM singer WHERE Citizenship = 'France'")
    for critic in DEFAULT_CRITICS:
        assert critic(good, ctx).keep, critic_name(critic)


def test_timeout_is_a_drop(tmp_sqlite_copy) -> None:  # type: ignore[no-untyped-def]
    slow = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r")
    with connect(str(tmp_sqlite_copy("singer"))) as db:
        verdict = executes(ex(slow), CriticContext(db=db, timeout_s=0.2))
    assert not verdict.keep and "longer than 0.2 s" in verdict.reason


def test_duplicates_and_paraphrases(ctx: CriticContext) -> None:
    first = ex("SELECT Name FROM singer", "List all singer names.")
    assert judge(first, DEFAULT_CRITICS, ctx).keep
    again = ex("select name  from SINGER", "list all singer names")
    verdict = not_duplicate(again, ctx)
    assert not verdict.keep and verdict.reason == "the same question was already kept"
    paraphrase = ex("SELECT Name FROM singer", "What are the names of all singers?")
    assert judge(paraphrase, DEFAULT_CRITICS, ctx).keep  # per_sql = 2: one paraphrase is welcome
    third = ex("SELECT Name FROM singer", "Show singer names")
    verdict = not_duplicate(third, ctx)
    assert not verdict.keep and "already kept 2 times" in verdict.reason


def test_template_cap(ctx: CriticContext) -> None:
    ctx.template_cap = 2
    for i, country in enumerate(["France", "Chile"]):
        assert judge(ex(f"SELECT Name FROM singer WHERE Citizenship = '{country}'", f"singers from {country} {i}"),
                     DEFAULT_CRITICS, ctx).keep
    verdict = template_cap(ex("SELECT Name FROM singer WHERE Citizenship = 'Germany'", "singers from Germany"), ctx)
    assert not verdict.keep and "template already has 2 examples" in verdict.reason


def test_hardness_mix(ctx: CriticContext) -> None:
    ctx.quotas = {"easy": 1, "medium": 5}
    easy = Example("How many singers are there?", "SELECT count(*) FROM singer", hardness="easy")
    assert judge(easy, DEFAULT_CRITICS, ctx).keep
    verdict = hardness_mix(Example("How many songs are there?", "SELECT count(*) FROM song", hardness="easy"), ctx)
    assert not verdict.keep and "easy share is full (1 examples)" in verdict.reason
    assert hardness_mix(Example("x y", "SELECT 1", hardness="medium"), ctx).keep


def test_judge_stops_at_first_drop_and_counts(ctx: CriticContext) -> None:
    stats = CriticStats()
    bad = ex("SELECT Nope FROM singer")
    verdict = judge(bad, DEFAULT_CRITICS, ctx, stats)
    assert verdict.critic == "executes"
    assert stats.dropped == {"executes": 1}
    assert "non_empty" not in stats.checked  # never reached


def test_a_raising_critic_becomes_a_drop(ctx: CriticContext) -> None:
    def broken(example: Example, context: CriticContext) -> Verdict:
        raise RuntimeError("boom")

    verdict = judge(ex("SELECT Name FROM singer"), (broken,), ctx)
    assert not verdict.keep and verdict.critic == "broken" and "RuntimeError: boom" in verdict.reason


def test_optional_critics_by_name(ctx: CriticContext, tmp_sqlite_copy) -> None:  # type: ignore[no-untyped-def]
    assert critics_for(["teacher_vote"])[-1] is teacher_vote
    assert set(OPTIONAL_CRITICS) == {"teacher_vote", "distinguishable", "round_trip"}
    with pytest.raises(ConfigError, match="Unknown critic 'nope'"):
        critics_for(["nope"])
    assert teacher_vote(ex("SELECT Name FROM singer"), ctx).keep  # no teacher: nothing to vote with
    # test-suite databases: here a copy of the same database and of another one
    other = connect(str(tmp_sqlite_copy("poker_player")))
    try:
        ctx.testsuite = [other]
        verdict = distinguishable(ex("SELECT Name FROM singer"), ctx)
        assert not verdict.keep and "fails on test-suite database poker_player" in verdict.reason
        ctx.testsuite = [ctx.db]
        assert distinguishable(ex("SELECT Name FROM singer"), ctx).keep
        verdict = distinguishable(ex("SELECT Name FROM singer WHERE 1 = 0"), ctx)
        assert not verdict.keep and "returns nothing on every" in verdict.reason
    finally:
        other.close()


def test_the_database_is_never_written(ctx: CriticContext, tmp_sqlite_copy) -> None:  # type: ignore[no-untyped-def]
    path = Path(ctx.db.target.location)
    before = path.read_bytes()
    for sql in ("DELETE FROM singer", "DROP TABLE singer", "UPDATE singer SET Name = 'x'"):
        judge(ex(sql, "remove every singer please"), DEFAULT_CRITICS, ctx)
        assert executes(ex(sql), ctx).keep is False
    assert path.read_bytes() == before
