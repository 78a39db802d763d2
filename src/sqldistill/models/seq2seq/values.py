"""Value candidates: the stretches of a question that name a database cell, and the numbers and quoted text in it.

A model copies values from these candidates instead of spelling them, so a value is always written the way
the database spells it. Finding them needs no language: word n-grams of the question are looked up in the
database's distinct short text values (exact spelling first, then ignoring case); digits and quoted stretches
are candidates as they stand. Each candidate carries how it was found and the column holding it, which the
model sees as features (a one-letter cell such as ``A`` matches many questions; its short length says so).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from sqldistill.models.seq2seq.language import Value

if TYPE_CHECKING:
    from sqldistill.db import Database
    from sqldistill.records import Schema

MAX_VALUES_PER_COLUMN = 5000
MAX_NGRAM = 6
MAX_CANDIDATES = 24
_WORD = re.compile(r"\S+")
_EDGE = "\"'`.,;:!?()[]{}"
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"\"([^\"]{1,80})\"|(?<!\w)'([^']{1,80})'(?!\w)")

ValueIndex = dict[str, list[tuple[str, str]]]  # lower-case text -> [(column "table.column", text as stored)]


def database_values(db: Database, schema: Schema, limit: int = MAX_VALUES_PER_COLUMN) -> dict[str, list[str]]:
    """Distinct short text values of each column holding text (by its samples or its type), as stored."""
    from sqldistill.db.reflect import text_values

    return text_values(db, schema, limit, by_type=True)


def value_index(values: dict[str, list[str]]) -> ValueIndex:
    index: ValueIndex = {}
    for column, texts in values.items():
        for text in texts:
            index.setdefault(text.strip().lower(), []).append((column, text))
    return index


def _words(question: str) -> list[tuple[int, int]]:
    """Character spans of the question's words, surrounding punctuation left out."""
    spans = []
    for m in _WORD.finditer(question):
        start, end = m.start(), m.end()
        while start < end and question[start] in _EDGE:
            start += 1
        while end > start and question[end - 1] in _EDGE:
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def find_values(question: str, index: ValueIndex, limit: int = MAX_CANDIDATES) -> list[Value]:
    """The question's value candidates, longest stretches first, one per distinct text."""
    found: list[Value] = []
    words = _words(question)
    for n in range(min(MAX_NGRAM, len(words)), 0, -1):
        for i in range(len(words) - n + 1):
            start, end = words[i][0], words[i + n - 1][1]
            text = question[start:end]
            for column, stored in index.get(text.lower(), [])[:3]:
                kind = "exact" if stored.strip() == text else "nocase"
                found.append(Value(stored, kind, start, end, column))
    for m in _QUOTED.finditer(question):
        group = 1 if m.group(1) is not None else 2
        found.append(Value(m.group(group), "quoted", m.start(group), m.end(group)))
    for m in _NUMBER.finditer(question):
        found.append(Value(m.group(0), "number", m.start(), m.end()))
    seen: set[str] = set()
    out: list[Value] = []
    for v in found:
        key = v.text.lower()
        if key in seen:
            continue
        seen.add(key)
        if v.column:  # a database match: every column that holds the text, for constrained decoding
            v = replace(v, held_by=tuple(sorted({column for column, _ in index.get(key.strip(), [])})))
        out.append(v)
    return out[:limit]
