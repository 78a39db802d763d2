"""Does a query have the shape its question asks for? Word cues of the question against clauses of the SQL.

Execution-guided selection weighs candidates from the decoder and from the retrieval memory; many wrong
winners are right about tables and columns but wrong about shape: a listing where the question says "in
ascending order of age", ``= 'X'`` where it says "is not X", a plain listing where it asks "how many". Each cue
below pairs English phrasings with the SQL construct that expresses them; ``cue_agreement`` counts a point
for every cue the question raises and the SQL has, takes one off for every cue raised and missing, and (for
cues whose construct a query should not use unasked) one off for the construct present without its cue. A
query that returns several columns loses a point when the question asks for several things in no way at all
(no "and", "with", "their", comma, ...): "the most common citizenship" wants the citizenship, not its count too.
Two cues also read a direction: a superlative ("the most", "the fewest", "the earliest") wants the top of an
order taken that way (``direction_agreement``), a comparison in words ("more than", "below", "at least") wants
SQL comparisons going that way (``comparison_agreement``), a bound on a number ("at least 2", "more than one",
"under age 30") wants that number compared that way and with that inclusiveness (``bound_agreement``); all
count in ``cue_agreement``. A count asked "for each" or "each" ("how many friends does each student have")
wants a GROUP BY; a query negating more often than its question, or taking a LIMIT the question asks for with
no superlative and no number, loses a point.

These are generic English-to-SQL correspondences, not facts about any database.

Contract (stable): ``cue_agreement(question, sql) -> int`` (0 when nothing is cued either way);
``question_cues(question) -> frozenset[str]``; ``direction_agreement(question, sql) -> int``;
``comparison_agreement(question, sql) -> int``; ``bounds(question) -> [(operator, number)]``;
``bound_agreement(question, sql) -> int``; ``sql_constructs(sql) -> frozenset[str]``, over the names in
``CUES``; ``select_width(sql) -> int``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqldistill.sql.parsed import parsed


@dataclass(frozen=True)
class Cue:
    name: str
    question: re.Pattern[str]  # phrasings in the question
    sql: re.Pattern[str]  # the construct in the SQL (string literals removed first)
    unasked_penalty: bool  # a query with the construct but no cue for it loses a point


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_SUPERLATIVE = (r"most|least|highest|lowest|largest|smallest|youngest|oldest|biggest|greatest|fewest|longest|"
                r"shortest|top|earliest|latest|maximum|minimum|max|min|best|worst|newest|cheapest|heaviest|"
                r"lightest|tallest")

# what a LIMIT answers: a superlative, "first"/"top", or a number of rows
_TOP_WORDS = _re(rf"\b({_SUPERLATIVE}|first|last|one|single|\w+est)\b|\d")

# negation in words and in SQL; also counted: a query negating more often than its question negates twice
_NEGATION_WORDS = _re(r"\b(not|no|never|without|except|excluding|none|neither|nor)\b|n't\b|\bother than\b|"
                      r"\bdifferent from\b")
_NEGATION_SQL = _re(r"\bnot\b|!=|<>|\bexcept\b")

CUES: tuple[Cue, ...] = (
    Cue("order", _re(rf"\b(order|ordered|sorted|sort|ascending|descending|alphabetical(ly)?|ranked|"
                     rf"{_SUPERLATIVE})\b"),
        _re(r"\border\s+by\b|\b(max|min)\s*\("), True),
    Cue("descending", _re(r"\b(descending|decreasing|reverse|reversed)\b"), _re(r"\bdesc\b"), False),
    Cue("count", _re(r"\bhow many\b|\bnumber of\b|\bcount(s|ed)?\b"), _re(r"\bcount\s*\("), True),
    Cue("negation", _NEGATION_WORDS, _NEGATION_SQL, True),
    Cue("average", _re(r"\b(average|mean|avg)\b"), _re(r"\bavg\s*\("), True),
    Cue("total", _re(r"\b(total|sum|combined|overall)\b"), _re(r"\b(sum|count)\s*\("), False),
    Cue("comparison", _re(r"\b(at least|at most|more than|less than|fewer than|greater than|larger than|"
                          r"smaller than|bigger than|higher than|lower than|above|below|over|under|exceed(s|ing)?|"
                          r"between|before|after|older than|younger than|longer than|shorter than)\b"),
        _re(r"[<>]|\bbetween\b"), True),
    Cue("both", _re(r"\bshared by\b|\bin common\b|\bboth\b(?!\s+the\b)"), _re(r"\bintersect\b"), False),
    Cue("either", _re(r"\beither\b"), _re(r"\bor\b|\bin\s*\(|\bunion\b"), False),
    Cue("distinct", _re(r"\b(distinct|different|unique)\b"), _re(r"\bdistinct\b|\bgroup\s+by\b"), False),
    Cue("per", _re(r"\b(per|for each|for every)\b"), _re(r"\bgroup\s+by\b"), False),
    Cue("like", _re(r"\b(contain(s|ing)?|includ(e|es|ing)|substring|the (word|letter|string)|"
                    r"(start|begin|end)(s|ing)? with)\b"), _re(r"\blike\b"), False),
)

# A sort asked to go up ("in ascending order", "alphabetically", "from the lowest to ..."); shared with the repairs
ASCENDING = _re(r"\b(ascending|increasing|alphabetical(ly)?|"
                r"from (the )?(lowest|smallest|least|fewest|earliest|oldest) to)\b")

# Superlatives that pick the top of an order, and the direction each asks for ("at least 3" is no superlative).
_MOST = _re(r"(?<!\bat )\b(most|highest|largest|greatest|biggest|maximum|longest|tallest|heaviest|"
            r"most expensive|top|latest|newest|most recent)\b")
_LEAST = _re(r"(?<!\bat )\b(least|fewest|lowest|smallest|minimum|shortest|cheapest|lightest|earliest)\b")
_SORTED = _re(r"\b(order|ordered|sorted|sort|ascending|descending|alphabetical(ly)?|ranked)\b")
_DESC_KEY = re.compile(r"\border\s+by\b.*\bdesc\b", re.I | re.S)
_LIMIT = re.compile(r"\blimit\s+\d", re.I)
_MAX = re.compile(r"\bmax\s*\(", re.I)
_MIN = re.compile(r"\bmin\s*\(", re.I)
_ORDER = re.compile(r"\border\s+by\b", re.I)
# Comparisons of one direction, in words and in SQL ("<>" is no comparison of either)
_ABOVE = _re(r"\b(more than|greater than|larger than|bigger than|higher than|above|over|exceed(s|ing)?|after|"
             r"older than|longer than|at least|or more|later than)\b")
_BELOW = _re(r"\b(less than|fewer than|smaller than|lower than|below|under|before|younger than|shorter than|"
             r"at most|or less|or fewer|earlier than)\b")
_GT = re.compile(r"(?<![<>!])>=?")
_LT = re.compile(r"<(?![>])=?")

# a question that asks for more than one thing says so
_SEVERAL = _re(r"\b(and|with|along|as well as|together|respectively|both|plus|their|its)\b|,")

_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


# "how many friends does each student have": a count per group
_COUNT_EACH = _re(r"\b(how many|number of|count)\b.*\b(each|every)\b")


@lru_cache(maxsize=4096)
def question_cues(question: str) -> frozenset[str]:
    text = _LITERAL.sub(" ", question)  # a quoted value ("... is not 'No Name'") is not a cue
    found = {c.name for c in CUES if c.question.search(text)}
    if _COUNT_EACH.search(text):
        found.add("per")
    return frozenset(found)


@lru_cache(maxsize=16384)
def sql_constructs(sql: str) -> frozenset[str]:
    text = _LITERAL.sub("''", sql)
    return frozenset(c.name for c in CUES if c.sql.search(text))


@lru_cache(maxsize=16384)
def select_width(sql: str) -> int:
    """How many expressions the query's (first) SELECT returns; 1 when it cannot be parsed."""
    from sqlglot import exp

    tree = parsed(sql)
    if tree is None:
        return 1
    while isinstance(tree, exp.SetOperation):
        tree = tree.this
    return len(tree.expressions) if isinstance(tree, exp.Select) else 1


def direction_agreement(question: str, sql: str) -> int:
    """For a question with a superlative of one direction ("the most", "the fewest") that does not ask for a
    sorted listing: a point when the query takes the top of an order that way (ORDER BY ... DESC LIMIT, or
    max()), one off when it goes the other way or takes no top at all."""
    text = _LITERAL.sub(" ", question)
    most, least = bool(_MOST.search(text)), bool(_LEAST.search(text))
    if most == least or _SORTED.search(text):
        return 0
    bare = _LITERAL.sub("''", sql)
    limited = bool(_LIMIT.search(bare)) and bool(_ORDER.search(bare))
    if limited:
        descending = bool(_DESC_KEY.search(bare))
        return 1 if descending == most else -1
    has_max, has_min = bool(_MAX.search(bare)), bool(_MIN.search(bare))
    if has_max != has_min:
        return 1 if has_max == most else -1
    return -1


def comparison_agreement(question: str, sql: str) -> int:
    """For a question that compares one way only ("more than", "below", "at least"): a point when the query's
    comparisons go that way, one off when they go only the other way."""
    text = _LITERAL.sub(" ", question)
    above, below = bool(_ABOVE.search(text)), bool(_BELOW.search(text))
    if above == below:
        return 0
    bare = _LITERAL.sub("''", sql)
    gt, lt = bool(_GT.search(bare)), bool(_LT.search(bare))
    if gt == lt:
        return 0
    return 1 if gt == above else -1




# A bound on a number, inclusive or strict: "at least 2" / "2 or more" is >= 2 (or > 1), "more than 2" is > 2
_N = r"(-?\d+(?:\.\d+)?|one|a single)(?![\w.])"
_BOUNDS = (
    (_re(r"\b(?:at least|no less than|not less than|no fewer than|(?:greater|more|higher|larger) than or equal to)\s+"
         + _N), ">="),
    (_re(r"(?<![\w.])" + _N + r"\s+or\s+(?:more|greater|higher|larger|above|over)\b"), ">="),
    (_re(r"\b(?:at most|no more than|not more than|(?:less|fewer|lower|smaller) than or equal to)\s+" + _N), "<="),
    (_re(r"(?<![\w.])" + _N + r"\s+or\s+(?:less|fewer|lower|smaller|below|under)\b"), "<="),
    (_re(r"(?:(?<!\bno )(?<!\bnot )\b(?:more|greater|higher|larger|bigger|older|longer|later) than|\b(?:above|over))\s+(?:[a-z]+\s+)?"
         + _N), ">"),
    (_re(r"(?:(?<!\bno )(?<!\bnot )\b(?:less|fewer|lower|smaller|younger|shorter|earlier) than|\b(?:below|under))\s+(?:[a-z]+\s+)?"
         + _N), "<"),
)
_SQL_EQUAL = re.compile(r"(?:(?<![<>!=])=|!=|<>)\s*(-?\d+(?:\.\d+)?)(?![\w.])")
_SQL_BOUND = re.compile(r"(>=|<=|(?<![<>!])>(?!=)|<(?![>=]))\s*(-?\d+(?:\.\d+)?)(?![\w.])")
# the same bound written with the other inclusiveness, on integers: ">= 2" is "> 1"
_SAME = {(">=", ">"): -1, (">", ">="): 1, ("<=", "<"): 1, ("<", "<="): -1}
OTHER_BOUND = {">=": ">", ">": ">=", "<=": "<", "<": "<="}


def bound_spans(question: str) -> list[tuple[str, float, int]]:
    """The bounds the question puts on numbers, as (SQL operator, number, where the phrase ends)."""
    text = _LITERAL.sub(lambda m: " " * len(m.group(0)), question)
    out = []
    for pattern, op in _BOUNDS:
        for m in pattern.finditer(text):
            n = m.group(1).lower()
            out.append((op, 1.0 if n in ("one", "a single") else float(n), m.end()))
    return out


def bounds(question: str) -> list[tuple[str, float]]:
    """The bounds the question puts on numbers, as (SQL operator, number): "at least 2" is (">=", 2), "more than
    one" is (">", 1)."""
    return [(op, n) for op, n, _ in bound_spans(question)]


def bound_agreement(question: str, sql: str) -> int:
    """For each bound the question states ("at least 2", "more than 5", "3 or fewer", "under age 30"): a point
    when the query compares with it the same way (">= 2" or "> 1"), one off when it compares with the same
    number the other inclusiveness ("> 2" for "at least 2") or the other direction ("> 30" for "under 30")."""
    wanted = bounds(question)
    if not wanted:
        return 0
    bare = _LITERAL.sub("''", sql)
    written = [(m.group(1), float(m.group(2))) for m in _SQL_BOUND.finditer(bare)]
    equal = {float(m.group(1)) for m in _SQL_EQUAL.finditer(bare)}
    score = 0
    for op, n in wanted:
        near = OTHER_BOUND[op]
        if (op, n) in written or (near, n + _SAME[(op, near)]) in written:
            score += 1
        elif any(v == n and o[0] != op[0] for o, v in written) or (near, n) in written or n in equal:
            score -= 1  # compared the other way, the other inclusiveness, or "= 2" / "<> 2" for "2 or more"
    return score


def cue_agreement(question: str, sql: str) -> int:
    asked, has = question_cues(question), sql_constructs(sql)
    score = direction_agreement(question, sql) + comparison_agreement(question, sql) + bound_agreement(question, sql)
    if "descending" in has and "descending" not in asked and ASCENDING.search(_LITERAL.sub(" ", question)):
        score -= 1  # sorted the other way from the "ascending" asked for
    if _LIMIT.search(_LITERAL.sub("''", sql)) and not _TOP_WORDS.search(question):
        score -= 1  # a top taken where the question asks for no superlative and no number of rows
    if select_width(sql) > 1 and not _SEVERAL.search(_LITERAL.sub(" ", question)):
        score -= 1
    said = len(_NEGATION_WORDS.findall(_LITERAL.sub(" ", question)))
    if said and len(_NEGATION_SQL.findall(_LITERAL.sub("''", sql))) > said:
        score -= 1  # negated twice ("EXCEPT ... WHERE x != 'A'") where the question negates once
    for cue in CUES:
        if cue.name in asked:
            score += 1 if cue.name in has else -1
        elif cue.unasked_penalty and cue.name in has:
            score -= 1
    return score


__all__ = ["ASCENDING", "CUES", "OTHER_BOUND", "Cue", "bound_agreement", "bound_spans", "bounds", "comparison_agreement",
           "cue_agreement", "direction_agreement", "question_cues", "select_width", "sql_constructs"]
