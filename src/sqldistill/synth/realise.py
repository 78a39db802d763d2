"""Word a ``Query`` as a question a person would type.

``FRAMES`` is an ordered tuple of (test, frame): the first frame whose test matches the query and that
produces text wins. Each frame knows one intent people ask for (how many, which one is the largest, per
group, lookups by name, set operations, plain listings) and has many phrasings: questions, imperatives and
fragments, with type-aware words from ``phrasing.Lexicon``. ``finish`` then adds the small irregularities of
typed text (missing final punctuation, a lower-case first letter).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqldistill.synth.graph import SchemaGraph
from sqldistill.synth.ir import Item, Query
from sqldistill.synth.phrasing import Lexicon, article, join_words, pick, subject_of

Frame = Callable[[Query, Lexicon], "str | None"]


def _rest(q: Query, lx: Lexicon, subject: str, plural: bool = True, relate: bool = True) -> str:
    """Conditions as a post-nominal phrase; a joined table nothing else mentions still restricts the rows
    (only those with a related row are kept), so it is said: 'singers that have a song'."""
    text = lx.restrictions(q, subject, plural)
    if relate and q.is_join:
        mentioned = {subject, *(c.left.col.table for c in q.where), *(i.col.table for i in q.select),
                     *(i.col.table for i in q.order), *(g.table for g in q.group)}
        children = {e.table for e in lx.g.edges if e.ref_table == subject}
        silent = [t for t in q.tables if t not in mentioned and t in children]
        if silent:
            one = lx.ent(silent[-1], plural=False)
            have = "have" if plural else "has"
            related = pick(lx.rng, [f"that {have} {article(one)}", f"with at least one {one}",
                                    f"with {lx.ent(silent[-1])}", f"that {have} some {lx.ent(silent[-1])}"])
            text = f"{related} {text}".strip() if not text else f"{related} and {text}"
    return " " + text if text else ""


def _counted(q: Query, subject: str) -> str:
    """What a count(*) over a join counts: the table joined to the subject (through a link table if any)."""
    if not q.is_join:
        return subject
    others = [t for t in q.tables if t != subject]
    return others[-1]


def _is_count_star(it: Item) -> bool:
    return it.agg == "count" and it.col.name == "*"


def _predicates(q: Query, lx: Lexicon, subject: str, plural: bool = True) -> str | None:
    """All WHERE conditions as verb phrases ('are from France and have age above 30'), when each has one."""
    parts = []
    for c in q.where:
        preds = lx.cond_predicates(c, subject, plural)
        if not preds:
            return None
        parts.append(pick(lx.rng, preds))
    return join_words(parts, q.conj) if parts else None


def _sep(lx: Lexicon, text: str) -> str:
    if not text:
        return ""
    return (", " if lx.rng.random() < 0.4 else " ") + text


# ---------------------------------------------------------------------------- set operations


def _strip(q: Query) -> Query:
    return q.with_(setop="", other=None)


def _setop(q: Query, lx: Lexicon) -> str | None:
    left, right = _strip(q), q.other
    assert right is not None
    subj = subject_of(left)
    ents = lx.ent(subj)
    proj = lx.items(left.select, subj, plural=True)
    rest_l, rest_r = lx.restrictions(left, subj), lx.restrictions(right, subject_of(right))
    same = subject_of(right) == subj and [i.col for i in right.select] == [i.col for i in left.select]
    rng = lx.rng
    if same and right.is_join and not left.is_join and not right.where and q.setop == "except":
        other = [t for t in right.tables if t != subj][-1]
        return pick(rng, [f"What are the {proj} of {ents} that have no {lx.ent(other)}?",
                          f"Find the {proj} of {ents} without any {lx.ent(other, False)}.",
                          f"Which {ents} do not have any {lx.ent(other)}? Give their {proj}.",
                          f"{proj} of {ents} that do not have any {lx.ent(other)}"])
    if same:
        if q.setop == "intersect":
            options = [f"Show the {proj} that have both {ents} {rest_l} and {ents} {rest_r}.",
                       f"What are the {proj} of {ents} {rest_l} and also {rest_r}?",
                       f"Find the {proj} shared by {ents} {rest_l} and {ents} {rest_r}.",
                       f"Which {proj} belong to {ents} {rest_l} as well as to {ents} {rest_r}?",
                       f"{proj} of {ents} both {rest_l} and {rest_r}"]
        elif q.setop == "except":
            if not left.where:
                options = [f"Which {proj} do not have any {lx.ent(subj, False)} {rest_r}?",
                           f"Find the {proj} of {ents} except those {rest_r}.",
                           f"Show all {proj} of {ents}, excluding those {rest_r}.",
                           f"{proj} of {ents} other than the ones {rest_r}"]
            else:
                options = [f"What are the {proj} of {ents} {rest_l} but not of those {rest_r}?",
                           f"Find the {proj} of {ents} {rest_l}, excluding those {rest_r}.",
                           f"Which {proj} have {ents} {rest_l} but no {ents} {rest_r}?",
                           f"Show the {proj} of {ents} {rest_l}, except the {proj} of {ents} {rest_r}."]
        else:
            options = [f"What are the {proj} of {ents} {rest_l} or {rest_r}?",
                       f"Find the {proj} of {ents} that are either {rest_l} or {rest_r}.",
                       f"Show the {proj} of {ents} {rest_l}, together with those {rest_r}.",
                       f"List the {proj} of all {ents} {rest_l} or {rest_r}."]
        return pick(rng, options)
    subj_r = subject_of(right)
    proj_r = lx.items(right.select, subj_r, plural=True)
    np_l = f"the {proj} of {ents}" + (f" {rest_l}" if rest_l else "")
    np_r = f"the {proj_r} of {lx.ent(subj_r)}" + (f" {rest_r}" if rest_r else "")
    if q.setop == "intersect":
        return pick(rng, [f"Find the values that are both {np_l} and {np_r}.",
                          f"Which {proj} are among {np_l} and also among {np_r}?"])
    if q.setop == "except":
        return pick(rng, [f"Find {np_l}, excluding {np_r}.", f"What are {np_l} that are not {np_r}?"])
    return pick(rng, [f"List {np_l} together with {np_r}.", f"Show {np_l} and also {np_r}."])


# ---------------------------------------------------------------------------- grouping


def _group(q: Query, lx: Lexicon) -> str | None:
    rng = lx.rng
    g = q.group[0]
    subj = g.table
    counted = _counted(q, subj)
    ents = lx.ent(counted)
    keys = [i for i in q.select if not i.agg]
    aggs = [i for i in q.select if i.agg]
    pk = lx.g.tables[subj].pk
    by_key = q.is_join or (pk is not None and g.name == pk.name)
    one, many = lx.ent(subj, False), lx.ent(subj)
    gname = one if by_key else lx.col(g)
    gplural = many if by_key else lx.col(g, plural=True)
    proj = lx.items(keys, subj) if keys else gname
    rest = _rest(q, lx, counted, relate=False)
    if q.limit is not None and q.order:
        it = q.order[0]
        best = ("most" if q.desc else "fewest") if _is_count_star(it) else None
        what = f"{best} {ents}" if best else lx.superlative(it, counted, q.desc).removeprefix("with the ")
        if by_key:
            return pick(rng, [f"Which {one} has the {what}{rest}?",
                              f"What is the {proj} of the {one} with the {what}{rest}?",
                              f"Find the {proj} of the {one} that has the {what}{rest}.",
                              f"Give me the {proj} of the {one} with the {what}{rest}.",
                              f"{proj} of the {one} with the {what}{rest}"])
        options = [f"Which {gname} has the {what}{rest}?", f"Find the {gname} with the {what}{rest}.",
                   f"What is the {gname} that has the {what}{rest}?", f"{gname} with the {what}{rest}"]
        if best:
            common = "most common" if q.desc else "least common"
            options += [f"What is the {common} {gname} of {ents}{rest}?",
                        f"Which {gname} do the {'most' if q.desc else 'fewest'} {ents}{rest} have?"]
        return pick(rng, options)
    if q.having:
        h = q.having[0]
        if isinstance(h.value, Query):
            return None
        val = lx.value(h.value)
        if _is_count_star(h.left):
            amount = {">": ["more than {v}"], ">=": ["at least {v}", "{v} or more"], "<": ["fewer than {v}",
                      "less than {v}"], "<=": ["at most {v}", "{v} or fewer"], "=": ["exactly {v}"],
                      "!=": ["a number other than {v} of"]}.get(h.op, ["{v}"])
            amt = pick(rng, amount).format(v=val)
            what = f"{amt} {ents}"
        else:
            what = f"{article(lx.item(h.left, counted))} {lx.op_words(h.op, h.left.col)} {val}"
        if by_key:
            return pick(rng, [f"Show the {proj} of {many} that have {what}{rest}.",
                              f"Which {many} have {what}{rest}? Give their {proj}.",
                              f"Find the {proj} of the {many} with {what}{rest}.",
                              f"{proj} of {many} with {what}{rest}"])
        return pick(rng, [f"Which {gplural} have {what}{rest}?", f"Show the {gplural} that have {what}{rest}.",
                          f"Find the {gplural} with {what}{rest}.", f"List the {gplural} shared by {what}{rest}.",
                          f"{gplural} with {what}{rest}"])
    order = ""
    if q.order:
        order = _sep(lx, lx.order_phrase(q, counted))
    if aggs and all(_is_count_star(a) for a in aggs):
        if by_key:
            return pick(rng, [f"For each {one}, show the {proj} and the number of {ents}{rest}{order}.",
                              f"Show the {proj} of each {one} and how many {ents}{rest} they have{order}.",
                              f"How many {ents} does each {one} have{rest}? List the {proj} and the count{order}.",
                              f"List the {proj} of {many} and the number of {ents}{rest} for each{order}.",
                              f"{proj} and number of {ents}{rest} for each {one}{order}"])
        return pick(rng, [f"How many {ents}{rest} are there in each {gname}{order}?",
                          f"For each {gname}, how many {ents}{rest} are there{order}?",
                          f"Show the number of {ents}{rest} for each {gname}{order}.",
                          f"Count the {ents}{rest} in each {gname}{order}.",
                          f"List each {gname} and the number of {ents}{rest}{order}.",
                          f"number of {ents}{rest} per {gname}{order}",
                          f"What are the {gplural} and the number of {ents}{rest} for each{order}?",
                          f"Show all {gplural} and the number of {ents}{rest} with each {gname}{order}."])
    what = lx.items(aggs, counted) if aggs else lx.items(keys, subj)
    if by_key:
        return pick(rng, [f"For each {one}, show the {proj} and the {what} of the {ents}{rest}{order}.",
                          f"What is the {what} of {ents} for each {one}{rest}? Show the {proj} too{order}.",
                          f"List the {proj} of each {one} and the {what}{rest}{order}."])
    return pick(rng, [f"What is the {what} of {ents}{rest} for each {gname}{order}?",
                      f"For each {gname}, what is the {what} of {ents}{rest}{order}?",
                      f"Show the {what} of {ents}{rest} by {gname}{order}.",
                      f"Find the {what} for each {gname}{rest}{order}.",
                      f"List the {gplural} and the {what} of {ents}{rest} in each{order}.",
                      f"{what} of {ents}{rest} per {gname}{order}"])


# ---------------------------------------------------------------------------- aggregates and counts


def _count(q: Query, lx: Lexicon) -> str | None:
    rng = lx.rng
    it = q.select[0]
    subj = q.tables[0] if _is_count_star(it) else it.col.table
    if q.is_join and _is_count_star(it):
        named = {c.left.col.table for c in q.where}
        subj = next((t for t in reversed(q.tables) if t not in named), q.tables[-1])
    ents = lx.ent(subj)
    rest = _rest(q, lx, subj)
    if not _is_count_star(it):
        name = lx.col(it.col, plural=True)
        among = f" among {ents}{rest}" if rest else pick(rng, [f" of {ents}", f" among {ents}", ""])
        adj = pick(rng, ["different", "distinct", "unique"]) if it.distinct else ""
        adj = adj + " " if adj else ""
        options = [f"How many {adj}{name} are there{among}?", f"Count the number of {adj}{name}{among}.",
                   f"Find the number of {adj}{name}{among}.", f"number of {adj}{name}{among}"]
        if not rest:
            options.append(f"How many {adj}{name} do {ents} have?")
        return pick(rng, options)
    if not q.where:
        return pick(rng, [f"How many {ents} are there?", f"How many {ents} do we have?",
                          f"Count the number of {ents}.", f"What is the total number of {ents}?",
                          f"Find the number of {ents}.", f"number of {ents}", f"Count the {ents}.",
                          f"How many {ents} are in the database?", f"What is the count of {ents}?"])
    pred = _predicates(q, lx, subj) if rng.random() < 0.5 else None
    if pred:
        return pick(rng, [f"How many {ents} {pred}?", f"Count the {ents} that {pred}.",
                          f"Find the number of {ents} that {pred}."])
    return pick(rng, [f"How many {ents} are there{rest}?", f"How many {ents}{rest} are there?",
                      f"Count the number of {ents}{rest}.", f"What is the number of {ents}{rest}?",
                      f"What is the total number of {ents}{rest}?", f"Find the number of {ents}{rest}.",
                      f"number of {ents}{rest}", f"Tell me how many {ents}{rest}.",
                      f"Return the count of {ents}{rest}.", f"How many {ents}{rest}?"])


def _aggregate(q: Query, lx: Lexicon) -> str | None:
    rng = lx.rng
    subj = subject_of(q)
    ents = lx.ent(subj)
    what = lx.items(q.select, subj)
    rest = _rest(q, lx, subj)
    if len(q.select) == 1 and q.select[0].agg in ("max", "min") and not q.where:
        comp = lx.comparative(q.select[0].col)
        if comp:
            adj = comp[2] if q.select[0].agg == "max" else comp[3]
            col = lx.col(q.select[0].col)
            if rng.random() < 0.3:
                return pick(rng, [f"What is the {col} of the {adj} {lx.ent(subj, False)}?",
                                  f"Find the {col} of the {adj} {lx.ent(subj, False)}."])
    return pick(rng, [f"What is the {what} of {ents}{rest}?", f"What is the {what} of all {ents}{rest}?",
                      f"Find the {what} of {ents}{rest}.", f"Show the {what} of {ents}{rest}.",
                      f"Give me the {what} for {ents}{rest}.", f"Compute the {what} of {ents}{rest}.",
                      f"{what} of {ents}{rest}", f"Return the {what} of all {ents}{rest}.",
                      f"What are the {what} of {ents}{rest}?" if len(q.select) > 1 else
                      f"Tell me the {what} of {ents}{rest}."])


# ---------------------------------------------------------------------------- superlatives, lookups, lists


def _superlative(q: Query, lx: Lexicon) -> str | None:
    rng = lx.rng
    subj = subject_of(q)
    k = q.limit or 1
    it = q.order[0]
    one = lx.ent(subj, False)
    many = lx.ent(subj)
    proj = lx.items(q.select, subj, plural=k > 1)
    rest = _rest(q, lx, subj, plural=k > 1)
    sup = lx.superlative(it, subj, q.desc)
    comp = lx.comparative(it.col) if not it.agg and it.col.table == subj else None
    adj = (comp[2] if q.desc else comp[3]) if comp else None
    label = lx.g.tables[subj].label
    is_label = len(q.select) == 1 and label is not None and q.select[0].col.name == label.name
    if k == 1:
        options = [f"What is the {proj} of the {one}{rest} {sup}?", f"Find the {proj} of the {one} {sup}{rest}.",
                   f"Give me the {proj} of the {one}{rest} {sup}.", f"Return the {proj} of the {one} {sup}{rest}.",
                   f"{proj} of the {one} {sup}{rest}", f"Show the {proj} of the {one} {sup}{rest}."]
        if adj:
            options += [f"What is the {proj} of the {adj} {one}{rest}?", f"Find the {proj} of the {adj} {one}{rest}.",
                        f"{proj} of the {adj} {one}{rest}"]
        if is_label:
            options += [f"Which {one}{rest} has the {sup.removeprefix('with the ')}?",
                        f"Which {one} has the {sup.removeprefix('with the ')}{rest}?"]
            if adj:
                options.append(f"Which {one}{rest} is the {adj}?")
        return pick(rng, options)
    top = f"top {k}" if rng.random() < 0.5 else str(k)
    options = [f"List the {proj} of the {top} {many}{rest} {sup}.",
               f"What are the {proj} of the {top} {many} {sup}{rest}?",
               f"Show the {proj} of the {k} {many} {sup}{rest}.",
               f"Find the {proj} of the top {k} {many} by {lx.item(it, subj)}{rest}."]
    if adj:
        options.append(f"What are the {proj} of the {k} {adj} {many}{rest}?")
    return pick(rng, options)


def _lookup(q: Query, lx: Lexicon) -> str | None:
    rng = lx.rng
    c = q.where[0]
    subj = subject_of(q)
    one = lx.ent(subj, False)
    proj = lx.items(q.select, subj)
    val = lx.value(c.value)
    return pick(rng, [f"What is the {proj} of {val}?", f"What is the {proj} of the {one} {val}?",
                      f"What is the {proj} of the {one} named {val}?", f"Show the {proj} of {one} {val}.",
                      f"Find the {proj} for the {one} called {val}.", f"{proj} of {val}",
                      f"Tell me the {proj} of {val}.", f"What's the {proj} of {val}?"])


def _which(q: Query, lx: Lexicon) -> str | None:
    subj = subject_of(q)
    pred = _predicates(q, lx, subj)
    if pred is None:
        return None
    ents = lx.ent(subj)
    return pick(lx.rng, [f"Which {ents} {pred}?", f"Which {ents} {pred}? Give their names.",
                         f"Find the {ents} that {pred}.", f"Show me the {ents} who {pred}."])


def _listing(q: Query, lx: Lexicon) -> str | None:
    rng = lx.rng
    subj = subject_of(q)
    ents = lx.ent(subj)
    rest = _rest(q, lx, subj)
    order = _sep(lx, lx.order_phrase(q, subj))
    if len(q.select) == 1 and q.select[0].col.name == "*" and not q.select[0].agg:
        return pick(rng, [f"Show all information about {ents}{rest}{order}.",
                          f"List all the details of {ents}{rest}{order}.",
                          f"What are all the columns of {ents}{rest}{order}?",
                          f"Show everything about {ents}{rest}{order}.", f"all {ents}{rest}{order}",
                          f"Find all {ents}{rest}{order}."])
    plural = rng.random() < 0.6
    proj = lx.items(q.select, subj, plural=plural)
    if q.distinct:
        proj = pick(rng, ["distinct", "different", "unique", "all the different"]) + " " + \
            lx.items(q.select, subj, plural=True)
    alls = "all " if not rest and rng.random() < 0.4 else ""
    return pick(rng, [f"What are the {proj} of {alls}{ents}{rest}{order}?",
                      f"List the {proj} of {alls}{ents}{rest}{order}.",
                      f"Show the {proj} of {alls}{ents}{rest}{order}.",
                      f"Find the {proj} of {ents}{rest}{order}.", f"Give me the {proj} of {ents}{rest}{order}.",
                      f"Return the {proj} of {alls}{ents}{rest}{order}.", f"{proj} of {ents}{rest}{order}",
                      f"Tell me the {proj} of {alls}{ents}{rest}{order}.",
                      f"I want the {proj} of {ents}{rest}{order}.",
                      f"What {proj} do {ents} have?" if not order and not rest else
                      f"Sort the {proj} of {ents}{rest}{order}." if order else f"Show me the {proj} of {ents}{rest}."])


def _is_lookup(q: Query, g: SchemaGraph) -> bool:
    if q.is_join or len(q.where) != 1 or q.order or q.group:
        return False
    c = q.where[0]
    label = g.tables[q.tables[0]].label
    return (c.op == "=" and not isinstance(c.value, Query) and label is not None
            and all(i.col.name != "*" for i in q.select)
            and c.left.col.name == label.name and all(i.col.name != label.name for i in q.select)
            and not any(i.agg for i in q.select))


def _is_which(q: Query, g: SchemaGraph) -> bool:
    label = g.tables[subject_of(q)].label
    return (bool(q.where) and len(q.select) == 1 and label is not None and q.select[0].col.name == label.name
            and not q.select[0].agg and not q.order and not q.group)


FRAMES: tuple[tuple[Callable[[Query, SchemaGraph], bool], Frame, float], ...] = (
    (lambda q, g: bool(q.setop and q.other), _setop, 1.0),
    (lambda q, g: bool(q.group), _group, 1.0),
    (lambda q, g: len(q.select) == 1 and q.select[0].agg == "count" and not q.order, _count, 1.0),
    (lambda q, g: all(i.agg for i in q.select) and not q.order, _aggregate, 1.0),
    (lambda q, g: bool(q.order) and q.limit is not None, _superlative, 1.0),
    (_is_lookup, _lookup, 0.6),
    (_is_which, _which, 0.25),
    (lambda q, g: True, _listing, 1.0),
)


def finish(text: str, rng: random.Random) -> str:
    """Typed-text irregularities: a fragment has no final mark; some questions lose it or their capital."""
    text = " ".join(text.split())
    if not text:
        return text
    if text[0].islower() and rng.random() < 0.85:  # fragments start lower-case; most get a capital anyway
        text = text[0].upper() + text[1:]
    if text[-1] in "?." and rng.random() < 0.12:
        text = text[:-1]
    elif rng.random() < 0.05 and text[0].isupper():
        text = text[0].lower() + text[1:]
    return text


def realise(q: Query, graph: SchemaGraph, rng: random.Random) -> str:
    """One question for ``q``; another rng state gives another phrasing."""
    lx = Lexicon(graph, rng)
    for test, frame, chance in FRAMES:
        if test(q, graph) and (chance >= 1.0 or rng.random() < chance):
            text = frame(q, lx)
            if text:
                return finish(text, rng)
    return finish(_listing(q, lx) or "", rng)


__all__ = ["FRAMES", "finish", "realise"]
