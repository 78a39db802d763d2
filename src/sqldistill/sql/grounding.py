"""Value grounding: every literal a query compares against should come from the question.

A small student trained on synthetic pairs likes to invent conditions ("... WHERE City = 'Bath'") that the
question never asked for. Such a query still parses and runs, so execution checks cannot catch it, but its
literal is nowhere in the question. ``ungrounded_literals`` finds those literals, so decoding can prefer a
candidate whose values the user actually typed.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache

NUMBER_WORDS = {
    "zero": 0, "no": 0, "none": 0, "one": 1, "a": 1, "an": 1, "single": 1, "once": 1, "first": 1, "two": 2,
    "twice": 2, "both": 2, "second": 2, "three": 3, "third": 3, "four": 4, "fourth": 4, "five": 5, "fifth": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12,
    "twenty": 20, "hundred": 100, "thousand": 1000, "million": 1_000_000,
}
# Numbers a query may use without the question saying them: LIMIT 1 superlatives, "more than zero", etc.
FREE_NUMBERS = {0, 1}

_SPOKEN = {w: str(NUMBER_WORDS[w]) for w in ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                             "eleven", "twelve")}
_SPOKEN_NUMBER = re.compile(r"\b(" + "|".join(_SPOKEN) + r")\b(?!-)", re.I)


def with_digits(question: str) -> str:
    """``question`` with the numbers two to twelve written as words in digits ("at least two" -> "at least 2"),
    the way synthesized questions and SQL literals write them ("one" stays: "at least one X" asks for any)."""
    return _SPOKEN_NUMBER.sub(lambda m: _SPOKEN[m.group(1).lower()], question)


_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,]\d+)*")


def numbers_in(question: str) -> set[float]:
    found: set[float] = set()
    for tok in _TOKEN.findall(question.lower()):
        if tok[0].isdigit():
            for variant in (tok.replace(",", ""), tok.replace(",", ".")):
                with contextlib.suppress(ValueError):
                    found.add(float(variant))
        elif tok in NUMBER_WORDS:
            found.add(float(NUMBER_WORDS[tok]))
    return found


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def quoted_string(node: object) -> str | None:
    """The text of a double-quoted bare identifier, which is how sqlglot reads a Spider-style "string" compared
    with a column; None for anything else."""
    from sqlglot import exp

    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier) and node.this.quoted \
            and not node.table:
        return str(node.this.this)
    return None


def contains_words(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words, ignoring case."""
    low, p = text.lower(), phrase.lower()
    return p in low and re.search(r"(?<!\w)" + re.escape(p) + r"(?!\w)", low) is not None


@lru_cache(maxsize=8192)
def literals(sql: str) -> tuple[tuple[str, bool], ...]:
    """(text, is_string) for every literal of ``sql``; empty when it cannot be parsed."""
    from sqlglot import exp

    from sqldistill.sql.parsed import parsed

    tree = parsed(sql)
    if tree is None:
        return ()
    out = []
    for node in tree.find_all(exp.Literal):
        out.append((str(node.this), bool(node.is_string)))
    # Spider-style SQL writes strings in double quotes, which sqlglot reads as identifiers when they are
    # compared with a column; treat a quoted identifier on the right of a comparison as a string literal.
    for cmp in tree.find_all(exp.EQ, exp.NEQ, exp.Like):
        text = quoted_string(cmp.expression)
        if text is not None:
            out.append((text, True))
    return tuple(out)


def ungrounded_literals(sql: str, question: str) -> list[str]:
    """Literals of ``sql`` that the question does not contain (strings as substrings, numbers as numbers)."""
    q = _squash(question)
    numbers = numbers_in(question)
    missing = []
    for text, is_string in literals(sql):
        if is_string:
            core = _squash(text.strip("%"))
            if core and core not in q and core.replace(" ", "") not in q.replace(" ", ""):
                missing.append(text)
        else:
            try:
                value = float(text)
            except ValueError:
                continue
            if value not in FREE_NUMBERS and value not in numbers:
                missing.append(text)
    return missing


def is_grounded(sql: str, question: str) -> bool:
    return not ungrounded_literals(sql, question)
