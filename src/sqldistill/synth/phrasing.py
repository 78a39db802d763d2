"""Words for the parts of a question: nouns for tables and columns, values, comparisons, conditions, order.

Every choice goes through the caller's ``random.Random`` so a seed fixes the wording. Wording is type-aware:
an ``age`` column is "older"/"youngest", a price "more expensive"/"cheapest", a year or date "after"/
"latest", a country or city "from"/"in". Values appear exactly as the SQL literal holds them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqldistill.sql.names import pluralize
from sqldistill.synth.graph import ColumnInfo, SchemaGraph, TableInfo
from sqldistill.synth.ir import Col, Cond, Item, Query, spoken_value

# head word -> (more, less, most, least)
_COMPARATIVES: dict[str, tuple[str, str, str, str]] = {
    "age": ("older", "younger", "oldest", "youngest"),
    "price": ("more expensive", "cheaper", "most expensive", "cheapest"),
    "cost": ("more expensive", "cheaper", "most expensive", "cheapest"),
    "height": ("taller", "shorter", "tallest", "shortest"),
    "weight": ("heavier", "lighter", "heaviest", "lightest"),
    "length": ("longer", "shorter", "longest", "shortest"),
    "duration": ("longer", "shorter", "longest", "shortest"),
    "speed": ("faster", "slower", "fastest", "slowest"),
    "population": ("larger", "smaller", "largest", "smallest"),
    "area": ("larger", "smaller", "largest", "smallest"),
    "size": ("larger", "smaller", "largest", "smallest"),
    "capacity": ("larger", "smaller", "largest", "smallest"),
}
_TEMPORAL = {"year", "date", "time", "day", "datetime", "founded", "opened", "established", "born"}
_PLACE = {"country", "city", "nationality", "citizenship", "location", "state", "hometown", "town", "region",
          "place", "county", "province", "continent", "district", "residence", "birthplace", "nation"}
_NAMING = {"name", "title"}

OPS = {
    ">": ["greater than", "more than", "larger than", "above", "over", "higher than", "bigger than"],
    "<": ["less than", "smaller than", "below", "under", "lower than"],
    ">=": ["at least", "no less than", "greater than or equal to"],
    "<=": ["at most", "no more than", "less than or equal to"],
    "!=": ["other than", "not equal to", "different from"],
}
AGG_WORDS = {
    "avg": ["average", "mean", "average"],
    "sum": ["total", "sum of", "total"],
    "max": ["maximum", "highest", "largest", "max"],
    "min": ["minimum", "lowest", "smallest", "min"],
}


def pick(rng: random.Random, options: Sequence[str], weights: Sequence[float] | None = None) -> str:
    if weights is None:
        return options[rng.randrange(len(options))]
    return rng.choices(list(options), weights=list(weights))[0]


def article(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


class Lexicon:
    """Nouns and phrases for one schema graph, drawn with one rng."""

    def __init__(self, graph: SchemaGraph, rng: random.Random) -> None:
        self.g = graph
        self.rng = rng

    # ------------------------------------------------------------------ nouns

    def info(self, col: Col) -> ColumnInfo | None:
        t = self.g.tables.get(col.table)
        return t.column(col.name) if t is not None else None

    def ent(self, table: str, plural: bool = True) -> str:
        t = self.g.tables[table]
        return t.plural if plural else t.phrase

    def col(self, col: Col, plural: bool = False, owner: str | None = None) -> str:
        """Spoken column; prefixed with its table when the sentence is about another table."""
        info = self.info(col)
        if info is None:
            return col.name
        phrases = info.phrases
        text = phrases[0] if len(phrases) == 1 or self.rng.random() < 0.8 else pick(self.rng, phrases[1:])
        if owner is not None and owner != col.table:
            t = self.g.tables[col.table].phrase
            if not text.startswith(t):
                text = f"{t} {text}"
        return pluralize(text) if plural else text

    def value(self, v: Any) -> str:
        text = spoken_value(v)
        if isinstance(v, str) and self.rng.random() < 0.12:
            return pick(self.rng, ["'" + text + "'", '"' + text + '"'])
        return text

    def head(self, col: Col) -> set[str]:
        info = self.info(col)
        return set(info.words) if info is not None else set()

    def comparative(self, col: Col) -> tuple[str, str, str, str] | None:
        words = self.head(col)
        for w in sorted(words):
            if w in _COMPARATIVES:
                return _COMPARATIVES[w]
        return None

    def temporal(self, col: Col) -> bool:
        info = self.info(col)
        return info is not None and (info.kind == "date" or bool(set(info.words) & _TEMPORAL))

    def place(self, col: Col) -> bool:
        return bool(self.head(col) & _PLACE)

    def naming(self, col: Col) -> bool:
        return bool(self.head(col) & _NAMING)

    # ------------------------------------------------------------------ items

    def item(self, it: Item, subject: str, plural: bool = False) -> str:
        """Noun phrase for a projected item: 'name', 'average age', 'number of singers'."""
        if it.col.name == "*":
            if it.agg == "count":
                return "number of " + self.ent(subject)
            return "all information"
        name = self.col(it.col, plural=plural and not it.agg, owner=subject)
        if it.agg == "count":
            if it.distinct:
                return pick(self.rng, ["number of different ", "number of distinct ", "number of unique "]) + \
                    pluralize(name)
            return "number of " + pluralize(name)
        if it.agg:
            word = pick(self.rng, AGG_WORDS[it.agg])
            return f"{word} {name}"
        return name

    def items(self, items: Sequence[Item], subject: str, plural: bool = False) -> str:
        parts = [self.item(i, subject, plural) for i in items]
        # "average and maximum age" when aggregates share one column
        cols = {(i.col, i.distinct) for i in items}
        if len(items) > 1 and len(cols) == 1 and all(i.agg in AGG_WORDS for i in items):
            words = [pick(self.rng, AGG_WORDS[i.agg]) for i in items]
            return join_words(words) + " " + self.col(items[0].col, owner=subject)
        if len(parts) > 1 and self.rng.random() < 0.5:
            parts = [parts[0], *["the " + p for p in parts[1:]]]
        return join_words(parts)

    # ------------------------------------------------------------------ conditions

    def cond_modifiers(self, c: Cond, subject: str, plural: bool = True) -> list[str]:
        """Post-nominal phrases that restrict ``subject`` by ``c``: 'whose age is above 30', 'from France'."""
        preds = self.cond_predicates(c, subject, plural)
        rel = "who" if self.rng.random() < 0.25 else "that"
        out = [f"{rel} {p}" for p in preds]
        out += self._modifiers(c, subject)
        return out

    def _modifiers(self, c: Cond, subject: str) -> list[str]:
        it, op, v = c.left, c.op, c.value
        rng = self.rng
        if isinstance(v, Query):
            return self._sub_modifiers(c, subject)
        owner = it.col.table
        if not it.agg and owner != subject and owner in self.g.tables and rng.random() < 0.6:
            # a condition on a joined table: "songs of a singer whose age is above 30"
            inner = pick(rng, self._modifiers(c, owner))
            one = self.ent(owner, plural=False)
            parent = any(e.table == subject and e.ref_table == owner for e in self.g.edges)
            if parent:
                return [f"of {article(one)} {inner}", f"whose {one} is {article(one)} {inner}",
                        f"by {article(one)} {inner}"]
            return [f"that have {article(one)} {inner}", f"with {article(one)} {inner}",
                    f"with at least one {one} {inner}"]
        if it.agg:
            return [f"whose {self.item(it, subject)} is {self.op_words(op, it.col)} {self.value(v)}"]
        cname = self.col(it.col, owner=subject)
        val = self.value(v) if op not in ("like", "not like") else self.value(str(v).strip("%"))
        if op == "=":
            out = [f"whose {cname} is {val}", f"with {cname} {val}", f"where {cname} is {val}",
                   f"with {article(cname)} of {val}", f"having {cname} {val}", f"whose {cname} equals {val}"]
            if self.place(it.col) and owner == subject:
                out += [f"from {val}", f"in {val}", f"from {val}"]
            if self.naming(it.col) and owner == subject:
                out += [f"named {val}", f"called {val}"]
            elif self.naming(it.col):
                t = self.ent(owner, plural=False)
                out += [f"of the {t} {val}", f"for {t} {val}", f"of {t} {val}"]
            if self.temporal(it.col):
                out += [f"in {val}"]
            return out
        if op == "!=":
            return [f"whose {cname} is not {val}", f"with {cname} other than {val}",
                    f"whose {cname} is different from {val}", f"with {cname} not equal to {val}"]
        if op in ("like", "not like"):
            raw = str(v)
            if op == "not like":
                return [f"whose {cname} does not contain {val}", f"without {val} in their {cname}"]
            if raw.startswith("%") and raw.endswith("%"):
                return [f"whose {cname} contains {val}", f"with {val} in their {cname}",
                        f"whose {cname} includes {val}", f"with {article(cname)} containing {val}",
                        f"whose {cname} has the word {val}", f"with {cname} like {val}"]
            if raw.endswith("%"):
                return [f"whose {cname} starts with {val}", f"with {cname} beginning with {val}"]
            return [f"whose {cname} ends with {val}", f"with {cname} ending in {val}"]
        if op == "between":
            lo, hi = self.value(v), self.value(c.value2)
            return [f"whose {cname} is between {lo} and {hi}", f"with {cname} between {lo} and {hi}",
                    f"with {cname} from {lo} to {hi}", f"with {cname} in the range {lo} to {hi}"]
        if op in ("in", "not in"):
            vals = join_words([self.value(x) for x in (v or [])], "or")
            return [f"whose {cname} is {'not ' if op == 'not in' else ''}{vals}"]
        comp = self.comparative(it.col) if owner == subject else None
        words = self.op_words(op, it.col)
        out = [f"whose {cname} is {words} {val}", f"with {cname} {words} {val}", f"with {article(cname)} {words} "
               f"{val}", f"where {cname} is {words} {val}", f"having {cname} {words} {val}"]
        if rng.random() < 0.15:
            out.append(f"with {cname} {op} {val}")
        if comp and op in (">", "<"):
            out += [f"{comp[0] if op == '>' else comp[1]} than {val}"] * 3
        if self.temporal(it.col) and op in (">", "<", ">=", "<="):
            word = {">": "after", "<": "before", ">=": "since", "<=": "up to"}[op]
            out += [f"{word} {val}", f"with {cname} {word} {val}"]
        return out

    def _sub_modifiers(self, c: Cond, subject: str) -> list[str]:
        sub = c.value
        assert isinstance(sub, Query)
        it, op = c.left, c.op
        cname = self.col(it.col, owner=subject)
        inner = sub.select[0] if sub.select else Item(Col("", "*"))
        if inner.agg in ("avg", "max", "min") and op in (">", "<", ">=", "<=", "=", "!="):
            scope = ""
            if sub.where:
                scope = " of those " + self.restrictions(sub, sub.tables[0])
            if inner.agg == "avg":
                words = self.op_words(op, it.col)
                comp = self.comparative(it.col)
                out = [f"whose {cname} is {words} the average{scope}",
                       f"with {cname} {words} the average {self.col(inner.col, owner=subject)}{scope}",
                       f"with {article(cname)} {words} average{scope}"]
                if comp and op in (">", "<") and not scope:
                    out.append(f"{comp[0] if op == '>' else comp[1]} than average")
                return out
            best = ("highest" if inner.agg == "max" else "lowest") if op == "=" else None
            if best is not None:
                return [f"with the {best} {cname}{scope}", f"whose {cname} is the {best}{scope}"]
            bound = "maximum" if inner.agg == "max" else "minimum"
            other = self.ent(sub.tables[0])
            return [f"whose {cname} is {self.op_words(op, it.col)} the {bound} {self.col(inner.col)} of "
                    f"{other}{' ' + self.restrictions(sub, sub.tables[0]) if sub.where else ''}"]
        target = self._relation_target(sub.tables[0], subject)
        restrict = ""
        if sub.where:
            restrict = " " + self.restrictions(sub, sub.tables[0], plural=False)
        if op == "not in":
            plural_t = self.ent(target)
            return [f"that have no {plural_t}{restrict}", f"that do not have any {plural_t}{restrict}",
                    f"without any {self.ent(target, False)}{restrict}", f"with no {plural_t}{restrict}",
                    f"that are not in any {self.ent(target, False)}{restrict}"]
        if op == "in":
            one = self.ent(target, False)
            return [f"that have {article(one)}{restrict}", f"with at least one {one}{restrict}",
                    f"that have some {self.ent(target)}{restrict}", f"with {article(one)}{restrict}"]
        return [f"whose {cname} {self.op_words(op, it.col)} that of {self.ent(sub.tables[0])}{restrict}"]

    def _relation_target(self, table: str, subject: str) -> str:
        """A link table is talked about as the table it links to (singer_in_concert -> concert)."""
        links = [t for t in self.g.tables[table].links if t != subject]
        return links[0] if len(links) == 1 else table

    def cond_predicates(self, c: Cond, subject: str, plural: bool = True) -> list[str]:
        """Verb phrases: 'are older than 30', 'have citizenship France', 'have no songs'."""
        be, have, do = ("are", "have", "do") if plural else ("is", "has", "does")
        it, op, v = c.left, c.op, c.value
        if isinstance(v, Query):
            sub = v
            target = self._relation_target(sub.tables[0], subject)
            if op in ("in", "not in") and not sub.where:
                if op == "not in":
                    return [f"{have} no {self.ent(target)}", f"{do} not have any {self.ent(target)}"]
                return [f"{have} {article(self.ent(target, False))}"]
            return []
        if it.agg or op in ("between", "like", "not like", "in", "not in"):
            return []
        cname = self.col(it.col, owner=subject)
        val = self.value(v)
        if op == "=":
            out = [f"{have} {cname} {val}", f"{have} {article(cname)} of {val}"]
            if self.place(it.col) and it.col.table == subject:
                out += [f"{be} from {val}", f"{be} in {val}"]
            return out
        if op == "!=":
            return [f"{do} not have {cname} {val}"]
        comp = self.comparative(it.col) if it.col.table == subject else None
        out = [f"{have} {cname} {self.op_words(op, it.col)} {val}"]
        if comp and op in (">", "<"):
            out.append(f"{be} {comp[0] if op == '>' else comp[1]} than {val}")
        return out

    def op_words(self, op: str, col: Col) -> str:
        if op in OPS:
            return pick(self.rng, OPS[op])
        return {"=": "equal to"}.get(op, op)

    def restrictions(self, q: Query, subject: str, plural: bool = True) -> str:
        """All WHERE conditions of ``q`` as one post-nominal phrase joined by and/or."""
        parts = [pick(self.rng, self.cond_modifiers(c, subject, plural)) for c in q.where]
        return join_words(parts, q.conj)

    # ------------------------------------------------------------------ order

    def superlative(self, it: Item, subject: str, desc: bool) -> str:
        """'with the highest age' / 'oldest' style phrase for ORDER BY ... LIMIT 1."""
        if it.agg == "count" and it.col.name == "*":
            return "most" if desc else "fewest"
        name = self.item(it, subject) if it.agg else self.col(it.col, owner=subject)
        if self.temporal(it.col) and not it.agg:
            word = pick(self.rng, ["latest", "most recent"]) if desc else pick(self.rng, ["earliest", "first"])
            return f"with the {word} {name}"
        words = ["highest", "largest", "greatest", "biggest", "maximum", "most"] if desc else \
            ["lowest", "smallest", "least", "minimum", "fewest"]
        return f"with the {pick(self.rng, words[:4], [4, 2, 1, 1])} {name}"

    def order_phrase(self, q: Query, subject: str) -> str:
        if not q.order:
            return ""
        it = q.order[0]
        if it.agg == "count" and it.col.name == "*":
            name = "number of " + self.ent(q.tables[-1] if q.is_join else subject)
        else:
            name = self.item(it, subject)
        if len(q.order) > 1:
            name = self.items(q.order, subject)
        comp = self.comparative(it.col) if not it.agg else None
        if q.desc:
            options = [f"in descending order of {name}", f"sorted by {name} in descending order",
                       f"ordered by {name} descending", f"from highest to lowest {name}",
                       f"sorted by {name} from high to low", f"order by {name} desc"]
            if comp:
                options.append(f"from {comp[2]} to {comp[3]}")
            if self.temporal(it.col):
                options.append("from the most recent to the oldest")
        else:
            options = [f"in ascending order of {name}", f"sorted by {name}", f"ordered by {name}",
                       f"sorted by {name} in ascending order", f"from lowest to highest {name}",
                       f"in order of {name}", f"ordered by {name} ascending"]
            if comp:
                options.append(f"from {comp[3]} to {comp[2]}")
        return pick(self.rng, options)


def join_words(parts: Sequence[str], conj: str = "and") -> str:
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    if len(parts) == 2:
        return f"{parts[0]} {conj} {parts[1]}"
    return ", ".join(parts[:-1]) + f" {conj} " + parts[-1]


def subject_of(q: Query) -> str:
    """The table a question is about: the owner of the first projected column, else the first table."""
    for it in q.select:
        if it.col.name != "*" and it.col.table:
            return it.col.table
    return q.tables[0]


def table_info(graph: SchemaGraph, name: str) -> TableInfo:
    return graph.tables[name]


__all__ = ["AGG_WORDS", "OPS", "Lexicon", "article", "join_words", "pick", "subject_of"]
