"""Database layer: read-only connections, reflection, execution with real timeouts, result comparison."""

from sqldistill.db.compare import gold_order_matters, same_result
from sqldistill.db.database import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_S, Database, connect
from sqldistill.db.reflect import reflect
from sqldistill.db.render import render_schema
from sqldistill.db.targets import Target, parse_target

__all__ = [
    "DEFAULT_MAX_ROWS",
    "DEFAULT_TIMEOUT_S",
    "Database",
    "Target",
    "connect",
    "gold_order_matters",
    "parse_target",
    "reflect",
    "render_schema",
    "same_result",
]
