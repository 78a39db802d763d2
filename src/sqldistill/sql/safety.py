"""The read-only allowlist: one statement, a query and nothing else.

This is the second line of defence; every connection is also read-only at the engine (see ``db.connect``).
The check is an allowlist of statement shapes plus a blocklist of functions that touch files, sessions or
sequences, so that something sqlglot does not know is refused rather than waved through.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from sqldistill.errors import UnsafeSQL

# Names of functions that read or write files, change session state, sleep, or write sequences.
BLOCKED_FUNCTIONS = frozenset(
    {
        # SQLite
        "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile", "sqlar_compress",
        # PostgreSQL
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_file_write", "pg_sleep",
        "pg_sleep_for", "pg_sleep_until", "lo_import", "lo_export", "lo_unlink", "lo_from_bytea", "lo_put",
        "lo_create", "lo_open", "lo_write", "set_config", "pg_terminate_backend", "pg_cancel_backend",
        "pg_reload_conf", "pg_rotate_logfile", "nextval", "setval", "dblink", "dblink_exec",
        "pg_advisory_lock", "pg_advisory_xact_lock", "query_to_xml", "pg_logical_emit_message",
        # MySQL / MariaDB
        "load_file", "sleep", "benchmark", "get_lock", "release_lock", "sys_exec", "sys_eval",
        # DuckDB
        "read_csv", "read_csv_auto", "read_parquet", "read_json", "read_json_auto", "read_text", "read_blob",
        "read_ndjson", "read_ndjson_auto", "parquet_scan", "csv_scan", "glob", "sniff_csv", "parquet_metadata",
        "parquet_schema", "read_xlsx", "st_read", "query_table", "query",
    }
)

SQLGLOT_DIALECT = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql", "duckdb": "duckdb"}

_FILE_LIKE_TABLE = re.compile(r"[/\\:]|\.(csv|tsv|parquet|json|ndjson|xlsx|txt|gz|db|sqlite)$", re.I)


def _function_name(node: object) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return ""


@lru_cache(maxsize=4096)
def readonly_problem(sql: str, dialect: str = "sqlite") -> str | None:
    """Return why ``sql`` is not a single read-only query, or None when it is one."""
    from sqlglot import exp

    from sqldistill.sql.parsed import statements as parse_statements

    quiet = logging.getLogger("sqlglot")
    if quiet.level != logging.ERROR:  # setting it empties logging's caches: once is enough
        quiet.setLevel(logging.ERROR)

    text = sql.strip()
    if not text:
        return "the statement is empty"
    trees, error = parse_statements(text, SQLGLOT_DIALECT.get(dialect, dialect))
    if error is not None:
        return f"it could not be parsed as a query ({error})"
    statements = [s for s in trees if s is not None]
    if not statements:
        return "the statement is empty"
    if len(statements) > 1:
        return f"it holds {len(statements)} statements; only one query is allowed"
    root = statements[0]
    while isinstance(root, exp.Subquery):
        root = root.this
    if not isinstance(root, (exp.Select, exp.SetOperation)):
        kind = text.split(None, 1)[0].upper()
        return f"only SELECT queries are allowed, not {kind}"
    forbidden: tuple[type, ...] = (
        exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command,
        exp.Pragma, exp.Set, exp.Copy, exp.TruncateTable, exp.Into, exp.Lock, exp.Transaction, exp.Commit,
        exp.Rollback, exp.Use,
    )
    for extra in ("Attach", "Detach", "LoadData", "Install", "Export"):
        cls = getattr(exp, extra, None)
        if cls is not None:
            forbidden = (*forbidden, cls)
    for node in root.walk():
        if isinstance(node, forbidden):
            what = "SELECT ... INTO" if isinstance(node, exp.Into) else type(node).__name__.upper()
            if isinstance(node, exp.Lock):
                what = "a locking clause (FOR UPDATE/SHARE)"
            return f"it contains {what}, which is not read-only"
        name = _function_name(node)
        if name and name in BLOCKED_FUNCTIONS:
            return f"it calls {name}(), which is not allowed"
        if (isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier) and node.this.quoted
                and _FILE_LIKE_TABLE.search(str(node.this.this))):
            return f"it reads the file {node.this.this!r}, which is not allowed"
    return None


def check_readonly(sql: str, dialect: str = "sqlite") -> None:
    """Raise UnsafeSQL unless ``sql`` is a single read-only query."""
    problem = readonly_problem(sql, dialect)
    if problem:
        raise UnsafeSQL(f"Refused: {problem}", hint="Only a single read-only SELECT query can run")


def is_readonly(sql: str, dialect: str = "sqlite") -> bool:
    return readonly_problem(sql, dialect) is None
