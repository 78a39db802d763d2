"""Humanised names: how people say a table or a column that a schema spells ``StuID`` or ``dept_store_chain``.

Each name gets a main spoken form plus variants (the raw words, the table-prefix-free form), so questions
use the many ways people refer to the same thing. Abbreviations are expanded from a fixed table of those
common in real schemas (stu, dept, emp, fname, dob, ...); words run together (``firstname``) are split on a
small vocabulary; a one-letter prefix standing for a table (``f_id`` in a table of files) becomes that table.
"""

from __future__ import annotations

import re
from functools import lru_cache

ABBREVIATIONS: dict[str, str] = {
    "stu": "student", "stud": "student", "dept": "department", "dep": "department", "emp": "employee",
    "empl": "employee", "num": "number", "nbr": "number", "no": "number", "addr": "address",
    "desc": "description", "descr": "description", "qty": "quantity", "amt": "amount", "dob": "date of birth",
    "bdate": "birth date", "fname": "first name", "lname": "last name", "mname": "middle name",
    "prof": "professor", "crs": "course", "cust": "customer", "custid": "customer id", "prod": "product",
    "cat": "category", "info": "information", "avg": "average", "yr": "year", "pct": "percent",
    "tel": "telephone", "org": "organization", "dt": "date", "mgr": "manager", "loc": "location",
    "pos": "position", "cnt": "count", "ref": "reference", "acc": "account", "acct": "account",
    "apt": "apartment", "fac": "faculty", "sec": "section", "res": "restaurant", "inst": "institution",
    "auth": "author", "hr": "hour", "hrs": "hours", "min": "minimum", "prereq": "prerequisite",
    "src": "source", "dst": "destination", "ap": "airport", "flno": "flight number", "lat": "latitude",
    "lon": "longitude", "lng": "longitude", "yn": "yes or no", "mf": "", "gpa": "gpa", "tot": "total",
    "cred": "credits", "init": "initial", "ssn": "ssn", "essn": "employee ssn", "dno": "department number",
    "dnumber": "department number", "dname": "department name", "pname": "product name", "govt": "government",
    "intl": "international", "natl": "national", "std": "standard", "max": "maximum", "mins": "minutes",
    "sec_id": "section id", "temp": "temperature", "vol": "volume", "ht": "height", "wt": "weight",
    "val": "value", "char": "character", "chars": "characters", "id": "id", "ids": "ids", "uid": "user id",
    "eid": "employee id", "pid": "player id", "cid": "course id", "sid": "student id", "aid": "airline id",
    "alid": "airline id", "apid": "airport id", "actid": "activity id", "amenid": "amenity id",
    "dormid": "dorm id", "stuid": "student id", "rid": "route id", "bid": "business id",
}

# Words that appear run together in column names (firstname, roomnumber, callsign).
_VOCAB = (
    "first", "last", "middle", "family", "given", "name", "number", "room", "call", "sign", "code",
    "share", "class", "grade", "point", "letter", "key", "phrase", "play", "list", "on", "off", "total",
    "enrollment", "date", "time", "year", "month", "day", "hire", "birth", "start", "end", "type", "id",
    "object", "home", "town", "zip", "post", "mail", "email", "phone", "address", "line", "count",
    "price", "amount", "rate", "rating", "score", "rank", "level", "age", "size", "area", "weight",
    "height", "length", "width", "capacity", "status", "state", "city", "country", "region",
)

_IRREGULAR = {
    "person": "people", "child": "children", "man": "men", "woman": "women", "staff": "staff",
    "information": "information", "series": "series", "species": "species", "data": "data", "media": "media",
    "equipment": "equipment", "mouse": "mice", "foot": "feet", "tooth": "teeth", "goose": "geese",
    "criterion": "criteria", "sheep": "sheep", "fish": "fish", "news": "news", "aircraft": "aircraft",
    "personnel": "personnel", "faculty": "faculty", "furniture": "furniture",
}
_SINGULAR = {v: k for k, v in _IRREGULAR.items()}
_NOT_NOUNS = frozenset(["from", "to", "of", "in", "on", "at", "by", "for", "with", "yn", "no", "yes", "or", "and",
                        "per", "via", "than"])
_UNCOUNTABLE = frozenset(k for k, v in _IRREGULAR.items() if k == v)

# Too vague on their own to stand for "student number", "course code": kept as variants, never first.
_VAGUE = frozenset({"id", "code", "number", "num", "no", "type", "count", "date", "details", "detail"})

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SPLIT = re.compile(r"[_\s\-.]+")


def split_words(name: str) -> list[str]:
    """``StuID`` -> [stu, id]; ``budget_in_billions`` -> [budget, in, billions]; ``HouseNo2`` -> [house, no, 2]."""
    text = _CAMEL_2.sub(r"\1 \2", _CAMEL_1.sub(r"\1 \2", name))
    text = re.sub(r"([A-Za-z])(\d)", r"\1 \2", text)
    return [w.lower() for w in _SPLIT.split(text) if w]


def _split_runtogether(word: str) -> list[str]:
    if len(word) < 7 or word in ABBREVIATIONS:
        return [word]
    for head in _VOCAB:
        if word.startswith(head) and word[len(head):] in _VOCAB:
            return [head, word[len(head):]]
    return [word]


def expand_words(words: list[str], tables: tuple[str, ...] = ()) -> list[str]:
    """Expand abbreviations; a lone leading letter standing for a table's initial becomes that table."""
    out: list[str] = []
    for i, w in enumerate(words):
        if len(w) == 1 and i == 0 and len(words) > 1 and w.isalpha():
            match = [t for t in tables if t.startswith(w)]
            if len(match) == 1:
                out.extend(match[0].split())
                continue
        if w in ABBREVIATIONS:
            exp = ABBREVIATIONS[w]
            if exp:
                out.extend(exp.split())
            continue
        out.extend(_split_runtogether(w))
    return out or words


def pluralize(phrase: str) -> str:
    """Plural of the last word of ``phrase`` (``student id`` -> ``student ids``)."""
    words = phrase.split()
    if not words:
        return phrase
    last = words[-1]
    low = last.lower()
    if not low.isalpha() or (low.endswith("ed") and len(low) > 4) or low in _NOT_NOUNS:
        return phrase  # "line 1", "date started", "valid from": no plural to make
    if low in _IRREGULAR:
        plural = _IRREGULAR[low]
    elif low in _SINGULAR or (low.endswith("s") and not low.endswith(("ss", "us", "is"))):
        plural = last
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        plural = last[:-1] + "ies"
    elif low.endswith(("s", "x", "z", "ch", "sh")):
        plural = last + "es"
    else:
        plural = last + "s"
    return " ".join([*words[:-1], plural])


def singularize(phrase: str) -> str:
    words = phrase.split()
    if not words:
        return phrase
    last = words[-1]
    low = last.lower()
    if low in _SINGULAR:
        single = _SINGULAR[low]
    elif low in _UNCOUNTABLE or low.endswith(("ss", "us", "is", "ics")):
        single = last
    elif low.endswith("ies") and len(low) > 4:
        single = last[:-3] + "y"
    elif low.endswith(("sses", "uses", "xes", "ches", "shes")) and not low.endswith("ouses"):
        single = last[:-2]  # addresses, statuses, boxes, matches
    elif low.endswith("s") and len(low) > 3:
        single = last[:-1]
    else:
        single = last
    return " ".join([*words[:-1], single])


@lru_cache(maxsize=8192)
def table_phrase(name: str) -> str:
    """Singular spoken form of a table name: ``Ref_Document_Types`` -> ``document type``."""
    words = split_words(name)
    if len(words) > 1 and words[0] in {"ref", "tbl", "tb", "t", "dim", "fact", "lkp", "lu"}:
        words = words[1:]
    return singularize(" ".join(expand_words(words)))


def column_phrases(column: str, table: str, all_tables: tuple[str, ...] = ()) -> list[str]:
    """Spoken forms of a column, the most natural first. The table's own name is dropped as a prefix."""
    words = expand_words(split_words(column), all_tables)
    main = " ".join(words)
    forms = [main]
    owner = table_phrase(table).split()
    if len(words) > len(owner) and words[: len(owner)] == owner:
        short = " ".join(words[len(owner):])
        if short not in _VAGUE:
            forms.insert(0, short)  # singer.Singer_Name -> "name"
        else:
            forms.append(short)
    forms.append(" ".join(split_words(column)))
    return list(dict.fromkeys(f for f in forms if f))


__all__ = [
    "ABBREVIATIONS",
    "column_phrases",
    "expand_words",
    "pluralize",
    "singularize",
    "split_words",
    "table_phrase",
]
