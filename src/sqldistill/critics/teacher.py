"""Critics that ask a second opinion: the teacher's vote, a round trip, test-suite databases."""

from __future__ import annotations

from sqldistill.critics.context import CriticContext
from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.errors import SqlDistillError
from sqldistill.records import Example, ExecResult, Verdict


def _agree(a: ExecResult, b: ExecResult, order_sql: str) -> bool:
    return same_result(a.rows, b.rows, gold_order_matters(order_sql))


def _majority(results: list[tuple[str, ExecResult]]) -> tuple[int, ExecResult | None, str]:
    """Size of the largest group of votes with the same result, that result and one SQL that gave it."""
    best: tuple[int, ExecResult | None, str] = (0, None, "")
    for sql_i, res_i in results:
        size = sum(1 for _, res_j in results if _agree(res_i, res_j, sql_i))
        if size > best[0]:
            best = (size, res_i, sql_i)
    return best


def teacher_vote(ex: Example, ctx: CriticContext) -> Verdict:
    """The teacher writes ``vote_n`` SQL queries for the question; keep when the majority's result is ours."""
    if ctx.teacher is None:
        return Verdict(True, "teacher_vote", "no teacher")
    try:
        votes = ctx.teacher.sql_for_question(ex.question, ctx.schema, n=ctx.vote_n)
    except SqlDistillError as err:
        return Verdict(False, "teacher_vote", f"the teacher failed: {err.message}")
    results = [(sql, ctx.execute(sql)) for sql in votes if sql]
    results = [(sql, res) for sql, res in results if res.ok]
    if not results:
        return Verdict(False, "teacher_vote", f"none of the {ctx.vote_n} teacher queries executes")
    size, majority, _ = _majority(results)
    if majority is None or size * 2 <= ctx.vote_n:
        return Verdict(False, "teacher_vote", f"no majority among {ctx.vote_n} teacher queries")
    mine = ctx.execute(ex.sql)
    if not _agree(mine, majority, ex.sql):
        return Verdict(False, "teacher_vote", f"the teacher majority ({size}/{ctx.vote_n}) returns another result")
    return Verdict(True, "teacher_vote", f"{size}/{ctx.vote_n} teacher queries agree")


def round_trip(ex: Example, ctx: CriticContext) -> Verdict:
    """SQL -> teacher question -> teacher SQL must give our result back: the SQL says something askable."""
    if ctx.teacher is None:
        return Verdict(True, "round_trip", "no teacher")
    try:
        question = ctx.teacher.question_for_sql(ex.sql, ctx.schema)
        back = ctx.teacher.sql_for_question(question, ctx.schema, n=1) if question else []
    except SqlDistillError as err:
        return Verdict(False, "round_trip", f"the teacher failed: {err.message}")
    if not back or not back[0]:
        return Verdict(False, "round_trip", "the teacher wrote no question or no SQL")
    res = ctx.execute(back[0])
    if not res.ok or not _agree(ctx.execute(ex.sql), res, ex.sql):
        return Verdict(False, "round_trip", "the round trip returns another result")
    return Verdict(True, "round_trip")


def distinguishable(ex: Example, ctx: CriticContext) -> Verdict:
    """On test-suite databases the query must run and return rows somewhere, or it can tell nothing apart."""
    if not ctx.testsuite:
        return Verdict(True, "distinguishable", "no test-suite databases")
    nonempty = 0
    for db in ctx.testsuite:
        res = db.execute(ex.sql, timeout_s=ctx.timeout_s, max_rows=ctx.max_rows, steady=True)
        if res.error:
            return Verdict(False, "distinguishable", f"fails on test-suite database {db.db_id}: {res.error[:120]}")
        nonempty += bool(res.rows) and not all(v is None for row in res.rows for v in row)
    if nonempty == 0:
        return Verdict(False, "distinguishable", "returns nothing on every test-suite database")
    return Verdict(True, "distinguishable")


__all__ = ["distinguishable", "round_trip", "teacher_vote"]
