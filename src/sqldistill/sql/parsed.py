"""One parse per SQL string: a cache of sqlglot trees shared by the modules that read the same candidates.

Execution-guided selection asks several questions of every candidate (its literals, the values it compares
with its columns); each used to parse it again. ``parsed(sql, dialect)`` parses once and hands out the same
tree. The tree is shared: read it, and ``copy()`` it before changing anything.

Contract (stable): ``parsed(sql, dialect="sqlite") -> sqlglot Expression | None`` (None when it does not parse).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=16384)
def parsed(sql: str, dialect: str = "sqlite") -> Any:
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    try:
        return sqlglot.parse_one(sql, read=dialect)
    except (ParseError, TokenError, ValueError):
        return None


__all__ = ["parsed"]
