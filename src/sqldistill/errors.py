"""One exception hierarchy for the whole product.

Library code raises these; only the edges (``cli.py`` and the HTTP app) turn them into a one-line message
and an exit code or status. Every error carries an optional ``hint`` saying what the user can do about it.
"""

from __future__ import annotations


class SqlDistillError(Exception):
    """Base class: a problem the user can act on, reported as one line."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = self.message.rstrip(".")
        if self.hint:
            return f"{text}. {self.hint.rstrip('.')}."
        return f"{text}."


class TargetError(SqlDistillError):
    """The database target (path or URL) cannot be used."""


class DatabaseNotFound(TargetError):
    pass


class NotADatabase(TargetError):
    pass


class BadURL(TargetError):
    pass


class ConnectionFailed(TargetError):
    pass


class EmptyDatabase(TargetError):
    pass


class SQLError(SqlDistillError):
    """A statement was refused or failed."""


class UnsafeSQL(SQLError):
    """The statement is not a single read-only query."""


class QueryTimeout(SQLError):
    pass


class QueryFailed(SQLError):
    pass


class ConfigError(SqlDistillError):
    """A config file or option is malformed."""


class DataError(SqlDistillError):
    """An input data file (dataset, gold file, predictions) is missing or malformed."""


class ModelError(SqlDistillError):
    """A model directory is missing, incompatible, or cannot be loaded."""


class TeacherError(SqlDistillError):
    """The teacher endpoint or model failed."""


class RunError(SqlDistillError):
    """A pipeline run directory is unusable (disk full, corrupted manifest)."""


class MissingExtra(SqlDistillError):
    """A command needs libraries from an optional extra that is not installed."""

    def __init__(self, what: str, label: str, extra: str, missing: list[str]) -> None:
        self.extra = extra
        self.missing = missing
        shown = ", ".join(missing) if len(missing) <= 2 else f"{missing[0]} and {len(missing) - 1} more"
        super().__init__(f"{what} needs {label} ({shown} not installed)", hint=f"pip install 'sqldistill[{extra}]'")

    def one_line(self) -> str:
        return f"{self.message}: {self.hint}"


__all__ = [
    "BadURL",
    "ConfigError",
    "ConnectionFailed",
    "DataError",
    "DatabaseNotFound",
    "EmptyDatabase",
    "MissingExtra",
    "ModelError",
    "NotADatabase",
    "QueryFailed",
    "QueryTimeout",
    "RunError",
    "SQLError",
    "SqlDistillError",
    "TargetError",
    "TeacherError",
    "UnsafeSQL",
]
