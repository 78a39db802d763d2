"""Plausible model outputs for a gold query, for benchmarks and agreement checks: right, near misses, and the
inputs the official preprocessing treats specially."""

from __future__ import annotations

import random
import re

from sqldistill.eval.mutations import mutate
from sqldistill.records import Schema


def _respace(sql: str, rng: random.Random) -> str:
    words = sql.split()
    out = [w.lower() if rng.random() < 0.5 and w.isalpha() and w.isupper() else w for w in words]
    return rng.choice(["  ", " ", "\t "]).join(out) if len(out) > 1 else sql


def perturb(sql: str, schema: Schema | None, rng: random.Random, others: list[str]) -> str:
    """One plausible model output for gold ``sql``: often right, often a near miss, sometimes broken.

    Covers what the official preprocessing cares about (the ``value`` placeholder, ``> =``, DISTINCT,
    a second statement, ``YEAR(CURDATE())``) and what models get wrong (near misses, another query of the
    same database, truncated or invented SQL). Never empty and never a write, so any evaluator can run it.
    """
    roll = rng.random()
    if roll < 0.2:
        return sql
    if roll < 0.3:
        return _respace(sql, rng)
    if roll < 0.62:
        mutants = mutate(sql, schema, seed=rng.randrange(1 << 30))
        return rng.choice(mutants).sql if mutants else sql
    if roll < 0.68:
        return re.sub(r"'[^']*'|\"[^\"]*\"|\b\d+(\.\d+)?\b", " value ", sql, count=rng.randint(1, 2))
    if roll < 0.72:
        return sql.replace(">=", "> =").replace("<=", "< =").replace("!=", "! =").replace(">", "> ") \
            if rng.random() < 0.5 else sql.replace(" > ", " > = ")
    if roll < 0.76:
        return sql.replace("SELECT", "SELECT DISTINCT", 1) if "DISTINCT" not in sql.upper() \
            else sql.replace("DISTINCT", "", 1).replace("distinct", "", 1)
    if roll < 0.79:
        return sql.rstrip(";") + rng.choice([";", " ;", "; SELECT 1", ";\tSELECT count(*) FROM sqlite_master"])
    if roll < 0.82:
        return sql + " AND YEAR(CURDATE()) > 2000" if " WHERE " in sql.upper() else \
            sql.replace("SELECT", "SELECT YEAR(CURDATE()) - 2000 AS y,", 1)
    if roll < 0.9:
        return rng.choice(others) if others else sql
    if roll < 0.95:
        cut = rng.randint(max(1, len(sql) // 3), max(1, len(sql) - 1))
        return sql[:cut]
    return rng.choice([
        "SELECT", "SELECT * FROM no_such_table", "I am not sure how to answer that.", "SELECT count(*) FROM",
        "SELECT name FROM singer WHERE", "SELECT T1.x FROM t AS T1 JOIN", sql.replace("FROM", "FORM", 1),
        "SELECT 1", "SELECT 'value'", sql + " GROUP BY", "(" + sql, sql.replace(" ", "", 3),
    ])


__all__ = ["perturb"]
