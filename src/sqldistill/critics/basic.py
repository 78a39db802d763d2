"""Critics on one example alone: well formed, parses, read-only, executes in time, returns something."""

from __future__ import annotations

from sqldistill.critics.context import CriticContext
from sqldistill.records import Example, Verdict
from sqldistill.sql.safety import readonly_problem


def well_formed(ex: Example, ctx: CriticContext) -> Verdict:
    """A question of a few words and a non-empty SQL text."""
    words = ex.question.split()
    if len(words) < 2:
        return Verdict(False, "well_formed", "the question has fewer than 2 words")
    if len(ex.question) > 400:
        return Verdict(False, "well_formed", "the question is longer than 400 characters")
    if not ex.sql.strip():
        return Verdict(False, "well_formed", "the SQL is empty")
    return Verdict(True, "well_formed")


def parses(ex: Example, ctx: CriticContext) -> Verdict:
    """One statement that sqlglot parses in the database's dialect.

    The parse is the one the read-only check makes (and caches), so a query is parsed once for both.
    """
    problem = readonly_problem(ex.sql, ctx.dialect)
    if problem and problem.startswith(("it could not be parsed", "the statement is empty", "it holds")):
        return Verdict(False, "parses", f"does not parse: {problem}"[:200])
    return Verdict(True, "parses")


def read_only(ex: Example, ctx: CriticContext) -> Verdict:
    problem = readonly_problem(ex.sql, ctx.dialect)
    if problem:
        return Verdict(False, "read_only", f"not a read-only query: {problem}")
    return Verdict(True, "read_only")


def executes(ex: Example, ctx: CriticContext) -> Verdict:
    res = ctx.execute(ex.sql)
    if res.error_kind == "timeout":
        return Verdict(False, "executes", f"ran longer than {ctx.timeout_s:g} s of the engine's work")
    if res.error:
        return Verdict(False, "executes", f"fails on the database: {res.error[:160]}")
    return Verdict(True, "executes")


def non_empty(ex: Example, ctx: CriticContext) -> Verdict:
    """Drop queries whose answer is nothing: no rows, only NULLs, or an aggregate over no rows.

    Such pairs teach nothing checkable, since any query returning nothing matches them.
    """
    res = ctx.execute(ex.sql)
    if not res.rows:
        return Verdict(False, "non_empty", "returns no rows")
    if all(v is None for row in res.rows for v in row):
        return Verdict(False, "non_empty", "returns only NULL")
    low = ex.sql.lower()
    if len(res.rows) == 1 and len(res.rows[0]) == 1 and res.rows[0][0] == 0 and "count(" in low \
            and "group by" not in low:
        return Verdict(False, "non_empty", "counts nothing (the answer is 0)")
    return Verdict(True, "non_empty")


__all__ = ["executes", "non_empty", "parses", "read_only", "well_formed"]
