"""Query shapes and question phrasings learned from a public corpus of people's questions.

Each human question/SQL pair of the corpus becomes a *shape* (``shapes.abstract_slots``: tables, columns and
values replaced by typed slots) and, for its question and its paraphrase, a *phrasing*: the question with
every mention of a slot's column or table, and every literal value of the query, replaced by a placeholder
(``{c:s0}`` a column slot, ``{t:1}`` a table variable, ``{v:2}`` the query's third value; ``:p`` marks a
plural mention). Mentions are found by matching tokens of the humanised schema names and of the values
against the tokens of the question, with no word lists of any language; a question that also mentions a
part of its schema the query does not use, or a value that cannot be found, gives no phrasing.

At run time ``CorpusSource`` fills shapes in over the user's schema graph (tables along foreign keys,
columns by role, values from the database) and words each with one of the shape's phrasings, spoken with the
user's own table, column and value words; a shape without a phrasing is worded by ``realise``. Shapes are
drawn by skeleton, strongly favouring skeletons not yet kept, so a run covers as many kinds of question as
it can. Besides the corpus's own skeletons there is its neighbour pool (``neighbour_pool``, built with the
artifact): the skeletons one edit away from many of its shapes, which people are likelier to ask than the
corpus's size lets it show. A skeleton already kept mostly gives a neighbouring shape instead of a repeat
(``mutate``: value edits such as another comparison or aggregate, and structural ones such as a condition,
projected column or joined table added or dropped), worded by ``realise``; of a few neighbours, the one
whose skeleton a trigram model of the corpus's skeletons scores best is kept (``SkeletonModel``). Values are read from one real row of the query's
tables and HAVING thresholds from its real groups (``anchor``), so conditions drawn together select rows.

The artifact (``corpus_data/corpus.json.gz``) is built by ``build_corpus`` (``scripts/build_synth_corpus.py``).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from sqldistill.errors import DataError
from sqldistill.records import Example
from sqldistill.synth.graph import SchemaGraph
from sqldistill.synth.ir import Col, Cond, Item, Query, spoken_value, to_sql, walk
from sqldistill.synth.shapes import Filled, Shape, abstract_slots, instantiate_slots

FORMAT = 1
ARTIFACT = "corpus.json.gz"
_WORD = re.compile(r"\w+")
_SLOT = re.compile(r"\{([ctv]):([A-Za-z0-9_]+)(:p)?\}")


@dataclass(frozen=True)
class Entry:
    """One shape of the corpus: how often people asked it, its skeleton and its phrasings."""

    n: int
    skeleton: str
    shape: Shape
    phrasings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Corpus:
    """The learned shapes (``entries``) and the pool of their likeliest neighbours (``neighbours``: shapes one
    edit away whose skeleton the corpus lacks; ``n`` counts the corpus shapes an edit reaches it from)."""

    entries: tuple[Entry, ...]
    excluded: tuple[str, ...] = ()
    path: str = ""
    neighbours: tuple[Entry, ...] = ()


def default_path() -> Path:
    return Path(str(resources.files("sqldistill.synth").joinpath("corpus_data").joinpath(ARTIFACT)))


@lru_cache(maxsize=4)
def load_corpus(path: str | None = None) -> Corpus:
    """The corpus at ``path`` (default: the one shipped with the package); one clear error when unusable."""
    p = Path(path) if path else default_path()
    hint = "Rebuild it with scripts/build_synth_corpus.py, or leave the corpus out of the source mix"
    if not p.is_file():
        raise DataError(f"No synthesis corpus at {p}", hint=hint)
    try:
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        entries = tuple(Entry(int(e["n"]), str(e["skeleton"]), dict(e["shape"]), tuple(e.get("phrasings", ())))
                        for e in data["shapes"])
        pool = tuple(Entry(int(e["n"]), str(e["skeleton"]), dict(shape))
                     for e in data.get("neighbours", ()) for shape in e["shapes"])
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"The synthesis corpus at {p} is unreadable ({type(err).__name__}: {err})",
                        hint=hint) from None
    if not entries:
        raise DataError(f"The synthesis corpus at {p} holds no shapes", hint=hint)
    return Corpus(entries, tuple(data.get("excluded_dbs", ())), str(p), pool)


# ---------------------------------------------------------------------------- values and tokens


def values_of(q: Query) -> list[Any]:
    """The literal values of ``q`` in a fixed order (conditions, nested queries, the other side)."""
    out: list[Any] = []

    def visit(part: Query) -> None:
        for c in (*part.where, *part.having):
            for v in (c.value, c.value2):
                if isinstance(v, Query):
                    visit(v)
                elif isinstance(v, tuple):
                    out.extend(v)
                elif v is not None and not isinstance(v, Col):
                    out.append(v)
        if part.other is not None:
            visit(part.other)

    visit(q)
    return out


def _value_text(v: Any) -> str:
    return spoken_value(v.strip("%") if isinstance(v, str) else v)


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _close(a: str, b: str) -> bool:
    """Same word, or one a short extension of the other (an inflection in many languages)."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 2


def _find(tokens: Sequence[tuple[str, int, int]], words: Sequence[str], exact: bool) -> list[tuple[int, int, bool]]:
    """Token spans matching ``words``; the flag says the match was not exact (an inflected mention)."""
    out = []
    k = len(words)
    for i in range(len(tokens) - k + 1):
        window = [tokens[i + j][0] for j in range(k)]
        if window == list(words):
            out.append((i, i + k, False))
        elif not exact and all(_close(a, b) for a, b in zip(window, words)):
            out.append((i, i + k, True))
    return out


# ---------------------------------------------------------------------------- phrasings


def phrasing(question: str, q: Query, graph: SchemaGraph, slots: dict[str, Col],
             variables: dict[str, int]) -> str | None:
    """``question`` with its slot, table and value mentions replaced by placeholders, or None."""
    tokens = _tokens(question)
    found: list[tuple[int, int, int, str]] = []  # (priority, start, end, placeholder)
    for i, v in enumerate(values_of(q)):
        words = [w for w, _, _ in _tokens(_value_text(v))]
        spans = _find(tokens, words, exact=True) if words else []
        if not spans:
            return None  # a value the question does not show: its wording cannot be moved
        found += [(0, s, e, f"{{v:{i}}}") for s, e, _ in spans]
    for slot, col in slots.items():
        info = graph.tables[col.table].column(col.name)
        if info is None:
            continue
        for text in {*info.phrases, col.name.replace("_", " ")}:
            words = [w for w, _, _ in _tokens(text)]
            found += [(1, s, e, f"{{c:{slot}{':p' if loose else ''}}}") for s, e, loose in _find(tokens, words, False)]
    for table, var in variables.items():
        t = graph.tables[table]
        for text, plural in ((t.phrase, False), (t.plural, True), (table.replace("_", " "), False)):
            words = [w for w, _, _ in _tokens(text)]
            found += [(2, s, e, f"{{t:{var}{':p' if plural or loose else ''}}}")
                      for s, e, loose in _find(tokens, words, False)]
    taken = [False] * len(tokens)
    chosen: list[tuple[int, int, str]] = []
    for _, s, e, ph in sorted(found, key=lambda f: (f[0], -(f[2] - f[1]), f[1])):
        if not any(taken[s:e]):
            taken[s:e] = [True] * (e - s)
            chosen.append((s, e, ph))
    said = {ph.split(":")[1].rstrip("}") for _, _, ph in chosen}
    if not _required(q, slots, variables) <= said:
        return None  # a projected or compared column the question names in words of its own
    if _mentions_other_parts(tokens, taken, graph, set(slots.values()), set(variables)):
        return None
    out, last = [], 0
    for s, e, ph in sorted(chosen):
        out.append(question[last:tokens[s][1]].replace("{", "(").replace("}", ")"))
        out.append(ph)
        last = tokens[e - 1][2]
    out.append(question[last:].replace("{", "(").replace("}", ")"))
    return "".join(out)


def _required(q: Query, slots: dict[str, Col], variables: dict[str, int]) -> set[str]:
    """Slots a movable question must name: projected and compared columns (a counted table for count(*))."""
    names = {col: slot for slot, col in slots.items()}
    out = set()
    for part in walk(q):
        for it in (*part.select, *(c.left for c in (*part.where, *part.having))):
            if it.col.name != "*":
                out.add(names[it.col])
            elif part is q and not part.is_join:
                out.add(str(variables[part.tables[0]]))
    return out


def _mentions_other_parts(tokens: Sequence[tuple[str, int, int]], taken: list[bool], graph: SchemaGraph,
                          cols: set[Col], tables: set[str]) -> bool:
    """Whether words left over name a table or column the query does not use (they would not move)."""
    left = {w for (w, _, _), t in zip(tokens, taken) if not t}
    for t in graph.tables.values():
        names = [] if t.name in tables else [t.phrase, t.plural]
        names += [c.phrase for c in t.columns if Col(t.name, c.name) not in cols and c.role != "key"]
        for text in names:
            words = [w for w, _, _ in _tokens(text)]
            if words and all(w in left for w in words) and _find(tokens, words, exact=True):
                return True
    return False


def speak(template: str, filled: Filled, graph: SchemaGraph, rng: random.Random) -> str | None:
    """A phrasing spoken over the filled-in query, or None when a placeholder has nothing to say."""
    from sqldistill.sql.names import pluralize
    from sqldistill.synth.phrasing import Lexicon

    lx = Lexicon(graph, rng)
    values = values_of(filled.query)
    missing = False

    def say(m: re.Match[str]) -> str:
        nonlocal missing
        kind, key, plural = m.group(1), m.group(2), bool(m.group(3))
        if kind == "v" and key.isdigit() and int(key) < len(values):
            return _value_text(values[int(key)]) if rng.random() < 0.9 else lx.value(values[int(key)])
        if kind == "c" and key in filled.columns:
            info = filled.columns[key]
            text = info.phrase if len(info.phrases) == 1 or rng.random() < 0.8 else rng.choice(info.phrases[1:])
            return pluralize(text) if plural else text
        if kind == "t" and key.isdigit() and int(key) in filled.tables:
            t = filled.tables[int(key)]
            return t.plural if plural else t.phrase
        missing = True
        return ""

    text = _SLOT.sub(say, template)
    return None if missing else " ".join(text.split())


# ---------------------------------------------------------------------------- neighbouring shapes

_OP_FAMILIES = (("=", "!=", ">", "<", ">=", "<="), ("like", "not like"), ("in", "not in"))
_VALUE_AGGS = ("sum", "avg", "min", "max")
_SETOPS = ("union", "intersect", "except")
_UNSET = {"desc": False, "distinct": False, "conj": "and", "chained": False}  # what a shape leaves out
# a condition a neighbour adds: its operator and the role of the column it compares
_NEW_CONDS = (("=", "category"), ("=", "label"), ("!=", "category"), (">", "measure"), ("<", "measure"),
              (">=", "measure"), ("<=", "measure"), ("like", "label"))
_NEW_ITEMS = ("label", "label", "category", "measure", "measure", "date")  # roles of an added projection
_OPPOSITE = {">": ("<", "<="), ">=": ("<=", "<"), "<": (">", ">="), "<=": (">=", ">")}
Edit = Callable[[], None]
_KIND_WEIGHTS = {"aggregate": 1.0, "operator": 1.0, "conj": 0.3, "distinct": 0.5, "order": 0.4, "setop": 0.3,
                 "count": 0.5, "range": 1.0, "condition": 1.0, "projection": 0.8, "join": 1.0, "table": 0.8}


class _Neighbours:
    """The edits that turn a shape into a neighbour, grouped by kind; each edit changes the shape in place."""

    def __init__(self, shape: Shape, rng: random.Random) -> None:
        self.shape = shape
        self.rng = rng
        self.kinds: dict[str, list[Edit]] = {}
        self.paths: list[dict[str, Any]] = []  # query parts joining three tables or more
        self.query(shape["q"], projection=not shape["q"].get("setop"))
        if self.paths:
            self.add("join", self.restyle)

    def restyle(self) -> None:
        """Every join path written the other way: one ON per JOIN, or all ON conditions after the last."""
        chained = not any(q.get("chained") for q in self.paths)
        for q in self.paths:
            if chained:
                q["chained"] = True
            else:
                q.pop("chained", None)

    def add(self, kind: str, edit: Edit) -> None:
        self.kinds.setdefault(kind, []).append(edit)

    def slot(self, t: int, role: str) -> str:
        used = {int(s[1:]) for s in self.shape["slots"] if s[1:].isdigit()}
        name = f"s{max(used, default=-1) + 1}"
        self.shape["slots"][name] = {"t": t, "role": role}
        return name

    def choose(self, container: Any, key: Any, options: Sequence[Any]) -> Edit:
        def edit() -> None:
            current = container.get(key, _UNSET.get(key)) if isinstance(container, dict) else container[key]
            container[key] = self.rng.choice([o for o in options if o != current])
        return edit

    def query(self, q: dict[str, Any], projection: bool) -> None:
        """Edits of one query part; ``projection`` allows changing what it selects (not a subquery's or a
        set operation's, whose columns must line up with something else)."""
        for it in (*q["select"], *q.get("order", [])):
            if len(it) > 1 and it[1] in _VALUE_AGGS:
                self.add("aggregate", self.choose(it, 1, _VALUE_AGGS))
            if len(it) > 1 and it[1] == "count" and len(it) < 3:
                self.add("count", self.count_edit(q, it))
        where = q.get("where", [])
        for c in (*where, *q.get("having", [])):
            family = next((f for f in _OP_FAMILIES if c["op"] in f), None)
            if family is not None:
                self.add("operator", self.choose(c, "op", family))
            if c["op"] in _OPPOSITE and len(c["l"]) == 1 and c in where and isinstance(c.get("v"), dict) \
                    and "slot" in c["v"] and (len(where) == 1 or q.get("conj", "and") == "and"):
                self.add("range", self.bound(q, c))
            for key in ("v", "v2"):
                if isinstance(c.get(key), dict) and "q" in c[key]:
                    self.query(c[key]["q"], projection=False)
        if len(where) > 1:
            self.add("conj", self.choose(q, "conj", ("and", "or")))
        self.add("condition", self.more(q))
        if any(isinstance(c.get("v"), dict) and ("slot" in c["v"] or "lit" in c["v"]) for c in where):
            self.add("condition", self.fewer(q))
        if q.get("order"):
            self.add("order", self.choose(q, "desc", (True, False)))
            self.add("order", self.limit(q))
        elif projection and (q.get("group") or any(len(it) == 1 for it in q["select"])):
            self.add("order", self.order(q))  # not a query of one row (aggregates alone): its order means nothing
        if not any(len(it) > 1 for it in q["select"]):
            self.add("distinct", self.choose(q, "distinct", (True, False)))
        if projection and q["select"][0][0] != "*":
            self.add("projection", self.project(q))
            if len(q["select"]) > 1:
                self.add("projection", self.unproject(q))
                self.add("projection", self.reorder(q))
        if len(q["tables"]) > 2:
            self.paths.append(q)
        if len(q["tables"]) < 4:
            self.add("table", self.join(q))
        if "setop" in q:
            self.add("setop", self.choose(q, "setop", _SETOPS))
            self.query(q["other"], projection=False)

    def table(self, q: dict[str, Any]) -> int:
        return int(self.rng.choice(q["tables"]))

    def join(self, q: dict[str, Any]) -> Edit:
        """One more table joined along a key, a condition of the query moved onto it or a new one put there:
        'singers whose song is X' next to 'singers from X'."""
        def edit() -> None:
            slots = self.shape["slots"]
            new = 1 + max(_variables(self.shape["q"]) | {meta["t"] for meta in slots.values()})
            mine, theirs = self.slot(self.table(q), "key"), self.slot(new, "key")
            q["tables"].append(new)
            q.setdefault("joins", []).append([mine, theirs])
            self.shape.setdefault("links", []).append([mine, theirs, ""])
            where = q.setdefault("where", [])
            plain = [c for c in where if len(c["l"]) == 1 and isinstance(c.get("v"), dict)
                     and c["v"].get("slot") == c["l"][0] and c.get("v2") is None]
            if plain and self.rng.random() < 0.5:
                c = self.rng.choice(plain)
                c["l"] = [self.slot(new, slots[c["l"][0]]["role"])]
                c["v"] = {"slot": c["l"][0]}
            else:
                op, role = self.rng.choice(_NEW_CONDS)
                s = self.slot(new, role)
                where.insert(self.rng.choice([0, len(where)]), {"l": [s], "op": op, "v": {"slot": s}})
        return edit

    def count_edit(self, q: dict[str, Any], it: list[Any]) -> Edit:
        """count(*) <-> count(column): the same count, written the other way people write it."""
        def edit() -> None:
            if it[0] != "*":
                it[0] = "*"
                return
            own = [s for s in (*q.get("group", []), *(i[0] for i in q["select"])) if s != "*"]
            it[0] = own[0] if own else self.slot(self.table(q), "key")
        return edit

    def bound(self, q: dict[str, Any], c: dict[str, Any]) -> Edit:
        """A second bound on a compared column: ``x >= a AND x <= b``, ``x < a OR x > b``."""
        def edit() -> None:
            other = {"l": list(c["l"]), "op": self.rng.choice(_OPPOSITE[c["op"]]), "v": {"slot": c["l"][0]}}
            q["where"].insert(q["where"].index(c) + 1, other)
            if len(q["where"]) == 2:
                q["conj"] = "or" if c["op"] in ("<", "<=") and other["op"] in (">", ">=") and \
                    self.rng.random() < 0.5 else "and"
        return edit

    def more(self, q: dict[str, Any]) -> Edit:
        def edit() -> None:
            op, role = self.rng.choice(_NEW_CONDS)
            s = self.slot(self.table(q), role)
            where = q.setdefault("where", [])
            where.insert(self.rng.choice([0, len(where)]), {"l": [s], "op": op, "v": {"slot": s}})
        return edit

    def fewer(self, q: dict[str, Any]) -> Edit:
        def edit() -> None:
            plain = [c for c in q["where"] if isinstance(c.get("v"), dict) and ("slot" in c["v"] or "lit" in c["v"])]
            q["where"].remove(self.rng.choice(plain))
            if len(q["where"]) < 2:
                q.pop("conj", None)
            if not q["where"]:
                del q["where"]
        return edit

    def order(self, q: dict[str, Any]) -> Edit:
        def edit() -> None:
            if q.get("group"):
                q["order"] = [["*", "count"]]
            else:
                shown = [it for it in q["select"] if it[0] != "*" and len(it) == 1]
                q["order"] = [list(self.rng.choice(shown))] if shown and self.rng.random() < 0.5 else \
                    [[self.slot(self.table(q), self.rng.choice(("measure", "date", "label")))]]
            q["desc"] = self.rng.random() < 0.5
            if self.rng.random() < (0.7 if q.get("group") else 0.4):
                q["limit"] = 1
        return edit

    def limit(self, q: dict[str, Any]) -> Edit:
        def edit() -> None:
            if q.get("limit") is None:
                q["limit"] = 1
            else:
                del q["limit"]
        return edit

    def project(self, q: dict[str, Any]) -> Edit:
        """One more column shown: another value of an aggregate shown, or another column."""
        def edit() -> None:
            slots = self.shape["slots"]
            aggs = [it for it in q["select"] if len(it) > 1 and it[1] in _VALUE_AGGS]
            group = q.get("group", [])
            # a grouped query shows another column only when it groups by a key (the name of each customer id)
            by_key = group and all(slots.get(s, {}).get("pk") for s in group)
            if (aggs and self.rng.random() < 0.7) or (group and not by_key):
                t = slots[aggs[0][0]]["t"] if aggs else self.table(q)
                agg = self.rng.choice([aggs[0][1], *_VALUE_AGGS]) if aggs else self.rng.choice(_VALUE_AGGS)
                item = [self.slot(t, "measure"), agg]
                if group and not aggs and ["*", "count"] not in q["select"] and self.rng.random() < 0.5:
                    item = ["*", "count"]
            else:
                t = slots[group[0]]["t"] if group else self.table(q)
                item = [self.slot(t, self.rng.choice(_NEW_ITEMS))]
            q["select"].insert(self.rng.randrange(len(q["select"]) + 1), item)
        return edit

    def unproject(self, q: dict[str, Any]) -> Edit:
        def edit() -> None:
            aggs = [i for i, it in enumerate(q["select"]) if len(it) > 1]
            # a grouped query keeps an aggregate: its groups alone ask nothing about them
            keep = aggs if q.get("group") and len(aggs) == 1 else []
            q["select"].pop(self.rng.choice([i for i in range(len(q["select"])) if i not in keep]))
        return edit

    def reorder(self, q: dict[str, Any]) -> Edit:
        def edit() -> None:
            item = q["select"].pop(self.rng.randrange(len(q["select"])))
            q["select"].insert(self.rng.choice([i for i in range(len(q["select"]) + 1)
                                                if q["select"][i:i + 1] != [item]]), item)
        return edit


def _variables(q: dict[str, Any]) -> set[int]:
    """The table variables of a shape's query and of every query nested in it."""
    out = set(q["tables"])
    for c in (*q.get("where", []), *q.get("having", [])):
        for v in (c.get("v"), c.get("v2")):
            if isinstance(v, dict) and "q" in v:
                out |= _variables(v["q"])
    return out | (_variables(q["other"]) if "other" in q else set())


def _used_slots(q: dict[str, Any], out: set[str]) -> None:
    for it in (*q["select"], *q.get("order", [])):
        out.add(it[0])
    out.update(s for pair in q.get("joins", []) for s in pair)
    out.update(q.get("group", []))
    for c in (*q.get("where", []), *q.get("having", [])):
        out.add(c["l"][0])
        for v in (c.get("v"), c.get("v2")):
            if isinstance(v, dict):
                if "q" in v:
                    _used_slots(v["q"], out)
                out.update(v[k] for k in ("slot", "col") if k in v)
    if "other" in q:
        _used_slots(q["other"], out)


def mutate(shape: Shape, rng: random.Random, kinds: dict[str, float] | None = None) -> Shape:
    """A neighbour of ``shape``: one or two edits of one kind each. Value edits change an operator, aggregate,
    AND/OR, DISTINCT, sort direction or set operation; structural ones add or drop a condition (or a second
    bound on a compared column), a projected column, a sort or its limit, join one more table (with a
    condition on it), reorder the projection, write count(*) as count(column), or write a join path's ON
    conditions together after its last JOIN. People ask these too, and a corpus holds only some of them;
    ``kinds`` weighs the kinds of edit."""
    out: Shape = json.loads(json.dumps(shape))
    weights = _KIND_WEIGHTS if kinds is None else kinds
    for _ in range(1 if rng.random() < 0.7 else 2):
        sites = _Neighbours(out, rng).kinds  # found again: the first edit may have moved them
        names = sorted(k for k in sites if weights.get(k, 0) > 0)
        if names:
            kind = rng.choices(names, weights=[weights[k] for k in names])[0]
            rng.choice(sites[kind])()
    used: set[str] = set()
    _used_slots(out["q"], used)
    used.update(s for link in out.get("links", []) for s in link[:2])
    out["slots"] = {s: meta for s, meta in out["slots"].items() if s in used}
    return out


def neighbour_pool(entries: Sequence[Entry], draws: int = 40, keep: int = 1000, per_skeleton: int = 3,
                   seed: int = 0) -> list[dict[str, Any]]:
    """The ``keep`` skeletons one edit (``mutate``) away from the shapes of ``entries`` that no entry has,
    ranked by how many of the shapes ``draws`` random edits reach them from: a question many shapes are one
    edit from is one people are likelier to ask. Each keeps up to ``per_skeleton`` shapes giving it (from
    the most asked shapes first), so that it fits more schemas."""
    from sqldistill.synth.shapes import shape_skeleton

    rng = random.Random(seed)
    own = {e.skeleton for e in entries}
    score: Counter[str] = Counter()
    shapes: dict[str, list[Shape]] = {}
    for e in entries:
        reached = set()
        for _ in range(draws):
            other = mutate(e.shape, rng)
            skel = shape_skeleton(other)
            if skel in own or skel in reached:
                continue
            reached.add(skel)
            score[skel] += 1
            kept = shapes.setdefault(skel, [])
            if len(kept) < per_skeleton and other not in kept:
                kept.append(other)
    ranked = sorted(score, key=lambda k: (-score[k], k))[:keep]
    return [{"n": score[k], "skeleton": k, "shapes": shapes[k]} for k in ranked]


# ---------------------------------------------------------------------------- values from one row

_ANCHORED = ("=", "like", "between", ">", ">=", "<", "<=")


def anchor(q: Query, db: Any, rng: random.Random) -> Query:
    """``q`` with the values of its AND-ed conditions taken from one real row of its tables, so conditions
    drawn independently do not exclude each other (two equalities on values no row holds together), and
    the thresholds of its HAVING conditions taken from its real groups (``HAVING count(*) >= 10`` keeps no
    group of a small database)."""
    where = tuple(Cond(c.left, c.op, anchor(c.value, db, rng), c.value2) if isinstance(c.value, Query) else c
                  for c in q.where)
    q = q.with_(where=where)
    if q.other is not None:
        q = q.with_(other=anchor(q.other, db, rng))
    return _thresholds(_from_row(_apart(q), db, rng), db, rng)


def _apart(q: Query) -> Query:
    """``x < a OR x > b`` with ``a`` below ``b``: two bounds OR-ed on one column leave rows out."""
    if q.conj != "or" or len(q.where) != 2 or q.where[0].left != q.where[1].left:
        return q
    low, high = sorted(q.where, key=lambda c: c.op.startswith(">"))
    if not (low.op.startswith("<") and high.op.startswith(">")) or not all(
            isinstance(c.value, (int, float)) and not isinstance(c.value, bool) for c in (low, high)):
        return q
    a, b = sorted((low.value, high.value))
    fixed = {id(low): Cond(low.left, low.op, a), id(high): Cond(high.left, high.op, b)}
    return q.with_(where=tuple(fixed[id(c)] for c in q.where))


def _from_row(q: Query, db: Any, rng: random.Random) -> Query:
    picks = [i for i, c in enumerate(q.where) if c.op in _ANCHORED and not c.left.agg and c.left.col.name != "*"
             and not isinstance(c.value, (Query, Col, tuple)) and c.value is not None]
    if q.conj != "and" or not picks:
        return q
    probe = Query(tuple(Item(q.where[i].left.col) for i in picks), q.tables, q.joins, also=q.also)
    # the engine's own random order would not follow the seed: the row is chosen here
    res = db.execute(f"{to_sql(probe, db.dialect)} LIMIT 500", timeout_s=1.0, max_rows=500, steady=True)
    if not res.ok or not res.rows:
        return q
    conds = list(q.where)
    for i, seen in zip(picks, rng.choice(res.rows)):
        c = conds[i]
        value, value2 = _around(c, seen, rng)
        conds[i] = Cond(c.left, c.op, value, value2)
    return q.with_(where=tuple(conds))


def _thresholds(q: Query, db: Any, rng: random.Random) -> Query:
    """HAVING thresholds that some group of ``q`` passes and, where the groups allow, some group fails."""
    conds = list(q.having)
    for k, c in enumerate(conds):
        if c.op not in (">", ">=", "<", "<=", "=") or c.value2 is not None or isinstance(c.value, bool) \
                or not isinstance(c.value, (int, float)):
            continue
        probe = Query((c.left,), q.tables, q.joins, q.where, q.conj, q.group, also=q.also)
        res = db.execute(f"{to_sql(probe, db.dialect)} LIMIT 500", timeout_s=1.0, max_rows=500, steady=True)
        seen = sorted({row[0] for row in res.rows if isinstance(row[0], (int, float))}) if res.ok else []
        if not seen:
            continue
        fits = {">": seen[:-1], ">=": seen[1:], "<": seen[1:], "<=": seen[:-1], "=": seen}[c.op] or seen
        value = rng.choice(fits)
        conds[k] = Cond(c.left, c.op, round(value, 2) if isinstance(value, float) else value)
    return q.with_(having=tuple(conds)) if conds else q


def _around(c: Any, seen: Any, rng: random.Random) -> tuple[Any, Any]:
    """Values for condition ``c`` that the row value ``seen`` satisfies; ``c``'s own when none fit."""
    if seen is None or (type(seen) is not type(c.value) and not (isinstance(seen, (int, float))
                                                                 and isinstance(c.value, (int, float)))):
        return c.value, c.value2
    if c.op == "=":
        return seen, None
    if c.op == "like":
        words = [w for w in str(seen).split() if len(w) >= 3 and w.isalnum()]
        return (f"%{rng.choice(words)}%", None) if words else (c.value, c.value2)
    if c.op in (">", ">=", "<", "<=", "between") and isinstance(seen, (int, float)) and not isinstance(seen, bool):
        step = abs(seen) * rng.uniform(0.05, 0.5) or 1
        lo, hi = seen - step, seen + step
        if isinstance(seen, int):
            lo, hi = int(lo), math.ceil(hi)
            lo, hi = (lo - 1 if lo == seen else lo), (hi + 1 if hi == seen else hi)
        else:
            lo, hi = round(lo, 2), round(hi, 2)
        if c.op == "between":
            return lo, hi
        return (lo if c.op.startswith(">") else hi), None
    return c.value, c.value2


# ---------------------------------------------------------------------------- building the artifact


def _read_pairs(train: Path, log: Path | None, exclude: set[str]) -> dict[str, list[tuple[str, list[str]]]]:
    by_db: dict[str, list[tuple[str, list[str]]]] = {}
    for item in json.loads(train.read_text(encoding="utf-8")):
        if item["db_id"] in exclude:
            continue
        questions = [item.get(k) for k in ("question", "question_syn")]
        by_db.setdefault(item["db_id"], []).append((item["query"], [q for q in questions if q]))
    if log is not None:
        seen = {sql for pairs in by_db.values() for sql, _ in pairs}
        for line in log.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                sql, db_id = line.rsplit("\t", 1)
                if db_id.strip() not in exclude and sql not in seen:
                    by_db.setdefault(db_id.strip(), []).append((sql, []))
    return by_db


def build_corpus(train: str | os.PathLike[str], db_dir: str | os.PathLike[str], out: str | os.PathLike[str],
                 exclude: Iterable[str] = (), log: str | os.PathLike[str] | None = None,
                 per_shape: int = 8) -> dict[str, int]:
    """Abstract every pair of a Spider-format ``train`` file (and SQL-only ``log`` lines) over its database.

    Writes ``out`` (gzipped JSON) and returns counts: pairs read, shapes, phrasings kept.
    """
    from sqldistill.db import connect, reflect
    from sqldistill.sql.skeleton import skeleton
    from sqldistill.synth.graph import build_graph
    from sqldistill.synth.logmine import parse_query

    excluded = sorted(set(exclude))
    by_db = _read_pairs(Path(train), Path(log) if log else None, set(excluded))
    counts: Counter[str] = Counter()
    skeletons: dict[str, str] = {}
    phrasings: dict[str, list[str]] = {}
    stats: Counter[str] = Counter()
    for db_id in sorted(by_db):
        path = Path(db_dir) / db_id / f"{db_id}.sqlite"
        if not path.is_file():
            continue
        with connect(str(path)) as db:
            graph = build_graph(db, reflect(db, samples=0), values_per_column=5)
        for sql, questions in by_db[db_id]:
            stats["pairs"] += 1
            q = parse_query(sql, graph)
            done = abstract_slots(q, graph) if q is not None else None
            if q is None or done is None:
                continue
            shape, slots, variables = done
            key = json.dumps(shape, sort_keys=True, separators=(",", ":"))
            counts[key] += 1
            skeletons.setdefault(key, skeleton(to_sql(q, graph.dialect)))
            stats["abstracted"] += 1
            kept = phrasings.setdefault(key, [])
            for question in questions:
                stats["questions"] += 1
                text = phrasing(question, q, graph, slots, variables)
                if text is not None:
                    stats["phrased"] += 1
                    if text not in kept and len(kept) < per_shape:
                        kept.append(text)
    rows = [{"n": n, "skeleton": skeletons[key], "shape": json.loads(key), "phrasings": phrasings.get(key, [])}
            for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    pool = neighbour_pool([Entry(r["n"], r["skeleton"], r["shape"]) for r in rows])
    data = {"format": FORMAT, "source": "Spider 1.0 train (Yu et al. 2018, CC BY-SA 4.0); "
                                        "Spider-Syn (Gan et al. 2021, MIT)",
            "excluded_dbs": excluded, "shapes": rows, "neighbours": pool}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    # no time and no file name in the header: the same inputs give the same bytes
    with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    stats["shapes"] = len(rows)
    stats["phrasings"] = sum(len(r["phrasings"]) for r in rows)
    stats["neighbours"] = len(pool)
    return dict(stats)


# ---------------------------------------------------------------------------- the source


class SkeletonModel:
    """A token trigram model of the corpus's skeletons: how much a skeleton reads like the SQL people wrote.

    Neighbouring shapes are many and most ask what no one asks; of a few neighbours, the one this model
    likes best is kept (interpolated trigram, bigram and unigram estimates; the score is the mean log
    probability per token, so long queries are not penalised for their length)."""

    def __init__(self, skeletons: Iterable[str], order: int = 3, mix: float = 0.6) -> None:
        self.order = order
        self.mix = mix
        self.grams: Counter[tuple[str, ...]] = Counter()
        self.contexts: Counter[tuple[str, ...]] = Counter()
        for skel in skeletons:
            tokens = self._tokens(skel)
            for i in range(order - 1, len(tokens)):
                for k in range(1, order + 1):
                    gram = tuple(tokens[i - k + 1:i + 1])
                    self.grams[gram] += 1
                    self.contexts[gram[:-1]] += 1
        self.vocabulary = max(1, sum(1 for g in self.grams if len(g) == 1))

    def _tokens(self, skel: str) -> list[str]:
        return ["<s>"] * (self.order - 1) + skel.split() + ["</s>"]

    def score(self, skel: str) -> float:
        tokens = self._tokens(skel)
        total = 0.0
        for i in range(self.order - 1, len(tokens)):
            p = 1.0 / self.vocabulary
            for k in range(1, self.order + 1):
                gram = tuple(tokens[i - k + 1:i + 1])
                seen = self.contexts[gram[:-1]]
                if seen:
                    p = self.mix * self.grams[gram] / seen + (1 - self.mix) * p
            total += math.log(p)
        return total / (len(tokens) - self.order + 1)


_MODEL: list[tuple[Corpus, SkeletonModel]] = []


def skeleton_model(corpus: Corpus) -> SkeletonModel:
    """The ``SkeletonModel`` of ``corpus`` (each shape counted once), built once for the corpus last used."""
    if not _MODEL or _MODEL[0][0] is not corpus:
        _MODEL[:] = [(corpus, SkeletonModel(e.skeleton for e in corpus.entries))]
    return _MODEL[0][1]


class CorpusSource:
    """Candidates from the corpus: a skeleton drawn (unseen ones first), one of its shapes filled in, worded.

    Skeletons are the corpus's own and those of its neighbour pool (``Corpus.neighbours``), the latter
    weighed ``pool`` times the square root of how many corpus shapes reach them. A share ``neighbours`` of
    draws of an already kept skeleton fills a random neighbour of the shape instead (``mutate``).
    The interface is the template sampler's (``next``, ``observe``, ``full``), so one fill loop serves both.
    """

    def __init__(self, graph: SchemaGraph, seed: int, corpus: Corpus, db: Any = None,
                 neighbours: float = 0.8, fresh: float = 10.0, choices: int = 6, pool: float = 0.05,
                 pool_least: int = 5) -> None:
        from sqldistill.synth.picker import Picker
        from sqldistill.synth.sampler import spider_schema

        self.graph = graph
        self.db = db
        self.neighbours = neighbours  # share of repeat draws that fill a neighbour instead (``mutate``)
        self.fresh = fresh  # how much a skeleton not yet kept is favoured over kept ones
        self.choices = choices  # neighbours drawn to keep the likeliest one (``SkeletonModel``)
        self.model = skeleton_model(corpus)
        self.rng = random.Random(seed)
        self.links = Picker(graph, random.Random(seed)).links
        self.schema = spider_schema(graph)
        groups: dict[str, list[Entry]] = {}
        for e in corpus.entries:
            groups.setdefault(e.skeleton, []).append(e)
        learned = sorted(groups.items(), key=lambda kv: (-sum(e.n for e in kv[1]), kv[0]))
        self.base = [math.sqrt(sum(e.n for e in entries)) for _, entries in learned]
        near: dict[str, list[Entry]] = {}
        for e in corpus.neighbours:
            if e.skeleton not in groups and e.n >= pool_least:
                near.setdefault(e.skeleton, []).append(e)
        self.learned = len(learned)  # groups from here on are the neighbour pool's
        self.groups = learned + list(near.items())
        self.base += [pool * math.sqrt(entries[0].n) for entries in near.values()]
        self.tried: Counter[int] = Counter()
        self.built: Counter[int] = Counter()
        self.kept: Counter[int] = Counter()
        self.level: dict[int, str] = {}
        self.full: set[str] = set()
        self.seen: set[str] = set()  # skeletons kept so far
        self._full: set[str] = set()
        self.last: int | None = None
        self.index = {skel: i for i, (skel, _) in enumerate(self.groups)}
        self.weights = [self._weight(i) for i in range(len(self.groups))]

    def _weight(self, i: int) -> float:
        fails = self.tried[i] - self.built[i]
        dropped = self.built[i] - self.kept[i]
        w = self.base[i] / (1 + self.kept[i]) ** 1.5 * 0.5 ** min(fails, 30) * 0.7 ** min(dropped, 30)
        if not self.kept[i] and self.groups[i][0] not in self.seen:
            w *= self.fresh
        if self.level.get(i) in self.full:
            w *= 0.05
        return w

    def _draw(self) -> int:
        if self.last is not None:
            self.weights[self.last] = self._weight(self.last)
        if self.full != self._full:  # a hardness level filled up (or opened again): every weight changes
            self._full = set(self.full)
            self.weights = [self._weight(i) for i in range(len(self.groups))]
        return self.rng.choices(range(len(self.groups)), weights=self.weights)[0]

    def next(self) -> Example | None:
        """One candidate, or None when the drawn shape does not fit this schema."""
        from sqldistill.sql.skeleton import skeleton
        from sqldistill.synth.realise import realise
        from sqldistill.synth.sampler import hardness_for
        from sqldistill.synth.templates import sensible

        i = self._draw()
        self.tried[i] += 1
        self.last = i  # its weight changes with the outcome: set again before the next draw
        entries = self.groups[i][1]
        filled = None
        # a skeleton already kept gives a neighbour instead of a repeat, when it asks something new; of a few
        # neighbours, the one whose SQL reads most like the corpus's
        neighbour = self.kept[i] > 0 and self.rng.random() < self.neighbours
        options: list[tuple[float, Entry, Filled]] = []
        for attempt in range(self.choices if neighbour else 4):
            entry = self.rng.choices(entries, weights=[e.n for e in entries])[0]
            shape = mutate(entry.shape, self.rng) if neighbour else entry.shape
            # the shape's own column roles first, then any column its use allows
            filled = instantiate_slots(shape, self.graph, self.rng, self.links, strict=True) if neighbour or \
                attempt < 2 else None
            if filled is None and (neighbour or attempt >= 2):
                filled = instantiate_slots(shape, self.graph, self.rng, self.links, strict=False)
            if filled is None or not sensible(filled.query, self.graph):
                continue
            if not neighbour:
                options.append((0.0, entry, filled))
                break
            skel = skeleton(to_sql(filled.query, self.graph.dialect))
            if skel not in self.seen:
                options.append((self.model.score(skel) if self.choices > 1 else 0.0, entry, filled))
        if not options:
            return None
        _, entry, filled = max(options, key=lambda o: o[0])
        self.built[i] += 1
        if self.db is not None:
            filled = Filled(anchor(filled.query, self.db, self.rng), filled.columns, filled.tables)
        sql = to_sql(filled.query, self.graph.dialect)
        level = hardness_for(sql, self.schema)
        if not level:
            return None  # SQL the official parser cannot read: no hardness, and no use as a training target
        self.level.setdefault(i, level)
        question = None
        if entry.phrasings and not neighbour:  # a neighbour means something else: it gets its own words
            question = speak(self.rng.choice(entry.phrasings), filled, self.graph, self.rng)
        worded = "corpus" if question else "realised"
        if not question:
            question = realise(filled.query, self.graph, self.rng)
        return Example(question=question, sql=sql, db_id=self.graph.db_id, source="corpus", hardness=level,
                       meta={"construct": "corpus", "group": i, "phrasing": worded,
                             "shape": "edited" if neighbour else "learned" if i < self.learned else "pool"})

    def observe(self, ex: Example, kept: bool) -> None:
        from sqldistill.sql.skeleton import skeleton

        group = ex.meta.get("group")
        if kept and isinstance(group, int):
            self.kept[group] += 1
            skel = skeleton(ex.sql)
            self.seen.add(skel)
            for i in (group, self.index.get(skel)):
                if i is not None:
                    self.weights[i] = self._weight(i)


__all__ = ["ARTIFACT", "Corpus", "CorpusSource", "Entry", "SkeletonModel", "anchor", "build_corpus", "default_path", "load_corpus",
           "mutate", "neighbour_pool", "phrasing", "skeleton_model", "speak", "values_of"]
