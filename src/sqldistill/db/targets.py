"""Turn what the user typed (a file path or a SQLAlchemy URL) into a dialect and a place to connect to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqldistill.errors import BadURL, DatabaseNotFound, EmptyDatabase, NotADatabase

SQLITE_MAGIC = b"SQLite format 3\x00"

_DIALECTS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "duckdb": "duckdb",
}


@dataclass(frozen=True)
class Target:
    dialect: str  # sqlite | postgresql | mysql | duckdb
    location: str  # a file path for sqlite/duckdb files, else the SQLAlchemy URL
    db_id: str
    display: str  # what to show the user (URL with the password hidden)


def _check_sqlite_file(path: Path) -> None:
    if not path.exists():
        raise DatabaseNotFound(f"No database file at {path}", hint="Check the path, or pass a SQLAlchemy URL")
    if path.is_dir():
        raise NotADatabase(f"{path} is a directory, not a database file", hint="Pass the .sqlite file inside it")
    size = path.stat().st_size
    if size == 0:
        raise EmptyDatabase(f"{path} is an empty file with no tables", hint="Point at a database that has tables")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as err:
        raise DatabaseNotFound(f"Cannot read {path}: {err.strerror}", hint="Check the file's permissions") from None
    if head != SQLITE_MAGIC:
        raise NotADatabase(f"{path} is not a SQLite database", hint="Pass a SQLite file or a SQLAlchemy URL")


def parse_target(target: str | os.PathLike[str]) -> Target:
    """Classify a target; raise a TargetError with a hint when it cannot be used."""
    text = str(target).strip()
    if not text:
        raise BadURL("No database given", hint="Pass a SQLite file path or a SQLAlchemy URL")
    if "://" not in text:
        path = Path(text).expanduser()
        if path.suffix.lower() in {".duckdb", ".ddb"}:
            if not path.exists():
                raise DatabaseNotFound(f"No database file at {path}", hint="Check the path")
            return Target("duckdb", str(path), path.stem, str(path))
        _check_sqlite_file(path)
        return Target("sqlite", str(path), path.stem, str(path))

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except ArgumentError:
        raise BadURL(
            f"Cannot understand the database URL {text!r}",
            hint="Use e.g. postgresql+psycopg://user@host/db, mysql+pymysql://root@host/db or a file path",
        ) from None
    backend = url.get_backend_name()
    dialect = _DIALECTS.get(backend)
    if dialect is None:
        raise BadURL(
            f"Unsupported database kind {backend!r} in {url.render_as_string(hide_password=True)}",
            hint="Supported: sqlite, postgresql, mysql/mariadb, duckdb",
        )
    display = url.render_as_string(hide_password=True)
    if dialect in {"sqlite", "duckdb"}:
        db = url.database or ""
        if not db or db == ":memory:":
            raise BadURL(f"{display} names no database file", hint="Give a file path after the three slashes")
        path = Path(db).expanduser()
        if dialect == "sqlite":
            _check_sqlite_file(path)
        elif not path.exists():
            raise DatabaseNotFound(f"No database file at {path}", hint="Check the path")
        return Target(dialect, str(path), path.stem, display)
    if not url.database:
        raise BadURL(f"{display} names no database", hint="Add the database name at the end of the URL")
    return Target(dialect, url.render_as_string(hide_password=False), url.database, display)
