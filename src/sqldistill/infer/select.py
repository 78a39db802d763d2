"""Choosing among candidates, whatever model wrote them: execution-guided selection and the retrieval vote.

Nothing here knows how a candidate was decoded. ``vote_weights`` weighs the decoder's candidates (by rank) and
the retrieval memory's (by similarity), adds repairs of each toward what the question names, and multiplies
every weight by how well the query fits the question's words (``sql.cues``, ``sql.edits``).
``select_by_execution`` drops candidates that fail to parse, are not read-only or fail to run, and returns
the SQL whose result carries the most weight (``db.same_result`` groups equal results).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.records import ExecResult
from sqldistill.sql.cues import cue_agreement
from sqldistill.sql.grounding import ungrounded_literals
from sqldistill.sql.safety import readonly_problem

if TYPE_CHECKING:
    from sqldistill.db import Database
    from sqldistill.records import Schema


def candidate_problem(sql: str, db: Database, timeout_s: float, max_rows: int) -> tuple[str | None, ExecResult | None]:
    """(why it fails, result): the critics a candidate must pass before it may be chosen."""
    problem = readonly_problem(sql, db.dialect)
    if problem:
        kind = "parse" if "could not be parsed" in problem or "empty" in problem else "read-only"
        return f"{kind}: {problem}", None
    res = db.execute(sql, timeout_s=timeout_s, max_rows=max_rows)
    if not res.ok:
        return f"execute: {res.error}", None
    return None, res


def select_by_execution(
    candidates: list[str], db: Database, timeout_s: float = 5.0, max_rows: int = 1000,
    weights: list[float] | None = None,
) -> tuple[str, ExecResult | None, list[tuple[str, str]]]:
    """(chosen SQL, its result, dropped candidates): the execution-result majority among candidates that run.

    With ``weights`` each candidate's vote counts that much and the heaviest member speaks for its cluster;
    without, every vote is 1 and the best-ranked member speaks."""
    dropped: list[tuple[str, str]] = []
    alive: list[tuple[str, ExecResult]] = []
    alive_w: list[float] = []
    for i, sql in enumerate(candidates):
        why, res = candidate_problem(sql, db, timeout_s, max_rows)
        if why is not None or res is None:
            dropped.append((sql, why or "execute"))
        else:
            alive.append((sql, res))
            alive_w.append(1.0 if weights is None else weights[i])
    if not alive:
        return (candidates[0] if candidates else ""), None, dropped
    clusters: list[list[int]] = []
    for i, (sql, res) in enumerate(alive):
        for members in clusters:
            rep_sql, rep_res = alive[members[0]]
            order = gold_order_matters(rep_sql) and gold_order_matters(sql)
            if same_result(rep_res.rows, res.rows, order):
                members.append(i)
                break
        else:
            clusters.append([i])
    best = max(clusters, key=lambda m: (sum(alive_w[i] for i in m), -m[0]))
    speaker = max(best, key=lambda i: (alive_w[i], -i))
    sql, res = alive[speaker]
    return sql, res, dropped


def vote_weights(student: list[str], retrieved: list[tuple[str, float]], question: str,
                 tau: float = 0.1, ungrounded: float = 0.1, student_weight: float = 0.5,
                 cue_weight: float = 1.0, schema: Schema | None = None, link_weight: float = 0.5,
                 values: dict[str, list[str]] | None = None, value_weight: float = 2.0,
                 table_weight: float = 0.75, role_weight: float = 0.5,
                 order_weight: float = 0.5) -> list[tuple[str, float]]:
    """Each candidate with its vote: the decoder's ``student_weight / (1 + rank)``, the memory's by similarity to
    the best hit; a candidate whose literals the question does not contain counts for ``ungrounded`` of that,
    and every vote is multiplied by ``exp(cue_weight * cue_agreement)`` (``sql.cues``: does the query have the
    shape the question's words ask for: an order, a count, a negation, one column or several, ...).

    With the ``schema``, each candidate's repairs (``sql.edits``: the columns the question names, the sort it
    says, and with the database's ``values`` a filter on a value it names, ...) join with their source's vote,
    and every vote is multiplied by ``exp(link_weight * projection_agreement + value_weight * value_agreement
    + table_weight * table_agreement + role_weight * role_agreement + order_weight * order_agreement)``:
    returned columns the question names,
    minus those it does not; values the question names that the query uses, minus those it leaves out; minus
    the tables it names that the query does not read; which end of a relation stored twice over one table
    (``Friend(student_id, friend_id)``) the query reads; whether it sorts by the column the question sorts by.

    Defaults: cue, link, value and student weights are the best of a grid on the synthesizer's held-out
    questions of the nine open-dev databases (bench/open_dev.py models, 715 questions), not on human questions;
    the grid was flat there (the best dozen settings within 1 point). ``table_weight``, ``role_weight`` and
    ``order_weight`` were set later on the same held-out questions (722, default-config models), each checked
    not to lower selection on the human ones."""
    out: list[tuple[str, float]] = []
    for rank, sql in enumerate(student):
        out.append((sql, student_weight / (1 + rank)))
    if retrieved:
        top = retrieved[0][1]
        for sql, sim in retrieved:
            out.append((sql, math.exp((sim - top) / tau)))
    if schema is not None:
        from sqldistill.sql.edits import projection_agreement, repairs

        seen = {sql for sql, _ in out}
        for sql, w in list(out):
            for fixed in repairs(question, sql, schema, values):
                if fixed not in seen:
                    seen.add(fixed)
                    out.append((fixed, w))
    weighted = []
    bare = question
    if schema is not None:
        from sqldistill.sql.edits import (
            negated_values,
            order_agreement,
            question_values,
            role_agreement,
            table_agreement,
            value_agreement,
            without_names,
        )

        named = question_values(question, schema, values)
        negated = negated_values(question, named[0])
        bare = without_names(question, schema)  # words that name a column are no cue ("number of products")
    for sql, w in out:
        w *= 1.0 if not ungrounded_literals(sql, question) else ungrounded
        score = cue_weight * cue_agreement(bare, sql) if cue_weight else 0.0
        if schema is not None:
            if link_weight:
                score += link_weight * projection_agreement(question, sql, schema)
            if value_weight:
                score += value_weight * value_agreement(sql, named, schema, values, negated)
            if table_weight:
                score += table_weight * table_agreement(bare, sql, schema)
            if role_weight:
                score += role_weight * role_agreement(question, sql, schema)
            if order_weight:
                score += order_weight * order_agreement(question, sql, schema)
        weighted.append((sql, w * math.exp(score)))
    return weighted


__all__ = ["candidate_problem", "select_by_execution", "vote_weights"]
