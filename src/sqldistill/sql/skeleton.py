"""Normal form, template and skeleton of a SQL query, from its token stream.

Three views of one query, each a string, from the most to the least specific:

- ``normalise(sql)``: whitespace and letter case made canonical, string literals single-quoted, ``<>`` written
  ``!=``, redundant ``ASC``/``INNER``/``AS`` dropped. Two queries with the same normal form are duplicates.
- ``template(sql)``: as ``normalise`` but every literal is ``v``. In both, a qualified column is written
  ``table.column`` with its alias resolved. Queries that differ only in their values share a template; the template cap counts these.
- ``skeleton(sql)``: every table is ``t``, every column ``c``, every literal ``v``; aliases are dropped. This
  is the shape of a query (its keywords, operators, functions, nesting, arity) and is what coverage,
  log mining and the hardness mix look at.

Working on tokens rather than a parse tree keeps this fast (tens of microseconds) and total: any text
tokenizes, so a query a parser rejects still gets a skeleton. Spider writes string literals in double quotes
(``name = "Bob"``); a double-quoted token in the place of a value (after a comparison, LIKE, BETWEEN or inside
an IN list) is read as a literal, everywhere else as an identifier, which is how SQLite resolves them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

_TOKENIZER = SQLite().tokenizer

_CMP = {TokenType.EQ, TokenType.NEQ, TokenType.LT, TokenType.GT, TokenType.LTE, TokenType.GTE,
        TokenType.LIKE, TokenType.ILIKE, TokenType.BETWEEN, TokenType.GLOB}
_ARITH = {TokenType.PLUS, TokenType.DASH, TokenType.STAR, TokenType.SLASH, TokenType.MOD}
# Tokens after which a table name may follow in a FROM list.
_FROM_START = {TokenType.FROM, TokenType.JOIN}
# Tokens that end a FROM list.
_FROM_END = {TokenType.WHERE, TokenType.GROUP_BY, TokenType.ORDER_BY, TokenType.HAVING, TokenType.LIMIT,
             TokenType.UNION, TokenType.INTERSECT, TokenType.EXCEPT, TokenType.R_PAREN, TokenType.ON,
             TokenType.USING}
_DROP = {TokenType.ASC, TokenType.INNER}
# The structural keywords of a query. Any other keyword-looking word (date, year, match, time, text) is
# read as a name, since schemas use them as table and column names.
_CORE = {getattr(TokenType, n) for n in (
    "SELECT", "FROM", "WHERE", "JOIN", "ON", "USING", "ALIAS", "AND", "OR", "NOT", "IN", "LIKE", "ILIKE",
    "GLOB", "BETWEEN", "GROUP_BY", "ORDER_BY", "HAVING", "LIMIT", "OFFSET", "UNION", "INTERSECT", "EXCEPT",
    "DISTINCT", "ASC", "DESC", "IS", "NULL", "CASE", "WHEN", "THEN", "ELSE", "END", "LEFT", "RIGHT", "INNER",
    "OUTER", "CROSS", "NATURAL", "FULL", "EXISTS", "ALL", "ANY", "SOME", "TRUE", "FALSE", "WITH", "AS",
    "CAST", "ESCAPE", "SEMICOLON", "STAR",
) if hasattr(TokenType, n)}
_VALUE_TYPES = {TokenType.STRING, TokenType.NUMBER, TokenType.NATIONAL_STRING, TokenType.HEX_STRING,
                TokenType.BIT_STRING}


@dataclass(frozen=True)
class Tok:
    """One token of the canonical stream: ``kind`` is kw, op, func, table, column, alias, value or punct."""

    kind: str
    text: str  # canonical text (lower-cased keyword, quoted literal, lower-cased identifier)
    table: str = ""  # for columns: the table (alias resolved) when the query says it


def _raw_tokens(sql: str) -> list[Token]:
    try:
        return list(_TOKENIZER().tokenize(sql))
    except TokenError:
        return []


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_double_quoted(sql: str, tok: Token) -> bool:
    return tok.token_type == TokenType.IDENTIFIER and sql[tok.start : tok.start + 1] == '"'


def _value_context(prev: Tok | None, in_between: bool, in_list: bool) -> bool:
    if prev is None:
        return False
    if prev.kind == "op" and prev.text in {"=", "!=", "<", ">", "<=", ">=", "like", "not like", "between",
                                           "glob", "+", "-", "*", "/"}:
        return True
    if in_between and prev.text == "and":
        return True
    return in_list and prev.text in {"(", ","}


@lru_cache(maxsize=65536)
def canonical_tokens(sql: str) -> tuple[Tok, ...]:
    """Classify every token of ``sql``; the three public views are renderings of this stream."""
    raw = _raw_tokens(sql)
    out: list[Tok] = []
    aliases: dict[str, str] = {}
    depth = 0
    from_depths: list[int] = []  # parenthesis depths at which a FROM list is open
    expect_table = False
    last_table = ""
    in_between = False
    list_depths: list[int] = []  # depths of open "IN (" value lists
    i = 0
    while i < len(raw):
        tok = raw[i]
        tt = tok.token_type
        if tt not in _CORE and tt not in _VALUE_TYPES and tt != TokenType.IDENTIFIER and tok.text.isidentifier():
            tt = TokenType.VAR
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        prev = out[-1] if out else None
        in_from = bool(from_depths) and from_depths[-1] == depth
        if tt in _DROP:
            i += 1
            continue
        if tt == TokenType.L_PAREN:
            depth += 1
            if prev is not None and prev.text in {"in", "not in"} and not (nxt and nxt.token_type == TokenType.SELECT):
                list_depths.append(depth)
            out.append(Tok("punct", "("))
            i += 1
            continue
        if tt == TokenType.R_PAREN:
            if list_depths and list_depths[-1] == depth:
                list_depths.pop()
            if from_depths and from_depths[-1] == depth:
                from_depths.pop()
            depth -= 1
            out.append(Tok("punct", ")"))
            i += 1
            continue
        if in_from and tt in _FROM_END:
            from_depths.pop()
            in_from = False
        if tt in _FROM_START:
            text = "join" if tt == TokenType.JOIN else "from"
            if tt == TokenType.JOIN and prev is not None and prev.text in {"left", "right", "full", "cross",
                                                                            "outer", "natural"}:
                out[-1] = Tok("kw", prev.text + " join")
            else:
                out.append(Tok("kw", text))
            if not in_from:
                from_depths.append(depth)
            expect_table = True
            i += 1
            continue
        if tt in (TokenType.VAR, TokenType.IDENTIFIER) or (tt not in _VALUE_TYPES and tok.text.isidentifier()
                                                             and nxt is not None and nxt.token_type == TokenType.DOT):
            name = tok.text
            if expect_table and in_from:
                last_table = name.lower()
                out.append(Tok("table", last_table))
                expect_table = False
                i += 1
                continue
            if in_from and prev is not None and prev.kind == "table" and tt in (TokenType.VAR, TokenType.IDENTIFIER):
                aliases[name.lower()] = last_table  # FROM head T1
                i += 1
                continue
            if nxt is not None and nxt.token_type == TokenType.L_PAREN and tt == TokenType.VAR:
                out.append(Tok("func", name.lower()))
                i += 1
                continue
            if nxt is not None and nxt.token_type == TokenType.DOT and i + 2 < len(raw):
                target = raw[i + 2]
                qualifier = aliases.get(name.lower(), name.lower())
                if target.token_type == TokenType.STAR:
                    out.append(Tok("op", "*"))
                else:
                    out.append(Tok("column", target.text.lower(), qualifier))
                i += 3
                continue
            if _is_double_quoted(sql, tok) and _value_context(prev, in_between, bool(list_depths)):
                out.append(Tok("value", _quote(name)))
                in_between = in_between and prev is not None and prev.text == "between"
                i += 1
                continue
            out.append(Tok("column", name.lower()))
            i += 1
            continue
        if tt == TokenType.ALIAS:  # AS: drop it and the alias after it
            if nxt is not None:
                if in_from and prev is not None and prev.kind == "table":
                    aliases[nxt.text.lower()] = last_table
                i += 2
                continue
            i += 1
            continue
        if tt == TokenType.COMMA:
            out.append(Tok("punct", ","))
            if in_from:
                expect_table = True
            i += 1
            continue
        if tt in _VALUE_TYPES:
            text = _quote(tok.text) if tt != TokenType.NUMBER else tok.text
            if prev is not None and prev.kind == "op" and prev.text == "-" and len(out) >= 2 and (
                out[-2].kind in {"op", "kw", "punct"}
            ):
                out[-1] = Tok("value", "-" + text)
            else:
                out.append(Tok("value", text))
            in_between = in_between and prev is not None and prev.text == "between"
            i += 1
            continue
        text = " ".join(tok.text.lower().split())
        if tt == TokenType.NEQ:
            text = "!="
        elif tt == TokenType.EQ:
            text = "="
        if tt in _CMP or tt in _ARITH or tt in (TokenType.NEQ, TokenType.EQ):
            if tt in (TokenType.LIKE, TokenType.BETWEEN, TokenType.ILIKE, TokenType.GLOB) and prev is not None \
                    and prev.text == "not":
                out[-1] = Tok("op", "not " + text)
            else:
                out.append(Tok("op", text))
            if tt == TokenType.BETWEEN:
                in_between = True
            i += 1
            continue
        if tt == TokenType.IN and prev is not None and prev.text == "not":
            out[-1] = Tok("kw", "not in")
            i += 1
            continue
        if tt == TokenType.STAR:
            out.append(Tok("op", "*"))
            i += 1
            continue
        if tt == TokenType.SEMICOLON:
            i += 1
            continue
        out.append(Tok("kw", text))
        i += 1
    # Aliases may be declared after their first use (SELECT T1.x FROM a AS T1): resolve them at the end.
    return tuple(Tok(t.kind, t.text, aliases.get(t.table, t.table)) if t.table else t for t in out)


def _ident(name: str) -> str:
    return name if name.isidentifier() else '"' + name.replace('"', '""') + '"'


def _render(tokens: tuple[Tok, ...], mode: str) -> str:
    parts: list[str] = []
    for tok in tokens:
        if tok.kind == "value":
            parts.append(tok.text if mode == "normal" else "v")
        elif tok.kind == "table":
            parts.append("t" if mode == "skeleton" else _ident(tok.text))
        elif tok.kind == "column":
            if mode == "skeleton":
                parts.append("c")
            elif tok.table:
                parts.append(f"{_ident(tok.table)}.{_ident(tok.text)}")
            else:
                parts.append(_ident(tok.text))
        elif tok.kind == "func":
            parts.append(tok.text + "\x00")
        else:
            parts.append(tok.text)
    text = " ".join(parts)
    return text.replace("\x00 ", "").replace("( ", "(").replace(" )", ")").replace(" ,", ",")


def normalise(sql: str) -> str:
    """Canonical text of ``sql`` for duplicate detection (values kept)."""
    return _render(canonical_tokens(sql), "normal")


def template(sql: str) -> str:
    """``sql`` with literals abstracted to ``v`` and columns written ``table.column`` where qualified."""
    return _render(canonical_tokens(sql), "template")


def skeleton(sql: str) -> str:
    """``sql`` with tables ``t``, columns ``c`` and literals ``v``: the shape of the query."""
    return _render(canonical_tokens(sql), "skeleton").replace("distinct (c)", "distinct c")


NORMALISATION = (
    "tokens of the query with keywords lower-cased; every table name -> t, every column (qualified or not) -> c, "
    "every literal (number, string, Spider's double-quoted string) -> v; table and column aliases, AS, ASC and "
    "INNER and semicolons dropped; DISTINCT (c) written DISTINCT c; <> written !=; spacing canonical. Clause order, operators, functions, DISTINCT, "
    "set operations, nesting and the number and order of projected items are kept."
)

__all__ = ["NORMALISATION", "Tok", "canonical_tokens", "normalise", "skeleton", "template"]
