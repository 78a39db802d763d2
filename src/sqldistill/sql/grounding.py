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

# Numbers a query may use without the question writing them: LIMIT 1, count(*) > 0, flags.
FREE_NUMBERS = {0, 1}

_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def numbers_in(question: str) -> set[float]:
    """The numbers ``question`` writes in digits ("1,500" is 1500 or 1.5: both are kept)."""
    found: set[float] = set()
    for tok in _DIGITS.findall(question):
        for variant in (tok.replace(",", ""), tok.replace(",", ".")):
            with contextlib.suppress(ValueError):
                found.add(float(variant))
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
    """Literals of ``sql`` that the question does not contain (strings as substrings, numbers as numbers written
    in digits; 0 and 1 are free)."""
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
