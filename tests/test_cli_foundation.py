"""The CLI's foundation commands: profile, sql, help, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqldistill.cli import cli


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_profile_json_has_the_documented_fields(runner: CliRunner, spider_dir: Path) -> None:
    db = spider_dir / "database" / "employee_hire_evaluation" / "employee_hire_evaluation.sqlite"
    res = runner.invoke(cli, ["profile", str(db), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["fingerprint"] and len(doc["tables"]) == 4
    hiring = next(t for t in doc["tables"] if t["name"] == "hiring")
    assert hiring["row_count"] == 7
    assert {"name", "type", "primary_key"} <= set(hiring["columns"][0])
    assert {"columns": ["Shop_ID"], "ref_table": "shop", "ref_columns": ["Shop_ID"]} in hiring["foreign_keys"]


def test_profile_card_and_prompt_styles(runner: CliRunner, spider_dir: Path) -> None:
    db = str(spider_dir / "database" / "singer" / "singer.sqlite")
    card = runner.invoke(cli, ["profile", db])
    assert card.exit_code == 0 and "Citizenship" in card.output and "fingerprint" in card.output
    create = runner.invoke(cli, ["profile", db, "--style", "create"])
    assert "CREATE TABLE song" in create.output


def test_sql_prints_rows_and_truncates(runner: CliRunner, spider_dir: Path) -> None:
    db = str(spider_dir / "database" / "singer" / "singer.sqlite")
    res = runner.invoke(cli, ["sql", db, "SELECT Name FROM singer ORDER BY Name", "--max-rows", "2"])
    assert res.exit_code == 0
    assert "Alice Walton" in res.output and "truncated" in res.output
    as_json = runner.invoke(cli, ["sql", db, "SELECT count(*) AS n FROM song", "--json"])
    assert json.loads(as_json.output)["rows"] == [[8]]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["profile", "{tmp}/missing.sqlite"], "No database file"),
        (["profile", "{tmp}/text.sqlite"], "not a SQLite database"),
        (["profile", "{tmp}/empty.sqlite"], "empty"),
        (["profile", "nosuch://x"], "Unsupported database kind"),
        (["profile", "postgresql+psycopg://nobody@127.0.0.1:1/x"], "Cannot connect"),
        (["sql", "{singer}", "DROP TABLE singer"], "only SELECT"),
        (["sql", "{singer}", "SELECT 1; DELETE FROM singer"], "2 statements"),
        (["sql", "{singer}", "SELECT nope FROM singer"], "no such column"),
        (["sql", "{singer}", "SELECT count(*) FROM singer a, singer b, singer c, singer d, singer e, singer f, "
                             "singer g, singer h, singer i", "--timeout", "0.3"], "timeout"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(runner: CliRunner, spider_dir: Path, tmp_path: Path, args, needle) -> None:
    (tmp_path / "text.sqlite").write_text("not a database")
    (tmp_path / "empty.sqlite").write_bytes(b"")
    singer = spider_dir / "database" / "singer" / "singer.sqlite"
    argv = [a.format(tmp=tmp_path, singer=singer) for a in args]
    res = runner.invoke(cli, argv)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert needle in lines[0]
    assert "Traceback" not in res.output


def test_real_process_help_and_error(spider_dir: Path, tmp_path: Path) -> None:
    help_run = subprocess.run([sys.executable, "-m", "sqldistill", "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0 and "profile" in help_run.stdout and "distill" in help_run.stdout
    bad = subprocess.run([sys.executable, "-m", "sqldistill", "profile", str(tmp_path / "x.sqlite")],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: No database file") and "Traceback" not in bad.stderr


def test_help_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from sqldistill.cli import cli; "
            "import contextlib, io\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): cli.main(['--help'])\n"
            "heavy = [m for m in ('torch', 'transformers', 'sqlalchemy', 'sqlglot', 'rich', 'fastapi') if m in sys.modules]\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
