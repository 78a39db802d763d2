"""Spider hardness (easy / medium / hard / extra), exactly as the official ``eval_hardness`` computes it.

The official rule counts three things on the parsed gold query:

- component 1: WHERE, GROUP BY, ORDER BY, LIMIT, each extra FROM table, each OR and each LIKE;
- component 2: nested queries in conditions plus INTERSECT / UNION / EXCEPT;
- others: more than one aggregate, more than one SELECT item, more than one WHERE element, more than one
  GROUP BY column.

Two quirks are kept because published hardness splits depend on them: "aggregates" in WHERE and HAVING are
counted by testing the first field of every element, so a ``NOT`` condition (and in HAVING every AND/OR
connector) counts as one; and "more than one WHERE condition" counts list elements, connectors included.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqldistill.spider.parser import (
    WHERE_OPS,
    SpiderSchema,
    SqlDict,
    parse_spider_sql,
    schema_from_sqlite,
)

__all__ = [
    "Hardness",
    "count_component1",
    "count_component2",
    "count_others",
    "hardness",
    "hardness_of",
    "nested_queries",
]

Hardness = Literal["easy", "medium", "hard", "extra"]

_LIKE = WHERE_OPS.index("like")


def _conditions(sql: SqlDict) -> list[Any]:
    return [*sql["from"]["conds"][::2], *sql["where"][::2], *sql["having"][::2]]


def _connectors(sql: SqlDict) -> list[Any]:
    return [*sql["from"]["conds"][1::2], *sql["where"][1::2], *sql["having"][1::2]]


def nested_queries(sql: SqlDict) -> list[SqlDict]:
    """Sub-queries used as condition values, then INTERSECT, EXCEPT and UNION (FROM sub-queries excluded)."""
    nested = [value for cond in _conditions(sql) for value in (cond[3], cond[4]) if type(value) is dict]
    nested += [sql[op] for op in ("intersect", "except", "union") if sql[op] is not None]
    return nested


def count_component1(sql: SqlDict) -> int:
    count = sum(1 for key in ("where", "groupBy", "orderBy") if len(sql[key]) > 0)
    count += sql["limit"] is not None
    if sql["from"]["table_units"]:
        count += len(sql["from"]["table_units"]) - 1
    count += sum(1 for token in _connectors(sql) if token == "or")
    count += sum(1 for cond in _conditions(sql) if cond[1] == _LIKE)
    return count


def count_component2(sql: SqlDict) -> int:
    return len(nested_queries(sql))


def _count_first_field_set(units: Iterable[Sequence[Any]]) -> int:
    # Upstream's ``has_agg``: the first field differs from 0. For a condition element that field is the NOT
    # flag, and for an 'and'/'or' string it is a letter, so both count.
    return sum(1 for unit in units if unit[0] != 0)


def count_others(sql: SqlDict) -> int:
    aggregates = _count_first_field_set(sql["select"][1])
    aggregates += _count_first_field_set(sql["where"][::2])
    aggregates += _count_first_field_set(sql["groupBy"])
    if sql["orderBy"]:
        val_units = sql["orderBy"][1]
        aggregates += _count_first_field_set(
            [unit[1] for unit in val_units if unit[1]] + [unit[2] for unit in val_units if unit[2]]
        )
    aggregates += _count_first_field_set(sql["having"])
    count = int(aggregates > 1)
    count += len(sql["select"][1]) > 1
    count += len(sql["where"]) > 1
    count += len(sql["groupBy"]) > 1
    return count


def hardness_of(sql: SqlDict) -> Hardness:
    """Hardness of an already parsed query (the structure :func:`parse_spider_sql` returns)."""
    comp1, comp2, others = count_component1(sql), count_component2(sql), count_others(sql)
    if comp1 <= 1 and others == 0 and comp2 == 0:
        return "easy"
    if (others <= 2 and comp1 <= 1 and comp2 == 0) or (comp1 <= 2 and others < 2 and comp2 == 0):
        return "medium"
    if (
        (others > 2 and comp1 <= 2 and comp2 == 0)
        or (2 < comp1 <= 3 and others <= 2 and comp2 == 0)
        or (comp1 <= 1 and others == 0 and comp2 <= 1)
    ):
        return "hard"
    return "extra"


def hardness(sql: str, schema: SpiderSchema | str | os.PathLike[str]) -> Hardness:
    """Hardness of a SQL string over a schema (a :class:`SpiderSchema` or a SQLite file path).

    Raises :class:`~sqldistill.spider.parser.SpiderParseError` when the official parser cannot read the query
    (the official evaluator would crash on such a gold query).
    """
    spider_schema = schema if isinstance(schema, SpiderSchema) else schema_from_sqlite(schema)
    return hardness_of(parse_spider_sql(sql, spider_schema))
