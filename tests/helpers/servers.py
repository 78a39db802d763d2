"""Load Spider SQLite databases into the PostgreSQL and MariaDB servers for cross-engine tests.

This is test set-up, writing only to throw-away databases the tests create; the product itself never writes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MYSQL_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"


def _affinity(declared: str) -> str:
    d = declared.upper()
    if "INT" in d:
        return "int"
    if any(k in d for k in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL", "NUMBER")):
        return "real"
    return "text"


def _fits(values: list[Any], kind: str) -> bool:
    if kind == "int":
        return all(v is None or (isinstance(v, int) and abs(v) < 2**63) for v in values)
    if kind == "real":
        return all(v is None or isinstance(v, (int, float)) for v in values)
    return True


def read_sqlite(path: Path) -> list[dict[str, Any]]:
    """Tables with their columns, SQL types that the data really fits, keys, foreign keys and rows."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.text_factory = lambda b: b.decode(errors="ignore")
    out = []
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    for name in names:
        info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
        rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
        cols = []
        for i, r in enumerate(info):
            kind = _affinity(r[2] or "")
            if not _fits([row[i] for row in rows], kind):
                kind = "text"
            cols.append({"name": r[1], "kind": kind, "pk": r[5]})
        fks = [(r[3], r[2], r[4]) for r in conn.execute(f'PRAGMA foreign_key_list("{name}")')]
        out.append({"name": name, "columns": cols, "fks": fks, "rows": rows})
    conn.close()
    return out


def _text_rows(rows: list[tuple[Any, ...]], cols: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(None if v is None else (str(v) if c["kind"] == "text" else v) for v, c in zip(r, cols))
            for r in rows]


def load_postgres(sqlite_path: Path, dbname: str) -> str:
    """(Re)create ``dbname`` on the local PostgreSQL from a SQLite file; return its URL."""
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{dbname}"')
    types = {"int": "BIGINT", "real": "DOUBLE PRECISION", "text": "TEXT"}
    tables = read_sqlite(sqlite_path)
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}") as conn:
        for t in tables:
            # Unquoted, lower-case identifiers: PostgreSQL folds unquoted names, so queries written for SQLite
            # (which ignores case) still find them.
            cols = [f'{c["name"].lower()} {types[c["kind"]]}' for c in t["columns"]]
            pk = [c["name"].lower() for c in sorted(t["columns"], key=lambda c: c["pk"]) if c["pk"]]
            if pk:
                cols.append(f"PRIMARY KEY ({', '.join(pk)})")
            conn.execute(f'CREATE TABLE {t["name"].lower()} ({", ".join(cols)})')
            if t["rows"]:
                marks = ", ".join(["%s"] * len(t["columns"]))
                with conn.cursor() as cur:
                    cur.executemany(f'INSERT INTO {t["name"].lower()} VALUES ({marks})',
                                    _text_rows(t["rows"], t["columns"]))
        for t in tables:
            for src, ref, dst in t["fks"]:
                conn.execute(f'ALTER TABLE {t["name"].lower()} ADD FOREIGN KEY ({src.lower()}) '
                             f'REFERENCES {ref.lower()} ({dst.lower()}) NOT VALID')
        conn.commit()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"


def load_mysql(sqlite_path: Path, dbname: str) -> str:
    """(Re)create ``dbname`` on the local MariaDB from a SQLite file; return its URL."""
    import pymysql

    types = {"int": "BIGINT", "real": "DOUBLE", "text": "VARCHAR(255)"}
    tables = read_sqlite(sqlite_path)
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS `{dbname}`")
        cur.execute(f"CREATE DATABASE `{dbname}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{dbname}`")
        cur.execute("SET FOREIGN_KEY_CHECKS = 0")
        for t in tables:
            cols = [f'`{c["name"]}` {types[c["kind"]]}' for c in t["columns"]]
            pk = [c["name"] for c in sorted(t["columns"], key=lambda c: c["pk"]) if c["pk"]]
            if pk:
                cols.append(f"PRIMARY KEY ({', '.join('`' + p + '`' for p in pk)})")
            cur.execute(f'CREATE TABLE `{t["name"]}` ({", ".join(cols)}) ENGINE=InnoDB')
            if t["rows"]:
                marks = ", ".join(["%s"] * len(t["columns"]))
                cur.executemany(f'INSERT INTO `{t["name"]}` VALUES ({marks})', _text_rows(t["rows"], t["columns"]))
        for t in tables:
            for src, ref, dst in t["fks"]:
                cur.execute(f'ALTER TABLE `{t["name"]}` ADD FOREIGN KEY (`{src}`) REFERENCES `{ref}` (`{dst}`)')
    finally:
        conn.close()
    return f"mysql+pymysql://root@127.0.0.1:3306/{dbname}"
