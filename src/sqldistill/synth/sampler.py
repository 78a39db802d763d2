"""Template candidates as ``Example`` records, with construct weights that adapt to what gets kept.

Each call draws a construct by weight, builds a query over the graph, renders its SQL and words its
question. Weights start from ``CONSTRUCTS`` and are scaled by how often a construct's recent candidates
were kept, and by how many of them fall into hardness levels that are not yet full: a database without
the columns a construct needs, or a full easy share, stops wasting draws on it, deterministically.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence

from sqldistill.records import Example
from sqldistill.spider.parser import SpiderParseError, SpiderSchema
from sqldistill.synth.graph import SchemaGraph
from sqldistill.synth.ir import Query, to_sql
from sqldistill.synth.realise import realise
from sqldistill.synth.templates import CONSTRUCTS, Builder, Picker, sensible


def spider_schema(graph: SchemaGraph) -> SpiderSchema:
    return SpiderSchema.with_name_ids(
        {t.name.lower(): tuple(c.name.lower() for c in t.columns) for t in graph.tables.values()}
    )


_STRING = re.compile(r"'(?:[^']|'')*'")


def hardness_for(sql: str, schema: SpiderSchema) -> str:
    """Spider hardness, or "" when the official parser cannot read the query.

    String literals are replaced first: hardness does not depend on them, and the official tokenizer does
    not understand SQL's doubled quote (``'It''s'``).
    """
    from sqldistill.spider.hardness import hardness

    try:
        return hardness(_STRING.sub("'v'", sql), schema)
    except (SpiderParseError, RecursionError):
        return ""


class TemplateSource:
    def __init__(self, graph: SchemaGraph, seed: int,
                 constructs: Sequence[tuple[str, float, Builder]] = CONSTRUCTS, phrasings: int = 1) -> None:
        self.graph = graph
        self.rng = random.Random(seed)
        self.picker = Picker(graph, self.rng)
        self.constructs = list(constructs)
        self.phrasings = max(1, phrasings)
        self.schema = spider_schema(graph)
        self.tried: Counter[str] = Counter()
        self.built: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.levels: dict[str, Counter[str]] = {name: Counter() for name, _, _ in self.constructs}
        self.full: set[str] = set()
        self._pending: list[Example] = []

    def _weight(self, name: str, base: float) -> float:
        # A draw that builds nothing costs little (no SQL runs): it only softly lowers the weight.
        built = (1 + self.built[name]) / (1 + self.tried[name])
        success = (1 + self.kept[name]) / (2 + self.built[name])
        levels = self.levels[name]
        total = sum(levels.values())
        open_share = 1.0
        if self.full and total:
            open_share = (1 + sum(n for lvl, n in levels.items() if lvl not in self.full)) / (1 + total)
        return base * max(success, 0.05) * max(open_share, 0.02) * max(built, 0.25)

    def draw(self) -> tuple[str, Query] | None:
        weights = [self._weight(name, base) for name, base, _ in self.constructs]
        name, _, build = self.rng.choices(self.constructs, weights=weights)[0]
        self.tried[name] += 1
        q = build(self.picker)
        if q is None or not sensible(q, self.graph):
            return None
        self.built[name] += 1
        return name, q

    def next(self) -> Example | None:
        """One candidate, or None when the drawn construct found nothing to build."""
        if self._pending:
            return self._pending.pop()
        drawn = self.draw()
        if drawn is None:
            return None
        name, q = drawn
        sql = to_sql(q, self.graph.dialect)
        level = hardness_for(sql, self.schema)
        self.levels[name][level] += 1
        out = [Example(question=realise(q, self.graph, self.rng), sql=sql, db_id=self.graph.db_id, source="template",
                       hardness=level, meta={"construct": name}) for _ in range(self.phrasings)]
        self._pending = out[1:][::-1]
        return out[0]

    def observe(self, ex: Example, kept: bool) -> None:
        name = str(ex.meta.get("construct", ""))
        if name in self.levels and kept:
            self.kept[name] += 1


__all__ = ["TemplateSource", "hardness_for", "spider_schema"]
