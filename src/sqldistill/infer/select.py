"""Choosing among candidates, whatever model wrote them: execution-guided selection and the retrieval vote.

Nothing here knows how a candidate was decoded, and nothing reads the question's words: ``vote_weights``
weighs the decoder's candidates (by the model's own score, else by rank) and the retrieval memory's (by
similarity), and checks each by string matching alone: are its literals in the question
(``sql.grounding``), does it use the database values the question contains (``sql.values``).
``select_by_execution`` drops candidates that fail to parse, are not read-only or fail to run, and returns
the SQL whose result carries the most weight (``db.same_result`` groups equal results).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.records import ExecResult
from sqldistill.sql.grounding import ungrounded_literals
from sqldistill.sql.safety import readonly_problem
from sqldistill.sql.values import named_values, value_agreement

if TYPE_CHECKING:
    from sqldistill.db import Database
    from sqldistill.records import Schema


def candidate_problem(sql: str, db: Database, timeout_s: float, max_rows: int,
                      steady: bool = False) -> tuple[str | None, ExecResult | None]:
    """(why it fails, result): the critics a candidate must pass before it may be chosen (``steady``: the
    timeout counts the engine's work, ``Database.execute``)."""
    problem = readonly_problem(sql, db.dialect)
    if problem:
        kind = "parse" if "could not be parsed" in problem or "empty" in problem else "read-only"
        return f"{kind}: {problem}", None
    res = db.execute(sql, timeout_s=timeout_s, max_rows=max_rows, steady=steady)
    if not res.ok:
        return f"execute: {res.error}", None
    return None, res


def select_by_execution(
    candidates: list[str], db: Database, timeout_s: float = 5.0, max_rows: int = 1000,
    weights: list[float] | None = None, steady: bool = False,
) -> tuple[str, ExecResult | None, list[tuple[str, str]]]:
    """(chosen SQL, its result, dropped candidates): the execution-result majority among candidates that run.

    With ``weights`` each candidate's vote counts that much and the heaviest member speaks for its cluster;
    without, every vote is 1 and the best-ranked member speaks. Candidates are run in order, and the rest are
    not run once they cannot change the choice: the leading cluster outweighs the next one by more than all
    their votes together, and none of them outweighs its speaker (on a large database, running every candidate
    was most of the answer's time). The dropped list holds those run and failed."""
    votes = [1.0] * len(candidates) if weights is None else list(weights)
    rest = [0.0] * (len(candidates) + 1)  # the votes, and the heaviest vote, of the candidates after each one
    heaviest = [0.0] * (len(candidates) + 1)
    for i in range(len(candidates) - 1, -1, -1):
        rest[i] = rest[i + 1] + votes[i]
        heaviest[i] = max(heaviest[i + 1], votes[i])
    dropped: list[tuple[str, str]] = []
    alive: list[tuple[str, ExecResult]] = []
    alive_w: list[float] = []
    clusters: list[list[int]] = []
    for i, sql in enumerate(candidates):
        why, res = candidate_problem(sql, db, timeout_s, max_rows, steady)
        if why is not None or res is None:
            dropped.append((sql, why or "execute"))
            continue
        alive.append((sql, res))
        alive_w.append(votes[i])
        new = len(alive) - 1
        for members in clusters:
            rep_sql, rep_res = alive[members[0]]
            order = gold_order_matters(rep_sql) and gold_order_matters(sql)
            if same_result(rep_res.rows, res.rows, order):
                members.append(new)
                break
        else:
            clusters.append([new])
        if _settled(clusters, alive_w, rest[i + 1], heaviest[i + 1]):
            break
    if not alive:
        return (candidates[0] if candidates else ""), None, dropped
    best = max(clusters, key=lambda m: (sum(alive_w[i] for i in m), -m[0]))
    speaker = max(best, key=lambda i: (alive_w[i], -i))
    sql, res = alive[speaker]
    return sql, res, dropped


def _settled(clusters: list[list[int]], weight: list[float], rest: float, heaviest: float) -> bool:
    """Can the candidates not run yet (their votes: ``rest`` in all, ``heaviest`` the largest) still change
    which cluster wins or who speaks for it? Ties go to the earlier cluster and the earlier member, so a later
    candidate needs more, not as much; a small margin keeps float sums from deciding."""
    if rest <= 0.0:
        return True
    sums = [sum(weight[i] for i in m) for m in clusters]
    best = max(range(len(clusters)), key=lambda k: (sums[k], -clusters[k][0]))
    second = max((s for k, s in enumerate(sums) if k != best), default=0.0)
    speaks = max(weight[i] for i in clusters[best])
    return sums[best] > (second + rest) * (1 + 1e-9) + 1e-12 and heaviest <= speaks


def vote_weights(student: list[str], retrieved: list[tuple[str, float]], question: str, *,
                 scores: list[float | None] | None = None, schema: Schema | None = None,
                 values: dict[str, list[str]] | None = None, tau: float = 0.1, ungrounded: float = 0.1,
                 student_weight: float = 0.5, value_weight: float = 2.0) -> list[tuple[str, float]]:
    """Each candidate with its vote, from the model, the memory and string checks, never the question's words.

    The decoder's candidates (``student``, best first) vote ``student_weight / (1 + rank)``, or, when every
    one carries the model's log-probability (``scores``), ``student_weight * exp(score - best score)``: its
    probability next to the likeliest candidate's. The memory's (``retrieved``: SQL with similarity) vote
    ``exp((similarity - top) / tau)``. A candidate with a literal the question does not contain
    (``sql.grounding.ungrounded_literals``) counts for ``ungrounded`` of its vote. With the database's text
    ``values`` (``{"table.column": [...]}``), every vote is multiplied by ``exp(value_weight *
    value_agreement)`` (``sql.values``): the database values the question contains verbatim that the query
    uses, minus those it leaves out, minus text compared with a column that does not hold it.

    Defaults: ``tau``, ``ungrounded``, ``student_weight`` and ``value_weight`` come from a grid on synthesized
    held-out questions made when the vote also weighed hand-written English cues. Without the cues they were
    checked again on the human questions of three tune databases (allergy_1, race_track, hospital_1; 240
    questions; bench/open_dev.py students, one by kd, two by sft): a grid over tau 0.05-0.2, student_weight
    0.25-2, value_weight 0-3 and ungrounded 0.1-0.3 was flat (the best setting within 2 points of these), so
    they were kept. The model's scores and its ranks chose the same answers there. For the pointer student
    (the default), bench/selection_grid.py on four tune databases (322 questions) put no memory hits with
    ``value_weight`` 2 within one question of the best setting; with memory hits, ``student_weight`` 0.5 let
    the memory outvote the model (24.8% against 41.0%), which is why the default decoding reads no memory."""
    out: list[tuple[str, float]] = []
    known = scores is not None and len(scores) == len(student) and all(s is not None for s in scores)
    best = max((s for s in scores or [] if s is not None), default=0.0)
    for rank, sql in enumerate(student):
        if known and scores is not None:
            out.append((sql, student_weight * math.exp((scores[rank] or 0.0) - best)))
        else:
            out.append((sql, student_weight / (1 + rank)))
    if retrieved:
        top = retrieved[0][1]
        for sql, sim in retrieved:
            out.append((sql, math.exp((sim - top) / tau)))
    named = named_values(question, values, schema) if value_weight and values else frozenset()
    weighted = []
    for sql, w in out:
        w *= 1.0 if not ungrounded_literals(sql, question) else ungrounded
        if value_weight and values:
            w *= math.exp(value_weight * value_agreement(sql, named, schema, values))
        weighted.append((sql, w))
    return weighted


__all__ = ["candidate_problem", "select_by_execution", "vote_weights"]
