"""One parse per SQL string: a cache of sqlglot trees shared by the modules that read the same candidates.

Execution-guided selection asks several questions of every candidate (is it one read-only query, its
literals, the values it compares with its columns); each used to parse it again. ``statements(sql, dialect)``
and ``parsed(sql, dialect)`` parse once (whitespace around the SQL aside) and hand out the same trees. A tree
is shared: read it, and ``copy()`` it before changing anything.

Contract (stable): ``parsed(sql, dialect="sqlite") -> sqlglot Expression | None`` (None when it does not parse;
several statements come back as one ``Block``, as ``sqlglot.parse_one`` gives them);
``statements(sql, dialect="sqlite") -> (trees, None)`` with every statement sqlglot reads (None for an empty
one), or ``((), the first line of the parser's error)``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def statements(sql: str, dialect: str = "sqlite") -> tuple[tuple[Any, ...], str | None]:
    return _statements(sql.strip(), dialect)


def parsed(sql: str, dialect: str = "sqlite") -> Any:
    trees, error = statements(sql, dialect)
    if error is not None or not trees or trees[0] is None:
        return None
    return trees[0] if len(trees) == 1 else _block(sql.strip(), dialect)


@lru_cache(maxsize=16384)
def _statements(sql: str, dialect: str) -> tuple[tuple[Any, ...], str | None]:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        return tuple(sqlglot.parse(sql, read=dialect)), None
    except (ParseError, TokenError, ValueError) as err:
        return (), (str(err).splitlines()[0] if str(err) else "syntax error")


@lru_cache(maxsize=256)
def _block(sql: str, dialect: str) -> Any:
    """Several statements as ``parse_one`` reads them (a tree of its own: a ``Block`` adopts its children)."""
    import sqlglot

    return sqlglot.parse_one(sql, read=dialect)


__all__ = ["parsed", "statements"]
