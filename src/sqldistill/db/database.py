"""Read-only connections with real timeouts, one class per engine family.

Read-only is enforced by the engine itself (SQLite: read-only URI, ``query_only`` and an authorizer that
denies everything but reading; PostgreSQL: read-only transactions; MySQL/MariaDB: read-only session
transactions; DuckDB: read-only open with external access off) and, before anything runs, by the SQL
allowlist in ``sqldistill.sql.safety``.

Timeouts interrupt the engine, they do not just stop waiting for it: SQLite's progress handler aborts the
VM, DuckDB is interrupted from a timer thread, PostgreSQL uses ``statement_timeout``, MySQL/MariaDB use
their per-statement limit plus a ``KILL QUERY`` watchdog. Afterwards the connection is usable again.

A *steady* timeout (``execute(..., steady=True)``) counts work instead of wall time where the engine can:
on SQLite, ``timeout_s`` stands for ``SQLITE_STEPS_PER_S`` VM instructions a second, so whether a query is
stopped does not depend on how busy the machine is, and what is built from the answers (synthesized pairs,
pseudo-labels, preference pairs) is the same on a loaded machine as on an idle one. The wall clock then only
stops a query at ``STEADY_WALL_FACTOR`` times ``timeout_s``. Other engines have no such count: there it is the
wall-clock timeout.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqldistill._extras import require_extra
from sqldistill.db.targets import Target, parse_target
from sqldistill.errors import ConnectionFailed, NotADatabase
from sqldistill.records import ExecResult
from sqldistill.sql.safety import BLOCKED_FUNCTIONS, readonly_problem

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_ROWS = 1000
# VM instructions that one second of a steady timeout allows on SQLite: measured on a 2-core EPYC, SQLite ran
# 56 M a second on a recursive count and 140 M on a join, so the budget is at most about a wall second
SQLITE_STEPS_PER_S = 50_000_000
STEADY_WALL_FACTOR = 10


def _timeout_result(timeout_s: float, started: float, steady: bool = False) -> ExecResult:
    what = "needed more work than" if steady else "ran longer than"
    return ExecResult(
        elapsed_s=time.perf_counter() - started,
        error=f"the query {what} the {timeout_s:g} s timeout and was stopped",
        error_kind="timeout",
    )


def _take(cursor: Any, max_rows: int | None) -> tuple[list[tuple[Any, ...]], bool]:
    if max_rows is None:
        return [tuple(r) for r in cursor.fetchall()], False
    rows = cursor.fetchmany(max_rows + 1)
    return [tuple(r) for r in rows[:max_rows]], len(rows) > max_rows


class Database:
    """A read-only handle on one database. Use ``connect()`` to make one."""

    dialect: str = ""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.db_id = target.db_id

    def quote(self, name: str) -> str:
        if self.dialect == "mysql":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def execute(
        self,
        sql: str,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        max_rows: int | None = DEFAULT_MAX_ROWS,
        check: bool = True,
        steady: bool = False,
    ) -> ExecResult:
        """Run one read-only query. Failures come back in ``ExecResult.error``; this never raises for them.
        ``steady``: ``timeout_s`` counts the engine's work where it can (see the module docstring)."""
        started = time.perf_counter()
        if check or self.dialect != "sqlite":
            problem = readonly_problem(sql, self.dialect)
            if problem:
                return ExecResult(
                    elapsed_s=time.perf_counter() - started, error=f"refused: {problem}", error_kind="refused"
                )
        if steady:
            return self._execute_steady(sql, timeout_s, max_rows, started)
        return self._execute(sql, timeout_s, max_rows, started)

    def _execute(self, sql: str, timeout_s: float | None, max_rows: int | None, started: float) -> ExecResult:
        raise NotImplementedError

    def _execute_steady(self, sql: str, timeout_s: float | None, max_rows: int | None,
                        started: float) -> ExecResult:
        """An engine that cannot count its work keeps the wall-clock timeout."""
        return self._execute(sql, timeout_s, max_rows, started)

    def internal_query(self, sql: str, timeout_s: float = 30.0) -> list[tuple[Any, ...]]:
        """Our own catalogue/sampling queries; trusted, still on the read-only connection."""
        res = self._execute(sql, timeout_s, None, time.perf_counter())
        if res.error:
            raise ConnectionFailed(f"Could not read {self.target.display}: {res.error}")
        return res.rows

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- SQLite

_SQLITE_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in BLOCKED_FUNCTIONS else sqlite3.SQLITE_OK
    if action in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _decode_text(raw: bytes) -> str:
    # The official Spider evaluators decode with errors ignored; results must compare the same way.
    return raw.decode(errors="ignore")


class SQLiteDatabase(Database):
    dialect = "sqlite"
    progress_every = 4000  # VM instructions between deadline checks

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn(guarded=True).execute("SELECT 1").fetchall()  # fail now, not on first use

    def _open(self, guarded: bool) -> sqlite3.Connection:
        uri = "file:" + self.target.location.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as err:
            raise NotADatabase(f"{self.target.display} cannot be opened: {err}") from None
        conn.text_factory = _decode_text
        if guarded:
            conn.set_authorizer(_sqlite_authorizer)
        with self._lock:
            self._all.append(conn)
        return conn

    def _conn(self, guarded: bool) -> sqlite3.Connection:
        key = "guarded" if guarded else "internal"
        conn = getattr(self._local, key, None)
        if conn is None:
            conn = self._open(guarded)
            setattr(self._local, key, conn)
        return conn

    def _run(self, conn: sqlite3.Connection, sql: str, timeout_s: float | None, max_rows: int | None,
             started: float, steady: bool = False) -> ExecResult:
        steady = steady and timeout_s is not None
        wall = timeout_s * STEADY_WALL_FACTOR if steady and timeout_s is not None else timeout_s
        deadline = None if wall is None else time.monotonic() + wall
        # a steady timeout: the progress handler's calls count the VM's work
        limit = max(1, int((timeout_s or 0.0) * SQLITE_STEPS_PER_S) // self.progress_every) if steady else None
        calls = [0]

        def over() -> bool:
            return (limit is not None and calls[0] > limit) or (deadline is not None and time.monotonic() > deadline)

        def stop() -> int:
            calls[0] += 1
            return int(over())

        if deadline is not None:
            conn.set_progress_handler(stop, self.progress_every)
        try:
            cur = conn.execute(sql)
            columns = [d[0] for d in cur.description or []]
            rows, truncated = _take(cur, max_rows)
            cur.close()
        except sqlite3.Warning as err:  # e.g. "You can only execute one statement at a time."
            return ExecResult(elapsed_s=time.perf_counter() - started, error=str(err), error_kind="refused")
        except sqlite3.DatabaseError as err:
            if deadline is not None and "interrupted" in str(err) and over():
                return _timeout_result(timeout_s or 0.0, started, steady)
            text = str(err)
            kind = "refused" if ("not authorized" in text or "readonly" in text) else "error"
            return ExecResult(elapsed_s=time.perf_counter() - started, error=text, error_kind=kind)
        except (ValueError, OverflowError) as err:  # e.g. null characters, huge integers
            return ExecResult(elapsed_s=time.perf_counter() - started, error=str(err), error_kind="error")
        finally:
            if deadline is not None:
                conn.set_progress_handler(None, 0)
        return ExecResult(columns, rows, truncated, time.perf_counter() - started)

    def _execute(self, sql: str, timeout_s: float | None, max_rows: int | None, started: float) -> ExecResult:
        return self._run(self._conn(guarded=True), sql, timeout_s, max_rows, started)

    def _execute_steady(self, sql: str, timeout_s: float | None, max_rows: int | None,
                        started: float) -> ExecResult:
        return self._run(self._conn(guarded=True), sql, timeout_s, max_rows, started, steady=True)

    def internal_query(self, sql: str, timeout_s: float = 30.0) -> list[tuple[Any, ...]]:
        res = self._run(self._conn(guarded=False), sql, timeout_s, None, time.perf_counter())
        if res.error:
            raise ConnectionFailed(f"Could not read {self.target.display}: {res.error}")
        return res.rows

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


# ---------------------------------------------------------------- DuckDB


class DuckDBDatabase(Database):
    dialect = "duckdb"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        require_extra("duckdb", f"opening {target.display}")
        import duckdb

        try:
            self._root = duckdb.connect(target.location, read_only=True)
            self._root.execute("SET enable_external_access = false")
            self._root.execute("SET lock_configuration = true")
        except duckdb.Error as err:
            raise NotADatabase(f"{target.display} cannot be opened as DuckDB: {err}") from None
        self._local = threading.local()

    def _cursor(self) -> Any:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._root.cursor()
            self._local.cur = cur
        return cur

    def _execute(self, sql: str, timeout_s: float | None, max_rows: int | None, started: float) -> ExecResult:
        import duckdb

        cur = self._cursor()
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            cur.interrupt()

        timer = threading.Timer(timeout_s, stop) if timeout_s is not None else None
        if timer:
            timer.start()
        try:
            cur.execute(sql)
            columns = [d[0] for d in cur.description or []]
            rows, truncated = _take(cur, max_rows)
        except (duckdb.Error, RuntimeError) as err:
            if fired.is_set():
                return _timeout_result(timeout_s or 0.0, started)
            text = str(err).splitlines()[0]
            refused = "read-only mode" in text or "Permission Error" in text or "configuration has been locked" in text
            return ExecResult(elapsed_s=time.perf_counter() - started, error=text,
                              error_kind="refused" if refused else "error")
        finally:
            if timer:
                timer.cancel()
        return ExecResult(columns, rows, truncated, time.perf_counter() - started)

    def close(self) -> None:
        self._root.close()


# ---------------------------------------------------------------- PostgreSQL, MySQL/MariaDB


class ServerDatabase(Database):
    """PostgreSQL or MySQL/MariaDB through a SQLAlchemy engine (the pool), queried on raw DBAPI cursors."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.dialect = target.dialect
        # the statements below run through these drivers' own APIs, whatever driver the URL names
        if self.dialect == "postgresql":
            require_extra("postgres", f"connecting to {target.display}")
        else:
            require_extra("mysql", f"connecting to {target.display}")
        from sqlalchemy import create_engine
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        connect_args: dict[str, Any] = {"connect_timeout": 5}
        if self.dialect == "postgresql":
            connect_args["options"] = "-c default_transaction_read_only=on"
        else:
            connect_args["init_command"] = "SET SESSION TRANSACTION READ ONLY"
        try:
            self.engine = create_engine(target.location, pool_pre_ping=True, connect_args=connect_args)
        except (NoSuchModuleError, ArgumentError, ImportError) as err:
            raise ConnectionFailed(
                f"Cannot use {target.display}: {err}",
                hint="Use postgresql+psycopg://... or mysql+pymysql://...",
            ) from None
        self.mariadb = False
        try:
            with self._raw() as conn:
                cur = conn.cursor()
                cur.execute("SELECT VERSION()")
                self.mariadb = "mariadb" in str(cur.fetchone()[0]).lower()
                cur.close()
                conn.rollback()
        except ConnectionFailed:
            raise
        except Exception as err:
            raise ConnectionFailed(
                f"Cannot connect to {target.display}: {str(err).strip().splitlines()[0]}",
                hint="Check that the server is running and the URL, user and database are right",
            ) from None

    @contextmanager
    def _raw(self) -> Iterator[Any]:
        conn = self.engine.raw_connection()
        try:
            yield conn.dbapi_connection
        finally:
            conn.close()

    def _execute(self, sql: str, timeout_s: float | None, max_rows: int | None, started: float) -> ExecResult:
        if self.dialect == "postgresql":
            return self._execute_pg(sql, timeout_s, max_rows, started)
        return self._execute_mysql(sql, timeout_s, max_rows, started)

    def _execute_pg(self, sql: str, timeout_s: float | None, max_rows: int | None, started: float) -> ExecResult:
        import psycopg

        with self._raw() as conn:
            try:
                cur = conn.cursor()
                cur.execute("BEGIN READ ONLY")
                if timeout_s is not None:
                    cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
                cur.execute(sql)
                columns = [d[0] for d in cur.description or []]
                rows, truncated = _take(cur, max_rows) if cur.description else ([], False)
                return ExecResult(columns, rows, truncated, time.perf_counter() - started)
            except psycopg.errors.QueryCanceled:
                return _timeout_result(timeout_s or 0.0, started)
            except psycopg.Error as err:
                text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                kind = "refused" if "read-only" in text else "error"
                return ExecResult(elapsed_s=time.perf_counter() - started, error=text, error_kind=kind)
            finally:
                conn.rollback()

    def _execute_mysql(self, sql: str, timeout_s: float | None, max_rows: int | None, started: float) -> ExecResult:
        import pymysql

        with self._raw() as conn:
            cur = conn.cursor()
            fired = threading.Event()
            timer = None
            try:
                if timeout_s is not None:
                    if self.mariadb:
                        cur.execute(f"SET SESSION max_statement_time = {max(timeout_s, 0.001):.3f}")
                    else:
                        cur.execute(f"SET SESSION max_execution_time = {max(1, int(timeout_s * 1000))}")
                    thread_id = conn.thread_id()

                    def kill() -> None:
                        fired.set()
                        try:
                            with self._raw() as other:
                                other.cursor().execute(f"KILL QUERY {int(thread_id)}")
                        except Exception:
                            pass  # the server-side limit already stopped it

                    timer = threading.Timer(timeout_s + 0.15, kill)
                    timer.start()
                cur.execute(sql)
                columns = [d[0] for d in cur.description or []]
                rows, truncated = _take(cur, max_rows) if cur.description else ([], False)
                return ExecResult(columns, rows, truncated, time.perf_counter() - started)
            except pymysql.err.MySQLError as err:
                code = err.args[0] if err.args else 0
                if fired.is_set() or code in (1969, 3024, 1317):  # statement time exceeded / interrupted
                    return _timeout_result(timeout_s or 0.0, started)
                text = str(err.args[1] if len(err.args) > 1 else err)
                kind = "refused" if code in (1792, 1290) else "error"  # read-only transaction / option
                return ExecResult(elapsed_s=time.perf_counter() - started, error=text, error_kind=kind)
            finally:
                if timer:
                    timer.cancel()
                with contextlib.suppress(Exception):
                    conn.rollback()

    def close(self) -> None:
        self.engine.dispose()


def connect(target: str | Target) -> Database:
    """Open ``target`` (a SQLite path or any SQLAlchemy URL) read-only."""
    tgt = target if isinstance(target, Target) else parse_target(target)
    if tgt.dialect == "sqlite":
        return SQLiteDatabase(tgt)
    if tgt.dialect == "duckdb":
        return DuckDBDatabase(tgt)
    return ServerDatabase(tgt)
