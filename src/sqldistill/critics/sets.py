"""Critics on an example against what has been kept: duplicates, template floods, the hardness mix."""

from __future__ import annotations

from sqldistill.critics.context import CriticContext, question_key
from sqldistill.records import Example, Verdict
from sqldistill.sql.skeleton import normalise, skeleton, template


def not_duplicate(ex: Example, ctx: CriticContext) -> Verdict:
    """The same question twice (even with another SQL) or one SQL more than ``per_sql`` times is a duplicate."""
    if question_key(ex.question) in ctx.questions:
        return Verdict(False, "not_duplicate", "the same question was already kept")
    seen = ctx.sql_count[normalise(ex.sql)]
    if seen >= ctx.per_sql:
        return Verdict(False, "not_duplicate", f"the same SQL (normalised) was already kept {seen} times")
    return Verdict(True, "not_duplicate")


def template_cap(ex: Example, ctx: CriticContext) -> Verdict:
    """No template (SQL with values abstracted) or skeleton floods the set."""
    t = template(ex.sql)
    if ctx.template_count[t] >= ctx.template_cap:
        return Verdict(False, "template_cap", f"its template already has {ctx.template_cap} examples")
    if ctx.skeleton_count[skeleton(ex.sql)] >= ctx.skeleton_cap:
        return Verdict(False, "template_cap", f"its skeleton already has {ctx.skeleton_cap} examples")
    return Verdict(True, "template_cap")


def hardness_mix(ex: Example, ctx: CriticContext) -> Verdict:
    """Keep the easy/medium/hard/extra mix near its target: a full level takes no more examples."""
    if not ctx.quotas:
        return Verdict(True, "hardness_mix")
    level = ex.hardness or "unknown"
    quota = ctx.quotas.get(level)
    if quota is not None and ctx.hardness_count[level] >= quota:
        return Verdict(False, "hardness_mix", f"the {level} share is full ({quota} examples)")
    return Verdict(True, "hardness_mix")


__all__ = ["hardness_mix", "not_duplicate", "template_cap"]
